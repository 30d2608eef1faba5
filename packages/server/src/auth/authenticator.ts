/**
 * Resolves the Principal of a request from its one credential.
 *
 * A credential is handed to the first verifier in the list that claims it by its shape (an
 * `sk_` prefix; a JWT whose unverified `iss` is the verifier's issuer); that verifier alone then
 * verifies it. The tenants' external OpenID Connect providers are one more verifier in the list
 * (external-tokens.ts), claiming the tokens of every registered issuer.
 *
 * Guarantees:
 *   - No credential → ServiceError('unauthorized'); a credential that no verifier claims or that
 *     fails verification → ServiceError('invalid_token'), with a generic detail in every case.
 *   - Storage failures are not turned into 401s: they propagate (the HTTP layer answers 503).
 *   - A tenant key authenticates only if its tenant holds a live key with the presented key's id
 *     and the hashes match (one engine read by tenant and id, then a constant-time comparison);
 *     only then does it count one unit of SERVER_KEY for that key (by its apiKeyId, never the
 *     secret; one more round trip) and note the use (api-key-usage.ts: throttled, not awaited).
 *     A valid key over its limit is 429; a wrong key is 401 and counts nothing, so it writes
 *     nothing to storage (the Redis engine's one-time adoption of a key stored by an earlier version
 *     aside: redis-tenants.ts). Keys are not cached: a revoked key is refused by the very next request,
 *     on every node.
 *   - A user token (built-in, minted or external) authenticates only while its user exists and is
 *     not deleted: after the signature, one read of the user record per token, then the principal
 *     is cached until the token expires, for MAX_CACHE_AGE_MS (a minute) at most. Deleting a user
 *     publishes a revocation that makes every node forget its cached tokens (`forget`), so they
 *     are refused at once on every node; a node that missed the revocation refuses them within the
 *     minute. A verification that overlapped a revocation caches nothing (it may have read the
 *     user just before the deletion).
 */
import { decodeJwt } from 'jose';
import type { Engine, Revocation } from '../engine/engine.js';
import type { QuotaListener, RateLimiter } from '../services/rate-limiter.js';
import { ServiceError } from '../services/service-error.js';
import type { AccessTokens } from './access-tokens.js';
import { createApiKeyUsage, type ApiKeyUsage } from './api-key-usage.js';
import { apiKeyId, apiKeyMatches, parseApiKey } from './api-keys.js';
import type { Principal } from './principal.js';

const MAX_CREDENTIAL_LENGTH = 8 * 1024;
/** The longest a verified token is trusted without verifying it again (and re-reading its user). */
export const MAX_CACHE_AGE_MS = 60_000;

/** One kind of credential: built-in tokens, tenant keys, external providers' tokens. */
export interface CredentialVerifier {
  /** True when the token is of this verifier's kind. Cheap, no I/O, no trust in the content. */
  claims(token: string): boolean;
  /**
   * Verifies a token it claimed; throws ServiceError('invalid_token') when it does not verify.
   * Rate limit decisions taken for the credential go to `onQuota`.
   */
  verify(token: string, onQuota?: QuotaListener): Promise<Principal>;
}

export interface Authenticator {
  /**
   * Accepts an `Authorization` header value (`Bearer <token>`, scheme case-insensitive) or a bare
   * token (e.g. the realtime `access_token` query parameter), or undefined when none was sent.
   */
  authenticate(authorizationHeaderValueOrToken: string | undefined, onQuota?: QuotaListener): Promise<Principal>;
  /**
   * Forgets every verified token the revocation makes invalid (a deleted user's, a changed
   * provider's), so the next request with one of them is verified again. Called for every
   * revocation the deployment publishes (engine.revocations); kinds that name nothing cached here
   * are ignored.
   */
  forget(revocation: Revocation): void;
  /** Forgets every verified token (revocations may have been missed). */
  forgetAll(): void;
}

export interface AuthenticatorDeps {
  engine: Pick<Engine, 'tenants' | 'users'>;
  accessTokens: AccessTokens;
  /** Counts SERVER_KEY for tenant keys. */
  rateLimiter: RateLimiter;
  /** Further verifiers (external OIDC providers: external-tokens.ts), tried after the built-in ones. */
  externalVerifiers?: readonly CredentialVerifier[];
  /** Milliseconds since the epoch (tests move it). */
  clock?: () => number;
  /** Verified user tokens remembered until they expire, a minute at most (0 turns the cache off). Default 10,000. */
  cacheSize?: number;
  /** Records uses of tenant keys; default: createApiKeyUsage on the engine and clock. */
  apiKeyUsage?: ApiKeyUsage;
}

type UserPrincipal = Extract<Principal, { kind: 'user' }>;

