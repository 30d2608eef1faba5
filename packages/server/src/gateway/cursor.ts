/**
 * A realtime cursor: where a client is in the events it receives, compact enough to ride on
 * every frame and to come back in a query string. It has three parts:
 *   - `watermark` (ms): every event of the user's conversations stamped at or before it was
 *     delivered (or came before the connection);
 *   - `inbox`: the last inbox event delivered, when it is stamped after the watermark (null: none
 *     after the watermark; a resume then reads the inbox from the watermark on). Dropping it at
 *     the watermark, as positions are, lets group members' cursors agree, so that one frame is
 *     built per event for all of them;
 *   - `positions`: for conversations with events newer than the watermark, the last one
 *     delivered. Events of different conversations are stamped by different nodes' clocks and
 *     can arrive slightly out of time order, so the window above the watermark is tracked
 *     exactly, per conversation.
 * A conversation is named by an 8-character tag (a hash of its id: the server resolves it among
 * the user's conversations), a position by its offset above the watermark.
 * Text form: `c2.<watermark>.<inbox|->[.<tag><offset>-<n>]...`, numbers in base 36; URL-safe.
 */
import { createHash } from 'node:crypto';
import type { EventId } from '../domain/events.js';
import type { ConversationId } from '../domain/types.js';

export interface Cursor {
  watermark: number;
  inbox: EventId | null;
  /** Conversation tag → last event delivered. */
  positions: Map<string, EventId>;
}

const VERSION = 'c2';
/** A cursor names at most this many conversations: the connection raises its watermark rather than grow it. */
export const MAX_CURSOR_POSITIONS = 64;
const TAG_LENGTH = 8;
const BASE36 = /^[0-9a-z]{1,12}$/;

/** Tags computed so far, for every connection of the node (a tag depends on the id only); emptied when full. */
const knownTags = new Map<ConversationId, string>();
const MAX_KNOWN_TAGS = 50_000;

/**
 * The conversation's tag in cursors: 48 bits of its id's hash, collision-free in practice among
 * one user's conversations. Remembered node-wide rather than per connection: a group's members
 * share one string and an idle connection holds none.
 */
export function conversationTag(conversationId: ConversationId): string {
  let tag = knownTags.get(conversationId);
  if (tag === undefined) {
    tag = createHash('sha256').update(conversationId).digest('base64url').slice(0, TAG_LENGTH);
    if (knownTags.size >= MAX_KNOWN_TAGS) knownTags.clear();
    knownTags.set(conversationId, tag);
  }
  return tag;
}

/** An event id (valid: `<at>-<n>`, as every EventId is) as `<at - base>-<n>` in base 36; sliced, not matched, as it runs on every delivery. */
function idText(id: EventId, base: number): string {
  const dash = id.indexOf('-');
  return `${(Number(id.slice(0, dash)) - base).toString(36)}-${Number(id.slice(dash + 1)).toString(36)}`;
}

function parseIdText(text: string, base: number): EventId | null {
  const [offset, n, extra] = text.split('-');
  if (extra !== undefined || !offset || !n || !BASE36.test(offset) || !BASE36.test(n)) return null;
  const at = base + parseInt(offset, 36);
  const sequence = parseInt(n, 36);
  return Number.isSafeInteger(at) && Number.isSafeInteger(sequence) ? (`${at}-${sequence}` as EventId) : null;
}

/** Positions must be above the watermark (the connection keeps them so). */
export function encodeCursor(cursor: Cursor): string {
  return encodeCursorOf(cursor.watermark, cursor.inbox, [...cursor.positions].map(([tag, id]) => ({ tag, id })));
}

/** `encodeCursor` for a caller that keeps each position's tag beside its id (a connection, on every delivery). The text is ASCII. */
export function encodeCursorOf(
  watermark: number,
  inbox: EventId | null,
  positions: Iterable<CursorPosition>,
): string {
  let text = `${VERSION}.${watermark.toString(36)}.${inbox === null ? '-' : idText(inbox, 0)}`;
  for (const { tag, id } of positions) text += `.${tag}${idText(id, watermark)}`;
  return text;
}

/** A position as `encodeCursorOf` reads it. */
export interface CursorPosition {
  readonly tag: string;
  readonly id: EventId;
}

/** A cursor's text with the parts it was encoded from, so that a cursor with the same parts reuses the text. */
export interface EncodedCursor {
  readonly watermark: number;
  readonly inbox: EventId | null;
  readonly positions: readonly CursorPosition[];
  readonly text: string;
}

/**
 * `encodeCursorOf`, reusing `last` when the parts are the same: an event's recipients in one
 * group usually have equal cursors, and comparing the parts costs less than encoding them.
 * `positions` must not be changed in place (a position changes by being replaced).
 */
export function encodeCursorLike(
  last: EncodedCursor | undefined,
  watermark: number,
  inbox: EventId | null,
  positions: ReadonlyMap<unknown, CursorPosition>,
): EncodedCursor {
  if (last && last.watermark === watermark && last.inbox === inbox && samePositions(last.positions, positions)) return last;
  return { watermark, inbox, positions: [...positions.values()], text: encodeCursorOf(watermark, inbox, positions.values()) };
}

function samePositions(list: readonly CursorPosition[], positions: ReadonlyMap<unknown, CursorPosition>): boolean {
  if (list.length !== positions.size) return false;
  let i = 0;
  for (const position of positions.values()) {
    const other = list[i++]!;
    if (other !== position && (other.id !== position.id || other.tag !== position.tag)) return false;
  }
  return true;
}

/** The cursor, or null when the text is not one (the caller answers as for a cursor too old). */
export function decodeCursor(text: string): Cursor | null {
  const parts = text.split('.');
  if (parts.length < 3 || parts.length - 3 > MAX_CURSOR_POSITIONS || parts[0] !== VERSION || !BASE36.test(parts[1]!)) return null;
  const watermark = parseInt(parts[1]!, 36);
  if (!Number.isSafeInteger(watermark)) return null;
  const inbox = parts[2] === '-' ? null : parseIdText(parts[2]!, 0);
  if (parts[2] !== '-' && inbox === null) return null;
  const positions = new Map<string, EventId>();
  for (const part of parts.slice(3)) {
    const tag = part.slice(0, TAG_LENGTH);
    const id = parseIdText(part.slice(TAG_LENGTH), watermark);
    if (tag.length !== TAG_LENGTH || !/^[A-Za-z0-9_-]+$/.test(tag) || id === null) return null;
    positions.set(tag, id);
  }
  return { watermark, inbox, positions };
}
