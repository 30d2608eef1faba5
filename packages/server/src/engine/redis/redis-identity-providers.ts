/**
 * Identity providers under one global hash tag (see redis-keys.ts): put and delete are scripts
 * that keep the (issuer, audience) index and the per-tenant count in step with the providers.
 * A provider is a hash {record, pair, createdAt}: the record is the caller's JSON (Lua never decodes
 * it), the pair its index field, and createdAt apart so a replacement keeps it inside the script.
 */
import { EXTERNAL_TOKEN_ALGORITHMS, type IdentityProvider, type TenantId } from '../../domain/types.js';
import { MAX_IDENTITY_PROVIDERS_PER_TENANT, type IdentityProviderStore, type PutIdentityProviderResult } from '../engine.js';
import type { RedisContext } from './redis-context.js';
import { guard, requireId, requireTime } from './redis-guard.js';
import { asArray, asInteger, asString, unexpected } from './redis-replies.js';

type StoredRecord = Omit<IdentityProvider, 'createdAt'>;

const ALGORITHMS: ReadonlySet<string> = new Set(EXTERNAL_TOKEN_ALGORITHMS);

function pairOf(provider: Pick<IdentityProvider, 'issuer' | 'audience'>): string {
  return JSON.stringify([provider.issuer, provider.audience]);
}

function parseProvider(record: string | null, createdAt: string | null): IdentityProvider | null {
  if (record === null) return null;
  let stored: unknown;
  try {
    stored = JSON.parse(record) as unknown;
  } catch {
    throw unexpected('identity provider');
  }
  const p = stored as Partial<StoredRecord> | null;
  if (
    typeof p?.tenantId !== 'string' ||
    typeof p.id !== 'string' ||
    typeof p.issuer !== 'string' ||
    typeof p.audience !== 'string' ||
    typeof p.jwksUri !== 'string' ||
    typeof p.updatedAt !== 'number' ||
    !Array.isArray(p.algorithms) ||
    !p.algorithms.every((alg) => ALGORITHMS.has(alg)) ||
    typeof p.claims !== 'object' ||
    p.claims === null
  ) {
    throw unexpected('identity provider');
  }
  return {
    tenantId: p.tenantId,
    id: p.id,
    issuer: p.issuer,
    audience: p.audience,
    algorithms: [...p.algorithms],
    claims: {
      ...(typeof p.claims.displayName === 'string' ? { displayName: p.claims.displayName } : {}),
      ...(typeof p.claims.username === 'string' ? { username: p.claims.username } : {}),
    },
    jwksUri: p.jwksUri,
    createdAt: asInteger(createdAt, 'identity provider createdAt'),
    updatedAt: p.updatedAt,
  };
}

export class RedisIdentityProviderStore implements IdentityProviderStore {
  constructor(private readonly context: RedisContext) {}

  put(provider: IdentityProvider): Promise<PutIdentityProviderResult> {
    return guard(async () => {
      requireId(provider.id, 'provider.id');
      requireTime(provider.createdAt, 'provider.createdAt');
      requireTime(provider.updatedAt, 'provider.updatedAt');
      const { keys, scripts } = this.context;
      const { createdAt, ...record } = provider;
      const reply = asArray(
        await scripts.run('identity-provider-put', this.providerKeys(provider.tenantId, provider.id), [
          provider.id,
          pairOf(provider),
          keys.identityProviderHolder(provider.tenantId, provider.id),
          JSON.stringify(record),
          provider.tenantId,
          MAX_IDENTITY_PROVIDERS_PER_TENANT,
          createdAt,
        ]),
        'identity-provider-put',
      );
      const status = asString(reply[0], 'identity-provider-put');
      if (status === 'conflict' || status === 'too_many') return { status };
      if (status !== 'created' && status !== 'replaced') throw unexpected('identity-provider-put');
      return { status, provider: { ...structuredClone(provider), createdAt: asInteger(reply[1], 'identity-provider-put') } };
    });
  }

  get(tenantId: TenantId, id: string): Promise<IdentityProvider | null> {
    return guard(async () => {
      const [record, createdAt] = await this.context.redis.hmget(this.context.keys.identityProvider(tenantId, id), 'record', 'createdAt');
      return parseProvider(record ?? null, createdAt ?? null);
    });
  }

  list(tenantId: TenantId): Promise<IdentityProvider[]> {
    return guard(async () => {
      const ids = await this.context.redis.smembers(this.context.keys.tenantIdentityProviders(tenantId));
      const providers = await Promise.all(ids.map((id) => this.get(tenantId, id)));
      // A provider deleted between the two reads is simply not listed.
      return providers.filter((p): p is IdentityProvider => p !== null).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    });
  }

  listAll(): Promise<IdentityProvider[]> {
    return guard(async () => {
      const tenants = await this.context.redis.smembers(this.context.keys.identityProviderTenants());
      const lists = await Promise.all(tenants.map((tenantId) => this.list(tenantId as TenantId)));
      return lists.flat();
    });
  }

  delete(tenantId: TenantId, id: string): Promise<boolean> {
    return guard(async () => {
      const { keys, scripts } = this.context;
      const reply = await scripts.run('identity-provider-delete', this.providerKeys(tenantId, id), [
        id,
        keys.identityProviderHolder(tenantId, id),
        tenantId,
      ]);
      return asInteger(reply, 'identity-provider-delete') === 1;
    });
  }

  private providerKeys(tenantId: TenantId, id: string): string[] {
    const { keys } = this.context;
    return [keys.identityProvider(tenantId, id), keys.tenantIdentityProviders(tenantId), keys.identityProviderPairs(), keys.identityProviderTenants()];
  }
}
