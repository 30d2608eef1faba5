/**
 * Tenants stored before tenants had several API keys (the one key's hash inside the tenant
 * record) keep working after an upgrade: their key is found by its id, listed, counted against the
 * limit and revocable, and a revoked one never comes back. During a rolling upgrade pods of the
 * previous version read the same records: they keep finding the tenant's key after adoption and
 * in tenants created now, and find none once it is revoked.
 */
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apiKeyId, apiKeyMatches, generateApiKey, hashApiKey } from '../../auth/api-keys.js';
import type { TenantId } from '../../domain/types.js';
import { readApiKeyHashAsPreviousVersion, writeLegacyTenant } from '../../test-support/legacy-tenant.js';
import { createRedisTestEngine, createTestRedis } from '../../test-support/redis.js';
import type { Engine } from '../engine.js';
import { RedisKeys } from './redis-keys.js';

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
    // Adopted once: the record keeps the hash (for the previous version) and is marked, and a
    // second read finds the same key.
    expect(JSON.parse((await redis.get(new RedisKeys(keyPrefix).tenant(acme)))!)).toMatchObject({ apiKeyHash: stored!.hash, adoptedKeyId: legacy.id });
    expect(await engine.tenants.getApiKey(acme, legacy.id)).toEqual(stored);
    expect(await engine.tenants.getApiKey(acme, 'AAAAAAAAAAAAAAAA')).toBeNull();
  });

  it('leaves the key readable to the previous version after adoption by any key operation', async () => {
    const hash = hashApiKey(legacy.apiKey);
    expect(await readApiKeyHashAsPreviousVersion(redis, keyPrefix, acme)).toBe(hash);
    await engine.tenants.getApiKey(acme, legacy.id);
    expect(await readApiKeyHashAsPreviousVersion(redis, keyPrefix, acme)).toBe(hash);
    await engine.tenants.listApiKeys(acme);
    expect(await engine.tenants.createApiKey(acme, { id: 'second', hash: 'sha256:x', createdAt: T0 + 1 }, 10)).toBe('created');
    // Revoking another key leaves it too.
    expect(await engine.tenants.revokeApiKey(acme, 'second')).toBe(true);
    expect(await readApiKeyHashAsPreviousVersion(redis, keyPrefix, acme)).toBe(hash);
    expect(await engine.tenants.listApiKeys(acme)).toEqual([{ id: legacy.id, hash, createdAt: T0, lastUsedAt: null }]);
  });

  it('clears the key for the previous version when it is revoked after adoption, and never adopts it again', async () => {
    await engine.tenants.listApiKeys(acme);
    expect(await engine.tenants.revokeApiKey(acme, legacy.id)).toBe(true);
    expect(await readApiKeyHashAsPreviousVersion(redis, keyPrefix, acme)).toBeNull();
    expect(await engine.tenants.getApiKey(acme, legacy.id)).toBeNull();
    expect(await engine.tenants.listApiKeys(acme)).toEqual([]);
    expect(await readApiKeyHashAsPreviousVersion(redis, keyPrefix, acme)).toBeNull();
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
    expect(await readApiKeyHashAsPreviousVersion(redis, keyPrefix, acme)).toBeNull();
    expect(await engine.tenants.getApiKey(acme, legacy.id)).toBeNull();
    expect(await engine.tenants.listApiKeys(acme)).toEqual([]);
    expect(await engine.tenants.revokeApiKey(acme, legacy.id)).toBe(false);
    expect(await engine.tenants.get(acme)).toMatchObject({ id: acme, createdAt: T0 });
  });
});

describe('redis tenants created now, read by the previous version (rolling upgrade)', () => {
  let engine: Engine;
  let keyPrefix: string;
  let cleanup: () => Promise<void>;
  let redis: Redis;

  beforeEach(async () => {
    ({ engine, keyPrefix, cleanup } = await createRedisTestEngine());
    redis = createTestRedis();
  });
  afterEach(async () => {
    await redis.quit();
    await cleanup();
  });

  it('holds the first key where the previous version reads it, until that key is revoked', async () => {
    const first = generateApiKey(acme);
    expect(await engine.tenants.create({ id: acme, name: 'Acme', createdAt: T0 }, { id: first.id, hash: first.hash, createdAt: T0 })).toBe(true);
    const oldHash = await readApiKeyHashAsPreviousVersion(redis, keyPrefix, acme);
    expect(apiKeyMatches(first.apiKey, oldHash!)).toBe(true);
    // Key operations never adopt it a second time, and a later key stays unknown to the previous version.
    expect(await engine.tenants.createApiKey(acme, { id: 'second', hash: 'sha256:x', createdAt: T0 + 1 }, 10)).toBe('created');
    expect((await engine.tenants.listApiKeys(acme))?.map((key) => key.id)).toEqual([first.id, 'second']);
    expect(await readApiKeyHashAsPreviousVersion(redis, keyPrefix, acme)).toBe(first.hash);

    expect(await engine.tenants.revokeApiKey(acme, first.id)).toBe(true);
    expect(await readApiKeyHashAsPreviousVersion(redis, keyPrefix, acme)).toBeNull();
    expect(await engine.tenants.getApiKey(acme, first.id)).toBeNull();
    expect((await engine.tenants.listApiKeys(acme))?.map((key) => key.id)).toEqual(['second']);
    expect(await readApiKeyHashAsPreviousVersion(redis, keyPrefix, acme)).toBeNull();
  });

  it('stores no key for the previous version when the tenant is created without one', async () => {
    expect(await engine.tenants.create({ id: acme, name: 'Acme', createdAt: T0 }, null)).toBe(true);
    expect(await readApiKeyHashAsPreviousVersion(redis, keyPrefix, acme)).toBeNull();
    expect(await engine.tenants.listApiKeys(acme)).toEqual([]);
  });
});
