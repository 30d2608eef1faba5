/**
 * Opaque page cursors of the Redis engine: base64url JSON tagged by kind, so a cursor of one
 * list is refused by another, and anything this engine did not produce is `invalid_cursor`.
 */
import { EngineError } from '../errors.js';

function invalidCursor(): EngineError {
  return new EngineError('invalid_cursor', 'the cursor is not valid');
}

function encode(payload: unknown[]): string {
  return Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
}

function decode(cursor: string, kind: string): unknown[] {
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
  } catch {
    throw invalidCursor();
  }
  if (!Array.isArray(payload) || payload[0] !== kind) throw invalidCursor();
  return payload;
}

/** listMembers: the join sequence of the last member returned. */
export function encodeMemberCursor(joinSeq: number): string {
  return encode(['m', joinSeq]);
}

export function decodeMemberCursor(cursor: string): number {
  const [, joinSeq] = decode(cursor, 'm');
  if (typeof joinSeq !== 'number' || !Number.isSafeInteger(joinSeq) || joinSeq < 0) throw invalidCursor();
  return joinSeq;
}

/** listForUser: the (activity, conversationId) of the last conversation returned. */
export interface ActivityPosition {
  activity: number;
  conversationId: string;
}

export function encodeActivityCursor(position: ActivityPosition): string {
  return encode(['a', position.activity, position.conversationId]);
}

export function decodeActivityCursor(cursor: string): ActivityPosition {
  const [, activity, conversationId] = decode(cursor, 'a');
  if (typeof activity !== 'number' || !Number.isFinite(activity) || typeof conversationId !== 'string') {
    throw invalidCursor();
  }
  return { activity, conversationId };
}

/** Mutes and bans: the user id of the last entry returned, under the list's own kind. */
export function encodeUserIdCursor(kind: 'mutes' | 'bans', userId: string): string {
  return encode([kind, userId]);
}

export function decodeUserIdCursor(kind: 'mutes' | 'bans', cursor: string): string {
  const [, userId] = decode(cursor, kind);
  if (typeof userId !== 'string' || userId.length === 0) throw invalidCursor();
  return userId;
}
