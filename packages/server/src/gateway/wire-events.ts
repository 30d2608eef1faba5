/**
 * Durable and ephemeral events in their v1 wire form. A durable event is serialised once per
 * node into a frame prefix; each recipient's frame is that prefix, its own cursor, and `"}`,
 * so no recipient costs a JSON serialisation (nor, over a WebSocket, a UTF-8 encoding of it).
 */
import type { ConversationEvent, EphemeralEvent, EventEnvelope, EventId } from '../domain/events.js';
import type { ConversationId, Member, TenantId } from '../domain/types.js';
import { WEBHOOK_EVENT_TYPES, type QueuedWebhookEvent } from '../domain/webhooks.js';
import type { EncodedCursor } from './cursor.js';
import { presentConversation, presentMessage } from '../http/v1/present.js';

/** A durable event ready to send: `prefix + cursor + FRAME_SUFFIX` is one frame. */
export interface PresentedEvent {
  envelope: EventEnvelope;
  prefix: string;
  /** `prefix` in UTF-8, encoded once for every recipient on the node. */
  prefixBytes: Buffer;
  /** The last frame built by `frameBytesOf` and its cursor: recipients whose cursors agree share one buffer. */
  lastFrame?: { cursor: string; bytes: Buffer };
  /** The last recipient's cursor: the next recipient reuses its text when their cursors agree (see `encodeCursorLike`). */
  lastCursor?: EncodedCursor;
}

export const FRAME_SUFFIX = '"}';

function wireBody(envelope: EventEnvelope, members: Member[]): Record<string, unknown> {
  const { event } = envelope;
  switch (event.type) {
    case 'message.created':
    case 'message.updated':
    case 'message.deleted':
      // Reactions' `me` is per viewer and an event is one frame for everyone: clients follow
      // reaction.added/removed (which name the user) to know their own.
      return { type: event.type, message: presentMessage(event.message) };
    case 'reaction.added':
    case 'reaction.removed':
      return {
        type: event.type,
        conversationId: event.conversationId,
        messageId: event.messageId,
        emoji: event.emoji,
        userId: event.userId,
      };
    case 'conversation.created':
    case 'conversation.updated':
      return { type: event.type, conversation: presentConversation(event.conversation, members) };
    case 'member.added':
    case 'member.removed':
    case 'member.updated':
      return { type: event.type, conversationId: event.conversationId, userId: event.userId, role: event.role };
    case 'read':
      return { type: event.type, conversationId: event.conversationId, userId: event.userId, seq: event.seq };
  }
}

/**
 * A durable event as a webhook's `data`: the realtime frame without `type` and `cursor` (with the
 * conversation's first `members` for conversation events, as the frame has them).
 */
export function webhookData(envelope: EventEnvelope, members: Member[] = []): Record<string, unknown> {
  const { type: _type, ...data } = wireBody(envelope, members);
  return data;
}

/**
 * Presents queued webhook entries: durable events as `webhookData` (reading the conversation's
 * first members for conversation events, as the hub does for frames), anything else (webhook.ping)
 * as queued, without `type`.
 */
export function createWebhookPresenter(
  firstMembers: (tenantId: TenantId, conversationId: ConversationId) => Promise<Member[]>,
): (tenantId: TenantId, entry: QueuedWebhookEvent) => Promise<Record<string, unknown>> {
  const durable = new Set<string>(WEBHOOK_EVENT_TYPES);
  return async (tenantId, entry) => {
    if (!durable.has(entry.type) || entry.conversationId === null) {
      const { type: _type, ...data } = entry.event;
      return data;
    }
    const envelope = { id: '' as EventId, at: entry.at, event: entry.event as unknown as ConversationEvent };
    return webhookData(envelope, needsMembers(envelope) ? await firstMembers(tenantId, entry.conversationId) : []);
  };
}

/** Conversation events show the conversation as REST does, with its first members. */
export const needsMembers = (envelope: EventEnvelope) => envelope.event.type.startsWith('conversation.');

export function presentEvent(envelope: EventEnvelope, members: Member[] = []): PresentedEvent {
  const json = JSON.stringify(wireBody(envelope, members));
  const prefix = `${json.slice(0, -1)},"cursor":"`;
  return { envelope, prefix, prefixBytes: Buffer.from(prefix) };
}

export function frameOf(presented: PresentedEvent, cursor: string): string {
  return presented.prefix + cursor + FRAME_SUFFIX;
}

/**
 * `frameOf` as UTF-8 bytes, without building the frame's text: the shared prefix is copied and the
 * cursor (ASCII by construction, see cursor.ts) written after it. The buffer is never written to
 * again, so one can be handed to every socket whose cursor is the same.
 */
export function frameBytesOf(presented: PresentedEvent, cursor: string): Buffer {
  if (presented.lastFrame?.cursor === cursor) return presented.lastFrame.bytes;
  const { prefixBytes } = presented;
  const bytes = Buffer.allocUnsafe(prefixBytes.length + cursor.length + FRAME_SUFFIX.length);
  prefixBytes.copy(bytes, 0);
  bytes.write(cursor + FRAME_SUFFIX, prefixBytes.length, 'latin1');
  presented.lastFrame = { cursor, bytes };
  return bytes;
}

export function ephemeralFrame(event: EphemeralEvent): string {
  if (event.type === 'typing') return JSON.stringify({ type: 'typing', conversationId: event.conversationId, userId: event.userId });
  return JSON.stringify({
    type: 'presence',
    userId: event.userId,
    status: event.status,
    lastSeenAt: event.lastSeenAt === null ? null : new Date(event.lastSeenAt).toISOString(),
  });
}
