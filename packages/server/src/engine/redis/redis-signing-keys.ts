/**
 * Signing keys shared by every node, under one global hash tag (so each script touches one
 * Cluster slot). Keys are stored as the caller's JSON and never decoded by Lua. ensureCurrent adds
 * the first key; rotate adds the next and moves the one it replaces to the retiring set, scored by
 * the time it stops being listed; list and rotate delete keys whose time has come. The
 * deployment's issuer lives beside them (ensureIssuer), set once by the first node to start.
 */
import { SIGNING_KEYS_MAX, type ListedSigningKey, type SigningKeyRotation, type SigningKeyStore, type StoredSigningKey } from '../engine.js';
import type { RedisContext } from './redis-context.js';
import { guard, invalid, requireCount, requireId, requireTime } from './redis-guard.js';
import { asArray, asInteger, asString, unexpected } from './redis-replies.js';

function parseSigningKey(json: string): StoredSigningKey {
  let stored: unknown;
  try {
    stored = JSON.parse(json) as unknown;
  } catch {
    throw unexpected('signing key');
  }
  const key = stored as Partial<StoredSigningKey> | null;
  if (
    typeof key?.kid !== 'string' ||
    (key.alg !== 'EdDSA' && key.alg !== 'ES256') ||
    typeof key.privateJwk !== 'object' ||
    key.privateJwk === null ||
    typeof key.publicJwk !== 'object' ||
    key.publicJwk === null ||
    typeof key.createdAt !== 'number'
  ) {
    throw unexpected('signing key');
  }
  return { kid: key.kid, alg: key.alg, privateJwk: key.privateJwk, publicJwk: key.publicJwk, createdAt: key.createdAt };
}

export class RedisSigningKeyStore implements SigningKeyStore {
  constructor(private readonly context: RedisContext) {}

  ensureCurrent(candidate: StoredSigningKey): Promise<StoredSigningKey> {
    return guard(async () => {
      requireId(candidate.kid, 'kid');
      const { keys, scripts } = this.context;
      const json = await scripts.run(
        'signing-key-ensure',
        [keys.signingKeyCurrent(), keys.signingKeys()],
        [candidate.kid, JSON.stringify(candidate)],
      );
      return parseSigningKey(asString(json, 'signing-key-ensure'));
    });
  }

  ensureIssuer(candidate: string): Promise<string> {
    return guard(async () => {
      requireId(candidate, 'issuer');
      const { keys, scripts } = this.context;
      const issuer = await scripts.run('signing-issuer-ensure', [keys.signingIssuer()], [candidate]);
      return asString(issuer, 'signing-issuer-ensure');
    });
  }

  list(now: number): Promise<ListedSigningKey[]> {
    return guard(async () => {
      requireTime(now, 'now');
      const reply = asArray(await this.context.scripts.run('signing-keys-list', this.keyNames(), [now]), 'signing-keys-list');
      const currentJson = asString(reply[0], 'signing-keys-list');
      const retiring: ListedSigningKey[] = [];
      for (let i = 1; i + 2 < reply.length; i += 3) {
        const key = parseSigningKey(asString(reply[i + 2], 'signing-keys-list'));
        if (key.kid !== asString(reply[i], 'signing-keys-list')) throw unexpected('signing key');
        retiring.push({ ...key, retiresAt: asInteger(reply[i + 1], 'signing-keys-list') });
      }
      retiring.sort(byRetirement);
      return currentJson === '' ? retiring : [parseSigningKey(currentJson), ...retiring];
    });
  }

  rotate(candidate: StoredSigningKey, now: number, retireAfterMs: number): Promise<SigningKeyRotation> {
    return guard(async () => {
      requireId(candidate.kid, 'kid');
      requireTime(now, 'now');
      requireCount(retireAfterMs, 'retireAfterMs');
      requireTime(now + retireAfterMs, 'now + retireAfterMs');
      const reply = asArray(
        await this.context.scripts.run('signing-key-rotate', this.keyNames(), [
          candidate.kid,
          JSON.stringify(candidate),
          now,
          now + retireAfterMs,
          SIGNING_KEYS_MAX,
        ]),
        'signing-key-rotate',
      );
      const status = asString(reply[0], 'signing-key-rotate');
      if (status === 'exists') throw invalid('the candidate kid is stored already');
      if (status === 'limit') return { status: 'limit', retryAt: asInteger(reply[1], 'signing-key-rotate') };
      if (status !== 'rotated') throw unexpected('signing-key-rotate');
      const previous: { kid: string; retiresAt: number }[] = [];
      for (let i = 1; i + 1 < reply.length; i += 2) {
        previous.push({ kid: asString(reply[i], 'signing-key-rotate'), retiresAt: asInteger(reply[i + 1], 'signing-key-rotate') });
      }
      previous.sort(byRetirement);
      return { status: 'rotated', current: candidate, previous };
    });
  }

  private keyNames(): string[] {
    const { keys } = this.context;
    return [keys.signingKeyCurrent(), keys.signingKeys(), keys.signingKeysRetiring()];
  }
}

/** Retiring keys in listing order: the last to retire first, then by kid. */
function byRetirement(a: { kid: string; retiresAt?: number }, b: { kid: string; retiresAt?: number }): number {
  return (b.retiresAt ?? 0) - (a.retiresAt ?? 0) || (a.kid < b.kid ? -1 : a.kid > b.kid ? 1 : 0);
}
