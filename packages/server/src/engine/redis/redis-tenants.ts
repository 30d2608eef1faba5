/**
 * Tenants and their API keys, all in the tenant's slot: the record as one JSON string (created
 * with the first key by one script, first writer wins, so a key is never seen without its
 * tenant), the live keys in a hash by id, and their recorded uses in another hash (a touch writes
 * one field, never a key's JSON).
 *
 * Records written before tenants had several keys hold their one key's hash in the record
 * (`apiKeyHash`). Every key script adopts such a key into the keys hash on first sight (see
 * lua/lib/api-keys.lua), so those tenants keep authenticating, and list and revoke that key like
 * any other, with no migration step.
 *
 * Rolling-upgrade compatibility, for one release: pods of the previous version serve beside new
 * ones during a rollout and read only `apiKeyHash`. So adoption leaves the hash in the record and
 * marks it (`adoptedKeyId`), a tenant created here stores its first key there too, and revoking
 * that key clears both; a revoked key is then refused by pods of either version. Keys created
 * later exist only in the keys hash, unknown to old pods until the rollout ends. Next release:
 * write `apiKeyHash: null` on creation and clear it on adoption (the guard stays).
 */
import type { EpochMs, Tenant, TenantId } from '../../domain/types.js';
import { MAX_API_KEYS_LIMIT, type ListedApiKey, type StoredApiKey, type TenantStore } from '../engine.js';
import type { RedisContext } from './redis-context.js';
import { guard, requireId, requireLimit, requireTime } from './redis-guard.js';
import { asArray, asInteger, asOptionalString, asRecord, asString, unexpected } from './redis-replies.js';

interface StoredTenant {
  tenant: Tenant;
  /**
   * The hash of the key the previous version authenticates with: a legacy record's one key, or the
   * first key of a tenant created by this version; null once that key is revoked, or when there is
   * none. Kept after adoption for one release (see the header).
   */
  apiKeyHash: string | null;
  /** The id under which `apiKeyHash` lives in the keys hash; absent until adopted (legacy records). */
  adoptedKeyId?: string;
}

function parseJson(json: string, what: string): unknown {
  try {
    return JSON.parse(json) as unknown;
  } catch {
    throw unexpected(what);
  }
}

function parseStoredTenant(json: string): Tenant {
  const record = parseJson(json, 'tenant') as Partial<StoredTenant> | null;
  const tenant = record?.tenant;
  if (typeof tenant?.id !== 'string' || typeof tenant.name !== 'string' || typeof tenant.createdAt !== 'number') {
    throw unexpected('tenant');
  }
  return { id: tenant.id, name: tenant.name, createdAt: tenant.createdAt };
}

function parseStoredKey(id: string, json: string): StoredApiKey {
  const key = parseJson(json, 'api key') as { hash?: unknown; createdAt?: unknown } | null;
  if (typeof key?.hash !== 'string' || typeof key.createdAt !== 'number') throw unexpected('api key');
  return { id, hash: key.hash, createdAt: key.createdAt };
}

const keyJson = (key: StoredApiKey) => JSON.stringify({ hash: key.hash, createdAt: key.createdAt });

function requireKey(key: StoredApiKey): void {
  requireId(key.id, 'key.id');
  requireId(key.hash, 'key.hash');
  requireTime(key.createdAt, 'key.createdAt');
}

const CREATE_RESULTS = new Set(['created', 'tenant_not_found', 'too_many_api_keys', 'id_taken'] as const);
type CreateResult = typeof CREATE_RESULTS extends Set<infer R> ? R : never;

export class RedisTenantStore implements TenantStore {
  constructor(private readonly context: RedisContext) {}

  create(tenant: Tenant, firstKey: StoredApiKey | null): Promise<boolean> {
    return guard(async () => {
      requireId(tenant.id, 'tenant.id');
      requireTime(tenant.createdAt, 'tenant.createdAt');
      if (firstKey) requireKey(firstKey);
      const stored: StoredTenant = {
        tenant: { id: tenant.id, name: tenant.name, createdAt: tenant.createdAt },
        apiKeyHash: firstKey?.hash ?? null,
        ...(firstKey ? { adoptedKeyId: firstKey.id } : {}),
      };
      const { keys, scripts } = this.context;
      const reply = await scripts.run(
        'tenant-create',
        [keys.tenant(tenant.id), keys.apiKeys(tenant.id)],
        [JSON.stringify(stored), firstKey?.id ?? '', firstKey ? keyJson(firstKey) : ''],
      );
      return asInteger(reply, 'tenant-create') === 1;
    });
  }

  get(id: TenantId): Promise<Tenant | null> {
    return guard(async () => {
      const json = await this.context.redis.get(this.context.keys.tenant(id));
      return json === null ? null : parseStoredTenant(json);
    });
  }

  getApiKey(tenantId: TenantId, keyId: string): Promise<StoredApiKey | null> {
    return guard(async () => {
      requireId(keyId, 'keyId');
      const { keys, scripts } = this.context;
      const json = asOptionalString(await scripts.run('api-key-get', [keys.tenant(tenantId), keys.apiKeys(tenantId)], [keyId]), 'api-key-get');
      return json === null ? null : parseStoredKey(keyId, json);
    });
  }

  listApiKeys(tenantId: TenantId): Promise<ListedApiKey[] | null> {
    return guard(async () => {
      const { keys, scripts } = this.context;
      const reply = await scripts.run('api-key-list', [keys.tenant(tenantId), keys.apiKeys(tenantId), keys.apiKeysUsed(tenantId)]);
      if (reply === null) return null;
      const [live, used] = asArray(reply, 'api-key-list');
      const uses = asRecord(used, 'api-key-list');
      return Object.entries(asRecord(live, 'api-key-list'))
        .map(([id, json]): ListedApiKey => {
          const lastUsed = uses[id];
          return { ...parseStoredKey(id, json), lastUsedAt: lastUsed === undefined ? null : asInteger(lastUsed, 'api-key-list') };
        })
        .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    });
  }

  createApiKey(tenantId: TenantId, key: StoredApiKey, maxKeys: number): Promise<CreateResult> {
    return guard(async () => {
      requireKey(key);
      requireLimit(maxKeys, MAX_API_KEYS_LIMIT);
      const { keys, scripts } = this.context;
      const reply = asString(
        await scripts.run('api-key-create', [keys.tenant(tenantId), keys.apiKeys(tenantId)], [key.id, keyJson(key), maxKeys]),
        'api-key-create',
      );
      if (!CREATE_RESULTS.has(reply as CreateResult)) throw unexpected('api-key-create');
      return reply as CreateResult;
    });
  }

  revokeApiKey(tenantId: TenantId, keyId: string): Promise<boolean> {
    return guard(async () => {
      requireId(keyId, 'keyId');
      const { keys, scripts } = this.context;
      const reply = await scripts.run('api-key-revoke', [keys.tenant(tenantId), keys.apiKeys(tenantId), keys.apiKeysUsed(tenantId)], [keyId]);
      return asInteger(reply, 'api-key-revoke') === 1;
    });
  }

  touchApiKey(tenantId: TenantId, keyId: string, usedAt: EpochMs): Promise<void> {
    return guard(async () => {
      requireId(keyId, 'keyId');
      requireTime(usedAt, 'usedAt');
      const { keys, scripts } = this.context;
      await scripts.run('api-key-touch', [keys.apiKeys(tenantId), keys.apiKeysUsed(tenantId)], [keyId, usedAt]);
    });
  }
}
