/**
 * Shared fixtures of the engine contract suite. Everything here goes through the Engine
 * interface only, so the suite runs unchanged against every implementation.
 */
import { expect } from 'vitest';
import { compareEventIds, type ConversationEvent, type EventEnvelope, type EventId, type TopicMessage } from '../../domain/events.js';
import type { ConversationId, EpochMs, Message, MessageId, Role, TenantId, UserId } from '../../domain/types.js';
import type { Engine, EventRetention, NewConversation, NewMessage, StoredApiKey, Subscriber } from '../engine.js';
import { EngineError, type EngineErrorCode } from '../errors.js';

/** What a test may ask of the engine factory beyond an empty engine. */
export interface EngineSetupOptions {
  /** Retention of event logs and inboxes; the engine's default when absent. */
  retention?: EventRetention;
}

/** Gives each test the engine its beforeEach created, and more when it needs them. */
export interface ContractContext {
  readonly engine: Engine;
  /** Another empty engine from the same setup, made with `options`; cleaned up after the test. */
  createEngine(options: EngineSetupOptions): Promise<Engine>;
  /** Runs `cleanup` after the test, before its engines are cleaned up (last registered, first run). */
  onCleanup(cleanup: () => Promise<void> | void): void;
}

export const TENANT = 'acme' as TenantId;
export const OTHER_TENANT = 'globex' as TenantId;

export const alice = 'u-alice' as UserId;
export const bob = 'u-bob' as UserId;
export const carol = 'u-carol' as UserId;
export const dave = 'u-dave' as UserId;
export const erin = 'u-erin' as UserId;

/**
 * Times are arguments, but an engine may also hand them to its storage as expiry instants
 * (refresh families expire "on their own at expiresAt"). Anchoring them to the wall clock keeps
 * such keys alive for the length of a test; nothing in the suite waits on the clock.
 */
export const T0: EpochMs = Date.now();
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

/** A tenant API key record; the engine treats its id and hash as opaque strings. */
export function apiKey(id: string, createdAt: EpochMs = T0): StoredApiKey {
  return { id, hash: `sha256:hash-of-${id}`, createdAt };
}

