/**
 * The tenant-slot indexes behind listForUser and direct conversations: per-user conversation
 * sets, the tenant's conversation-activity zset and the direct-pair map.
 *
 * They live in the tenant's slot and conversations in their own, so on Cluster no script can
 * update both. Instead the per-user sets are kept a SUPERSET of real membership:
 *   - joining: add to the set, write the membership, add to the set again;
 *   - leaving: remove the membership, remove from the set, then re-read the membership and add
 *     back if the user is a member again.
 * Whatever the interleaving of a join and a leave, the last set write after the last membership
 * write agrees with it, so a member is never missing from their set. Readers filter by real
 * membership and prune stale entries the same way as leaving.
 *
 * The activity zset holds each conversation's lastActivityAt; it is written after each append
 * (ZADD GT, so concurrent writers converge on the maximum), and readers repair it if an append's
 * writer died in between. One ZADD per message, never one per member.
 */
import type { ConversationId, EpochMs, TenantId, UserId } from '../../domain/types.js';
import type { ActivityPosition } from './redis-cursors.js';
import type { RedisContext } from './redis-context.js';
import { asArray, asInteger, asString } from './redis-replies.js';

export interface IndexedConversation {
  id: ConversationId;
  activity: number;
}

/** The direct-pairs field of two users, in either order. */
export function directPairField(first: UserId, second: UserId): string {
  return JSON.stringify(first < second ? [first, second] : [second, first]);
}

export class UserConversationIndex {
  constructor(private readonly context: RedisContext) {}

  /**
   * Records that `userIds` belong to the conversation. With `activityAt`, also gives the
   * conversation its activity entry when it has none (new conversations).
   */
  async add(tenantId: TenantId, conversationId: ConversationId, userIds: readonly UserId[], activityAt: EpochMs | null): Promise<void> {
    const { keys, scripts } = this.context;
    const activity = keys.conversationActivity(tenantId);
    if (userIds.length === 0 && activityAt !== null) {
      await this.context.redis.zadd(activity, 'NX', activityAt, conversationId);
      return;
    }
    // One small script per user; auto-pipelining sends them in one round trip.
    await Promise.all(
      userIds.map((userId) =>
        scripts.run('user-conversations-add', [activity, keys.userConversations(tenantId, userId)], [conversationId, activityAt ?? '']),
      ),
    );
  }

  /** Drops the conversation from the users' sets, then re-adds it for those who are members now. */
  async dropUnlessMembers(tenantId: TenantId, conversationId: ConversationId, userIds: readonly UserId[]): Promise<void> {
    if (userIds.length === 0) return;
    const { keys, redis } = this.context;
    await Promise.all(userIds.map((userId) => redis.srem(keys.userConversations(tenantId, userId), conversationId)));
    const membership = await redis.hmget(keys.conversation(tenantId, conversationId).members, ...userIds);
    const stillMembers = userIds.filter((_, i) => membership[i] !== null && membership[i] !== undefined);
    if (stillMembers.length > 0) await this.add(tenantId, conversationId, stillMembers, null);
  }

  /**
   * Maps the unordered pair to its one direct conversation id, first writer wins, and indexes it
   * for both users. The conversation itself may not exist yet: the caller creates it idempotently.
   */
  async claimDirect(tenantId: TenantId, pair: readonly [UserId, UserId], candidate: ConversationId, createdAt: EpochMs): Promise<ConversationId> {
    const { keys, scripts } = this.context;
    const [low, high] = pair[0] < pair[1] ? pair : [pair[1], pair[0]];
    const reply = await scripts.run(
      'direct-claim',
      [
        keys.directPairs(tenantId),
        keys.conversationActivity(tenantId),
        keys.userConversations(tenantId, low),
        keys.userConversations(tenantId, high),
      ],
      [directPairField(low, high), candidate, createdAt],
    );
    return asString(reply, 'direct-claim') as ConversationId;
  }

  /** The conversation id the pair (either order) maps to, or null: no direct conversation was claimed. */
  async findDirect(tenantId: TenantId, first: UserId, second: UserId): Promise<ConversationId | null> {
    return (await this.context.redis.hget(this.context.keys.directPairs(tenantId), directPairField(first, second))) as ConversationId | null;
  }

  /** Conversations indexed for both users: a superset of those they share (filter by membership). */
  async common(tenantId: TenantId, first: UserId, second: UserId): Promise<ConversationId[]> {
    const { keys, redis } = this.context;
    return (await redis.sinter(keys.userConversations(tenantId, first), keys.userConversations(tenantId, second))) as ConversationId[];
  }

  /** Up to `count` of the user's indexed conversations strictly after `after`, newest first. */
  async page(tenantId: TenantId, userId: UserId, after: ActivityPosition | null, count: number): Promise<IndexedConversation[]> {
    const { keys, scripts } = this.context;
    const reply = asArray(
      await scripts.run(
        'user-conversations-page',
        [keys.userConversations(tenantId, userId), keys.conversationActivity(tenantId)],
        after === null ? ['0', '', '', count] : ['1', after.activity, after.conversationId, count],
      ),
      'user-conversations-page',
    );
    const entries: IndexedConversation[] = [];
    for (let i = 0; i + 1 < reply.length; i += 2) {
      entries.push({
        id: asString(reply[i], 'user-conversations-page.id') as ConversationId,
        activity: asInteger(reply[i + 1], 'user-conversations-page.activity'),
      });
    }
    return entries;
  }

  /** Every conversation indexed for the user (a superset of their memberships), unordered: one SMEMBERS. */
  async all(tenantId: TenantId, userId: UserId): Promise<ConversationId[]> {
    return (await this.context.redis.smembers(this.context.keys.userConversations(tenantId, userId))) as ConversationId[];
  }

  /** How many conversations are indexed for each user: one SCARD each, pipelined. */
  async counts(tenantId: TenantId, userIds: readonly UserId[]): Promise<number[]> {
    const { keys, redis } = this.context;
    return Promise.all(userIds.map((userId) => redis.scard(keys.userConversations(tenantId, userId))));
  }

  /** Moves the conversation's activity forward (never back). */
  async touch(tenantId: TenantId, conversationId: ConversationId, activity: EpochMs): Promise<void> {
    await this.context.redis.zadd(this.context.keys.conversationActivity(tenantId), 'GT', activity, conversationId);
  }
}
