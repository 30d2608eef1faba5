/**
 * ConversationStore in memory. Each method reads and writes its records without an await in
 * between, which is what makes it atomic in a single-threaded process; a change and the event it
 * logs (memory-events.ts) happen in that same section.
 */
import { isRoleWithin, successorOf } from '../../domain/moderation.js';
import type { Conversation, ConversationId, EpochMs, Member, Mute, Role, TenantId, UserId } from '../../domain/types.js';
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
import { EngineError } from '../errors.js';
import { decodeCursor, encodeCursor, requireLimit } from './arguments.js';
import {
  addMember,
  changeRole,
  firstJoinedAfter,
  muteOf,
  newConversationRecord,
  otherMemberOf,
  pairKey,
  removeMember,
  toConversation,
  toMember,
  toMessage,
  type ConversationRecord,
  type ConversationTables,
  type TenantConversations,
} from './conversation-records.js';
import { requireEventTime } from './event-log.js';
import type { ConversationEvents } from './memory-events.js';

const MAX_MEMBERS_PAGE = 1000;
const MAX_CONVERSATIONS_PAGE = 100;

/** listForUser order: most recent activity first, ties newer id first. */
interface ActivityPosition {
  lastActivityAt: EpochMs;
  id: string;
}

function isMoreRecent(a: ActivityPosition, b: ActivityPosition): boolean {
  return a.lastActivityAt > b.lastActivityAt || (a.lastActivityAt === b.lastActivityAt && a.id > b.id);
}

export class MemoryConversationStore implements ConversationStore {
  constructor(
    private readonly tables: ConversationTables,
    private readonly events: ConversationEvents,
  ) {}

  async createGroup(tenantId: TenantId, input: NewConversation): Promise<Conversation> {
    requireEventTime('createdAt', input.createdAt);
    const tables = this.tables.write(tenantId);
    return toConversation(this.insert(tables, tenantId, input));
  }

  async getOrCreateDirect(
    tenantId: TenantId,
    input: NewConversation & { type: 'direct' },
  ): Promise<{ conversation: Conversation; created: boolean }> {
    const [first, second] = input.members;
    if (input.members.length !== 2 || !first || !second || first.userId === second.userId) {
      throw new EngineError('invalid_argument', 'a direct conversation has exactly two distinct members');
    }
    requireEventTime('createdAt', input.createdAt);
    const tables = this.tables.write(tenantId);
    const key = pairKey(first.userId, second.userId);
    const existingId = tables.directByPair.get(key);
    const existing = existingId === undefined ? undefined : tables.byId.get(existingId);
    if (existing) return { conversation: toConversation(existing), created: false };
    const record = this.insert(tables, tenantId, input);
    tables.directByPair.set(key, record.id);
    return { conversation: toConversation(record), created: true };
  }

  async get(tenantId: TenantId, id: ConversationId): Promise<Conversation | null> {
    const record = this.tables.find(tenantId, id);
    return record ? toConversation(record) : null;
  }

  async getWithMember(
    tenantId: TenantId,
    id: ConversationId,
    userId: UserId,
  ): Promise<{ conversation: Conversation; member: Member | null; mute: Mute | null; otherMember: UserId | null } | null> {
    const record = this.tables.find(tenantId, id);
    if (!record) return null;
    const member = record.members.get(userId);
    return {
      conversation: toConversation(record),
      member: member ? toMember(member) : null,
      mute: muteOf(record, userId),
      otherMember: otherMemberOf(record, userId),
    };
  }

  async findDirect(tenantId: TenantId, first: UserId, second: UserId): Promise<ConversationId | null> {
    return this.tables.read(tenantId)?.directByPair.get(pairKey(first, second)) ?? null;
  }

  async sharesConversation(tenantId: TenantId, first: UserId, second: UserId): Promise<boolean> {
    const tables = this.tables.read(tenantId);
    const mine = tables?.byMember.get(first);
    const theirs = tables?.byMember.get(second);
    if (!mine || !theirs) return false;
    const [smaller, larger] = mine.size <= theirs.size ? [mine, theirs] : [theirs, mine];
    for (const id of smaller) if (larger.has(id)) return true;
    return false;
  }

  /** Logs conversation.updated only when a field takes a new value: a no-op update logs nothing. */
  async update(
    tenantId: TenantId,
    id: ConversationId,
    changes: { title?: string },
    now: EpochMs,
  ): Promise<Conversation | null> {
    requireEventTime('now', now);
    const record = this.tables.find(tenantId, id);
    if (!record) return null;
    if (changes.title === undefined || changes.title === record.title) return toConversation(record);
    record.title = changes.title;
    const conversation = toConversation(record);
    this.events.log(record, { type: 'conversation.updated', conversationId: id, conversation: toConversation(record) }, now);
    return conversation;
  }

