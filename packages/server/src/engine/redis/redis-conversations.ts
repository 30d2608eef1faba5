/**
 * Conversations and their members. Every change to one conversation is one script on its own
 * slot, which also logs and publishes the change's event (lua/lib/event-log.lua); the owner count
 * that setRole's keepOwner and removeMember's hand-over read is a field of the conversation's meta
 * hash (ownerCount), kept by every script that changes roles or membership. The per-user indexes in the tenant slot are kept
 * around it by UserConversationIndex (superset rule: see there), and listForUser reads through
 * redis-conversation-list.ts.
 */
import {
  ROLES,
  type Conversation,
  type ConversationId,
  type EpochMs,
  type Member,
  type Mute,
  type Role,
  type TenantId,
  type UserId,
} from '../../domain/types.js';
import {
  MAX_MEMBERSHIPS_LISTED,
  type AddMembersResult,
  type ConversationStore,
  type ConversationView,
  type Membership,
  type NewConversation,
  type Page,
  type RoleBound,
} from '../engine.js';
import { logArgs, type RedisContext } from './redis-context.js';
import { listConversationsForUser, readConversation } from './redis-conversation-list.js';
import { decodeMemberCursor, encodeMemberCursor } from './redis-cursors.js';
import { guard, invalid, requireCount, requireId, requireLimit, requireTime } from './redis-guard.js';
import { asArray, asInteger, asString, parseConversation, parseMember, unexpected } from './redis-replies.js';
import type { UserConversationIndex } from './redis-user-index.js';

const MAX_MEMBER_PAGE = 1000;
const MAX_CONVERSATION_PAGE = 100;
/** Candidate conversations confirmed per round trip by sharesConversation. */
const SHARED_CHECK_BATCH = 50;
/** Membership reads sent together by listMemberships (one auto-pipelined batch each). */
const MEMBERSHIP_READ_CHUNK = 1000;

export function requireRole(role: Role): void {
  if (!ROLES.includes(role)) throw invalid(`unknown role ${String(role)}`);
}

function validateNew(input: NewConversation): void {
  requireId(input.id, 'conversation id');
  requireTime(input.createdAt, 'createdAt');
  const seen = new Set<UserId>();
  for (const { userId, role } of input.members) {
    requireId(userId, 'member userId');
    requireRole(role);
    if (seen.has(userId)) throw invalid(`member ${userId} is named twice`);
    seen.add(userId);
  }
}

export class RedisConversationStore implements ConversationStore {
  constructor(
    private readonly context: RedisContext,
    private readonly index: UserConversationIndex,
  ) {}

  createGroup(tenantId: TenantId, input: NewConversation): Promise<Conversation> {
    return guard(async () => {
      validateNew(input);
      const { conversation, created } = await this.create(tenantId, input.id, input);
      if (!created) throw invalid(`conversation ${input.id} exists already`);
      return conversation;
    });
  }

  getOrCreateDirect(
    tenantId: TenantId,
    input: NewConversation & { type: 'direct' },
  ): Promise<{ conversation: Conversation; created: boolean }> {
    return guard(async () => {
      validateNew(input);
      const [first, second] = input.members;
      if (!first || !second || input.members.length !== 2) throw invalid('a direct conversation has exactly two members');
      const id = await this.index.claimDirect(tenantId, [first.userId, second.userId], input.id, input.createdAt);
      // The pair may map to a conversation another caller is still creating (or died creating):
      // creating it here with that id is idempotent, and exactly one creator sees created = true.
      return this.create(tenantId, id, input);
    });
  }

  get(tenantId: TenantId, id: ConversationId): Promise<Conversation | null> {
    return guard(async () => {
      const meta = await this.context.redis.hgetall(this.context.keys.conversation(tenantId, id).meta);
      if (Object.keys(meta).length === 0) return null;
      return parseConversation(tenantId, Object.entries(meta).flat());
    });
  }

  getWithMember(
    tenantId: TenantId,
    id: ConversationId,
    userId: UserId,
  ): Promise<{ conversation: Conversation; member: Member | null; mute: Mute | null; otherMember: UserId | null } | null> {
    return guard(async () => {
      const view = await readConversation(this.context, tenantId, id, userId, false);
      return view && { conversation: view.conversation, member: view.member, mute: view.mute, otherMember: view.otherMember };
    });
  }

