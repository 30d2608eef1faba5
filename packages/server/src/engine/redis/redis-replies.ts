/**
 * Small typed parsers from Redis replies to domain objects. Nothing Redis-shaped leaves the
 * redis/ folder: every reply is checked here, and a reply of the wrong shape becomes an
 * EngineError('storage_unavailable') rather than a half-filled object.
 */
import { parseEventId, type ConversationEvent, type EphemeralEvent, type EventEnvelope, type EventId } from '../../domain/events.js';
import type {
  Ban,
  Conversation,
  ConversationId,
  ConversationType,
  ExternalIdentity,
  Member,
  Message,
  MessageId,
  Mute,
  ReactionCounts,
  Role,
  TenantId,
  User,
  UserId,
} from '../../domain/types.js';
import { EngineError } from '../errors.js';
import type { Reply } from './scripts.js';

export function unexpected(what: string): EngineError {
  return new EngineError('storage_unavailable', `unexpected reply from Redis: ${what}`);
}

export function asArray(reply: Reply | undefined, what: string): Reply[] {
  if (!Array.isArray(reply)) throw unexpected(what);
  return reply;
}

export function asString(reply: Reply | undefined, what: string): string {
  if (typeof reply !== 'string') throw unexpected(what);
  return reply;
}

export function asOptionalString(reply: Reply | undefined, what: string): string | null {
  if (reply === null || reply === undefined) return null;
  return asString(reply, what);
}

/** An integer, whether Redis sent it as an integer reply or as a decimal string. */
export function asInteger(reply: Reply | undefined, what: string): number {
  const value = typeof reply === 'string' ? Number(reply) : reply;
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw unexpected(what);
  return value;
}

/** A HGETALL reply (flat [field, value, ...]) as a record. */
export function asRecord(reply: Reply | undefined, what: string): Record<string, string> {
  const flat = asArray(reply, what);
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) record[asString(flat[i], what)] = asString(flat[i + 1], what);
  return record;
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw unexpected(what);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function numberField(source: Record<string, unknown>, field: string, what: string): number {
  const value = source[field];
  if (typeof value !== 'number') throw unexpected(`${what}.${field}`);
  return value;
}

function nullableNumber(source: Record<string, unknown>, field: string, what: string): number | null {
  return source[field] === null ? null : numberField(source, field, what);
}

function nullableString(source: Record<string, unknown>, field: string, what: string): string | null {
  const value = source[field];
  if (value === null) return null;
  if (typeof value !== 'string') throw unexpected(`${what}.${field}`);
  return value;
}

const ROLE_SET: ReadonlySet<string> = new Set<Role>(['owner', 'admin', 'member']);

function asRole(value: unknown, what: string): Role {
  if (typeof value !== 'string' || !ROLE_SET.has(value)) throw unexpected(what);
  return value as Role;
}

// ─── Conversations and members ─────────────────────────────────────────────────────────────

export function parseConversation(tenantId: TenantId, reply: Reply | undefined): Conversation {
  const meta = asRecord(reply, 'conversation');
  const type = meta.type;
  if (type !== 'direct' && type !== 'group') throw unexpected('conversation.type');
  return {
    tenantId,
    id: asString(meta.id, 'conversation.id') as ConversationId,
    type: type satisfies ConversationType,
    title: meta.title ?? null,
    createdAt: asInteger(meta.createdAt, 'conversation.createdAt'),
    lastSeq: asInteger(meta.lastSeq, 'conversation.lastSeq'),
    lastActivityAt: asInteger(meta.lastActivityAt, 'conversation.lastActivityAt'),
    memberCount: asInteger(meta.memberCount, 'conversation.memberCount'),
  };
}

/**
 * A member record as stored in the members hash: JSON {role, lastReadSeq, joinedAt, joinedEventId}.
 * A record from before event logs (no joinedEventId) joined before every event: '0-0'.
 */
export function parseMember(userId: UserId, json: string): Member {
  const stored = parseJson(json, 'member');
  if (!isObject(stored)) throw unexpected('member');
  const joinedEventId = stored.joinedEventId ?? '0-0';
  if (typeof joinedEventId !== 'string' || parseEventId(joinedEventId) === null) throw unexpected('member.joinedEventId');
  return {
    userId,
    role: asRole(stored.role, 'member.role'),
    lastReadSeq: numberField(stored, 'lastReadSeq', 'member'),
    joinedAt: numberField(stored, 'joinedAt', 'member'),
    joinedEventId: joinedEventId as EventId,
  };
}

