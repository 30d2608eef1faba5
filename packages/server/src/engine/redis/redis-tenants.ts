/**
 * Tenants: one JSON string per tenant (record and API key hash together), created with SET NX so
 * the first writer wins and the key hash can never be seen without its tenant.
 */
import type { Tenant, TenantId } from '../../domain/types.js';
import type { TenantStore } from '../engine.js';
import type { RedisContext } from './redis-context.js';
import { guard, requireId, requireTime } from './redis-guard.js';
import { unexpected } from './redis-replies.js';

interface StoredTenant {
  tenant: Tenant;
  apiKeyHash: string | null;
}

function parseStoredTenant(json: string): StoredTenant {
  let stored: unknown;
  try {
    stored = JSON.parse(json) as unknown;
  } catch {
    throw unexpected('tenant');
  }
  const record = stored as Partial<StoredTenant> | null;
  const tenant = record?.tenant;
  if (
    typeof tenant?.id !== 'string' ||
    typeof tenant.name !== 'string' ||
    typeof tenant.createdAt !== 'number' ||
    (record?.apiKeyHash !== null && typeof record?.apiKeyHash !== 'string')
  ) {
    throw unexpected('tenant');
  }
  return { tenant: { id: tenant.id, name: tenant.name, createdAt: tenant.createdAt }, apiKeyHash: record.apiKeyHash };
}

export class RedisTenantStore implements TenantStore {
  constructor(private readonly context: RedisContext) {}

  create(tenant: Tenant, apiKeyHash: string | null): Promise<boolean> {
    return guard(async () => {
      requireId(tenant.id, 'tenant.id');
      requireTime(tenant.createdAt, 'tenant.createdAt');
      const stored: StoredTenant = { tenant: { id: tenant.id, name: tenant.name, createdAt: tenant.createdAt }, apiKeyHash };
      const reply = await this.context.redis.set(this.context.keys.tenant(tenant.id), JSON.stringify(stored), 'NX');
      return reply === 'OK';
    });
  }

  get(id: TenantId): Promise<Tenant | null> {
    return guard(async () => (await this.read(id))?.tenant ?? null);
  }

  getApiKeyHash(id: TenantId): Promise<string | null> {
    return guard(async () => (await this.read(id))?.apiKeyHash ?? null);
  }

  private async read(id: TenantId): Promise<StoredTenant | null> {
    const json = await this.context.redis.get(this.context.keys.tenant(id));
    return json === null ? null : parseStoredTenant(json);
  }
}
