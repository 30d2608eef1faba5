/**
 * Tenant API keys: `sk_<tenantId>_<secret>`, the secret 256 random bits in base64url.
 *
 * Guarantees:
 *   - Only a hash is stored (`sha256:<base64url>` of the whole key, so a hash is bound to its
 *     tenant); the key itself is shown once, when it is created.
 *   - Each key has a public id (apiKeyId) derived from the key, so a presented key names the one
 *     record to compare it with. Ids never change: engine records written before keys had ids
 *     are given the same id from their stored hash.
 *   - Comparison is constant-time in the key (timingSafeEqual over equal-length digests).
 *   - Parsing is unambiguous: tenant ids never contain `_`, so the first `_` after `sk_` ends the
 *     tenant id, while the secret may contain `_` and `-`.
 * A 256-bit random secret cannot be guessed, so a fast hash is enough and each authenticated
 * request costs one sha256, not a memory-hard hash.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { TenantId } from '../domain/types.js';

const PREFIX = 'sk_';
const SECRET_BYTES = 32;
const HASH_PREFIX = 'sha256:';
export const API_KEY_ID_LENGTH = 16;
/** The id shape POST /v1/tenants accepts; shared here so parsing and creation agree. */
export const TENANT_ID_PATTERN = /^[a-z0-9][a-z0-9-]{1,62}$/;

export interface ParsedApiKey {
  tenantId: TenantId;
  secret: string;
}

/** A new key for the tenant, with its id and the hash to store. Show `apiKey` once; never log it. */
export function generateApiKey(tenantId: TenantId): { apiKey: string; id: string; hash: string } {
  if (!TENANT_ID_PATTERN.test(tenantId)) throw new RangeError('Not a valid tenant id');
  const apiKey = `${PREFIX}${tenantId}_${randomBytes(SECRET_BYTES).toString('base64url')}`;
  const hash = hashApiKey(apiKey);
  return { apiKey, id: idOfHash(hash), hash };
}

/** The tenant and secret of a well-formed key; null for anything else. */
export function parseApiKey(value: string): ParsedApiKey | null {
  if (typeof value !== 'string' || !value.startsWith(PREFIX)) return null;
  const rest = value.slice(PREFIX.length);
  const separator = rest.indexOf('_');
  if (separator < 0) return null;
  const tenantId = rest.slice(0, separator);
  const secret = rest.slice(separator + 1);
  const secretLength = Math.ceil((SECRET_BYTES * 4) / 3);
  if (!TENANT_ID_PATTERN.test(tenantId) || secret.length !== secretLength || !/^[A-Za-z0-9_-]+$/.test(secret)) return null;
  return { tenantId: tenantId as TenantId, secret };
}

/** The stored form of a key. */
export function hashApiKey(apiKey: string): string {
  return HASH_PREFIX + createHash('sha256').update(apiKey, 'utf8').digest('base64url');
}

/**
 * A short public id of a key (the first 96 bits of its hash, 16 base64url characters): names the
 * key in the API, in rate limit counters and in logs without revealing anything of the secret.
 * The Redis engine derives the same id from a stored hash (lua/lib/api-keys.lua): keep them equal.
 */
export function apiKeyId(apiKey: string): string {
  return idOfHash(hashApiKey(apiKey));
}

function idOfHash(hash: string): string {
  return hash.slice(HASH_PREFIX.length, HASH_PREFIX.length + API_KEY_ID_LENGTH);
}

/** True when `apiKey` hashes to `storedHash`; constant-time in the key's content. */
export function apiKeyMatches(apiKey: string, storedHash: string): boolean {
  const actual = Buffer.from(hashApiKey(apiKey), 'utf8');
  const expected = Buffer.from(storedHash, 'utf8');
  // Lengths are those of the hash format, not of any secret, so an early exit leaks nothing.
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