/** A mute as stored in a conversation's mutes hash: JSON {until (null: until lifted), createdAt}. */
export function parseMute(userId: UserId, json: string): Mute {
  const stored = parseJson(json, 'mute');
  if (!isObject(stored)) throw unexpected('mute');
  const until = stored.until ?? null;
  if (until !== null && typeof until !== 'number') throw unexpected('mute.until');
  return { userId, until, createdAt: numberField(stored, 'createdAt', 'mute') };
}

/** A ban as stored in a conversation's bans hash: JSON {createdAt}. */
export function parseBan(userId: UserId, json: string): Ban {
  const stored = parseJson(json, 'ban');
  if (!isObject(stored)) throw unexpected('ban');
  return { userId, createdAt: numberField(stored, 'createdAt', 'ban') };
}

// ─── Messages ──────────────────────────────────────────────────────────────────────────────

function parseReactionCounts(value: unknown): ReactionCounts {
  // Lua's cjson cannot tell an empty object from an empty array: both mean "no reactions".
  if (Array.isArray(value) && value.length === 0) return {};
  if (!isObject(value)) throw unexpected('message.reactions');
  const counts: ReactionCounts = {};
  for (const [emoji, count] of Object.entries(value)) {
    if (typeof count !== 'number') throw unexpected('message.reactions');
    counts[emoji] = count;
  }
  return counts;
}

/** A user's emoji on one message as stored in my-reactions (a JSON array), or none. */
export function parseMyReactions(reply: Reply | undefined): string[] {
  const json = asOptionalString(reply, 'my reactions');
  if (json === null) return [];
  const stored = parseJson(json, 'my reactions');
  if (Array.isArray(stored) && stored.every((emoji) => typeof emoji === 'string')) return stored as string[];
  if (isObject(stored) && Object.keys(stored).length === 0) return [];
  throw unexpected('my reactions');
}

/** A stored message (JSON without its conversation id) with the viewer's reactions. */
export function parseMessage(conversationId: ConversationId, messageReply: Reply | undefined, mineReply: Reply | undefined): Message {
  return messageFrom(conversationId, parseJson(asString(messageReply, 'message'), 'message'), parseMyReactions(mineReply));
}

function messageFrom(conversationId: ConversationId, stored: unknown, myReactions: string[]): Message {
  if (!isObject(stored)) throw unexpected('message');
  if (typeof stored.id !== 'string' || typeof stored.system !== 'boolean') throw unexpected('message');
  return {
    id: stored.id as MessageId,
    conversationId,
    seq: numberField(stored, 'seq', 'message'),
    senderId: nullableString(stored, 'senderId', 'message') as UserId | null,
    system: stored.system,
    text: nullableString(stored, 'text', 'message'),
    createdAt: numberField(stored, 'createdAt', 'message'),
    editedAt: nullableNumber(stored, 'editedAt', 'message'),
    deletedAt: nullableNumber(stored, 'deletedAt', 'message'),
    replyTo: nullableString(stored, 'replyTo', 'message') as MessageId | null,
    reactions: parseReactionCounts(stored.reactions),
    myReactions,
  };
}

// ─── Users ─────────────────────────────────────────────────────────────────────────────────

/** The fields of a user hash that make a User, in the order scripts return them (HMGET). */
export const USER_FIELDS = ['id', 'username', 'displayName', 'metadata', 'createdAt', 'updatedAt', 'identity'] as const;

/** A user from HMGET of USER_FIELDS; null when the hash does not exist. */
export function parseUser(tenantId: TenantId, reply: Reply | undefined): User | null {
  const [id, username, displayName, metadata, createdAt, updatedAt, identity] = asArray(reply, 'user');
  if (id === null || id === undefined) return null;
  const metadataJson = asOptionalString(metadata, 'user.metadata');
  const parsedMetadata = metadataJson === null ? null : parseJson(metadataJson, 'user.metadata');
  if (parsedMetadata !== null && !isObject(parsedMetadata)) throw unexpected('user.metadata');
  return {
    tenantId,
    id: asString(id, 'user.id') as UserId,
    username: asOptionalString(username, 'user.username'),
    displayName: asString(displayName, 'user.displayName'),
    metadata: parsedMetadata,
    createdAt: asInteger(createdAt, 'user.createdAt'),
    updatedAt: asInteger(updatedAt, 'user.updatedAt'),
    ...parseIdentity(asOptionalString(identity, 'user.identity')),
  };
}

/** The `identity` field of a user hash: JSON {provider, issuer, subject}, absent for other users. */
function parseIdentity(json: string | null): { identity?: ExternalIdentity } {
  if (json === null) return {};
  const stored = parseJson(json, 'user.identity');
  if (!isObject(stored) || typeof stored.provider !== 'string' || typeof stored.issuer !== 'string' || typeof stored.subject !== 'string') {
    throw unexpected('user.identity');
  }
  return { identity: { provider: stored.provider, issuer: stored.issuer, subject: stored.subject } };
}

