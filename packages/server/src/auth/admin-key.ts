/**
 * The operator key (`PARLEY_ADMIN_KEY`) that may create tenants.
 *
 * Guarantees: the comparison takes the same time whatever the presented value (both sides are
 * hashed to fixed-length digests before timingSafeEqual, so even the key's length does not leak);
 * with no key configured, nothing matches (tenant creation is disabled, not open).
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** Returns a check of a presented key (the bearer token, without the `Bearer ` scheme). */
export function createAdminKeyCheck(adminKey: string | undefined): (presented: string | undefined) => boolean {
  const expected = adminKey ? digest(adminKey) : null;
  return (presented) => {
    // Hash even when there is nothing to compare against, so a disabled key costs the same.
    const actual = digest(presented ?? '');
    return expected !== null && presented !== undefined && timingSafeEqual(actual, expected);
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
