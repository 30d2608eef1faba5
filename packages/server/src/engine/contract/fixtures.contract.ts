/**
 * Shared fixtures of the engine contract suite. Everything here goes through the Engine
 * interface only, so the suite runs unchanged against every implementation.
 */
import { expect } from 'vitest';
import type { ConversationId, EpochMs, Message, MessageId, Role, TenantId, UserId } from '../../domain/types.js';
import type { Engine, NewMessage } from '../engine.js';
import { EngineError, type EngineErrorCode } from '../errors.js';

/** Gives each test the engine its beforeEach created. */
export interface ContractContext {
  readonly engine: Engine;
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
