import { ServiceError } from '../services/service-error.js';
import { isUrlRefused } from './outbound-policy.js';

export * from './outbound-policy.js';
export * from './outbound-fetch.js';

/**
 * For services: a policy refusal becomes 400 `url_not_allowed` (its message says which rule, never
 * what lies behind the URL); any other error is returned unchanged for the caller to classify.
 */
export function refusalAsServiceError(error: unknown): unknown {
  return isUrlRefused(error) ? new ServiceError('url_not_allowed', error.message) : error;
}
