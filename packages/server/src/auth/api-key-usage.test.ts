import { describe, expect, it } from 'vitest';
import type { EpochMs, TenantId } from '../domain/types.js';
import type { TenantStore } from '../engine/engine.js';
import { createMemoryEngine } from '../engine/memory/memory-engine.js';
import { createApiKeyUsage } from './api-key-usage.js';

const acme = 'acme' as TenantId;

/** The engine's tenants, counting touches and optionally failing them. */
function countingTenants(failing = false) {
  const engine = createMemoryEngine();
  const touches: { keyId: string; usedAt: EpochMs }[] = [];
  const tenants = Object.assign(Object.create(engine.tenants) as TenantStore, {
    touchApiKey(tenantId: TenantId, keyId: string, usedAt: EpochMs) {
      touches.push({ keyId, usedAt });
      return failing ? Promise.reject(new Error('storage down')) : engine.tenants.touchApiKey(tenantId, keyId, usedAt);
    },
  });
  return { engine, tenants, touches };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('api key usage', () => {
  it('writes at most once a minute per key, and each key on its own', async () => {
    const { tenants, touches } = countingTenants();
    let now = 1_000_000;
    const usage = createApiKeyUsage({ engine: { tenants }, clock: () => now });
    for (let i = 0; i < 100; i++) usage.record(acme, 'k1');
    usage.record(acme, 'k2');
    now += 59_999;
    usage.record(acme, 'k1');
    now += 1;
    usage.record(acme, 'k1');
    await settle();
    expect(touches).toEqual([
      { keyId: 'k1', usedAt: 1_000_000 },
      { keyId: 'k2', usedAt: 1_000_000 },
      { keyId: 'k1', usedAt: 1_060_000 },
    ]);
  });

  it('stores the use in the engine, where listings read it', async () => {
    const { engine, tenants } = countingTenants();
    await engine.tenants.create({ id: acme, name: 'Acme', createdAt: 1 }, { id: 'k1', hash: 'h', createdAt: 1 });
    createApiKeyUsage({ engine: { tenants }, clock: () => 5_000 }).record(acme, 'k1');
    await settle();
    expect(await engine.tenants.listApiKeys(acme)).toEqual([{ id: 'k1', hash: 'h', createdAt: 1, lastUsedAt: 5_000 }]);
  });

  it('swallows a failed write and tries again on the next use instead of waiting out the minute', async () => {
    const { tenants, touches } = countingTenants(true);
    let now = 1_000;
    const usage = createApiKeyUsage({ engine: { tenants }, clock: () => now });
    usage.record(acme, 'k1');
    await settle();
    now += 1;
    usage.record(acme, 'k1');
    await settle();
    expect(touches.map((touch) => touch.usedAt)).toEqual([1_000, 1_001]);
  });

  it('remembers a bounded number of keys; a forgotten one is merely written again', async () => {
    const { tenants, touches } = countingTenants();
    const usage = createApiKeyUsage({ engine: { tenants }, clock: () => 1_000, maxTracked: 2 });
    for (const key of ['k1', 'k2', 'k3', 'k1']) usage.record(acme, key);
    await settle();
    expect(touches.map((touch) => touch.keyId)).toEqual(['k1', 'k2', 'k3', 'k1']);
  });
});
