/**
 * The conversation state shared by the memory conversation and message stores: one record per
 * conversation holding its members, messages, idempotency keys and event log, so an append touches
 * a single record (as a Redis script touches a single hash slot). Records are never handed out;
 * the `to*` functions make the copies callers receive.
 */
import type { EventId } from '../../domain/events.js';
import type {
  Ban,
  Conversation,
  ConversationId,
  ConversationType,
  EpochMs,
  Member,
  Message,
  MessageId,
  Mute,
  Role,
  TenantId,
  UserId,
} from '../../domain/types.js';
import type { EventLog } from './event-log.js';
import { ExpiryQueue } from './expiry-queue.js';
import { TenantScoped } from './tenant-scoped.js';

export interface MemberRecord {
  userId: UserId;
  role: Role;
  lastReadSeq: number;
  joinedAt: EpochMs;
  /** The conversation.created or member.added event that made this user a member. */
  joinedEventId: EventId;
  /** Increases with every join, so paging by it survives removals between pages. */
  joinOrder: number;
}

export interface MessageRecord {
  id: MessageId;
  seq: number;
  senderId: UserId | null;
  system: boolean;
  text: string | null;
  createdAt: EpochMs;
  editedAt: EpochMs | null;
  deletedAt: EpochMs | null;
  replyTo: MessageId | null;
  /** emoji → users who reacted with it; an emoji nobody uses any more is removed. */
  reactions: Map<string, Set<UserId>>;
}

export interface IdempotencyEntry {
  seq: number;
  expiresAt: EpochMs;
}

export interface ConversationRecord {
  tenantId: TenantId;
  id: ConversationId;
  type: ConversationType;
  title: string | null;
  createdAt: EpochMs;
  lastSeq: number;
  lastActivityAt: EpochMs;
  members: Map<UserId, MemberRecord>;
  /** The members again, ascending joinOrder. */
  membersInJoinOrder: MemberRecord[];
  nextJoinOrder: number;
  /** Members whose role is owner, so keepOwner checks need no scan. */
  ownerCount: number;
  /** messages[seq - 1]: seqs are gapless, so the array index is the seq. */
  messages: MessageRecord[];
  seqByMessageId: Map<MessageId, number>;
  /** `(sender or null, clientMessageId)` → the message it produced, until expiresAt. */
  idempotencyKeys: Map<string, IdempotencyEntry>;
  idempotencyExpiry: ExpiryQueue<string>;
  /** The conversation's durable events (memory-events.ts writes it). */
  events: EventLog;
  /** user → their mute, kept across leaving and re-joining; ended mutes stay until replaced or lifted. */
  mutes: Map<UserId, Mute>;
  bans: Map<UserId, Ban>;
}

export interface TenantConversations {
  byId: Map<ConversationId, ConversationRecord>;
  /** user → the conversations they are a member of now. */
  byMember: Map<UserId, Set<ConversationId>>;
  /** pairKey(a, b) → the one direct conversation of that pair. */
  directByPair: Map<string, ConversationId>;
}

/** Every tenant's conversations; the memory conversation and message stores share one. */
export class ConversationTables {
  private readonly tenants = new TenantScoped<TenantConversations>(() => ({
    byId: new Map(),
    byMember: new Map(),
    directByPair: new Map(),
  }));

  find(tenantId: TenantId, id: ConversationId): ConversationRecord | undefined {
    return this.tenants.read(tenantId)?.byId.get(id);
  }

  read(tenantId: TenantId): TenantConversations | undefined {
    return this.tenants.read(tenantId);
  }

  write(tenantId: TenantId): TenantConversations {
    return this.tenants.write(tenantId);
  }
}

export function pairKey(first: UserId, second: UserId): string {
  return JSON.stringify(first < second ? [first, second] : [second, first]);
}

/**
 * The key of a send: scoped to its sender, and for sends without a sender (the tenant's back end)
 * to one scope of the conversation, which `null` keeps apart from every user id.
 */
export function idempotencyKey(senderId: UserId | null, clientMessageId: string): string {
  return JSON.stringify([senderId, clientMessageId]);
}

export function newConversationRecord(
  tenantId: TenantId,
  input: { id: ConversationId; type: ConversationType; title: string | null; createdAt: EpochMs },
  events: EventLog,
): ConversationRecord {
  return {
    tenantId,
    id: input.id,
    type: input.type,
    title: input.title,
    createdAt: input.createdAt,
    lastSeq: 0,
    lastActivityAt: input.createdAt,
    members: new Map(),
    membersInJoinOrder: [],
    nextJoinOrder: 1,
    ownerCount: 0,
    messages: [],
    seqByMessageId: new Map(),
    idempotencyKeys: new Map(),
    idempotencyExpiry: new ExpiryQueue(),
    events,
    mutes: new Map(),
    bans: new Map(),
  };
}

