/**
 * Signing-key rotation for built-in access tokens, an operator's use case.
 *
 * Guarantees:
 *   - When `rotate()` resolves, the new key is the deployment's current key, this node signs with
 *     it, and every node has been told (revocation bus: each reloads its keys). A node that missed
 *     the message switches at its next periodic recheck (CURRENT_KEY_RECHECK_INTERVAL_MS).
 *   - Tokens signed with the replaced key keep verifying until the last of them has expired: the
 *     replaced key stays published (JWKS) and accepted for `maxAcceptedAgeMs` of a token plus the
 *     recheck interval, during which a node that missed the message may still sign with it.
 *   - At most SIGNING_KEYS_MAX keys are published at once: a rotation beyond that answers
 *     429 `rate_limited` with Retry-After (when the oldest key retires) and changes nothing.
 */
import type { AccessTokens } from '../auth/access-tokens.js';
import { CURRENT_KEY_RECHECK_INTERVAL_MS, generateSigningKey, type SigningKeys } from '../auth/signing-keys.js';
import { SIGNING_KEYS_MAX, type Engine } from '../engine/engine.js';
import type { EpochMs } from '../domain/types.js';
import type { Clock } from './ids.js';
import { ServiceError } from './service-error.js';

/** Keys published at once, at most (the current one and those retiring). */
export const MAX_PUBLISHED_SIGNING_KEYS = SIGNING_KEYS_MAX;

export interface SigningKeyRotationResult {
  /** The key that signs from now on. */
  kid: string;
  createdAt: EpochMs;
  /** Every key still published beside it, the one it replaced first, with when each stops being. */
  previous: { kid: string; retiresAt: EpochMs }[];
}

export interface SigningKeysService {
  /** Makes a freshly generated key the one every node signs with (see the module guarantees). */
  rotate(): Promise<SigningKeyRotationResult>;
}

export interface SigningKeysServiceDeps {
  engine: Pick<Engine, 'signingKeys' | 'revocations'>;
  signingKeys: SigningKeys;
  accessTokens: Pick<AccessTokens, 'maxAcceptedAgeMs'>;
  clock: Clock;
}

export function createSigningKeysService(deps: SigningKeysServiceDeps): SigningKeysService {
  const { engine, signingKeys, accessTokens, clock } = deps;
  const retireAfterMs = accessTokens.maxAcceptedAgeMs + CURRENT_KEY_RECHECK_INTERVAL_MS;

  return {
    async rotate() {
      const now = clock();
      const rotation = await engine.signingKeys.rotate(await generateSigningKey(now), now, retireAfterMs);
      if (rotation.status === 'limit') {
        const seconds = Math.max(1, Math.ceil((rotation.retryAt - now) / 1000));
        throw new ServiceError(
          'rate_limited',
          `At most ${SIGNING_KEYS_MAX} signing keys are published at once; the oldest retires at ${new Date(rotation.retryAt).toISOString()}`,
          { 'Retry-After': String(seconds) },
        );
      }
      // This node (so its next token carries the new kid whatever the bus does) and the others,
      // each attempted even when the other fails. Both touch storage: a failure is a 503 after a
      // rotation that did happen, and the recheck timers still bring every node to the new key.
      const [reloaded, announced] = await Promise.allSettled([signingKeys.reload(), engine.revocations.publish({ kind: 'signing-keys' })]);
      for (const outcome of [reloaded, announced]) if (outcome.status === 'rejected') throw outcome.reason;
      return { kid: rotation.current.kid, createdAt: rotation.current.createdAt, previous: rotation.previous };
    },
  };
}