// ─── Events ────────────────────────────────────────────────────────────────────────────────
// Events reach the engine as JSON written by the scripts (or by notify), from a stream entry or
// a pub/sub message. Each is checked field by field and rebuilt, so a malformed one is refused
// as a whole (the subscriber drops it) rather than passed on half-formed.

function stringOf(source: Record<string, unknown>, field: string, what: string): string {
  const value = source[field];
  if (typeof value !== 'string') throw unexpected(`${what}.${field}`);
  return value;
}

function conversationFrom(value: unknown): Conversation {
  if (!isObject(value)) throw unexpected('event.conversation');
  const what = 'event.conversation';
  const type = value.type;
  if (type !== 'direct' && type !== 'group') throw unexpected(`${what}.type`);
  return {
    tenantId: stringOf(value, 'tenantId', what) as TenantId,
    id: stringOf(value, 'id', what) as ConversationId,
    type,
    title: nullableString(value, 'title', what),
    createdAt: numberField(value, 'createdAt', what),
    lastSeq: numberField(value, 'lastSeq', what),
    lastActivityAt: numberField(value, 'lastActivityAt', what),
    memberCount: numberField(value, 'memberCount', what),
  };
}

/** A durable event, checked against its type. */
export function parseConversationEvent(value: unknown): ConversationEvent {
  if (!isObject(value)) throw unexpected('event');
  const conversationId = stringOf(value, 'conversationId', 'event') as ConversationId;
  const type = value.type;
  switch (type) {
    case 'message.created':
    case 'message.updated':
    case 'message.deleted': {
      const message = messageFrom(conversationId, value.message, []);
      return { type, conversationId, message };
    }
    case 'reaction.added':
    case 'reaction.removed':
      return {
        type,
        conversationId,
        messageId: stringOf(value, 'messageId', 'event') as MessageId,
        emoji: stringOf(value, 'emoji', 'event'),
        userId: stringOf(value, 'userId', 'event') as UserId,
      };
    case 'conversation.created':
    case 'conversation.updated':
      return { type, conversationId, conversation: conversationFrom(value.conversation) };
    case 'member.added':
    case 'member.removed':
    case 'member.updated':
      return { type, conversationId, userId: stringOf(value, 'userId', 'event') as UserId, role: asRole(value.role, 'event.role') };
    case 'read':
      return { type, conversationId, userId: stringOf(value, 'userId', 'event') as UserId, seq: numberField(value, 'seq', 'event') };
    default:
      throw unexpected('event.type');
  }
}

function eventIdOf(value: unknown, what: string): { id: EventId; at: number } {
  const parsed = typeof value === 'string' ? parseEventId(value) : null;
  if (parsed === null) throw unexpected(what);
  return { id: value as EventId, at: parsed.at };
}

/** An envelope as published: JSON {id, at, event}. */
export function parseEnvelope(value: unknown): EventEnvelope {
  if (!isObject(value)) throw unexpected('envelope');
  const { id, at } = eventIdOf(value.id, 'envelope.id');
  if (value.at !== at) throw unexpected('envelope.at');
  return { id, at, event: parseConversationEvent(value.event) };
}

/** Entries of a log as XRANGE returns them: [[id, ['event', json]], ...]. */
export function parseLogEntries(reply: Reply | undefined): EventEnvelope[] {
  return asArray(reply, 'events').map((entry) => {
    const [id, fields] = asArray(entry, 'events.entry');
    const record = asRecord(fields, 'events.entry.fields');
    const parsed = eventIdOf(id, 'events.entry.id');
    return { id: parsed.id, at: parsed.at, event: parseConversationEvent(parseJson(asString(record.event, 'events.entry.event'), 'event')) };
  });
}

/** An ephemeral event, checked against its type. */
export function parseEphemeralEvent(value: unknown): EphemeralEvent {
  if (!isObject(value)) throw unexpected('ephemeral');
  switch (value.type) {
    case 'typing':
      return {
        type: 'typing',
        conversationId: stringOf(value, 'conversationId', 'ephemeral') as ConversationId,
        userId: stringOf(value, 'userId', 'ephemeral') as UserId,
      };
    case 'presence': {
      const status = value.status;
      if (status !== 'online' && status !== 'offline') throw unexpected('ephemeral.status');
      return {
        type: 'presence',
        userId: stringOf(value, 'userId', 'ephemeral') as UserId,
        status,
        lastSeenAt: nullableNumber(value, 'lastSeenAt', 'ephemeral'),
      };
    }
    default:
      throw unexpected('ephemeral.type');
  }
}

/** JSON text to a value; throws the engine's `unexpected` on bad text. */
export function parseJsonText(text: string, what: string): unknown {
  return parseJson(text, what);
}
