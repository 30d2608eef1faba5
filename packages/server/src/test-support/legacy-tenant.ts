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
