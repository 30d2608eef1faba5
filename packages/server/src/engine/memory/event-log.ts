/**
 * One bounded event log in memory: a conversation's log or a user's inbox. It keeps the same
 * rules the Redis engine keeps with a stream:
 *   - ids are `<at>-<n>`, `at` the change's time made non-decreasing within the log, `n` counting
 *     from 0 within one millisecond, so ids strictly increase in the order events were logged;
 *   - after each append, events beyond `maxEvents` and events older than `maxAgeMs` before the
 *     newest event are dropped, and the highest dropped id is remembered so a reader resuming
 *     from before it learns that it cannot replay without a gap (`trimmed`).
 * Stored events are never handed out: readers get copies.
 */
import type { ConversationEvent, EventEnvelope, EventId } from '../../domain/events.js';
import { parseEventId } from '../../domain/events.js';
import type { EpochMs } from '../../domain/types.js';
import type { EventRetention } from '../engine.js';
import { EngineError } from '../errors.js';
import { requireLimit } from './arguments.js';

/** read/readInbox: `limit` 1..1000. */
export const MAX_EVENTS_PAGE = 1000;

interface Position {
  at: number;
  n: number;
}

interface StoredEvent extends Position {
  id: EventId;
  event: ConversationEvent;
}

function compare(a: Position, b: Position): number {
  return a.at - b.at || a.n - b.n;
}

/** Throws invalid_argument unless `value` can be the `at` of an event id. */
export function requireEventTime(name: string, value: EpochMs): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new EngineError('invalid_argument', `${name} must be a non-negative safe integer (ms), got ${value}`);
  }
}

/** Parses the `after` of a read; null stays null. */
export function parseAfter(after: EventId | null): Position | null {
  if (after === null) return null;
  const position = typeof after === 'string' ? parseEventId(after) : null;
  if (!position) throw new EngineError('invalid_argument', `after must be an event id <at>-<n>, got ${String(after)}`);
  return position;
}

/** Throws invalid_argument unless the retention can bound a log. */
export function requireRetention(retention: EventRetention): void {
  if (!Number.isSafeInteger(retention.maxEvents) || retention.maxEvents < 1) {
    throw new EngineError('invalid_argument', `retention.maxEvents must be an integer >= 1, got ${retention.maxEvents}`);
  }
  if (!Number.isSafeInteger(retention.maxAgeMs) || retention.maxAgeMs < 0) {
    throw new EngineError('invalid_argument', `retention.maxAgeMs must be an integer >= 0, got ${retention.maxAgeMs}`);
  }
}

export class EventLog {
  /** Kept events are entries[start..]; dropping advances `start`, compaction happens in bulk. */
  private entries: StoredEvent[] = [];
  private start = 0;
  /** The newest id ever logged, kept even if retention dropped it (it never does: see append). */
  private last: Position | null = null;
  /** The highest id retention dropped, or null when nothing was dropped. */
  private highestDropped: Position | null = null;

  constructor(private readonly retention: EventRetention) {}

  /**
   * Logs `event` (which the log now owns: the caller must not change it) at `now`, or at the
   * previous event's time when `now` is earlier, and applies retention. Returns a copy.
   */
  append(event: ConversationEvent, now: EpochMs): EventEnvelope {
    const at = Math.max(now, this.last?.at ?? 0);
    const n = this.last !== null && this.last.at === at ? this.last.n + 1 : 0;
    const stored: StoredEvent = { at, n, id: `${at}-${n}` as EventId, event };
    this.entries.push(stored);
    this.last = { at, n };
    this.trim(at);
    return toEnvelope(stored);
  }

  /** Events after `after` (exclusive), oldest first, at most `limit`. */
  read(after: EventId | null, limit: number): { events: EventEnvelope[]; trimmed: boolean } {
    requireLimit(limit, MAX_EVENTS_PAGE);
    const position = parseAfter(after);
    const from = position === null ? this.start : this.firstAfter(position);
    const events = this.entries.slice(from, from + limit).map(toEnvelope);
    // Whatever was dropped came after "the beginning"; otherwise compare with the highest drop.
    const trimmed = this.highestDropped !== null && (position === null || compare(this.highestDropped, position) > 0);
    return { events, trimmed };
  }

  head(): EventId | null {
    return this.last === null ? null : (`${this.last.at}-${this.last.n}` as EventId);
  }

  /** Index of the first kept event after `position` (binary search over the kept events). */
  private firstAfter(position: Position): number {
    let low = this.start;
    let high = this.entries.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      const entry = this.entries[middle];
      if (entry && compare(entry, position) <= 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /**
   * Drops by count, then by age relative to the newest event (`newestAt`). The newest event itself
   * is never older than itself and maxEvents >= 1, so a log that ever had an event keeps one.
   */
  private trim(newestAt: EpochMs): void {
    const oldestKept = newestAt - this.retention.maxAgeMs;
    while (this.entries.length - this.start > this.retention.maxEvents || (this.entries[this.start]?.at ?? Infinity) < oldestKept) {
      const dropped = this.entries[this.start];
      if (!dropped) break;
      this.highestDropped = { at: dropped.at, n: dropped.n };
      this.start += 1;
    }
    // Compact once the dropped prefix is at least as long as what is kept: amortised O(1) per event.
    if (this.start > 0 && this.start >= this.entries.length - this.start) {
      this.entries = this.entries.slice(this.start);
      this.start = 0;
    }
  }
}

function toEnvelope(stored: StoredEvent): EventEnvelope {
  return { id: stored.id, at: stored.at, event: structuredClone(stored.event) };
}