  async listMembers(
    tenantId: TenantId,
    id: ConversationId,
    page: { cursor?: string; limit: number },
  ): Promise<Page<Member>> {
    requireLimit(page.limit, MAX_MEMBERS_PAGE);
    const afterJoinOrder =
      page.cursor === undefined ? 0 : decodeCursor('members', page.cursor, { joinOrder: 'number' }).joinOrder;
    const record = this.tables.find(tenantId, id);
    if (!record) return { items: [], nextCursor: null };
    const ordered = record.membersInJoinOrder;
    const start = firstJoinedAfter(ordered, afterJoinOrder);
    const slice = ordered.slice(start, start + page.limit);
    const last = slice.at(-1);
    const hasMore = start + page.limit < ordered.length;
    return {
      items: slice.map(toMember),
      nextCursor: hasMore && last ? encodeCursor('members', { joinOrder: last.joinOrder }) : null,
    };
  }

  async getMembers(tenantId: TenantId, id: ConversationId, userIds: readonly UserId[]): Promise<Member[]> {
    const record = this.tables.find(tenantId, id);
    if (!record) return [];
    return userIds.flatMap((userId) => {
      const member = record.members.get(userId);
      return member ? [toMember(member)] : [];
    });
  }

  async addMembers(
    tenantId: TenantId,
    id: ConversationId,
    userIds: readonly UserId[],
    role: Role,
    now: EpochMs,
    maxMembers: number,
  ): Promise<AddMembersResult> {
    requireEventTime('now', now);
    const tables = this.tables.read(tenantId);
    const record = tables?.byId.get(id);
    if (!tables || !record) return { status: 'not_found' };
    const newcomers = [...new Set(userIds)].filter((userId) => !record.members.has(userId));
    const banned = newcomers.find((userId) => record.bans.has(userId));
    if (banned !== undefined) return { status: 'banned', userId: banned };
    if (record.members.size + newcomers.length > maxMembers) return { status: 'too_many_members' };
    for (const userId of newcomers) {
      const member = addMember(tables, record, userId, role, now);
      member.joinedEventId = this.events.log(record, { type: 'member.added', conversationId: id, userId, role }, now).id;
    }
    return { status: 'ok', added: newcomers, conversation: toConversation(record) };
  }

  async removeMember(
    tenantId: TenantId,
    id: ConversationId,
    userId: UserId,
    now: EpochMs,
    options: RoleBound = {},
  ): Promise<'removed' | 'not_found' | 'role_changed'> {
    requireEventTime('now', now);
    const tables = this.tables.read(tenantId);
    const record = tables?.byId.get(id);
    if (!tables || !record) return 'not_found';
    if (!withinBound(record, userId, options)) return 'role_changed';
    return removeHandingOver(tables, record, userId, now, this.events) === null ? 'not_found' : 'removed';
  }

  /** Setting the role a member already has is `ok` and logs nothing, with or without keepOwner. */
  async setRole(
    tenantId: TenantId,
    id: ConversationId,
    userId: UserId,
    role: Role,
    now: EpochMs,
    options: { keepOwner: boolean },
  ): Promise<{ status: 'ok'; member: Member } | { status: 'not_found' } | { status: 'last_owner' }> {
    requireEventTime('now', now);
    const record = this.tables.find(tenantId, id);
    const member = record?.members.get(userId);
    if (!record || !member) return { status: 'not_found' };
    if (member.role === role) return { status: 'ok', member: toMember(member) };
    if (options.keepOwner && isLastOwner(record, member.role)) return { status: 'last_owner' };
    changeRole(record, member, role);
    this.events.log(record, { type: 'member.updated', conversationId: id, userId, role }, now);
    return { status: 'ok', member: toMember(member) };
  }

  async markRead(
    tenantId: TenantId,
    id: ConversationId,
    userId: UserId,
    seq: number,
    now: EpochMs,
  ): Promise<{ lastReadSeq: number; changed: boolean } | null> {
    if (!Number.isInteger(seq)) throw new EngineError('invalid_argument', `seq must be an integer, got ${seq}`);
    requireEventTime('now', now);
    const record = this.tables.find(tenantId, id);
    const member = record?.members.get(userId);
    if (!record || !member) return null;
    const target = Math.min(seq, record.lastSeq);
    if (target <= member.lastReadSeq) return { lastReadSeq: member.lastReadSeq, changed: false };
    member.lastReadSeq = target;
    this.events.log(record, { type: 'read', conversationId: id, userId, seq: target }, now);
    return { lastReadSeq: target, changed: true };
  }

