/**
 * The rate limit arithmetic both engines share (GCRA, the generic cell rate algorithm), as pure
 * functions of the stored theoretical arrival time (TAT), the policy and `now`. The memory engine
 * uses them directly; the Redis engine uses them for peeks and runs the same steps in
 * lua/rate-limit-consume.lua and lua/rate-limit-refund.lua for consumes and refunds, which must
 * read and write in one atomic step.
 *
 * With interval = ceil(windowMs / count) and capacity = interval * count, a key admits a unit
 * at `now` when max(TAT, now) + interval - now <= capacity, and the admitted unit moves TAT to
 * max(TAT, now) + interval. So a fresh key admits `count` at once, then one per interval; a key
 * whose TAT is in the past is the same as an absent one (hence keys may expire at TAT). A refund
 * moves TAT back by one interval, never below `now` (so never beyond the full burst).
 * All values are integers of milliseconds, so both engines compute exactly the same answers.
 */
import type { EpochMs } from '../domain/types.js';
import type { RateLimitDecision, RateLimitKey, RateLimitPolicy } from './engine.js';
import { EngineError } from './errors.js';

/** Throws invalid_argument for a policy or key outside what RateLimitStore documents. */
export function requireRateLimit(key: RateLimitKey, policy: RateLimitPolicy, now: EpochMs): void {
  const invalid = (message: string) => new EngineError('invalid_argument', message);
  if (typeof key.limit !== 'string' || key.limit.length === 0) throw invalid('key.limit must be a non-empty string');
  if (typeof key.subject !== 'string' || key.subject.length === 0) throw invalid('key.subject must be a non-empty string');
  if (!Number.isSafeInteger(policy.count) || policy.count < 1) throw invalid('policy.count must be an integer >= 1');
  if (!Number.isSafeInteger(policy.windowMs) || policy.windowMs < policy.count) {
    throw invalid('policy.windowMs must be an integer >= policy.count (at most one unit per millisecond)');
  }
  if (!Number.isSafeInteger(now) || now < 0 || now >= 1e14) throw invalid('now must be an epoch-ms integer');
}

export function emissionInterval(policy: RateLimitPolicy): number {
  return Math.ceil(policy.windowMs / policy.count);
}

/**
 * The decision of a consume at `now`, and the TAT to store when it is allowed (null: store
 * nothing). `storedTat` is null for an absent key.
 */
export function consumeDecision(storedTat: number | null, policy: RateLimitPolicy, now: EpochMs): { decision: RateLimitDecision; tat: number | null } {
  const interval = emissionInterval(policy);
  const capacity = interval * policy.count;
  const tat = Math.max(storedTat ?? now, now);
  const next = tat + interval;
  if (next - now > capacity) {
    return { decision: { allowed: false, remaining: 0, resetMs: tat - now, retryAfterMs: next - capacity - now }, tat: null };
  }
  return { decision: { allowed: true, remaining: Math.floor((capacity - (next - now)) / interval), resetMs: next - now, retryAfterMs: 0 }, tat: next };
}

/** What a consume would decide at `now`, with `remaining` the units a run of consumes would admit now. */
export function peekDecision(storedTat: number | null, policy: RateLimitPolicy, now: EpochMs): RateLimitDecision {
  const interval = emissionInterval(policy);
  const capacity = interval * policy.count;
  const tat = Math.max(storedTat ?? now, now);
  const remaining = Math.floor((capacity - (tat - now)) / interval);
  const allowed = remaining >= 1;
  return { allowed, remaining, resetMs: tat - now, retryAfterMs: allowed ? 0 : tat + interval - capacity - now };
}

/**
 * The TAT to store after a refund at `now`: one interval earlier, or null (delete the key, or
 * leave an absent one absent) when that is not after `now`, i.e. the burst is full again.
 * `storedTat` is null for an absent key.
 */
export function refundTat(storedTat: number | null, policy: RateLimitPolicy, now: EpochMs): number | null {
  if (storedTat === null || storedTat <= now) return null;
  const tat = storedTat - emissionInterval(policy);
  return tat > now ? tat : null;
}
