/**
 * The realtime protocol's wire shapes (v1), declared here so that the realtime layer stands on
 * its own: the REST types are generated elsewhere, and these are the subset the frames carry.
 * v1 only grows by addition, so every object may carry fields not listed here.
 */

export type Role = 'owner' | 'admin' | 'member';

/** A message as REST and the realtime frames present it. */
export interface Message {
  id: string;
  conversationId: string;
  /** Position in its conversation: 1, 2, 3... without gaps or duplicates. */
  seq: number;
  /** Null for messages the tenant's back end posted. */
  senderId: string | null;
  /** Posted by the tenant back end. */
  system: boolean;
  /** Null once deleted. */
  text: string | null;
  createdAt: string;
  editedAt: string | null;
  deletedAt: string | null;
  replyTo: string | null;
  /** emoji → count and whether the caller reacted (`me` is false in realtime frames: one frame serves every viewer). */
  reactions: Record<string, { count: number; me: boolean }>;
}

export interface Member {
  userId: string;
  role: Role;
  /** The member has read up to this seq. */
  lastReadSeq: number;
}

export interface Conversation {
  id: string;
  type: 'direct' | 'group';
  title: string | null;
  /** At most the first 100 members. */
  members: Member[];
  memberCount: number;
  createdAt: string;
  lastSeq: number;
}

/** An item of `GET /v1/conversations`: the conversation with its last message and the caller's unread count. */
export interface ConversationListItem extends Conversation {
  lastMessage: Message | null;
  unreadCount: number;
}

/** A page of `GET /v1/conversations/{id}/messages`, ascending by seq. */
export interface MessagePage {
  items: Message[];
  /** More messages exist beyond this page in the direction read. */
  hasMore: boolean;
}

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
