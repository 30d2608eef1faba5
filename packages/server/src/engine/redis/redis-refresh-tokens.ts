/**
 * Refresh-token families: one hash per family in its own slot, which Redis expires at the
 * family's expiresAt. Validity is decided by comparing expiresAt with the `now` argument; the
 * key's expiry only reclaims memory. The hash also keeps `spent:<generation>` secret hashes of the
 * last REFRESH_SPENT_GENERATIONS_KEPT generations, so that reuse is proven by a genuine spent
 * token. Revoking (or detecting reuse) deletes the family, which makes
 * every token of it `invalid` from then on.
 */
import type { EpochMs, TenantId, UserId } from '../../domain/types.js';
import { REFRESH_SPENT_GENERATIONS_KEPT, type RefreshFamily, type RefreshTokenStore, type RotateResult } from '../engine.js';
import type { RedisContext } from './redis-context.js';
import { guard, requireCount, requireId, requireTime } from './redis-guard.js';
import { asArray, asInteger, asString, unexpected } from './redis-replies.js';

export class RedisRefreshTokenStore implements RefreshTokenStore {
  constructor(private readonly context: RedisContext) {}

  create(family: RefreshFamily): Promise<void> {
    return guard(async () => {
      requireId(family.familyId, 'familyId');
      requireTime(family.expiresAt, 'expiresAt');
      // A new family starts at generation 0 whatever the argument says (see the interface).
      await this.context.scripts.run(
        'refresh-create',
        [this.context.keys.refreshFamily(family.tenantId, family.familyId)],
        [family.userId, family.secretHash, family.expiresAt],
      );
    });
  }

  rotate(
    tenantId: TenantId,
    familyId: string,
    generation: number,
    secretHash: string,
    next: { secretHash: string; expiresAt: EpochMs },
    now: EpochMs,
  ): Promise<RotateResult> {
    return guard(async () => {
      requireCount(generation, 'generation');
      requireTime(next.expiresAt, 'next.expiresAt');
      requireTime(now, 'now');
      const ttlMs = Math.max(1, next.expiresAt - now);
      const reply = asArray(
        await this.context.scripts.run(
          'refresh-rotate',
          [this.context.keys.refreshFamily(tenantId, familyId)],
          [generation, secretHash, next.secretHash, next.expiresAt, now, ttlMs, REFRESH_SPENT_GENERATIONS_KEPT],
        ),
        'refresh-rotate',
      );
      const status = reply[0];
      if (status === 'invalid' || status === 'reused') return { status };
      if (status !== 'rotated') throw unexpected('refresh-rotate');
      return {
        status: 'rotated',
        family: {
          tenantId,
          familyId,
          userId: asString(reply[1], 'refresh-rotate.userId') as UserId,
          generation: asInteger(reply[2], 'refresh-rotate.generation'),
          secretHash: next.secretHash,
          expiresAt: next.expiresAt,
        },
      };
    });
  }

  revoke(tenantId: TenantId, familyId: string): Promise<void> {
    return guard(async () => {
      await this.context.redis.del(this.context.keys.refreshFamily(tenantId, familyId));
    });
  }
}
