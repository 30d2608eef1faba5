/**
 * A realtime cursor: where a client is in the events it receives, compact enough for a query
 * string. It has three parts:
 *   - `watermark` (ms): every event of the user's conversations up to this time was delivered;
 *   - `inbox`: the last inbox event delivered (null: none after the watermark);
 *   - `positions`: per conversation, the last event delivered, for events newer than the
 *     watermark (events of different conversations may arrive slightly out of time order, so
 *     the window between the watermark and now is tracked exactly).
 * Text form: `c1.<watermark>.<inbox|->[.<conversationId>~<eventId>]...`, URL-safe as it stands.
 */
import type { EventId } from '../domain/events.js';
import { parseEventId } from '../domain/events.js';
import type { ConversationId } from '../domain/types.js';

export interface Cursor {
  watermark: number;
  inbox: EventId | null;
  positions: Map<ConversationId, EventId>;
}

const VERSION = 'c1';
/** A cursor names at most this many conversations; more than that is not a cursor we made. */
export const MAX_CURSOR_POSITIONS = 500;
const CONVERSATION_ID = /^[A-Za-z0-9_-]{1,128}$/;

export function encodeCursor(cursor: Cursor): string {
  let text = `${VERSION}.${cursor.watermark}.${cursor.inbox ?? '-'}`;
  for (const [conversationId, eventId] of cursor.positions) text += `.${conversationId}~${eventId}`;
  return text;
}

/** The cursor, or null when the text is not one (the caller answers as for a cursor too old). */
export function decodeCursor(text: string): Cursor | null {
  const parts = text.split('.');
  if (parts.length < 3 || parts.length - 3 > MAX_CURSOR_POSITIONS || parts[0] !== VERSION) return null;
  const watermark = Number(parts[1]);
  if (!Number.isSafeInteger(watermark) || watermark < 0) return null;
  const inbox = parts[2] === '-' ? null : parts[2]!;
  if (inbox !== null && !parseEventId(inbox)) return null;
  const positions = new Map<ConversationId, EventId>();
  for (const part of parts.slice(3)) {
    const [conversationId, eventId, extra] = part.split('~');
    if (extra !== undefined || !conversationId || !eventId || !CONVERSATION_ID.test(conversationId) || !parseEventId(eventId)) {
      return null;
    }
    positions.set(conversationId as ConversationId, eventId as EventId);
  }
  return { watermark, inbox: inbox as EventId | null, positions };
}
