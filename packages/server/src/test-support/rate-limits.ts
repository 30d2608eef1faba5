/**
 * Rate limits in tests. Many suites register hundreds of users from 127.0.0.1 on one server or
 * send thousands of messages as one user; the production defaults would (rightly) refuse them.
 * So test servers get GENEROUS_RATE_LIMITS unless a test sets its own: every limit stays on (the
 * counting, headers and storage paths run in every suite) but far above what a suite does.
 * Rate limit tests set real, small limits through `env`.
 */
import { createMemoryEngine } from '../engine/memory/memory-engine.js';
import type { RateLimitStore } from '../engine/engine.js';
import { createRateLimiter, defaultRateLimitSettings, RATE_LIMIT_NAMES, type RateLimiter, type RateLimitSettings } from '../services/rate-limiter.js';

/**
 * A million at once for every limit. The window is a day because some suites run a second
 * server on the same engine with its clock minutes or hours behind: a node whose clock lags by
 * `s` sees a subject's counter `s` fuller (see docs/security.md), a rounding error against a day.
 */
export const GENEROUS_RATE_LIMITS: Readonly<Record<string, string>> = Object.fromEntries(
  RATE_LIMIT_NAMES.map((name) => [`RATE_LIMIT_${name}`, '1000000/1d']),
);

/** A rate limiter with the production defaults on its own memory store (unit tests of services). */
export function createTestRateLimiter(
  options: { store?: RateLimitStore; settings?: Partial<RateLimitSettings>; clock?: () => number } = {},
): RateLimiter {
  return createRateLimiter({
    store: options.store ?? createMemoryEngine().rateLimits,
    settings: { ...defaultRateLimitSettings(), ...options.settings },
    clock: options.clock ?? Date.now,
  });
}
