/**
 * The realtime protocol's wire shapes (v1): the frames, whose objects (messages, conversations,
 * members) are the REST API's generated types. v1 only grows by addition, so every object may
 * carry fields not listed here.
 */

import type { Conversation, ConversationSummary, Member, Message, MessagePage, Role } from '../rest/types.js';

// The objects frames carry are the REST API's own, generated from the OpenAPI document.
export type { Conversation, Member, Message, MessagePage, Role };
/** An item of `GET /v1/conversations`: the conversation with its last message and the caller's unread count. */
export type ConversationListItem = ConversationSummary;

/** Durable events: each carries the cursor after it and is replayed on resume. */
export type DurableEvent =
  | { type: 'message.created' | 'message.updated' | 'message.deleted'; cursor: string; message: Message }
  | { type: 'reaction.added' | 'reaction.removed'; cursor: string; conversationId: string; messageId: string; emoji: string; userId: string }
  | { type: 'conversation.created' | 'conversation.updated'; cursor: string; conversation: Conversation }
  | { type: 'member.added' | 'member.removed' | 'member.updated'; cursor: string; conversationId: string; userId: string; role: Role }
  | { type: 'read'; cursor: string; conversationId: string; userId: string; seq: number };

export type DurableEventType = DurableEvent['type'];

/** Ephemeral events: never replayed. */
export type TypingEvent = { type: 'typing'; conversationId: string; userId: string };
export type PresenceEvent = { type: 'presence'; userId: string; status: 'online' | 'offline'; lastSeenAt: string | null };

/** Control frames from the server. */
export type ServerControlFrame =
  | { type: 'ready'; userId: string; cursor: string }
  | { type: 'resync.required' }
  | { type: 'pong' }
  | { type: 'error'; code: string; detail?: string };

export type ServerFrame = DurableEvent | TypingEvent | PresenceEvent | ServerControlFrame;

/** Frames a client may send (over a WebSocket only; Server-Sent Events flow one way). */
export type ClientFrame = { type: 'typing'; conversationId: string } | { type: 'ping' };

/** Close codes the server uses beyond the standard ones. */
export const CloseCodes = {
  /** Normal closure. */
  normal: 1000,
  /** No close frame: the connection was lost. */
  abnormal: 1006,
  /** The node is shutting down: reconnect (elsewhere) at once, with the cursor. */
  restart: 1012,
  /** The token is missing, invalid or expired, or the account is gone. */
  unauthorized: 4001,
  /** The client did not keep up; reconnect with the cursor. */
  tooSlow: 4008,
  /** The user opened too many connections; this was their oldest. */
  tooManyConnections: 4009,
  /** The server did not understand a frame. */
  badFrame: 4400,
} as const;

const DURABLE_TYPES: ReadonlySet<string> = new Set<DurableEventType>([
  'message.created',
  'message.updated',
  'message.deleted',
  'reaction.added',
  'reaction.removed',
  'conversation.created',
  'conversation.updated',
  'member.added',
  'member.removed',
  'member.updated',
  'read',
]);

export const isDurableEvent = (frame: ServerFrame): frame is DurableEvent => DURABLE_TYPES.has(frame.type);

/** The conversation a durable event belongs to. */
export function conversationIdOf(event: DurableEvent): string {
  switch (event.type) {
    case 'message.created':
    case 'message.updated':
    case 'message.deleted':
      return event.message.conversationId;
    case 'conversation.created':
    case 'conversation.updated':
      return event.conversation.id;
    default:
      return event.conversationId;
  }
}

/** Parses a text frame; null for anything that is not a JSON object with a string `type`. */
export function parseServerFrame(text: string): ServerFrame | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || typeof (value as { type?: unknown }).type !== 'string') return null;
  return value as ServerFrame;
}
