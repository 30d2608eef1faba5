/**
 * Parley's named rate limits (docs/security.md, *Rate limits*) on top of the engine's shared
 * counters: which limits exist, their defaults, how a `RATE_LIMIT_<NAME>` value reads, and what a
 * refusal looks like (429 `rate_limited` with `Retry-After` and the IETF RateLimit fields).
 *
 * Guarantees:
 *   - Counting is shared by every node on the same engine (RateLimitStore is atomic per key).
 *   - A limit set to `off` costs nothing: no storage call is made for it.
 *   - A refusal is ServiceError('rate_limited') carrying `Retry-After` (whole seconds, rounded up,
 *     at least 1) and `RateLimit-Policy` / `RateLimit` for the limit that refused; a retry after
 *     `Retry-After` is admitted unless other requests consumed the unit first.
 *   - Every decision (allowed or not) is handed to `onQuota`, so a caller can advertise the quota
 *     on successful responses too.
 */
import type { EpochMs, TenantId } from '../domain/types.js';
import type { CountedUnit, RateLimitDecision, RateLimitPolicy, RateLimitStore } from '../engine/engine.js';
import type { Clock } from './ids.js';
import { ServiceError } from './service-error.js';

/** Every limit: its id in storage and headers, whom it counts, its default setting. */
export const RATE_LIMITS = {
  SEND: { id: 'send', per: 'user (message sends, edits, reactions)', default: '100/10s' },
  LOGIN_FAILURES_ACCOUNT: {
    id: 'login-failures-account',
    per: 'tenant and username (failed logins; while exceeded, even the right password gets 429)',
    default: '20/15m',
  },
  LOGIN_FAILURES_IP: { id: 'login-failures-ip', per: 'client IP (failed logins)', default: '100/15m' },
  REGISTER_IP: { id: 'register-ip', per: 'client IP (registrations)', default: '100/1h' },
  SERVER_KEY: { id: 'server-key', per: 'tenant API key (every call)', default: '2000/10s' },
  REALTIME_CONNECT: { id: 'realtime-connect', per: 'user (WebSocket/SSE connections opened)', default: '60/1m' },
  USER_LOOKUP: { id: 'user-lookup', per: 'user (lookups of a user by username)', default: '60/1m' },
} as const;

export type RateLimitName = keyof typeof RATE_LIMITS;
export const RATE_LIMIT_NAMES = Object.keys(RATE_LIMITS) as RateLimitName[];

/** The setting of each limit; null turns it off. */
export type RateLimitSettings = Record<RateLimitName, RateLimitPolicy | null>;

const WINDOW_UNITS_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
/**
 * Reads one `RATE_LIMIT_<NAME>` value, `<count>/<window>` with a window of whole seconds,
 * minutes, hours or days (`10s`, `15m`, `1h`, `1d`), or `off`: a policy, null for `off`, or a sentence saying what is
 * wrong (the caller names the variable).
 */
export function parseRateLimitSetting(text: string): RateLimitPolicy | null | { error: string } {
  const value = text.trim();
  if (value === 'off') return null;
  const match = /^([1-9][0-9]{0,8})\/([1-9][0-9]{0,5})([smhd])$/.exec(value);
  if (!match) return { error: 'must be <count>/<window> (window like 10s, 15m, 1h, 1d) or off' };
  const count = Number(match[1]);
  const windowMs = Number(match[2]) * WINDOW_UNITS_MS[match[3] as keyof typeof WINDOW_UNITS_MS];
  if (count > windowMs) return { error: 'allows more than one per millisecond; use a longer window' };
  return { count, windowMs };
}

/** The defaults of every limit, as settings. */
export function defaultRateLimitSettings(): RateLimitSettings {
  return Object.fromEntries(RATE_LIMIT_NAMES.map((name) => [name, parseRateLimitSetting(RATE_LIMITS[name].default)])) as RateLimitSettings;
}

/** One limit's decision for one subject, as responses advertise it. */
export interface RateLimitQuota {
  name: RateLimitName;
  policy: RateLimitPolicy;
  decision: RateLimitDecision;
}

export type QuotaListener = (quota: RateLimitQuota) => void;

/** Who a limit counts: a subject within a tenant, or deployment-wide (tenantId null: a client IP). */
export interface RateLimitSubject {
  tenantId: TenantId | null;
  subject: string;
}

const seconds = (ms: number) => Math.ceil(ms / 1000);

/**
 * The RateLimit-Policy and RateLimit fields (draft-ietf-httpapi-ratelimit-headers-10): lists of
 * one item per limit, named by its id; q = quota, w = window (s), r = remaining, t = seconds
 * until the quota is fully available again.
 */
