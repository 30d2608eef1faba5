/** How an external provider's token claims name a Parley user (pure rules, no I/O). */
import { USERNAME_PATTERN } from '@parley/protocol';
import type { ExternalIdentity, IdentityProvider } from './types.js';
import { labelViolation, normalizeLabel } from './rules.js';

/** Longest `sub` accepted: providers use far less (Auth0 `google-oauth2|<digits>`, UUIDs). */
export const MAX_EXTERNAL_SUBJECT_LENGTH = 255;
export const EXTERNAL_DISPLAY_NAME_MAX_LENGTH = 64;

const USERNAME = new RegExp(USERNAME_PATTERN);

/**
 * The display name of a new user: the provider's `claims.displayName` claim when configured, then
 * `name`, then `preferred_username`; the first that is a usable label, trimmed and cut to
 * EXTERNAL_DISPLAY_NAME_MAX_LENGTH code points. The subject when none is.
 */
export function externalDisplayName(provider: Pick<IdentityProvider, 'claims'>, claims: Record<string, unknown>, subject: string): string {
  const names = [provider.claims.displayName, 'name', 'preferred_username'].filter((n): n is string => n !== undefined);
  for (const name of names) {
    const value = claims[name];
    if (typeof value !== 'string') continue;
    const label = normalizeLabel([...value].slice(0, 4 * EXTERNAL_DISPLAY_NAME_MAX_LENGTH).join(''));
    if (label === null || labelViolation(label) !== null) continue;
    const cut = [...label].slice(0, EXTERNAL_DISPLAY_NAME_MAX_LENGTH).join('').trim();
    if (cut !== '') return cut;
  }
  return [...subject].slice(0, EXTERNAL_DISPLAY_NAME_MAX_LENGTH).join('');
}

/** The username a new user asks for: the configured claim's value when it is a valid username, else null. */
export function externalUsername(provider: Pick<IdentityProvider, 'claims'>, claims: Record<string, unknown>): string | null {
  const name = provider.claims.username;
  if (name === undefined) return null;
  const value = claims[name];
  return typeof value === 'string' && USERNAME.test(value) ? value : null;
}

/**
 * The key under which a tenant's external users are found: provider, issuer and subject, as JSON
 * text (both engines store it verbatim, so it must be the exact same text for the same identity).
 */
export function externalIdentityKey(identity: ExternalIdentity): string {
  return JSON.stringify([identity.provider, identity.issuer, identity.subject]);
}