export function createAuthenticator(deps: AuthenticatorDeps): Authenticator {
  const clock = deps.clock ?? Date.now;
  const apiKeyUsage = deps.apiKeyUsage ?? createApiKeyUsage({ engine: deps.engine, clock });
  const verifiers: readonly CredentialVerifier[] = [
    createApiKeyVerifier(deps.engine, deps.rateLimiter, apiKeyUsage),
    createBuiltInTokenVerifier(deps.accessTokens),
    ...(deps.externalVerifiers ?? []),
  ];
  const cacheSize = deps.cacheSize ?? 10_000;
  // Verifying an Ed25519 signature is most of a request's CPU, and a client sends the same token
  // for its whole lifetime. A token is only ever reused by the exact string that verified, and
  // never past its expiry; tenant keys are not cached (their stored hash is read each time).
  // Nor longer than MAX_CACHE_AGE_MS: revocations reach this cache through forget(), and should
  // one be missed without notice, the token is verified again (the user re-read) a minute later.
  const verified = new Map<string, { principal: UserPrincipal; until: number }>();
  // Bumped by every forget: a verification that began before it must not cache its result.
  let forgets = 0;

  return {
    async authenticate(value, onQuota) {
      const token = extractToken(value);
      // No credential of ours comes close; refuse before any parsing.
      if (token.length > MAX_CREDENTIAL_LENGTH) throw new ServiceError('invalid_token');
      const remembered = verified.get(token);
      if (remembered) {
        verified.delete(token);
        if (remembered.until > clock()) {
          verified.set(token, remembered); // most recently used last
          return remembered.principal;
        }
      }
      const verifier = verifiers.find((v) => v.claims(token));
      if (!verifier) throw new ServiceError('invalid_token');
      const forgetsBefore = forgets;
      const principal = await verifier.verify(token, onQuota);
      if (principal.kind !== 'user') return principal;
      if (!(await deps.engine.users.get(principal.tenantId, principal.userId))) throw new ServiceError('invalid_token');
      if (principal.expiresAt !== undefined && cacheSize > 0 && forgets === forgetsBefore) {
        verified.set(token, { principal, until: Math.min(principal.expiresAt, clock() + MAX_CACHE_AGE_MS) });
        if (verified.size > cacheSize) verified.delete(verified.keys().next().value!);
      }
      return principal;
    },

    forget(revocation) {
      const revokes = revokedBy(revocation);
      if (!revokes) return;
      forgets += 1;
      for (const [token, { principal }] of verified) if (revokes(principal)) verified.delete(token);
    },

    forgetAll() {
      forgets += 1;
      verified.clear();
    },
  };
}

/** Which cached principals a revocation invalidates; null when it names none. */
function revokedBy(revocation: Revocation): ((principal: UserPrincipal) => boolean) | null {
  switch (revocation.kind) {
    case 'user':
      return (principal) => principal.tenantId === revocation.tenantId && principal.userId === revocation.userId;
    case 'identity-provider':
      return (principal) => principal.tenantId === revocation.tenantId && principal.providerId === revocation.providerId;
    case 'api-key': // tenant keys are never cached: each request reads the stored key
    case 'signing-keys': // old keys stay valid until their tokens expire
      return null;
  }
}

/** Tenant back ends: `sk_<tenant>_<secret>` → a tenant principal. */
export function createApiKeyVerifier(engine: Pick<Engine, 'tenants'>, rateLimiter: RateLimiter, usage?: ApiKeyUsage): CredentialVerifier {
  return {
    claims: (token) => token.startsWith('sk_'),
    async verify(token, onQuota) {
      const parsed = parseApiKey(token);
      if (parsed === null) throw new ServiceError('invalid_token');
      const keyId = apiKeyId(token);
      // Counted only once the key verified: a key that does not is 401 and writes nothing, so
      // garbage `sk_<tenant>_...` keys cannot fill storage with counters without authenticating.
      const stored = await engine.tenants.getApiKey(parsed.tenantId, keyId);
      if (stored === null || !apiKeyMatches(token, stored.hash)) throw new ServiceError('invalid_token');
      // Not awaited: it leaves with (or just before) the rate limit call and delays nothing.
      usage?.record(parsed.tenantId, keyId);
      await rateLimiter.consume('SERVER_KEY', { tenantId: parsed.tenantId, subject: keyId }, onQuota);
      return { kind: 'tenant', tenantId: parsed.tenantId };
    },
  };
}

/** Access tokens of the built-in provider (including tenant-minted ones) → a user principal. */
export function createBuiltInTokenVerifier(accessTokens: AccessTokens): CredentialVerifier {
  return {
    claims: (token) => unverifiedIssuer(token) === accessTokens.issuer,
    async verify(token) {
      const { tenantId, userId, expiresAt } = await accessTokens.verify(token);
      return { kind: 'user', tenantId, userId, expiresAt: expiresAt * 1000 };
    },
  };
}

/** The `iss` a JWT claims, read without verification, only to route it to its verifier. */
export function unverifiedIssuer(token: string): string | null {
  if (token.split('.').length !== 3) return null;
  try {
    const { iss } = decodeJwt(token);
    return typeof iss === 'string' ? iss : null;
  } catch {
    return null;
  }
}

function extractToken(value: string | undefined): string {
  const trimmed = value?.trim() ?? '';
  if (trimmed === '' || trimmed.toLowerCase() === 'bearer') throw new ServiceError('unauthorized');
  const match = /^(\S+)\s+(\S+)$/.exec(trimmed);
  if (match) {
    const [, scheme, token] = match;
    if (scheme?.toLowerCase() !== 'bearer' || token === undefined) {
      throw new ServiceError('unauthorized', 'Use the Bearer authentication scheme');
    }
    return token;
  }
  // A bare token has no whitespace (JWTs and keys are base64url); anything else is not a credential.
  if (/\s/.test(trimmed)) throw new ServiceError('invalid_token');
  return trimmed;
}
