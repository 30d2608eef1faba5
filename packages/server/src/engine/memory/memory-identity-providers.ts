/** IdentityProviderStore in memory: providers per tenant and the deployment-wide (issuer, audience) index. */
import type { IdentityProvider, TenantId } from '../../domain/types.js';
import { MAX_IDENTITY_PROVIDERS_PER_TENANT, type IdentityProviderStore, type PutIdentityProviderResult } from '../engine.js';
import { TenantScoped } from './tenant-scoped.js';

/** The index key of an (issuer, audience) pair; JSON so no separator can be forged inside either. */
function pairKey(provider: Pick<IdentityProvider, 'issuer' | 'audience'>): string {
  return JSON.stringify([provider.issuer, provider.audience]);
}

export class MemoryIdentityProviderStore implements IdentityProviderStore {
  private readonly providers = new TenantScoped<Map<string, IdentityProvider>>(() => new Map());
  /** pairKey → the provider holding it. */
  private readonly pairs = new Map<string, { tenantId: TenantId; id: string }>();

  async put(provider: IdentityProvider): Promise<PutIdentityProviderResult> {
    const holder = this.pairs.get(pairKey(provider));
    if (holder && (holder.tenantId !== provider.tenantId || holder.id !== provider.id)) return { status: 'conflict' };
    const existing = this.providers.read(provider.tenantId)?.get(provider.id);
    if (!existing && (this.providers.read(provider.tenantId)?.size ?? 0) >= MAX_IDENTITY_PROVIDERS_PER_TENANT) {
      return { status: 'too_many' };
    }
    const stored = structuredClone({ ...provider, createdAt: existing?.createdAt ?? provider.createdAt });
    if (existing) this.pairs.delete(pairKey(existing));
    this.pairs.set(pairKey(provider), { tenantId: provider.tenantId, id: provider.id });
    this.providers.write(provider.tenantId).set(provider.id, stored);
    return { status: existing ? 'replaced' : 'created', provider: structuredClone(stored) };
  }

  async get(tenantId: TenantId, id: string): Promise<IdentityProvider | null> {
    const stored = this.providers.read(tenantId)?.get(id);
    return stored ? structuredClone(stored) : null;
  }

  async list(tenantId: TenantId): Promise<IdentityProvider[]> {
    return [...(this.providers.read(tenantId)?.values() ?? [])].sort(byId).map((p) => structuredClone(p));
  }

  async listAll(): Promise<IdentityProvider[]> {
    return [...this.pairs.values()].map(({ tenantId, id }) => structuredClone(this.providers.read(tenantId)!.get(id)!));
  }

  async delete(tenantId: TenantId, id: string): Promise<boolean> {
    const providers = this.providers.read(tenantId);
    const existing = providers?.get(id);
    if (!providers || !existing) return false;
    providers.delete(id);
    this.pairs.delete(pairKey(existing));
    return true;
  }
}

function byId(a: IdentityProvider, b: IdentityProvider): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