  /**
   * One pass over the user's memberships keeping only the best `limit + 1` candidates, so a page
   * costs O(memberships × log limit) and no per-user index has to be re-sorted on every message
   * of a large group.
   */
  async listForUser(
    tenantId: TenantId,
    userId: UserId,
    page: { cursor?: string; limit: number },
  ): Promise<Page<ConversationView>> {
    requireLimit(page.limit, MAX_CONVERSATIONS_PAGE);
    const after: ActivityPosition | null =
      page.cursor === undefined
        ? null
        : decodeCursor('conversations', page.cursor, { lastActivityAt: 'number', id: 'string' });
    const tables = this.tables.read(tenantId);
    const memberships = tables?.byMember.get(userId);
    if (!tables || !memberships) return { items: [], nextCursor: null };

    const best: ConversationRecord[] = [];
    const keep = page.limit + 1;
    for (const conversationId of memberships) {
      const record = tables.byId.get(conversationId);
      if (!record || (after !== null && !isMoreRecent(after, record))) continue;
      insertByActivity(best, record, keep);
    }
    const items = best.slice(0, page.limit);
    const last = items.at(-1);
    return {
      items: items.map((record) => this.view(record, userId)),
      nextCursor:
        best.length > page.limit && last
          ? encodeCursor('conversations', { lastActivityAt: last.lastActivityAt, id: last.id })
          : null,
    };
  }

  async listMemberships(tenantId: TenantId, userId: UserId, limit: number): Promise<Membership[]> {
    requireLimit(limit, MAX_MEMBERSHIPS_LISTED);
    const tables = this.tables.read(tenantId);
    const found: Membership[] = [];
    for (const conversationId of tables?.byMember.get(userId) ?? []) {
      const member = tables?.byId.get(conversationId)?.members.get(userId);
      if (member) found.push({ conversationId, joinedEventId: member.joinedEventId });
      if (found.length >= limit) break;
    }
    return found;
  }

  async countMemberships(tenantId: TenantId, userIds: readonly UserId[]): Promise<number[]> {
    const tables = this.tables.read(tenantId);
    return userIds.map((userId) => tables?.byMember.get(userId)?.size ?? 0);
  }

  private view(record: ConversationRecord, userId: UserId): ConversationView {
    const member = record.members.get(userId);
    if (!member) throw new EngineError('storage_unavailable', 'membership index out of step with members');
    const newest = record.messages[record.lastSeq - 1];
    return {
      conversation: toConversation(record),
      member: toMember(member),
      lastMessage: newest ? toMessage(record.id, newest, userId) : null,
      unreadCount: record.lastSeq - member.lastReadSeq,
    };
  }

  private insert(tables: TenantConversations, tenantId: TenantId, input: NewConversation): ConversationRecord {
    if (tables.byId.has(input.id)) {
      throw new EngineError('invalid_argument', `conversation id ${input.id} is already used`);
    }
    const record = newConversationRecord(tenantId, input, this.events.newLog());
    for (const { userId, role } of input.members) {
      if (!record.members.has(userId)) addMember(tables, record, userId, role, input.createdAt);
    }
    tables.byId.set(record.id, record);
    const created = this.events.log(
      record,
      { type: 'conversation.created', conversationId: record.id, conversation: toConversation(record) },
      input.createdAt,
    );
    for (const member of record.membersInJoinOrder) member.joinedEventId = created.id;
    return record;
  }
}

/** Whether the user is not a member, or a member whose role is within the bound (RoleBound). */
export function withinBound(record: ConversationRecord, userId: UserId, { maxRole }: RoleBound): boolean {
  const member = record.members.get(userId);
  return !member || isRoleWithin(member.role, maxRole);
}

/**
 * Removes the member, logging member.removed, and when they were a group's only owner hands
 * ownership to successorOf the remaining members (logging member.updated), all in one synchronous
 * section. Returns the role the member had, or null when not a member.
 */
export function removeHandingOver(
  tables: TenantConversations,
  record: ConversationRecord,
  userId: UserId,
  now: EpochMs,
  events: ConversationEvents,
): Role | null {
  const member = record.members.get(userId);
  if (!member) return null;
  removeMember(tables, record, userId);
  events.log(record, { type: 'member.removed', conversationId: record.id, userId, role: member.role }, now);
  if (record.type === 'group' && member.role === 'owner' && record.ownerCount === 0) {
    const successor = successorOf(record.membersInJoinOrder);
    if (successor) {
      changeRole(record, successor, 'owner');
      events.log(record, { type: 'member.updated', conversationId: record.id, userId: successor.userId, role: 'owner' }, now);
    }
  }
  return member.role;
}

/** True when a member with `role` is the only owner of a group (whom keepOwner keeps). */
function isLastOwner(record: ConversationRecord, role: Role): boolean {
  return record.type === 'group' && role === 'owner' && record.ownerCount <= 1;
}

/** Inserts `record` into `sorted` (most recent first), keeping at most `capacity` entries. */
function insertByActivity(sorted: ConversationRecord[], record: ConversationRecord, capacity: number): void {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    const current = sorted[middle];
    if (current && isMoreRecent(current, record)) low = middle + 1;
    else high = middle;
  }
  if (low >= capacity) return;
  sorted.splice(low, 0, record);
  if (sorted.length > capacity) sorted.pop();
}