  findDirect(tenantId: TenantId, first: UserId, second: UserId): Promise<ConversationId | null> {
    return guard(() => this.index.findDirect(tenantId, first, second));
  }

  /**
   * The per-user sets are a superset of membership, so each common candidate is confirmed in its
   * own slot, a batch at a time, stopping at the first real one.
   */
  sharesConversation(tenantId: TenantId, first: UserId, second: UserId): Promise<boolean> {
    return guard(async () => {
      const candidates = await this.index.common(tenantId, first, second);
      for (let start = 0; start < candidates.length; start += SHARED_CHECK_BATCH) {
        const batch = candidates.slice(start, start + SHARED_CHECK_BATCH);
        const memberships = await Promise.all(
          batch.map((id) => this.context.redis.hmget(this.context.keys.conversation(tenantId, id).members, first, second)),
        );
        if (memberships.some(([a, b]) => a !== null && b !== null)) return true;
      }
      return false;
    });
  }

  update(tenantId: TenantId, id: ConversationId, changes: { title?: string }, now: EpochMs): Promise<Conversation | null> {
    return guard(async () => {
      requireTime(now, 'now');
      const hasTitle = changes.title !== undefined;
      const keys = this.context.keys.conversation(tenantId, id);
      const reply = await this.context.scripts.run(
        'conversation-update',
        [keys.meta, keys.events, this.context.keys.conversationTopic(tenantId, id)],
        [...logArgs(this.context, { tenantId, conversationId: id }), tenantId, hasTitle ? '1' : '0', changes.title ?? '', now],
      );
      return reply === null ? null : parseConversation(tenantId, reply);
    });
  }

  listMembers(tenantId: TenantId, id: ConversationId, page: { cursor?: string; limit: number }): Promise<Page<Member>> {
    return guard(async () => {
      requireLimit(page.limit, MAX_MEMBER_PAGE);
      const after = page.cursor === undefined ? 0 : decodeMemberCursor(page.cursor);
      const keys = this.context.keys.conversation(tenantId, id);
      const reply = asArray(await this.context.scripts.run('member-page', [keys.memberOrder, keys.members], [after, page.limit + 1]), 'member-page');
      const entries: { member: Member; joinSeq: number }[] = [];
      for (let i = 0; i + 2 < reply.length; i += 3) {
        const json = reply[i + 2];
        if (json === null || json === undefined) continue; // never: both are written by one script
        const userId = asString(reply[i], 'member-page.userId') as UserId;
        entries.push({ member: parseMember(userId, asString(json, 'member-page.member')), joinSeq: asInteger(reply[i + 1], 'member-page.joinSeq') });
      }
      const items = entries.slice(0, page.limit);
      const last = items[items.length - 1];
      return {
        items: items.map((entry) => entry.member),
        nextCursor: entries.length > page.limit && last ? encodeMemberCursor(last.joinSeq) : null,
      };
    });
  }

  getMembers(tenantId: TenantId, id: ConversationId, userIds: readonly UserId[]): Promise<Member[]> {
    return guard(async () => {
      if (userIds.length === 0) return [];
      const stored = await this.context.redis.hmget(this.context.keys.conversation(tenantId, id).members, ...userIds);
      return userIds.flatMap((userId, i) => {
        const json = stored[i];
        return typeof json === 'string' ? [parseMember(userId, json)] : [];
      });
    });
  }

