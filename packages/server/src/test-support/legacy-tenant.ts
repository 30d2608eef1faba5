import type { Redis } from 'ioredis';
import { generateApiKey } from '../auth/api-keys.js';
import type { TenantId } from '../domain/types.js';
import { RedisKeys } from '../engine/redis/redis-keys.js';

/**
 * Writes a tenant to Redis exactly as Parley stored tenants before they had several API keys (one
 * JSON string holding the record and its one key's hash), and returns that key: data that
 * survives an upgrade must keep working.
 */
export async function writeLegacyTenant(
  redis: Redis,
  keyPrefix: string,
  tenant: { id: string; name: string; createdAt: number },
): Promise<{ apiKey: string; id: string }> {
  const { apiKey, id, hash } = generateApiKey(tenant.id as TenantId);
  const record = JSON.stringify({ tenant: { id: tenant.id, name: tenant.name, createdAt: tenant.createdAt }, apiKeyHash: hash });
  const written = await redis.set(new RedisKeys(keyPrefix).tenant(tenant.id as TenantId), record, 'NX');
  if (written !== 'OK') throw new Error(`tenant ${tenant.id} exists already`);
  return { apiKey, id };
}

/**
 * The tenant key hash as the previous version reads it (a copy of its parseStoredTenant and
 * getApiKeyHash, redis-tenants.ts before tenants had several keys): pods of that version serve
 * beside new ones during a rolling upgrade, so records written now must stay readable to it.
 * Throws where it threw (a record it cannot parse would fail every request to that tenant).
 */
export async function readApiKeyHashAsPreviousVersion(redis: Redis, keyPrefix: string, tenantId: string): Promise<string | null> {
  const json = await redis.get(new RedisKeys(keyPrefix).tenant(tenantId as TenantId));
  return json === null ? null : parsePreviousStoredTenant(json).apiKeyHash;
}

interface PreviousStoredTenant {
  tenant: { id: string; name: string; createdAt: number };
  apiKeyHash: string | null;
}

function parsePreviousStoredTenant(json: string): PreviousStoredTenant {
  let stored: unknown;
  try {
    stored = JSON.parse(json) as unknown;
  } catch {
    throw new Error('unexpected tenant');
  }
  const record = stored as Partial<PreviousStoredTenant> | null;
  const tenant = record?.tenant;
  if (
    typeof tenant?.id !== 'string' ||
    typeof tenant.name !== 'string' ||
    typeof tenant.createdAt !== 'number' ||
    (record?.apiKeyHash !== null && typeof record?.apiKeyHash !== 'string')
  ) {
    throw new Error('unexpected tenant');
  }
  return { tenant: { id: tenant.id, name: tenant.name, createdAt: tenant.createdAt }, apiKeyHash: record.apiKeyHash };
}
