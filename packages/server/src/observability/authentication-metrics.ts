/**
 * Counts refused credentials by reason, on every surface at once (REST, SSE, the WebSocket
 * upgrade, tenant administration): the authenticator they all share is seen through a wrapper
 * whose `authenticate` counts `parley_authentication_failures_total{reason}` when it throws a
 * ServiceError, the reason being its code (unauthorized, invalid_token, rate_limited, forbidden).
 * Storage failures are not credentials refused: they show in the engine metrics instead.
 */
import type { Authenticator } from '../auth/authenticator.js';
import { ServiceError } from '../services/service-error.js';
import type { Metrics } from './metrics.js';

/** The reasons counted by name; any other code counts as `other`, so the label set stays bounded. */
const REASONS = new Set(['unauthorized', 'invalid_token', 'rate_limited', 'forbidden']);

export function measureAuthentication(authenticator: Authenticator, metrics: Metrics): Authenticator {
  const failures = metrics.authenticationFailures;
  // Every reason shows from the start (at 0), so rates and alerts have a series before the first failure.
  for (const reason of REASONS) failures.labels(reason).inc(0);
  const authenticate: Authenticator['authenticate'] = async (...args) => {
    try {
      return await authenticator.authenticate(...args);
    } catch (error) {
      if (error instanceof ServiceError) failures.labels(REASONS.has(error.code) ? error.code : 'other').inc();
      throw error;
    }
  };
  // A Proxy, not a copy: whatever else the authenticator offers (now or later) passes through.
  return new Proxy(authenticator, {
    get: (target, property, receiver) => (property === 'authenticate' ? authenticate : Reflect.get(target, property, receiver)),
  });
}
