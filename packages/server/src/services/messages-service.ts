import type { Principal } from '../auth/principal.js';
import type { AppendResult, Engine, HistoryQuery, NewMessage } from '../engine/engine.js';
import { canDeleteMessage, canEditMessage, canReact } from '../domain/permissions.js';
import {
  MAX_EMOJI_PER_MESSAGE,
  MAX_REACTIONS_PER_USER_PER_MESSAGE,
  isValidEmoji,
  messageTextViolation,
  normalizeMessageText,
} from '../domain/rules.js';
import type { ConversationId, Message, MessageId, UserId } from '../domain/types.js';
import { loadAccess, refuseIfRestricted, type Access } from './conversation-access.js';
import type { Clock, IdGenerator } from './ids.js';
import { bothInOrder, type QuotaListener, type RateLimiter } from './rate-limiter.js';
import { refuseViolation, ServiceError } from './service-error.js';

export interface MessagesServiceDeps {
  engine: Engine;
  clock: Clock;
  /** Counts SEND per user for sends, edits and reactions (tenant keys count SERVER_KEY instead). */
  rateLimiter: RateLimiter;
  ids: IdGenerator;
  idempotencyTtlMs: number;
  /** Called once per message stored (not for an idempotent repeat), e.g. to count it. Must not throw. */
  onAccepted?: () => void;
}

export type MessagesService = ReturnType<typeof createMessagesService>;

const viewerOf = (principal: Principal): UserId | null => (principal.kind === 'user' ? principal.userId : null);

const requireText = (text: string): string => {
  const normalized = normalizeMessageText(text);
  if (normalized === null) throw new ServiceError('validation_failed', 'text must be 1..4000 characters after trimming');
  refuseViolation('text', messageTextViolation(normalized));
  return normalized;
};

