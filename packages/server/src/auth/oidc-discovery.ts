/**
 * OpenID Connect discovery: an issuer's metadata from `{issuer}/.well-known/openid-configuration`,
 * fetched through the outbound fetch (so its policy applies), of which Parley needs `jwks_uri`.
 *
 * Guarantees:
 *   - The document's `issuer` equals the configured issuer exactly (OpenID Connect Discovery 1.0
 *     §4.3), or it is refused: a provider cannot vouch for another issuer's tokens.
 *   - `jwks_uri` is an absolute http(s) URL the outbound policy accepts.
 *   - A policy refusal (of the issuer or of its jwks_uri) → ServiceError('url_not_allowed'); any other
 *     failure (network, status, size, not JSON, mismatch) → ServiceError('identity_provider_unreachable').
 */
import { isUrlRefused, type OutboundFetch, type OutboundPolicy } from '../outbound/index.js';
import { ServiceError } from '../services/service-error.js';

/** Discovery documents are a few KiB; this leaves room and no more. */
const MAX_DISCOVERY_BYTES = 256 * 1024;
const DISCOVERY_TIMEOUT_MS = 5_000;

export interface IssuerMetadata {
  jwksUri: string;
}

export type DiscoverIssuer = (issuer: string) => Promise<IssuerMetadata>;

export function createIssuerDiscovery(outbound: { policy: OutboundPolicy; fetch: OutboundFetch }): DiscoverIssuer {
  return async (issuer) => {
    let url: URL;
    try {
      url = new URL(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`);
    } catch {
      throw unreachable('The issuer is not a URL');
    }
    let body: Buffer;
    try {
      const response = await outbound.fetch(url, { timeoutMs: DISCOVERY_TIMEOUT_MS, maxBytes: MAX_DISCOVERY_BYTES, headers: { accept: 'application/json' } });
      if (response.status !== 200) throw unreachable(`The discovery document answered ${response.status}`);
      body = response.body;
    } catch (error) {
      if (error instanceof ServiceError) throw error;
      if (isUrlRefused(error)) throw new ServiceError('url_not_allowed', `The issuer URL is not allowed: ${error.message}`);
      throw unreachable('The discovery document could not be fetched');
    }
    let metadata: unknown;
    try {
      metadata = JSON.parse(body.toString('utf8')) as unknown;
    } catch {
      throw unreachable('The discovery document is not JSON');
    }
    if (typeof metadata !== 'object' || metadata === null) throw unreachable('The discovery document is not a JSON object');
    const { issuer: named, jwks_uri: jwksUri } = metadata as Record<string, unknown>;
    if (named !== issuer) throw unreachable('The discovery document names another issuer');
    if (typeof jwksUri !== 'string' || jwksUri.length > 2048) throw unreachable('The discovery document has no jwks_uri');
    try {
      const parsed = new URL(jwksUri);
      if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new Error('scheme');
    } catch {
      throw unreachable('The jwks_uri is not an http(s) URL');
    }
    try {
      outbound.policy.checkUrl(jwksUri);
    } catch (error) {
      if (isUrlRefused(error)) throw new ServiceError('url_not_allowed', `The jwks_uri is not allowed: ${error.message}`);
      throw error;
    }
    return { jwksUri };
  };
}

function unreachable(detail: string): ServiceError {
  return new ServiceError('identity_provider_unreachable', detail);
}
