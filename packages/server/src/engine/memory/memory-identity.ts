/** The identity stores in memory: tenants, refresh-token families and signing keys. */
import type { EpochMs, Tenant, TenantId } from '../../domain/types.js';
import {
  MAX_API_KEYS_LIMIT,
  REFRESH_SPENT_GENERATIONS_KEPT,
  SIGNING_KEYS_MAX,
  type ListedSigningKey,
  type RefreshFamily,
  type RefreshTokenStore,
  type ListedApiKey,
  type RotateResult,
  type SigningKeyRotation,
  type SigningKeyStore,
  type StoredApiKey,
  type StoredSigningKey,
  type TenantStore,
} from '../engine.js';
import { EngineError } from '../errors.js';
import { requireLimit, requireNonNegativeInteger } from './arguments.js';
import { ExpiryQueue } from './expiry-queue.js';
import { TenantScoped } from './tenant-scoped.js';

export class MemoryTenantStore implements TenantStore {
  private readonly tenants = new Map<TenantId, Tenant>();
  /** Live keys of each tenant by id, in creation order. */
  private readonly keys = new Map<TenantId, Map<string, ListedApiKey>>();

  async create(tenant: Tenant, firstKey: StoredApiKey | null): Promise<boolean> {
    if (this.tenants.has(tenant.id)) return false;
    this.tenants.set(tenant.id, { ...tenant });
    const keys = new Map<string, ListedApiKey>();
    if (firstKey) keys.set(firstKey.id, { ...firstKey, lastUsedAt: null });
    this.keys.set(tenant.id, keys);
    return true;
  }

  async get(id: TenantId): Promise<Tenant | null> {
    const stored = this.tenants.get(id);
    return stored ? { ...stored } : null;
  }

  async getApiKey(tenantId: TenantId, keyId: string): Promise<StoredApiKey | null> {
    const stored = this.keys.get(tenantId)?.get(keyId);
    return stored ? { id: stored.id, hash: stored.hash, createdAt: stored.createdAt } : null;
  }

  async listApiKeys(tenantId: TenantId): Promise<ListedApiKey[] | null> {
    const keys = this.keys.get(tenantId);
    if (!keys) return null;
    return [...keys.values()]
      .map((key) => ({ ...key }))
      .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async createApiKey(
    tenantId: TenantId,
    key: StoredApiKey,
    maxKeys: number,
  ): Promise<'created' | 'tenant_not_found' | 'too_many_api_keys' | 'id_taken'> {
    requireLimit(maxKeys, MAX_API_KEYS_LIMIT);
    const keys = this.keys.get(tenantId);
    if (!keys) return 'tenant_not_found';
    if (keys.has(key.id)) return 'id_taken';
    if (keys.size >= maxKeys) return 'too_many_api_keys';
    keys.set(key.id, { id: key.id, hash: key.hash, createdAt: key.createdAt, lastUsedAt: null });
    return 'created';
  }

  async revokeApiKey(tenantId: TenantId, keyId: string): Promise<boolean> {
    return this.keys.get(tenantId)?.delete(keyId) ?? false;
  }

  async touchApiKey(tenantId: TenantId, keyId: string, usedAt: EpochMs): Promise<void> {
    const key = this.keys.get(tenantId)?.get(keyId);
    if (key && (key.lastUsedAt === null || key.lastUsedAt < usedAt)) key.lastUsedAt = usedAt;
  }
}

/** A family with the secret hashes of its last REFRESH_SPENT_GENERATIONS_KEPT spent generations. */
type StoredFamily = RefreshFamily & { spent: Map<number, string> };

/**
 * Families live until revoked, reused or expired. Without a clock of its own, the store learns
 * the time from `rotate(now)` and drops every family that expired by then, so storage is bounded
 * by the families still valid at the latest rotation.
 */
export class MemoryRefreshTokenStore implements RefreshTokenStore {
  private readonly families = new TenantScoped<Map<string, StoredFamily>>(() => new Map());
  private readonly expiry = new ExpiryQueue<{ tenantId: TenantId; familyId: string }>();

  async create(family: RefreshFamily): Promise<void> {
    this.families.write(family.tenantId).set(family.familyId, { ...family, spent: new Map() });
    this.expiry.push({ tenantId: family.tenantId, familyId: family.familyId }, family.expiresAt);
  }

