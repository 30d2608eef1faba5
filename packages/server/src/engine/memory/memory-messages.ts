/**
 * MessageStore in memory. Like the other memory stores, every method does its reads and writes
 * without an await in between, so each call is one atomic step, its event logged within it.
 * Messages inside events are seen by nobody in particular: `myReactions` is empty.
 */
import type { ConversationId, EpochMs, Message, MessageId, TenantId, UserId } from '../../domain/types.js';
import type { AppendResult, CountedUnit, HistoryQuery, MessageStore, NewMessage, RateLimitDecision } from '../engine.js';
import { EngineError } from '../errors.js';
import { requireLimit, requireNonNegativeInteger } from './arguments.js';
import { isMuted } from '../../domain/moderation.js';
import {
  findMessage,
  muteOf,
  idempotencyKey,
  otherMemberOf,
  toMessage,
  type ConversationRecord,
  type ConversationTables,
  type MessageRecord,
} from './conversation-records.js';
import { requireEventTime } from './event-log.js';
import type { ConversationEvents } from './memory-events.js';
import type { MemoryRateLimitStore } from './memory-rate-limits.js';
import type { MemoryUserStore } from './memory-users.js';

const MAX_HISTORY_PAGE = 100;

function validateAppend(input: NewMessage, idempotencyTtlMs: number): void {
  if (!Number.isFinite(idempotencyTtlMs) || idempotencyTtlMs < 0) {
    throw new EngineError('invalid_argument', `idempotencyTtlMs must be >= 0, got ${idempotencyTtlMs}`);
  }
  requireEventTime('createdAt', input.createdAt);
}

export class MemoryMessageStore implements MessageStore {
  constructor(
    private readonly tables: ConversationTables,
    private readonly events: ConversationEvents,
    /** Read inside append, so a block and a send cannot interleave. */
    private readonly blocks: Pick<MemoryUserStore, 'blocks'>,
    private readonly rateLimits: Pick<MemoryRateLimitStore, 'consumeNow'>,
  ) {}

  async appendCounted(
    tenantId: TenantId,
    conversationId: ConversationId,
    input: NewMessage,
    idempotencyTtlMs: number,
    unit: CountedUnit,
  ): Promise<{ decision: RateLimitDecision; result: AppendResult | null }> {
    // A call the append would refuse as invalid counts nothing, as on Redis.
    validateAppend(input, idempotencyTtlMs);
    const decision = this.rateLimits.consumeNow(unit.key, unit.policy, unit.now);
    if (!decision.allowed) return { decision, result: null };
    // append does all it does before its first await, so nothing runs between the two.
    return { decision, result: await this.append(tenantId, conversationId, input, idempotencyTtlMs) };
  }

  async append(
    tenantId: TenantId,
    conversationId: ConversationId,
    input: NewMessage,
    idempotencyTtlMs: number,
  ): Promise<AppendResult> {
    validateAppend(input, idempotencyTtlMs);
    const record = this.tables.find(tenantId, conversationId);
    if (!record) return { status: 'conversation_not_found' };
    const sender = input.senderId === null ? null : record.members.get(input.senderId);
    if (sender === undefined) return { status: 'not_member' };
    const { senderId } = input;
    const other = senderId === null ? null : otherMemberOf(record, senderId);
    if (other !== null && senderId !== null && this.blocks.blocks(tenantId, other, senderId)) return { status: 'blocked' };
    if (isMuted(muteOf(record, input.senderId), input.createdAt)) return { status: 'muted' };

    dropExpiredKeys(record, input.createdAt);
    const key = input.clientMessageId === null ? null : idempotencyKey(input.senderId, input.clientMessageId);
    const originalSeq = key === null ? undefined : record.idempotencyKeys.get(key)?.seq;
    const original = originalSeq === undefined ? undefined : record.messages[originalSeq - 1];
    if (original) return { status: 'duplicate', message: toMessage(record.id, original, input.senderId) };
    if (input.replyTo !== null && !record.seqByMessageId.has(input.replyTo)) return { status: 'reply_not_found' };
    if (record.seqByMessageId.has(input.id)) {
      throw new EngineError('invalid_argument', `message id ${input.id} is already used in this conversation`);
    }

    const seq = record.lastSeq + 1;
    const message: MessageRecord = {
      id: input.id,
      seq,
      senderId: input.senderId,
      system: input.system,
      text: input.text,
      createdAt: input.createdAt,
      editedAt: null,
      deletedAt: null,
      replyTo: input.replyTo,
      reactions: new Map(),
    };
    record.messages.push(message);
    record.seqByMessageId.set(message.id, seq);
    record.lastSeq = seq;
    record.lastActivityAt = input.createdAt;
    if (sender) sender.lastReadSeq = seq;
    if (key !== null) {
      const expiresAt = input.createdAt + idempotencyTtlMs;
      record.idempotencyKeys.set(key, { seq, expiresAt });
      record.idempotencyExpiry.push(key, expiresAt);
    }
    this.events.log(record, { type: 'message.created', conversationId, message: toMessage(record.id, message, null) }, input.createdAt);
    return { status: 'created', message: toMessage(record.id, message, input.senderId) };
  }

