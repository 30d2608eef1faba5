/**
 * RateLimitStore in memory: one TAT per key in a Map, each method synchronous between its read
 * and its write (so atomic). Keys are forgotten once their TAT has passed (they then read as
 * absent anyway), swept on every call from an expiry heap, so memory stays bounded by the keys
 * counted within one window.
 */
import type { EpochMs } from '../../domain/types.js';
import type { RateLimitDecision, RateLimitKey, RateLimitPolicy, RateLimitStore } from '../engine.js';
import { consumeDecision, peekDecision, refundTat, requireRateLimit } from '../rate-limit-gcra.js';
import { ExpiryQueue } from './expiry-queue.js';

function keyOf(key: RateLimitKey): string {
  return JSON.stringify([key.limit, key.tenantId, key.subject]);
}

export class MemoryRateLimitStore implements RateLimitStore {
  private readonly tats = new Map<string, EpochMs>();
  private readonly expiries = new ExpiryQueue<string>();

  async consume(key: RateLimitKey, policy: RateLimitPolicy, now: EpochMs): Promise<RateLimitDecision> {
    return this.consumeNow(key, policy, now);
  }

  /** consume without a promise, so the message store's appendCounted counts inside its atomic step. */
  consumeNow(key: RateLimitKey, policy: RateLimitPolicy, now: EpochMs): RateLimitDecision {
    requireRateLimit(key, policy, now);
    this.forgetExpired(now);
    const id = keyOf(key);
    const { decision, tat } = consumeDecision(this.tats.get(id) ?? null, policy, now);
    if (tat !== null) {
      this.tats.set(id, tat);
      this.expiries.push(id, tat);
    }
    return decision;
  }

  async peek(key: RateLimitKey, policy: RateLimitPolicy, now: EpochMs): Promise<RateLimitDecision> {
    requireRateLimit(key, policy, now);
    this.forgetExpired(now);
    return peekDecision(this.tats.get(keyOf(key)) ?? null, policy, now);
  }

  async refund(key: RateLimitKey, policy: RateLimitPolicy, now: EpochMs): Promise<RateLimitDecision> {
    requireRateLimit(key, policy, now);
    this.forgetExpired(now);
    const id = keyOf(key);
    const tat = refundTat(this.tats.get(id) ?? null, policy, now);
    if (tat === null) {
      this.tats.delete(id);
    } else {
      this.tats.set(id, tat);
      this.expiries.push(id, tat);
    }
    return peekDecision(tat, policy, now);
  }

  /** How many keys are held (tests check that memory stays bounded). */
  get size(): number {
    return this.tats.size;
  }

  private forgetExpired(now: EpochMs): void {
    for (const { key, expiresAt } of this.expiries.popExpired(now)) {
      // A key counted again since has a later TAT and a later heap entry of its own.
      if (this.tats.get(key) === expiresAt) this.tats.delete(key);
    }
  }
}