  addMembers(
    tenantId: TenantId,
    id: ConversationId,
    userIds: readonly UserId[],
    role: Role,
    now: EpochMs,
    maxMembers: number,
  ): Promise<AddMembersResult> {
    return guard(async () => {
      requireRole(role);
      requireTime(now, 'now');
      requireCount(maxMembers, 'maxMembers');
      for (const userId of userIds) requireId(userId, 'userId');
      await this.index.add(tenantId, id, userIds, null);
      const keys = this.context.keys.conversation(tenantId, id);
      const reply = asArray(
        await this.context.scripts.run(
          'member-add',
          [keys.meta, keys.members, keys.memberOrder, keys.events, this.context.keys.conversationTopic(tenantId, id), keys.bans],
          [...logArgs(this.context, { tenantId, conversationId: id }), role, now, maxMembers, ...userIds],
        ),
        'member-add',
      );
      const status = reply[0];
      if (status !== 'ok') {
        // Nobody joined: take back the index entries written in advance.
        await this.index.dropUnlessMembers(tenantId, id, [...new Set(userIds)]);
        if (status === 'not_found' || status === 'too_many_members') return { status };
        if (status === 'banned') return { status, userId: asString(reply[1], 'member-add.banned') as UserId };
        throw unexpected('member-add');
      }
      const added = asArray(reply[1], 'member-add.added').map((userId) => asString(userId, 'member-add.added') as UserId);
      await this.index.add(tenantId, id, added, null);
      return { status: 'ok', added, conversation: parseConversation(tenantId, reply[2]) };
    });
  }

  removeMember(
    tenantId: TenantId,
    id: ConversationId,
    userId: UserId,
    now: EpochMs,
    options: RoleBound = {},
  ): Promise<'removed' | 'not_found' | 'role_changed'> {
    return guard(async () => {
      const removed = await removeMemberScript(this.context, this.index, tenantId, id, userId, now, null, options);
      if (removed.status === 'role_changed') return 'role_changed';
      return removed.status === 'removed' ? 'removed' : 'not_found';
    });
  }

  setRole(
    tenantId: TenantId,
    id: ConversationId,
    userId: UserId,
    role: Role,
    now: EpochMs,
    options: { keepOwner: boolean },
  ): Promise<{ status: 'ok'; member: Member } | { status: 'not_found' } | { status: 'last_owner' }> {
    return guard(async () => {
      requireId(userId, 'userId');
      requireRole(role);
      requireTime(now, 'now');
      const keys = this.context.keys.conversation(tenantId, id);
      const [status, json] = asArray(
        await this.context.scripts.run(
          'member-set-role',
          [keys.meta, keys.members, keys.events, this.context.keys.conversationTopic(tenantId, id)],
          [...logArgs(this.context, { tenantId, conversationId: id }), userId, role, now, options.keepOwner ? '1' : '0'],
        ),
        'member-set-role',
      );
      if (status === 'ok') return { status, member: parseMember(userId, asString(json, 'member-set-role.member')) };
      if (status === 'not_found' || status === 'last_owner') return { status };
      throw unexpected('member-set-role');
    });
  }

  markRead(
    tenantId: TenantId,
    id: ConversationId,
    userId: UserId,
    seq: number,
    now: EpochMs,
  ): Promise<{ lastReadSeq: number; changed: boolean } | null> {
    return guard(async () => {
      // Any integer: a position at or below the stored one simply changes nothing.
      if (!Number.isSafeInteger(seq)) throw invalid('seq must be an integer');
      requireId(userId, 'userId');
      requireTime(now, 'now');
      const keys = this.context.keys.conversation(tenantId, id);
      const reply = await this.context.scripts.run(
        'read-mark',
        [keys.meta, keys.members, keys.events, this.context.keys.conversationTopic(tenantId, id)],
        [...logArgs(this.context, { tenantId, conversationId: id }), userId, seq, now],
      );
      if (reply === null) return null;
      const [lastReadSeq, changed] = asArray(reply, 'read-mark');
      return { lastReadSeq: asInteger(lastReadSeq, 'read-mark.lastReadSeq'), changed: asInteger(changed, 'read-mark.changed') === 1 };
    });
  }

  listForUser(tenantId: TenantId, userId: UserId, page: { cursor?: string; limit: number }): Promise<Page<ConversationView>> {
    return guard(async () => {
      requireLimit(page.limit, MAX_CONVERSATION_PAGE);
      return listConversationsForUser(this.context, this.index, tenantId, userId, page);
    });
  }

