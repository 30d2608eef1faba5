/**
 * Refresh-token families: one hash per family in its own slot, which Redis expires at the
 * family's expiresAt. Validity is decided by comparing expiresAt with the `now` argument; the
 * key's expiry only reclaims memory. The hash also keeps `spent:<generation>` secret hashes of the
 * last REFRESH_SPENT_GENERATIONS_KEPT generations, so that reuse is proven by a genuine spent
 * token. Revoking (or detecting reuse) deletes the family, which makes every token of it
 * `invalid` from then on.
 *
 * Each user's families are indexed in the user's slot (a zset familyId → expiresAt), which no
 * family script can reach on Cluster. So the index is kept a SUPERSET of the live families:
 * created after the family, moved forward after each rotation, pruned of expired entries on each
 * create, and of an entry only once its family is deleted. revokeUser deletes what the index
 * names; a family whose create overlaps it may be missed (see the interface).
 */
import type { EpochMs, TenantId, UserId } from '../../domain/types.js';
import {
  REFRESH_FAMILIES_PER_USER_MAX,
  REFRESH_SIBLINGS_MAX,
  REFRESH_SPENT_GENERATIONS_KEPT,
  type RefreshFamily,
  type RefreshTokenStore,
  type RotateResult,
} from '../engine.js';
import type { RedisContext } from './redis-context.js';
import { guard, requireCount, requireId, requireTime } from './redis-guard.js';
import { asArray, asInteger, asString, unexpected } from './redis-replies.js';

export class RedisRefreshTokenStore implements RefreshTokenStore {
  constructor(private readonly context: RedisContext) {}

  create(family: RefreshFamily, now: EpochMs): Promise<void> {
    return guard(async () => {
      requireId(family.familyId, 'familyId');
      requireTime(family.expiresAt, 'expiresAt');
      requireTime(now, 'now');
      const { keys, scripts } = this.context;
      // A new family starts at generation 0 whatever the argument says (see the interface).
      await scripts.run('refresh-create', [keys.refreshFamily(family.tenantId, family.familyId)], [family.userId, family.secretHash, family.expiresAt]);
      const evicted = asArray(
        await scripts.run(
          'refresh-index-add',
          [keys.refreshFamiliesOfUser(family.tenantId, family.userId)],
          [family.familyId, family.expiresAt, now, REFRESH_FAMILIES_PER_USER_MAX],
        ),
        'refresh-index-add',
      );
      await this.deleteFamilies(family.tenantId, evicted.map((id) => asString(id, 'refresh-index-add.familyId')));
    });
  }

  rotate(
    tenantId: TenantId,
    familyId: string,
    generation: number,
    secretHash: string,
    next: { secretHash: string; expiresAt: EpochMs },
    now: EpochMs,
    reuseGraceMs = 0,
  ): Promise<RotateResult> {
    return guard(async () => {
      requireCount(generation, 'generation');
      requireCount(reuseGraceMs, 'reuseGraceMs');
      requireTime(next.expiresAt, 'next.expiresAt');
      requireTime(now, 'now');
      const { keys, scripts, redis } = this.context;
      const ttlMs = Math.max(1, next.expiresAt - now);
      const reply = asArray(
        await scripts.run(
          'refresh-rotate',
          [keys.refreshFamily(tenantId, familyId)],
          [generation, secretHash, next.secretHash, next.expiresAt, now, ttlMs, REFRESH_SPENT_GENERATIONS_KEPT, reuseGraceMs, REFRESH_SIBLINGS_MAX],
        ),
        'refresh-rotate',
      );
      const status = reply[0];
      if (status === 'invalid') return { status };
      const userId = asString(reply[1], 'refresh-rotate.userId') as UserId;
      if (status === 'reused') {
        await redis.zrem(keys.refreshFamiliesOfUser(tenantId, userId), familyId);
        return { status };
      }
      if (status !== 'rotated') throw unexpected('refresh-rotate');
      await scripts.run('refresh-index-touch', [keys.refreshFamiliesOfUser(tenantId, userId)], [familyId, next.expiresAt, now]);
      return {
        status: 'rotated',
        family: {
          tenantId,
          familyId,
          userId,
          generation: asInteger(reply[2], 'refresh-rotate.generation'),
          secretHash: next.secretHash,
          expiresAt: next.expiresAt,
        },
      };
    });
  }

  revoke(tenantId: TenantId, familyId: string): Promise<void> {
    return guard(async () => {
      // The user's index keeps the entry until its expiry, a create prunes it, or revokeUser.
      await this.context.redis.del(this.context.keys.refreshFamily(tenantId, familyId));
    });
  }

  revokeUser(tenantId: TenantId, userId: UserId): Promise<number> {
    return guard(async () => {
      const { keys, redis } = this.context;
      const index = keys.refreshFamiliesOfUser(tenantId, userId);
      const familyIds = await redis.zrange(index, '0', '-1');
      await this.deleteFamilies(tenantId, familyIds);
      // Only the entries handled here: a family indexed meanwhile keeps its entry.
      if (familyIds.length > 0) await redis.zrem(index, ...familyIds);
      return familyIds.length;
    });
  }

  /** One DEL per family (each in its own slot); auto-pipelining sends them together. */
  private async deleteFamilies(tenantId: TenantId, familyIds: readonly string[]): Promise<void> {
    const { keys, redis } = this.context;
    await Promise.all(familyIds.map((familyId) => redis.del(keys.refreshFamily(tenantId, familyId))));
  }
}
