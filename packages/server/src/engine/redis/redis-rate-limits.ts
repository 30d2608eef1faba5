/**
 * RateLimitStore on Redis: one string per limited subject, `{rl:<limit>:<tenant>:<subject>}:tat`
 * (or `{rl-ip:...}` for deployment-wide subjects), holding the GCRA theoretical arrival time.
 *
 * A consume is one script (rate-limit-consume.lua, or lib/gcra.lua inside message-append): read,
 * decide and write in one atomic step, so concurrent consumes from any node never admit more than
 * the policy. A peek is one GET,
 * decided here by the same arithmetic (rate-limit-gcra.ts). A refund is one script too
 * (rate-limit-refund.lua), atomic with concurrent consumes. Each key expires when its TAT passes.
 */
import type { EpochMs } from '../../domain/types.js';
import type { CountedUnit, RateLimitDecision, RateLimitKey, RateLimitPolicy, RateLimitStore } from '../engine.js';
import { emissionInterval, peekDecision, requireRateLimit } from '../rate-limit-gcra.js';
import type { RedisContext } from './redis-context.js';
import { guard } from './redis-guard.js';
import { asArray, asInteger, unexpected } from './redis-replies.js';
import type { Reply } from './scripts.js';

/** lib/gcra.lua's answer {allowed, remaining, resetMs, retryAfterMs} as a decision. */
export function parseDecision(reply: Reply | undefined, what: string): RateLimitDecision {
  const [allowed, remaining, resetMs, retryAfterMs] = asArray(reply, what).map((value) => asInteger(value, what));
  if (allowed === undefined || remaining === undefined || resetMs === undefined || retryAfterMs === undefined) throw unexpected(what);
  return { allowed: allowed === 1, remaining, resetMs, retryAfterMs };
}

export class RedisRateLimitStore implements RateLimitStore {
  constructor(private readonly context: RedisContext) {}

  consume(key: RateLimitKey, policy: RateLimitPolicy, now: EpochMs): Promise<RateLimitDecision> {
    return guard(async () => {
      const unit = this.scriptUnit({ key, policy, now });
      return parseDecision(await this.context.scripts.run('rate-limit-consume', [unit.key], unit.args), 'rate-limit-consume');
    });
  }

  /** The key and ARGV (interval, capacity, now) of lib/gcra.lua for a unit, checked like consume's. */
  scriptUnit({ key, policy, now }: CountedUnit): { key: string; args: [number, number, number] } {
    requireRateLimit(key, policy, now);
    const interval = emissionInterval(policy);
    return { key: this.keyOf(key), args: [interval, interval * policy.count, now] };
  }

  peek(key: RateLimitKey, policy: RateLimitPolicy, now: EpochMs): Promise<RateLimitDecision> {
    return guard(async () => {
      requireRateLimit(key, policy, now);
      const stored = await this.context.redis.get(this.keyOf(key));
      const tat = stored === null ? null : Number(stored);
      if (tat !== null && !Number.isSafeInteger(tat)) throw unexpected('rate limit TAT');
      return peekDecision(tat, policy, now);
    });
  }

  refund(key: RateLimitKey, policy: RateLimitPolicy, now: EpochMs): Promise<RateLimitDecision> {
    return guard(async () => {
      requireRateLimit(key, policy, now);
      const reply = await this.context.scripts.run('rate-limit-refund', [this.keyOf(key)], [emissionInterval(policy), now]);
      return peekDecision(asInteger(reply, 'rate-limit-refund'), policy, now);
    });
  }

  private keyOf(key: RateLimitKey): string {
    return this.context.keys.rateLimit(key.limit, key.tenantId, key.subject);
  }
}
