/**
 * Records when tenant API keys are used (`lastUsedAt` in key listings), off the request's path.
 *
 * Guarantees:
 *   - Never delays a request: the write is started and not awaited (no round trip is added to
 *     authentication), and its failure is swallowed (bookkeeping must not fail a request).
 *   - At most one write per key per `intervalMs` (default one minute) on each node, however
 *     busy the key. So a listed `lastUsedAt` is the time of a use (as this node's clock saw it)
 *     that is at most about `intervalMs` older than the key's latest use: it may lag by up to a
 *     minute per node, and a write lost to a storage failure leaves it older until the next one.
 *   - Bounded memory: it remembers at most `maxTracked` keys; a key it forgot may be written
 *     again sooner, which costs a write, never correctness (the engine keeps the latest time).
 */
import type { Engine } from '../engine/engine.js';
import type { TenantId } from '../domain/types.js';

export interface ApiKeyUsage {
  /** Notes a successful use of the key now. Returns at once. */
  record(tenantId: TenantId, keyId: string): void;
}

export interface ApiKeyUsageDeps {
  engine: Pick<Engine, 'tenants'>;
  clock: () => number;
  /** Default 60,000 ms. */
  intervalMs?: number;
  /** Default 10,000 keys. */
  maxTracked?: number;
}

export const API_KEY_USAGE_INTERVAL_MS = 60_000;

export function createApiKeyUsage(deps: ApiKeyUsageDeps): ApiKeyUsage {
  const intervalMs = deps.intervalMs ?? API_KEY_USAGE_INTERVAL_MS;
  const maxTracked = deps.maxTracked ?? 10_000;
  /** `<tenant> <keyId>` → when this node last wrote a use of the key, oldest write first. */
  const written = new Map<string, number>();

  return {
    record(tenantId, keyId) {
      const now = deps.clock();
      const entry = `${tenantId} ${keyId}`;
      const last = written.get(entry);
      if (last !== undefined && now - last < intervalMs) return;
      written.delete(entry);
      written.set(entry, now);
      if (written.size > maxTracked) written.delete(written.keys().next().value!);
      deps.engine.tenants.touchApiKey(tenantId, keyId, now).catch(() => {
        // Let the next use try again rather than wait out the interval.
        if (written.get(entry) === now) written.delete(entry);
      });
    },
  };
}