  async history(
    tenantId: TenantId,
    conversationId: ConversationId,
    query: HistoryQuery,
    viewer: UserId | null,
  ): Promise<{ items: Message[]; hasMore: boolean }> {
    requireLimit(query.limit, MAX_HISTORY_PAGE);
    if (query.before !== undefined && query.after !== undefined) {
      throw new EngineError('invalid_argument', 'history takes at most one of before and after');
    }
    if (query.before !== undefined) requireNonNegativeInteger('before', query.before);
    if (query.after !== undefined) requireNonNegativeInteger('after', query.after);
    const record = this.tables.find(tenantId, conversationId);
    if (!record) return { items: [], hasMore: false };

    // Inclusive seq bounds of the page; seq n lives at messages[n - 1].
    let lowest: number;
    let highest: number;
    let hasMore: boolean;
    if (query.after !== undefined) {
      lowest = query.after + 1;
      highest = Math.min(record.lastSeq, query.after + query.limit);
      hasMore = highest < record.lastSeq;
    } else {
      highest = Math.min(record.lastSeq, (query.before ?? Infinity) - 1);
      lowest = Math.max(1, highest - query.limit + 1);
      hasMore = lowest > 1;
    }
    const items = highest < lowest ? [] : record.messages.slice(lowest - 1, highest);
    return { items: items.map((message) => toMessage(record.id, message, viewer)), hasMore };
  }

  async get(
    tenantId: TenantId,
    conversationId: ConversationId,
    messageId: MessageId,
    viewer: UserId | null,
  ): Promise<Message | null> {
    const record = this.tables.find(tenantId, conversationId);
    const message = record && findMessage(record, messageId);
    return record && message ? toMessage(record.id, message, viewer) : null;
  }

  async edit(
    tenantId: TenantId,
    conversationId: ConversationId,
    messageId: MessageId,
    text: string,
    now: EpochMs,
    viewer: UserId | null,
  ): Promise<{ status: 'ok'; message: Message } | { status: 'not_found' } | { status: 'deleted' } | { status: 'muted' }> {
    requireEventTime('now', now);
    const record = this.tables.find(tenantId, conversationId);
    const message = record && findMessage(record, messageId);
    if (!record || !message) return { status: 'not_found' };
    if (message.deletedAt !== null) return { status: 'deleted' };
    if (isMuted(muteOf(record, viewer), now)) return { status: 'muted' };
    message.text = text;
    message.editedAt = now;
    this.events.log(record, { type: 'message.updated', conversationId, message: toMessage(record.id, message, null) }, now);
    return { status: 'ok', message: toMessage(record.id, message, viewer) };
  }

  async delete(
    tenantId: TenantId,
    conversationId: ConversationId,
    messageId: MessageId,
    now: EpochMs,
  ): Promise<Message | null> {
    requireEventTime('now', now);
    const record = this.tables.find(tenantId, conversationId);
    const message = record && findMessage(record, messageId);
    if (!record || !message) return null;
    if (message.deletedAt === null) {
      message.text = null;
      message.deletedAt = now;
      message.reactions.clear();
      this.events.log(record, { type: 'message.deleted', conversationId, message: toMessage(record.id, message, null) }, now);
    }
    return toMessage(record.id, message, null);
  }

  async react(
    tenantId: TenantId,
    conversationId: ConversationId,
    messageId: MessageId,
    userId: UserId,
    emoji: string,
    add: boolean,
    limits: { maxEmojiPerMessage: number; maxReactionsPerUser: number },
    now: EpochMs,
  ): Promise<
    | { status: 'ok'; message: Message; changed: boolean }
    | { status: 'not_found' }
    | { status: 'deleted' }
    | { status: 'too_many_reactions' }
    | { status: 'muted' }
  > {
    requireEventTime('now', now);
    const record = this.tables.find(tenantId, conversationId);
    const message = record && findMessage(record, messageId);
    if (!record || !message) return { status: 'not_found' };
    if (message.deletedAt !== null) return { status: 'deleted' };
    if (isMuted(muteOf(record, userId), now)) return { status: 'muted' };

    const reactors = message.reactions.get(emoji);
    let changed = false;
    if (add && !reactors?.has(userId)) {
      if (!reactors && message.reactions.size >= limits.maxEmojiPerMessage) return { status: 'too_many_reactions' };
      if (reactionsOf(message, userId) >= limits.maxReactionsPerUser) return { status: 'too_many_reactions' };
      if (reactors) reactors.add(userId);
      else message.reactions.set(emoji, new Set([userId]));
      changed = true;
    } else if (!add && reactors?.has(userId)) {
      reactors.delete(userId);
      if (reactors.size === 0) message.reactions.delete(emoji);
      changed = true;
    }
    if (changed) {
      const type = add ? 'reaction.added' : 'reaction.removed';
      this.events.log(record, { type, conversationId, messageId, emoji, userId }, now);
    }
    return { status: 'ok', message: toMessage(record.id, message, userId), changed };
  }
}

/**
 * Drops the idempotency keys whose window ended by `now`. Windows are measured on the senders'
 * createdAt times (the memory engine has no clock of its own), and dropping them on every append
 * bounds the table by the keyed sends of one window.
 */
function dropExpiredKeys(record: ConversationRecord, now: EpochMs): void {
  for (const expired of record.idempotencyExpiry.popExpired(now)) {
    // A key reused after its expiry was pushed again: drop it only if this is still its entry.
    if (record.idempotencyKeys.get(expired.key)?.expiresAt === expired.expiresAt) {
      record.idempotencyKeys.delete(expired.key);
    }
  }
}

function reactionsOf(message: MessageRecord, userId: UserId): number {
  let count = 0;
  for (const reactors of message.reactions.values()) if (reactors.has(userId)) count += 1;
  return count;
}