  async rotate(
    tenantId: TenantId,
    familyId: string,
    generation: number,
    secretHash: string,
    next: { secretHash: string; expiresAt: EpochMs },
    now: EpochMs,
  ): Promise<RotateResult> {
    this.dropExpired(now);
    const families = this.families.read(tenantId);
    const family = families?.get(familyId);
    if (!families || !family || now >= family.expiresAt) return { status: 'invalid' };
    if (generation < family.generation) {
      // Only a genuine spent token proves that someone holds a copy; a forged one changes nothing.
      if (family.spent.get(generation) !== secretHash) return { status: 'invalid' };
      families.delete(familyId);
      return { status: 'reused' };
    }
    if (generation > family.generation || secretHash !== family.secretHash) return { status: 'invalid' };
    const rotated: RefreshFamily = {
      tenantId: family.tenantId,
      familyId: family.familyId,
      userId: family.userId,
      generation: family.generation + 1,
      secretHash: next.secretHash,
      expiresAt: next.expiresAt,
    };
    const spent = new Map(family.spent).set(family.generation, family.secretHash);
    spent.delete(family.generation - REFRESH_SPENT_GENERATIONS_KEPT);
    families.set(familyId, { ...rotated, spent });
    this.expiry.push({ tenantId, familyId }, rotated.expiresAt);
    return { status: 'rotated', family: rotated };
  }

  async revoke(tenantId: TenantId, familyId: string): Promise<void> {
    this.families.read(tenantId)?.delete(familyId);
  }

  private dropExpired(now: EpochMs): void {
    for (const { key, expiresAt } of this.expiry.popExpired(now)) {
      const families = this.families.read(key.tenantId);
      // A rotated family was pushed again with its new expiry; only its current entry counts.
      if (families?.get(key.familyId)?.expiresAt === expiresAt) families.delete(key.familyId);
    }
  }
}

/**
 * The current key and the keys retiring after a rotation. Without a clock of its own, the store
 * drops retired keys whenever a call tells it the time (list, rotate); SIGNING_KEYS_MAX bounds
 * what it keeps in between.
 */
export class MemorySigningKeyStore implements SigningKeyStore {
  private current: StoredSigningKey | null = null;
  private readonly retiring = new Map<string, { key: StoredSigningKey; retiresAt: EpochMs }>();
  private issuer: string | null = null;

  async ensureCurrent(candidate: StoredSigningKey): Promise<StoredSigningKey> {
    this.current ??= structuredClone(candidate);
    return structuredClone(this.current);
  }

  async list(now: EpochMs): Promise<ListedSigningKey[]> {
    requireNonNegativeInteger('now', now);
    this.dropRetired(now);
    const retiring = [...this.retiring.values()]
      .sort(byRetirement)
      .map(({ key, retiresAt }) => ({ ...structuredClone(key), retiresAt }));
    return this.current ? [structuredClone(this.current), ...retiring] : retiring;
  }

  async rotate(candidate: StoredSigningKey, now: EpochMs, retireAfterMs: number): Promise<SigningKeyRotation> {
    requireNonNegativeInteger('now', now);
    requireNonNegativeInteger('retireAfterMs', retireAfterMs);
    this.dropRetired(now);
    if (candidate.kid === this.current?.kid || this.retiring.has(candidate.kid)) {
      throw new EngineError('invalid_argument', 'the candidate kid is stored already');
    }
    const listed = (this.current ? 1 : 0) + this.retiring.size;
    if (listed + 1 > SIGNING_KEYS_MAX) {
      return { status: 'limit', retryAt: Math.min(...[...this.retiring.values()].map((entry) => entry.retiresAt)) };
    }
    if (this.current) this.retiring.set(this.current.kid, { key: this.current, retiresAt: now + retireAfterMs });
    this.current = structuredClone(candidate);
    const previous = [...this.retiring.values()].sort(byRetirement).map(({ key, retiresAt }) => ({ kid: key.kid, retiresAt }));
    return { status: 'rotated', current: structuredClone(candidate), previous };
  }

  async ensureIssuer(candidate: string): Promise<string> {
    this.issuer ??= candidate;
    return this.issuer;
  }

  private dropRetired(now: EpochMs): void {
    for (const [kid, { retiresAt }] of this.retiring) if (retiresAt <= now) this.retiring.delete(kid);
  }
}

/** Retiring keys in listing order: the last to retire first, then by kid (as the Redis engine). */
function byRetirement(a: { key: StoredSigningKey; retiresAt: EpochMs }, b: { key: StoredSigningKey; retiresAt: EpochMs }): number {
  return b.retiresAt - a.retiresAt || (a.key.kid < b.key.kid ? -1 : a.key.kid > b.key.kid ? 1 : 0);
}