export function userIds(prefix: string, count: number): UserId[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(4, '0')}` as UserId);
}

let messageCounter = 0;
/** A message id unique within the test run. */
export function nextMessageId(): MessageId {
  messageCounter += 1;
  return `m-${String(messageCounter).padStart(8, '0')}` as MessageId;
}

export function newMessage(senderId: UserId | null, overrides: Partial<NewMessage> = {}): NewMessage {
  return {
    id: nextMessageId(),
    senderId,
    system: senderId === null,
    text: 'hello',
    replyTo: null,
    createdAt: T0,
    clientMessageId: null,
    ...overrides,
  };
}

/** The input of a direct conversation of the pair, created at T0. */
export function newDirect(id: string, first: UserId, second: UserId): NewConversation & { type: 'direct' } {
  return {
    id: id as ConversationId,
    type: 'direct',
    title: null,
    createdAt: T0,
    members: [
      { userId: first, role: 'member' },
      { userId: second, role: 'member' },
    ],
  };
}

/** Creates a group whose first user is its owner and the others plain members. */
export async function createGroup(
  engine: Engine,
  id: string,
  users: readonly UserId[],
  options: { tenantId?: TenantId; createdAt?: EpochMs; title?: string } = {},
): Promise<ConversationId> {
  const conversationId = id as ConversationId;
  await engine.conversations.createGroup(options.tenantId ?? TENANT, {
    id: conversationId,
    type: 'group',
    title: options.title ?? `group ${id}`,
    createdAt: options.createdAt ?? T0,
    members: users.map((userId, index) => ({ userId, role: (index === 0 ? 'owner' : 'member') as Role })),
  });
  return conversationId;
}

export const DEFAULT_TTL_MS = DAY;

/** Appends and insists that a new message was created. */
export async function send(
  engine: Engine,
  conversationId: ConversationId,
  senderId: UserId | null,
  overrides: Partial<NewMessage> & { tenantId?: TenantId } = {},
): Promise<Message> {
  const { tenantId, ...messageOverrides } = overrides;
  const result = await engine.messages.append(
    tenantId ?? TENANT,
    conversationId,
    newMessage(senderId, messageOverrides),
    DEFAULT_TTL_MS,
  );
  if (result.status !== 'created') throw new Error(`expected a created message, got ${result.status}`);
  return result.message;
}

/** Sends `count` messages one after another (seq 1..count on a fresh conversation). */
export async function sendMany(
  engine: Engine,
  conversationId: ConversationId,
  senderId: UserId,
  count: number,
): Promise<Message[]> {
  const sent: Message[] = [];
  for (let i = 1; i <= count; i += 1) {
    sent.push(await send(engine, conversationId, senderId, { text: `message ${i}`, createdAt: T0 + i }));
  }
  return sent;
}

export async function expectEngineError(promise: Promise<unknown>, code: EngineErrorCode): Promise<void> {
  const error: unknown = await promise.then(
    () => null,
    (rejection: unknown) => rejection,
  );
  expect(error).toBeInstanceOf(EngineError);
  expect((error as EngineError).code).toBe(code);
}

export function seqsOf(messages: readonly Message[]): number[] {
  return messages.map((message) => message.seq);
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** Counts occurrences of each value, for "exactly one of the racers won" assertions. */
export function tally<T extends string>(values: readonly T[]): Partial<Record<T, number>> {
  const counts: Partial<Record<T, number>> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

// ─── Realtime ───────────────────────────────────────────────────────────────────────────────

/** Every event of the conversation's log after `after`, read in pages of `pageSize`. */
export async function readLog(
  engine: Engine,
  conversationId: ConversationId,
  options: { tenantId?: TenantId; after?: EventId | null; pageSize?: number } = {},
): Promise<EventEnvelope[]> {
  const all: EventEnvelope[] = [];
  let after = options.after ?? null;
  for (;;) {
    const page = await engine.events.read(options.tenantId ?? TENANT, conversationId, after, options.pageSize ?? 1000);
    all.push(...page.events);
    const last = page.events.at(-1);
    if (!last || page.events.length < (options.pageSize ?? 1000)) return all;
    after = last.id;
  }
}

/** The events (without envelopes) of the conversation's log after `after`. */
export async function eventsOf(
  engine: Engine,
  conversationId: ConversationId,
  options: { tenantId?: TenantId; after?: EventId | null } = {},
): Promise<ConversationEvent[]> {
  return (await readLog(engine, conversationId, options)).map((envelope) => envelope.event);
}

/** The newest event id of the conversation's log; throws when the log is empty. */
export async function headOf(engine: Engine, conversationId: ConversationId, tenantId: TenantId = TENANT): Promise<EventId> {
  const [head] = await engine.events.heads(tenantId, [conversationId]);
  if (!head) throw new Error(`the log of ${conversationId} is empty`);
  return head;
}

/** Asserts that ids strictly increase, that each id is `<at>-<n>` of its envelope's `at`, and `at` never decreases. */
export function expectOrderedLog(envelopes: readonly EventEnvelope[]): void {
  for (const [index, envelope] of envelopes.entries()) {
    expect(envelope.id).toMatch(/^\d+-\d+$/);
    expect(envelope.id.split('-')[0]).toBe(String(envelope.at));
    const previous = envelopes[index - 1];
    if (previous) {
      expect(compareEventIds(previous.id, envelope.id), `${previous.id} before ${envelope.id}`).toBeLessThan(0);
      expect(envelope.at).toBeGreaterThanOrEqual(previous.at);
    }
  }
}

/**
 * Polls `probe` until it returns something other than undefined. Deliveries through a topic are
 * asynchronous (a Redis subscriber hears them on another connection), so tests wait for them
 * with a deadline instead of sleeping a fixed time.
 */
export async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A subscriber that records what it hears, closed after the test. */
export interface Recorder {
  readonly subscriber: Subscriber;
  /** Everything heard so far, in the order heard. */
  readonly heard: TopicMessage[];
  /** Waits until a message matching `predicate` was heard and returns the first such. */
  waitFor(what: string, predicate: (message: TopicMessage) => boolean): Promise<TopicMessage>;
}

export function recorder(context: ContractContext, engine: Engine = context.engine): Recorder {
  const heard: TopicMessage[] = [];
  const subscriber = engine.pubsub.createSubscriber((message) => {
    heard.push(message);
  });
  context.onCleanup(() => subscriber.close());
  return {
    subscriber,
    heard,
    waitFor: (what, predicate) => waitFor(what, () => heard.find(predicate)),
  };
}

/** True for a durable event on a conversation topic whose event is a message.created of `messageId`. */
export function isCreationOf(messageId: MessageId): (message: TopicMessage) => boolean {
  return (message) =>
    message.kind === 'event' && message.envelope.event.type === 'message.created' && message.envelope.event.message.id === messageId;
}
