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

export function createIdGenerator(): IdGenerator {
  const next = monotonicFactory();
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
