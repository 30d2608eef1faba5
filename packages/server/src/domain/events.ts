/**
 * The events Parley delivers in real time. Durable events are stored in their conversation's
 * event log in the same atomic step as the change they describe, so the log and the data never
 * disagree and a log replays changes in exactly the order they happened. Ephemeral events are
 * published and forgotten.
 */
import type { Brand, Conversation, ConversationId, EpochMs, Message, MessageId, Role, TenantId, UserId } from './types.js';

/**
 * Position of a durable event: `<at>-<n>`, ordered by `at` (ms) then `n`, both integers. Within one
 * conversation (or one user's inbox) ids strictly increase in the order the events happened.
 */
export type EventId = Brand<string, 'EventId'>;

export type ConversationEvent =
  | { type: 'message.created' | 'message.updated' | 'message.deleted'; conversationId: ConversationId; message: Message }
  | {
      type: 'reaction.added' | 'reaction.removed';
      conversationId: ConversationId;
      messageId: MessageId;
      emoji: string;
      userId: UserId;
    }
  | { type: 'conversation.created' | 'conversation.updated'; conversationId: ConversationId; conversation: Conversation }
  | {
      type: 'member.added' | 'member.removed' | 'member.updated';
      conversationId: ConversationId;
      userId: UserId;
      role: Role;
    }
  | { type: 'read'; conversationId: ConversationId; userId: UserId; seq: number };

export type ConversationEventType = ConversationEvent['type'];

/** A durable event with its place in a log. `at` is the time of the change (never decreasing within a log). */
export interface EventEnvelope {
  id: EventId;
  at: EpochMs;
  event: ConversationEvent;
}

/** Published and forgotten: never stored, never replayed. */
export type EphemeralEvent =
  | { type: 'typing'; conversationId: ConversationId; userId: UserId }
  | { type: 'presence'; userId: UserId; status: 'online' | 'offline'; lastSeenAt: EpochMs | null };

/** What a node's subscriber hears. */
export type TopicMessage =
  /** A durable event from a conversation topic. */
  | { kind: 'event'; tenantId: TenantId; conversationId: ConversationId; envelope: EventEnvelope }
  /** A durable event from a user's inbox topic (changes of that user's own memberships). */
  | { kind: 'inbox'; tenantId: TenantId; userId: UserId; envelope: EventEnvelope }
  | { kind: 'ephemeral'; tenantId: TenantId; conversationId: ConversationId; event: EphemeralEvent };

const ID_PATTERN = /^(\d+)-(\d+)$/;

/** Parses an event id; null when it is not one. */
export function parseEventId(id: string): { at: number; n: number } | null {
  const match = ID_PATTERN.exec(id);
  if (!match) return null;
  const at = Number(match[1]);
  const n = Number(match[2]);
  return Number.isSafeInteger(at) && Number.isSafeInteger(n) ? { at, n } : null;
}

/** Negative, zero or positive as `a` is before, at or after `b`. */
export function compareEventIds(a: EventId, b: EventId): number {
  const left = parseEventId(a);
  const right = parseEventId(b);
  if (!left || !right) throw new Error(`not an event id: ${left ? b : a}`);
  return left.at - right.at || left.n - right.n;
}

/** The id just after every event of millisecond `at`: reading "after" it returns the events of later times. */
export function endOfMillisecond(at: EpochMs): EventId {
  return `${at}-${Number.MAX_SAFE_INTEGER}` as EventId;
}