/**
 * Adds a member (who must not be one already) and indexes the membership. The caller logs the
 * event that made them a member and sets joinedEventId in the same synchronous section.
 */
export function addMember(
  tables: TenantConversations,
  record: ConversationRecord,
  userId: UserId,
  role: Role,
  joinedAt: EpochMs,
): MemberRecord {
  const member: MemberRecord = {
    userId,
    role,
    // History from before joining is not unread.
    lastReadSeq: record.lastSeq,
    joinedAt,
    joinedEventId: '' as EventId,
    joinOrder: record.nextJoinOrder,
  };
  record.nextJoinOrder += 1;
  if (role === 'owner') record.ownerCount += 1;
  record.members.set(userId, member);
  record.membersInJoinOrder.push(member);
  let memberships = tables.byMember.get(userId);
  if (!memberships) {
    memberships = new Set();
    tables.byMember.set(userId, memberships);
  }
  memberships.add(record.id);
  return member;
}

/** Removes a member and its membership index entry; false when not a member. */
export function removeMember(tables: TenantConversations, record: ConversationRecord, userId: UserId): boolean {
  const member = record.members.get(userId);
  if (!member) return false;
  record.members.delete(userId);
  if (member.role === 'owner') record.ownerCount -= 1;
  const index = firstJoinedAfter(record.membersInJoinOrder, member.joinOrder - 1);
  record.membersInJoinOrder.splice(index, 1);
  const memberships = tables.byMember.get(userId);
  memberships?.delete(record.id);
  if (memberships?.size === 0) tables.byMember.delete(userId);
  return true;
}

/** Changes a member's role, keeping the owner count. */
export function changeRole(record: ConversationRecord, member: MemberRecord, role: Role): void {
  if (member.role === 'owner') record.ownerCount -= 1;
  if (role === 'owner') record.ownerCount += 1;
  member.role = role;
}

/** Index of the first member whose joinOrder is above `joinOrder` (binary search). */
export function firstJoinedAfter(members: readonly MemberRecord[], joinOrder: number): number {
  let low = 0;
  let high = members.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if ((members[middle]?.joinOrder ?? Infinity) <= joinOrder) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** The user's mute as stored (possibly ended), or null. */
export function muteOf(record: ConversationRecord, userId: UserId | null): Mute | null {
  const mute = userId === null ? undefined : record.mutes.get(userId);
  return mute ? { ...mute } : null;
}

/** A direct conversation's member other than `userId`; null in groups. */
export function otherMemberOf(record: ConversationRecord, userId: UserId): UserId | null {
  if (record.type !== 'direct') return null;
  for (const memberId of record.members.keys()) if (memberId !== userId) return memberId;
  return null;
}

export function toConversation(record: ConversationRecord): Conversation {
  return {
    tenantId: record.tenantId,
    id: record.id,
    type: record.type,
    title: record.title,
    createdAt: record.createdAt,
    lastSeq: record.lastSeq,
    lastActivityAt: record.lastActivityAt,
    memberCount: record.members.size,
  };
}

export function toMember(member: MemberRecord): Member {
  return {
    userId: member.userId,
    role: member.role,
    lastReadSeq: member.lastReadSeq,
    joinedAt: member.joinedAt,
    joinedEventId: member.joinedEventId,
  };
}

export function toMessage(conversationId: ConversationId, message: MessageRecord, viewer: UserId | null): Message {
  const reactions: Record<string, number> = {};
  const myReactions: string[] = [];
  for (const [emoji, users] of message.reactions) {
    reactions[emoji] = users.size;
    if (viewer !== null && users.has(viewer)) myReactions.push(emoji);
  }
  return {
    id: message.id,
    conversationId,
    seq: message.seq,
    senderId: message.senderId,
    system: message.system,
    text: message.text,
    createdAt: message.createdAt,
    editedAt: message.editedAt,
    deletedAt: message.deletedAt,
    replyTo: message.replyTo,
    reactions,
    myReactions,
  };
}

/** The message with this id in this conversation, if any. */
export function findMessage(record: ConversationRecord, messageId: MessageId): MessageRecord | undefined {
  const seq = record.seqByMessageId.get(messageId);
  return seq === undefined ? undefined : record.messages[seq - 1];
}
