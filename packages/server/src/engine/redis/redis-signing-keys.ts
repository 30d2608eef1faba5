/**
 * Signing keys shared by every node, under one global hash tag. Keys are stored as the caller's
 * JSON and never decoded by Lua. Only ensureCurrent adds a key, so the set holds one key until a
 * rotation feature adds more; list() puts the current key first, the rest newest first. The
 * deployment's issuer lives beside them (ensureIssuer), set once by the first node to start.
 */
import type { SigningKeyStore, StoredSigningKey } from '../engine.js';
import type { RedisContext } from './redis-context.js';
import { guard, requireId } from './redis-guard.js';
import { asString, unexpected } from './redis-replies.js';

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

  list(): Promise<StoredSigningKey[]> {
    return guard(async () => {
      const { keys, redis } = this.context;
      const [currentKid, all] = await Promise.all([redis.get(keys.signingKeyCurrent()), redis.hgetall(keys.signingKeys())]);
      const parsed = Object.values(all).map(parseSigningKey);
      const rank = (key: StoredSigningKey) => (key.kid === currentKid ? 1 : 0);
      return parsed.sort((a, b) => rank(b) - rank(a) || b.createdAt - a.createdAt);
    });
  }
}