/** Sending, reading, editing, deleting and reacting to messages. */
export function createMessagesService({ engine, clock, rateLimiter, ids, idempotencyTtlMs, onAccepted }: MessagesServiceDeps) {
  /**
   * The access check with the caller's SEND unit counted alongside it (one round trip for both,
   * auto-pipelined). An exceeded limit answers 429 before anything is written; a unit counts
   * even when the access check then refuses, like any other attempt.
   */
  async function loadAccessCountingSend(principal: Principal, conversationId: ConversationId, onQuota: QuotaListener | undefined): Promise<Access> {
    if (principal.kind !== 'user') return loadAccess(engine, principal, conversationId);
    const counted = rateLimiter.consume('SEND', { tenantId: principal.tenantId, subject: principal.userId }, onQuota);
    const [, access] = await bothInOrder(counted, loadAccess(engine, principal, conversationId));
    return access;
  }

  async function loadMessage(access: Access, messageId: MessageId): Promise<Message> {
    const { principal, conversation } = access;
    const message = await engine.messages.get(principal.tenantId, conversation.id, messageId, viewerOf(principal));
    if (!message) throw new ServiceError('message_not_found');
    return message;
  }

  return {
    /** `created: false` when clientMessageId repeated an earlier send: the original comes back. */
    async send(
      principal: Principal,
      conversationId: ConversationId,
      input: { text: string; clientMessageId?: string; replyTo?: string },
      onQuota?: QuotaListener,
    ): Promise<{ message: Message; created: boolean }> {
      const text = requireText(input.text);
      // The append checks membership, a block and a mute itself (in that order, as
      // refuseIfRestricted would) and counts the caller's SEND unit in the same step, before all
      // else: one round trip (two on Redis Cluster, MessageStore.appendCounted). The unit counts
      // even when the append then refuses, like any other attempt.
      const senderId = viewerOf(principal);
      const message: NewMessage = {
        id: ids.message(),
        senderId,
        system: senderId === null,
        text,
        replyTo: (input.replyTo as MessageId | undefined) ?? null,
        createdAt: clock(),
        clientMessageId: input.clientMessageId ?? null,
      };
      const unit = principal.kind === 'user' ? rateLimiter.unit('SEND', { tenantId: principal.tenantId, subject: principal.userId }) : null;
      let result: AppendResult;
      if (unit === null) {
        result = await engine.messages.append(principal.tenantId, conversationId, message, idempotencyTtlMs);
      } else {
        const counted = await engine.messages.appendCounted(principal.tenantId, conversationId, message, idempotencyTtlMs, unit);
        rateLimiter.settle('SEND', unit, counted.decision, onQuota);
        if (counted.result === null) throw new Error('appendCounted allowed the unit but answered no append');
        result = counted.result;
      }
      switch (result.status) {
        case 'created':
          onAccepted?.();
          return { message: result.message, created: true };
        case 'duplicate':
          return { message: result.message, created: false };
        case 'reply_not_found':
          throw new ServiceError('message_not_found', 'replyTo names no message of this conversation');
        case 'blocked':
          throw new ServiceError('blocked');
        case 'muted':
          throw new ServiceError('muted');
        // A conversation the caller is not a member of looks like one that does not exist.
        case 'not_member':
        case 'conversation_not_found':
          throw new ServiceError('conversation_not_found');
      }
    },

    async history(
      principal: Principal,
      conversationId: ConversationId,
      query: HistoryQuery,
    ): Promise<{ items: Message[]; hasMore: boolean }> {
      if (query.before !== undefined && query.after !== undefined) {
        throw new ServiceError('validation_failed', 'Use at most one of before and after');
      }
      await loadAccess(engine, principal, conversationId);
      return engine.messages.history(principal.tenantId, conversationId, query, viewerOf(principal));
    },

    async edit(
      principal: Principal,
      conversationId: ConversationId,
      messageId: MessageId,
      text: string,
      onQuota?: QuotaListener,
    ): Promise<Message> {
      const normalized = requireText(text);
      const access = await loadAccessCountingSend(principal, conversationId, onQuota);
      const message = await loadMessage(access, messageId);
      if (!canEditMessage(access, message)) throw new ServiceError('forbidden', 'Only the sender edits a message');
      const now = clock();
      await refuseIfRestricted(engine, access, now);
      const result = await engine.messages.edit(principal.tenantId, conversationId, messageId, normalized, now, viewerOf(principal));
      if (result.status === 'not_found') throw new ServiceError('message_not_found');
      if (result.status === 'deleted') throw new ServiceError('message_deleted');
      if (result.status === 'muted') throw new ServiceError('muted');
      return result.message;
    },

    async delete(principal: Principal, conversationId: ConversationId, messageId: MessageId): Promise<Message> {
      const access = await loadAccess(engine, principal, conversationId);
      const message = await loadMessage(access, messageId);
      if (!canDeleteMessage(access, message)) throw new ServiceError('forbidden', 'Only the sender, owners and admins delete a message');
      const deleted = await engine.messages.delete(principal.tenantId, conversationId, messageId, clock());
      if (!deleted) throw new ServiceError('message_not_found');
      return deleted;
    },

    async react(
      principal: Principal,
      conversationId: ConversationId,
      messageId: MessageId,
      emoji: string,
      add: boolean,
      onQuota?: QuotaListener,
    ): Promise<{ message: Message; changed: boolean }> {
      if (!isValidEmoji(emoji)) throw new ServiceError('validation_failed', 'emoji must be a single emoji');
      const access = await loadAccessCountingSend(principal, conversationId, onQuota);
      if (!canReact(access) || principal.kind !== 'user') throw new ServiceError('forbidden', 'Reactions belong to users, not tenant keys');
      const now = clock();
      await refuseIfRestricted(engine, access, now);
      const result = await engine.messages.react(principal.tenantId, conversationId, messageId, principal.userId, emoji, add, {
        maxEmojiPerMessage: MAX_EMOJI_PER_MESSAGE,
        maxReactionsPerUser: MAX_REACTIONS_PER_USER_PER_MESSAGE,
      }, now);
      switch (result.status) {
        case 'ok':
          return { message: result.message, changed: result.changed };
        case 'not_found':
          throw new ServiceError('message_not_found');
        case 'deleted':
          throw new ServiceError('message_deleted');
        case 'too_many_reactions':
          throw new ServiceError('too_many_reactions');
        case 'muted':
          throw new ServiceError('muted');
      }
    },
  };
}
