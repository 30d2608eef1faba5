import { randomFillSync } from 'node:crypto';
import { monotonicFactory } from 'ulid';
import type { ConversationId, MessageId, UserId } from '../domain/types.js';

/** Creates the ids Parley assigns: ULIDs, sortable by creation time and unique across nodes. */
export interface IdGenerator {
  user(): UserId;
  conversation(): ConversationId;
  message(): MessageId;
  /** An id without a domain meaning (token families, request ids). */
  opaque(): string;
}

/**
 * ulid's own source of randomness, one byte at a time (a fraction byte / 256, uniform over its 32
 * characters), drawn from a pool filled by crypto 256 bytes at once: ulid's default asks crypto
 * for each byte separately, 16 calls per id, which showed in a send's profile.
 */
function pooledRandomBytes(): () => number {
  const pool = new Uint8Array(256);
  let next = pool.length;
  return () => {
    if (next === pool.length) {
      randomFillSync(pool);
      next = 0;
    }
    return (pool[next++] ?? 0) / 256;
  };
}

export function createIdGenerator(): IdGenerator {
  const next = monotonicFactory(pooledRandomBytes());
  return {
    user: () => next() as UserId,
    conversation: () => next() as ConversationId,
    message: () => next() as MessageId,
    opaque: () => next(),
  };
}

/** Milliseconds since the epoch; injected so tests can control time. */
export type Clock = () => number;
export const systemClock: Clock = () => Date.now();
