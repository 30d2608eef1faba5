/**
 * Contract of rate limits: a burst of `count`, then one unit per interval; exact retry times;
 * peeks that count nothing; refunds that give exactly one unit back, never beyond the burst; keys,
 * limits and tenants independent; concurrent consumes (and refunds) that never admit more than
 * the limit (plus the units refunded).
 */
import { describe, expect, it } from 'vitest';
import type { RateLimitKey, RateLimitPolicy } from '../engine.js';
import { expectEngineError, OTHER_TENANT, T0, TENANT, type ContractContext } from './fixtures.contract.js';

const aliceSends: RateLimitKey = { limit: 'send', tenantId: TENANT, subject: 'u-alice' };
/** 5 per second: one unit every 200 ms. */
const FIVE_PER_SECOND: RateLimitPolicy = { count: 5, windowMs: 1000 };

export function rateLimitsContract(context: ContractContext): void {
  describe('rate limits', () => {
    it('admits a burst of count, then refuses with the exact time until the next unit', async () => {
      const { rateLimits } = context.engine;
      const decisions = [];
      for (let i = 0; i < 5; i += 1) decisions.push(await rateLimits.consume(aliceSends, FIVE_PER_SECOND, T0));
      expect(decisions.map((d) => [d.allowed, d.remaining, d.resetMs])).toEqual([
        [true, 4, 200],
        [true, 3, 400],
        [true, 2, 600],
        [true, 1, 800],
        [true, 0, 1000],
      ]);
      expect(await rateLimits.consume(aliceSends, FIVE_PER_SECOND, T0 + 50)).toEqual({ allowed: false, remaining: 0, resetMs: 950, retryAfterMs: 150 });
      expect((await rateLimits.consume(aliceSends, FIVE_PER_SECOND, T0 + 199)).allowed).toBe(false);
      expect(await rateLimits.consume(aliceSends, FIVE_PER_SECOND, T0 + 200)).toEqual({ allowed: true, remaining: 0, resetMs: 1000, retryAfterMs: 0 });
    });

    it('refills continuously: one unit per interval, the whole burst after the window', async () => {
      const { rateLimits } = context.engine;
      for (let i = 0; i < 5; i += 1) await rateLimits.consume(aliceSends, FIVE_PER_SECOND, T0);
      expect((await rateLimits.consume(aliceSends, FIVE_PER_SECOND, T0 + 400)).remaining).toBe(1);
      const later = T0 + 400 + 1000;
      const burst = [];
      for (let i = 0; i < 6; i += 1) burst.push((await rateLimits.consume(aliceSends, FIVE_PER_SECOND, later)).allowed);
      expect(burst).toEqual([true, true, true, true, true, false]);
    });

    it('does not push the retry time away when refused, and rounds a fractional interval up', async () => {
      const { rateLimits } = context.engine;
      const threePerTwoSeconds = { count: 3, windowMs: 2000 }; // interval ceil(666.7) = 667 ms
      for (let i = 0; i < 3; i += 1) await rateLimits.consume(aliceSends, threePerTwoSeconds, T0);
      for (let i = 0; i < 10; i += 1) {
        expect(await rateLimits.consume(aliceSends, threePerTwoSeconds, T0 + i)).toMatchObject({ allowed: false, retryAfterMs: 667 - i });
      }
      expect((await rateLimits.consume(aliceSends, threePerTwoSeconds, T0 + 667)).allowed).toBe(true);
    });

    it('peeks without counting: what a consume would decide, and the units left', async () => {
      const { rateLimits } = context.engine;
      const policy = { count: 2, windowMs: 1000 };
      expect(await rateLimits.peek(aliceSends, policy, T0)).toEqual({ allowed: true, remaining: 2, resetMs: 0, retryAfterMs: 0 });
      expect(await rateLimits.peek(aliceSends, policy, T0)).toEqual({ allowed: true, remaining: 2, resetMs: 0, retryAfterMs: 0 });
      await rateLimits.consume(aliceSends, policy, T0);
      expect(await rateLimits.peek(aliceSends, policy, T0)).toEqual({ allowed: true, remaining: 1, resetMs: 500, retryAfterMs: 0 });
      await rateLimits.consume(aliceSends, policy, T0);
      expect(await rateLimits.peek(aliceSends, policy, T0 + 100)).toEqual({ allowed: false, remaining: 0, resetMs: 900, retryAfterMs: 400 });
      expect(await rateLimits.peek(aliceSends, policy, T0 + 500)).toMatchObject({ allowed: true, remaining: 1 });
    });

    it('refunds exactly one counted unit, answering what a peek would', async () => {
      const { rateLimits } = context.engine;
      for (let i = 0; i < 5; i += 1) await rateLimits.consume(aliceSends, FIVE_PER_SECOND, T0);
      expect((await rateLimits.consume(aliceSends, FIVE_PER_SECOND, T0)).allowed).toBe(false);
      expect(await rateLimits.refund(aliceSends, FIVE_PER_SECOND, T0 + 50)).toEqual({ allowed: true, remaining: 1, resetMs: 750, retryAfterMs: 0 });
      expect(await rateLimits.peek(aliceSends, FIVE_PER_SECOND, T0 + 50)).toEqual({ allowed: true, remaining: 1, resetMs: 750, retryAfterMs: 0 });
      // Exactly one: the refunded unit is admitted, the next is refused until the next interval.
      expect((await rateLimits.consume(aliceSends, FIVE_PER_SECOND, T0 + 50)).allowed).toBe(true);
      expect(await rateLimits.consume(aliceSends, FIVE_PER_SECOND, T0 + 50)).toMatchObject({ allowed: false, retryAfterMs: 150 });
      // Refunds of every counted unit make the key as if never counted (it is forgotten).
      for (let i = 0; i < 5; i += 1) await rateLimits.refund(aliceSends, FIVE_PER_SECOND, T0 + 50);
      expect(await rateLimits.peek(aliceSends, FIVE_PER_SECOND, T0 + 50)).toEqual({ allowed: true, remaining: 5, resetMs: 0, retryAfterMs: 0 });
    });

    it('never refunds beyond the burst: a full or absent key stays as it is', async () => {
      const { rateLimits } = context.engine;
      const full = { allowed: true, remaining: 5, resetMs: 0, retryAfterMs: 0 };
      expect(await rateLimits.refund(aliceSends, FIVE_PER_SECOND, T0)).toEqual(full);
      expect(await rateLimits.refund(aliceSends, FIVE_PER_SECOND, T0)).toEqual(full);
      const burst = [];
      for (let i = 0; i < 6; i += 1) burst.push((await rateLimits.consume(aliceSends, FIVE_PER_SECOND, T0)).allowed);
      expect(burst).toEqual([true, true, true, true, true, false]);
      // A unit counted long enough ago has refilled: refunding it adds nothing on top.
      await rateLimits.consume({ ...aliceSends, subject: 'u-bob' }, FIVE_PER_SECOND, T0);
      expect(await rateLimits.refund({ ...aliceSends, subject: 'u-bob' }, FIVE_PER_SECOND, T0 + 150)).toEqual(full);
      // A partly refilled key never goes beyond the burst either: TAT stops at now.
      expect((await rateLimits.refund(aliceSends, FIVE_PER_SECOND, T0 + 900)).remaining).toBe(5);
      expect(await rateLimits.refund(aliceSends, FIVE_PER_SECOND, T0 + 900)).toEqual(full);
    });

    it('keeps the bound under concurrent consumes and refunds: at most the limit plus the refunds', async () => {
      const { rateLimits } = context.engine;
      const policy = { count: 3, windowMs: 60_000 };
      for (let i = 0; i < 3; i += 1) await rateLimits.consume(aliceSends, policy, T0);
      const consumes = Array.from({ length: 20 }, () => rateLimits.consume(aliceSends, policy, T0));
      const refunds = Array.from({ length: 2 }, () => rateLimits.refund(aliceSends, policy, T0));
      const [decisions] = await Promise.all([Promise.all(consumes), Promise.all(refunds)]);
      const admitted = decisions.filter((d) => d.allowed).length;
      // Each refund frees one unit for a consume that runs after it, never more.
      expect(admitted).toBeLessThanOrEqual(2);
      const left = await rateLimits.peek(aliceSends, policy, T0);
      expect(admitted + left.remaining).toBe(2);
      // Many refunds at once never lift the key beyond its burst.
      await Promise.all(Array.from({ length: 10 }, () => rateLimits.refund(aliceSends, policy, T0)));
      expect((await rateLimits.peek(aliceSends, policy, T0)).remaining).toBe(3);
      const after = await Promise.all(Array.from({ length: 10 }, () => rateLimits.consume(aliceSends, policy, T0)));
      expect(after.filter((d) => d.allowed)).toHaveLength(3);
    });

    it('keeps subjects, limits and tenants apart, and deployment-wide keys apart from tenant keys', async () => {
      const { rateLimits } = context.engine;
      const one = { count: 1, windowMs: 60_000 };
      const keys: RateLimitKey[] = [
        aliceSends,
        { ...aliceSends, subject: 'u-bob' },
        { ...aliceSends, limit: 'realtime-connect' },
        { ...aliceSends, tenantId: OTHER_TENANT },
        { ...aliceSends, tenantId: null },
      ];
      for (const key of keys) expect((await rateLimits.consume(key, one, T0)).allowed).toBe(true);
      for (const key of keys) expect((await rateLimits.consume(key, one, T0)).allowed).toBe(false);
      // Ids that could collide if fields were merely joined stay apart too.
      expect((await rateLimits.consume({ limit: 'send', tenantId: TENANT, subject: 'x:y' }, one, T0)).allowed).toBe(true);
      expect((await rateLimits.consume({ limit: 'send:x', tenantId: TENANT, subject: 'y' }, one, T0)).allowed).toBe(true);
    });

    it('never admits more than the limit to concurrent consumes', async () => {
      const { rateLimits } = context.engine;
      const policy = { count: 10, windowMs: 60_000 };
      const decisions = await Promise.all(Array.from({ length: 50 }, () => rateLimits.consume(aliceSends, policy, T0)));
      expect(decisions.filter((d) => d.allowed)).toHaveLength(10);
      expect(decisions.filter((d) => d.allowed).map((d) => d.remaining).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });

    it('forgets a key once its burst is full again: counting restarts as if new', async () => {
      const { rateLimits } = context.engine;
      const first = await rateLimits.consume(aliceSends, FIVE_PER_SECOND, T0);
      const after = T0 + first.resetMs;
      expect(await rateLimits.peek(aliceSends, FIVE_PER_SECOND, after)).toEqual({ allowed: true, remaining: 5, resetMs: 0, retryAfterMs: 0 });
      expect(await rateLimits.consume(aliceSends, FIVE_PER_SECOND, after)).toEqual(first);
    });

    it('refuses policies and keys outside the documented ranges', async () => {
      const { rateLimits } = context.engine;
      await expectEngineError(rateLimits.consume(aliceSends, { count: 0, windowMs: 1000 }, T0), 'invalid_argument');
      await expectEngineError(rateLimits.consume(aliceSends, { count: 10, windowMs: 5 }, T0), 'invalid_argument');
      await expectEngineError(rateLimits.peek({ ...aliceSends, subject: '' }, FIVE_PER_SECOND, T0), 'invalid_argument');
      await expectEngineError(rateLimits.consume(aliceSends, FIVE_PER_SECOND, -1), 'invalid_argument');
      await expectEngineError(rateLimits.refund({ ...aliceSends, limit: '' }, FIVE_PER_SECOND, T0), 'invalid_argument');
      await expectEngineError(rateLimits.refund(aliceSends, { count: 0, windowMs: 1000 }, T0), 'invalid_argument');
    });
  });
}