  /**
   * The user's index set (one SMEMBERS, no intersection with the activity zset), then the user's
   * field of each candidate's members hash (one HGET each, pipelined, in chunks so that a user
   * far over `limit` costs no more than needed). Candidates the user is not a member of are pruned.
   */
  listMemberships(tenantId: TenantId, userId: UserId, limit: number): Promise<Membership[]> {
    return guard(async () => {
      requireLimit(limit, MAX_MEMBERSHIPS_LISTED);
      const candidates = await this.index.all(tenantId, userId);
      const found: Membership[] = [];
      const stale: ConversationId[] = [];
      for (let start = 0; start < candidates.length && found.length < limit; start += MEMBERSHIP_READ_CHUNK) {
        const chunk = candidates.slice(start, start + MEMBERSHIP_READ_CHUNK);
        const members = await Promise.all(chunk.map((id) => this.context.redis.hget(this.context.keys.conversation(tenantId, id).members, userId)));
        chunk.forEach((conversationId, i) => {
          const json = members[i];
          if (typeof json !== 'string') stale.push(conversationId);
          else if (found.length < limit) found.push({ conversationId, joinedEventId: parseMember(userId, json).joinedEventId });
        });
      }
      await Promise.all(stale.map((id) => this.index.dropUnlessMembers(tenantId, id, [userId])));
      return found;
    });
  }

  countMemberships(tenantId: TenantId, userIds: readonly UserId[]): Promise<number[]> {
    return guard(() => this.index.counts(tenantId, userIds));
  }

  /** Creates the conversation under `id` (idempotent), indexing its members before and after. */
  private async create(
    tenantId: TenantId,
    id: ConversationId,
    input: NewConversation,
  ): Promise<{ conversation: Conversation; created: boolean }> {
    const userIds = input.members.map((member) => member.userId);
    await this.index.add(tenantId, id, userIds, input.createdAt);
    const keys = this.context.keys.conversation(tenantId, id);
    const titled = input.title !== null;
    const reply = asArray(
      await this.context.scripts.run(
        'conversation-create',
        [keys.meta, keys.members, keys.memberOrder, keys.events, this.context.keys.conversationTopic(tenantId, id)],
        [
          ...logArgs(this.context, { tenantId, conversationId: id }),
          tenantId,
          id,
          input.type,
          titled ? '1' : '0',
          input.title ?? '',
          input.createdAt,
          ...input.members.flatMap((member) => [member.userId, member.role]),
        ],
      ),
      'conversation-create',
    );
    const created = asInteger(reply[0], 'conversation-create') === 1;
    if (created) await this.index.add(tenantId, id, userIds, input.createdAt);
    return { conversation: parseConversation(tenantId, reply[1]), created };
  }
}

/**
 * Runs member-remove (removal with owner hand-over, and with `banJson` the ban in the same step),
 * then takes the conversation out of the user's index. Shared by removeMember and ban. With
 * `maxRole`, a member above it is refused in the script (`role_changed`, nothing written).
 */
export async function removeMemberScript(
  context: RedisContext,
  index: UserConversationIndex,
  tenantId: TenantId,
  id: ConversationId,
  userId: UserId,
  now: EpochMs,
  banJson: string | null,
  { maxRole }: RoleBound = {},
): Promise<{ status: 'removed'; role: Role } | { status: 'not_member' } | { status: 'not_found' } | { status: 'role_changed' }> {
  requireId(userId, 'userId');
  if (maxRole !== undefined) requireRole(maxRole);
  requireTime(now, 'now');
  const keys = context.keys.conversation(tenantId, id);
  const scriptKeys = [keys.meta, keys.members, keys.memberOrder, keys.events, context.keys.conversationTopic(tenantId, id)];
  if (banJson !== null) scriptKeys.push(keys.bans, keys.banOrder);
  const reply = await context.scripts.run('member-remove', scriptKeys, [...logArgs(context, { tenantId, conversationId: id }), userId, now, banJson ?? '', maxRole ?? '']);
  if (reply === 'not_found') return { status: 'not_found' };
  if (reply === 'role_changed') return { status: 'role_changed' };
  const [status, role] = asArray(reply, 'member-remove');
  if (status === 'not_member') return { status };
  if (status !== 'removed') throw unexpected('member-remove');
  await index.dropUnlessMembers(tenantId, id, [userId]);
  const removedRole = asString(role, 'member-remove.role') as Role;
  requireRole(removedRole);
  return { status, role: removedRole };
}