export function rateLimitHeaders(quotas: readonly RateLimitQuota[]): Record<string, string> {
  if (quotas.length === 0) return {};
  return {
    'RateLimit-Policy': quotas.map(({ name, policy }) => `"${RATE_LIMITS[name].id}";q=${policy.count};w=${seconds(policy.windowMs)}`).join(', '),
    RateLimit: quotas.map(({ name, decision }) => `"${RATE_LIMITS[name].id}";r=${decision.remaining};t=${seconds(decision.resetMs)}`).join(', '),
  };
}

/** The error of a refused limit: 429 with Retry-After (>= 1 s) and the limit's fields. */
export function rateLimitedError(quota: RateLimitQuota): ServiceError {
  return new ServiceError('rate_limited', `Rate limit ${RATE_LIMITS[quota.name].id} exceeded; retry later`, {
    'Retry-After': String(Math.max(1, seconds(quota.decision.retryAfterMs))),
    ...rateLimitHeaders([quota]),
  });
}

export interface RateLimiter {
  /**
   * Counts one unit of `name` for `who`; throws rateLimitedError when the limit refuses. Resolves
   * with the quota left (null when the limit is off).
   */
  consume(name: RateLimitName, who: RateLimitSubject, onQuota?: QuotaListener): Promise<RateLimitQuota | null>;
  /** Like consume, without counting: throws when a consume would be refused now. */
  peek(name: RateLimitName, who: RateLimitSubject, onQuota?: QuotaListener): Promise<RateLimitQuota | null>;
  /**
   * Gives back one unit a consume counted, when what it counted did not happen (at most one unit,
   * never beyond the burst; RateLimitStore.refund). Never throws rate_limited; resolves with the
   * quota now left, which also goes to `onQuota` (null when the limit is off).
   */
  refund(name: RateLimitName, who: RateLimitSubject, onQuota?: QuotaListener): Promise<RateLimitQuota | null>;
  /**
   * The unit a consume of `name` for `who` would count now, for an engine step that counts it
   * itself (MessageStore.appendCounted); null when the limit is off. Settle the step's decision.
   */
  unit(name: RateLimitName, who: RateLimitSubject): CountedUnit | null;
  /** Takes a decision an engine step made on `unit` as consume takes its own: to `onQuota`, then throws when refused. */
  settle(name: RateLimitName, unit: CountedUnit, decision: RateLimitDecision, onQuota?: QuotaListener): RateLimitQuota;
}

export interface RateLimiterDeps {
  store: RateLimitStore;
  settings: RateLimitSettings;
  clock: Clock;
}

export function createRateLimiter({ store, settings, clock }: RateLimiterDeps): RateLimiter {
  async function decide(
    name: RateLimitName,
    who: RateLimitSubject,
    onQuota: QuotaListener | undefined,
    operation: (policy: RateLimitPolicy, now: EpochMs) => Promise<RateLimitDecision>,
  ): Promise<RateLimitQuota | null> {
    const policy = settings[name];
    if (policy === null) return null;
    return settle(name, policy, await operation(policy, clock()), onQuota);
  }
  function settle(name: RateLimitName, policy: RateLimitPolicy, decision: RateLimitDecision, onQuota: QuotaListener | undefined): RateLimitQuota {
    const quota = { name, policy, decision };
    onQuota?.(quota);
    if (!decision.allowed) throw rateLimitedError(quota);
    return quota;
  }
  const keyOf = (name: RateLimitName, who: RateLimitSubject) => ({ limit: RATE_LIMITS[name].id, ...who });
  return {
    consume: (name, who, onQuota) => decide(name, who, onQuota, (policy, now) => store.consume(keyOf(name, who), policy, now)),
    peek: (name, who, onQuota) => decide(name, who, onQuota, (policy, now) => store.peek(keyOf(name, who), policy, now)),
    async refund(name, who, onQuota) {
      const policy = settings[name];
      if (policy === null) return null;
      const quota = { name, policy, decision: await store.refund(keyOf(name, who), policy, clock()) };
      onQuota?.(quota);
      return quota;
    },
    unit(name, who) {
      const policy = settings[name];
      return policy === null ? null : { key: keyOf(name, who), policy, now: clock() };
    },
    settle: (name, unit, decision, onQuota) => settle(name, unit.policy, decision, onQuota),
  };
}

/**
 * Awaits two steps started together (so ioredis auto-pipelining sends them in one round trip)
 * and settles like a sequence of `first` then `second`: `first`'s error wins over `second`'s.
 * Both are awaited, so neither rejection goes unhandled.
 */
export async function bothInOrder<A, B>(first: Promise<A>, second: Promise<B>): Promise<[A, B]> {
  const [a, b] = await Promise.allSettled([first, second]);
  if (a.status === 'rejected') throw a.reason;
  if (b.status === 'rejected') throw b.reason;
  return [a.value, b.value];
}
