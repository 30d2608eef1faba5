/**
 * Tenants stored before tenants had several API keys (the one key's hash inside the tenant
 * record) keep working after an upgrade: their key is found by its id, listed, counted against the
 * limit and revocable, and a revoked one never comes back.
 */
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apiKeyId, apiKeyMatches, hashApiKey } from '../../auth/api-keys.js';
import type { TenantId } from '../../domain/types.js';
import { writeLegacyTenant } from '../../test-support/legacy-tenant.js';
import { createRedisTestEngine, createTestRedis } from '../../test-support/redis.js';
import type { Engine } from '../engine.js';

const acme = 'acme' as TenantId;
const T0 = Date.UTC(2025, 0, 2, 3, 4, 5, 678);

describe('redis tenants written by earlier versions', () => {
  let engine: Engine;
  let keyPrefix: string;
  let cleanup: () => Promise<void>;
  let redis: Redis;
  let legacy: { apiKey: string; id: string };

  beforeEach(async () => {
    ({ engine, keyPrefix, cleanup } = await createRedisTestEngine());
    redis = createTestRedis();
    legacy = await writeLegacyTenant(redis, keyPrefix, { id: acme, name: 'Acmé / "Corp"', createdAt: T0 });
  });
  afterEach(async () => {
    await redis.quit();
    await cleanup();
  });

  it('finds the old key by the id derived from it, and keeps the tenant record readable', async () => {
    expect(legacy.id).toBe(apiKeyId(legacy.apiKey));
    const stored = await engine.tenants.getApiKey(acme, legacy.id);
    expect(stored).toEqual({ id: legacy.id, hash: hashApiKey(legacy.apiKey), createdAt: T0 });
    expect(apiKeyMatches(legacy.apiKey, stored!.hash)).toBe(true);
    expect(await engine.tenants.get(acme)).toEqual({ id: acme, name: 'Acmé / "Corp"', createdAt: T0 });
    // Adopted once: the record no longer holds the hash, and a second read finds the same key.
    expect(await engine.tenants.getApiKey(acme, legacy.id)).toEqual(stored);
    expect(await engine.tenants.getApiKey(acme, 'AAAAAAAAAAAAAAAA')).toBeNull();
  });

  it('lists the old key (even before any verification) and counts it against the limit', async () => {
    expect(await engine.tenants.listApiKeys(acme)).toEqual([{ id: legacy.id, hash: hashApiKey(legacy.apiKey), createdAt: T0, lastUsedAt: null }]);
    expect(await engine.tenants.createApiKey(acme, { id: 'second', hash: 'sha256:x', createdAt: T0 + 1 }, 2)).toBe('created');
    expect(await engine.tenants.createApiKey(acme, { id: 'third', hash: 'sha256:y', createdAt: T0 + 2 }, 2)).toBe('too_many_api_keys');
  });

  it('counts the old key when the first call is a creation', async () => {
    expect(await engine.tenants.createApiKey(acme, { id: 'second', hash: 'sha256:x', createdAt: T0 + 1 }, 1)).toBe('too_many_api_keys');
    expect((await engine.tenants.listApiKeys(acme))?.map((key) => key.id)).toEqual([legacy.id]);
  });

  it('revokes the old key for good, also when revocation is the first call', async () => {
    expect(await engine.tenants.revokeApiKey(acme, legacy.id)).toBe(true);
    expect(await engine.tenants.getApiKey(acme, legacy.id)).toBeNull();
    expect(await engine.tenants.listApiKeys(acme)).toEqual([]);
    expect(await engine.tenants.revokeApiKey(acme, legacy.id)).toBe(false);
    expect(await engine.tenants.get(acme)).toMatchObject({ id: acme, createdAt: T0 });
  });
});
