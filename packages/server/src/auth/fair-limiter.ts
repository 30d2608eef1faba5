/**
 * A semaphore whose waiting line is fair between sources (client addresses): at most
 * `maxConcurrent` tasks run, waiting tasks are started round-robin across sources (one of each
 * source in turn, oldest first within a source), and each source may have at most
 * `maxQueuedPerSource` waiting, all sources together `maxQueued`. So a flood from one source
 * fills only its own share of the line, and anyone else's task starts after at most one task of
 * each other waiting source.
 *
 * A task the line cannot take fails fast with ServiceError('rate_limited') (Retry-After: 1)
 * rather than waiting without bound.
 */
import { ServiceError } from '../services/service-error.js';

export interface FairLimiterOptions {
  maxConcurrent: number;
  maxQueued: number;
  maxQueuedPerSource: number;
}

/** The source of tasks that name none: they share one turn of the round-robin. */
export const UNKNOWN_SOURCE = '';

export type FairLimiter = <T>(source: string, task: () => Promise<T>) => Promise<T>;

export function createFairLimiter({ maxConcurrent, maxQueued, maxQueuedPerSource }: FairLimiterOptions): FairLimiter {
  let running = 0;
  let queued = 0;
  /** Waiting starts per source; Map order is the round-robin order (a served source moves to the end). */
  const waiting = new Map<string, (() => void)[]>();

  function startNext(): boolean {
    const first = waiting.entries().next();
    if (first.done) return false;
    const [source, line] = first.value;
    const start = line.shift();
    waiting.delete(source);
    if (line.length > 0) waiting.set(source, line);
    queued -= 1;
    start?.();
    return true;
  }

  return async function limit<T>(source: string, task: () => Promise<T>): Promise<T> {
    if (running >= maxConcurrent) {
      const line = waiting.get(source) ?? [];
      if (queued >= maxQueued || line.length >= maxQueuedPerSource) {
        throw new ServiceError('rate_limited', 'Too many password checks in progress; retry shortly', { 'Retry-After': '1' });
      }
      await new Promise<void>((resolve) => {
        line.push(resolve);
        if (!waiting.has(source)) waiting.set(source, line);
        queued += 1;
      });
    } else {
      running += 1;
    }
    try {
      return await task();
    } finally {
      // Hand the slot straight to the next waiter (running stays the same) or free it.
      if (!startNext()) running -= 1;
    }
  };
}
