/** The identity stores in memory: tenants, refresh-token families and signing keys. */
import type { EpochMs, Tenant, TenantId, UserId } from '../../domain/types.js';
import {
  REFRESH_FAMILIES_PER_USER_MAX,
  REFRESH_SIBLINGS_MAX,
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

/**
 * A family as stored: every hash its current generation accepts (the first token and siblings),
 * the accepted hashes of its last REFRESH_SPENT_GENERATIONS_KEPT spent generations, and when
 * it last rotated (the start of the reuse grace window).
 */
interface StoredFamily {
  userId: UserId;
  generation: number;
  accepted: string[];
  spent: Map<number, string[]>;
  rotatedAt: EpochMs | null;
  expiresAt: EpochMs;
}

/**
 * Families live until revoked, reused or expired. Without a clock of its own, the store learns
 * the time from `create(now)` and `rotate(now)` and drops every family that expired by then, so
 * storage is bounded by the families still valid at the latest call. The per-user index is exact
 * here (one process): it loses a family whenever the family goes.
 */
export class MemoryRefreshTokenStore implements RefreshTokenStore {
  private readonly families = new TenantScoped<Map<string, StoredFamily>>(() => new Map());
  /** userId → familyId → expiresAt */
  private readonly byUser = new TenantScoped<Map<UserId, Map<string, EpochMs>>>(() => new Map());
  private readonly expiry = new ExpiryQueue<{ tenantId: TenantId; familyId: string }>();

  async create(family: RefreshFamily, now: EpochMs): Promise<void> {
    this.dropExpired(now);
    this.families.write(family.tenantId).set(family.familyId, {
      userId: family.userId,
      generation: 0,
      accepted: [family.secretHash],
      spent: new Map(),
      rotatedAt: null,
      expiresAt: family.expiresAt,
    });
    this.expiry.push({ tenantId: family.tenantId, familyId: family.familyId }, family.expiresAt);
    const index = this.userIndex(family.tenantId, family.userId);
    index.set(family.familyId, family.expiresAt);
    if (index.size > REFRESH_FAMILIES_PER_USER_MAX) {
      const soonest = [...index].sort((a, b) => a[1] - b[1]).slice(0, index.size - REFRESH_FAMILIES_PER_USER_MAX);
      for (const [familyId] of soonest) this.remove(family.tenantId, familyId);
    }
  }

  async rotate(
    tenantId: TenantId,
    familyId: string,
    generation: number,
    secretHash: string,
    next: { secretHash: string; expiresAt: EpochMs },
    now: EpochMs,
    reuseGraceMs = 0,
  ): Promise<RotateResult> {
    this.dropExpired(now);
    const family = this.families.read(tenantId)?.get(familyId);
    if (!family || now >= family.expiresAt) return { status: 'invalid' };
    const rotated = (generationNow: number): RotateResult => ({
      status: 'rotated',
      family: { tenantId, familyId, userId: family.userId, generation: generationNow, secretHash: next.secretHash, expiresAt: next.expiresAt },
    });
    if (generation < family.generation) {
      // Only a genuine spent token proves that someone holds a copy; a forged one changes nothing.
      if (!family.spent.get(generation)?.includes(secretHash)) return { status: 'invalid' };
      const inGrace =
        generation === family.generation - 1 && family.rotatedAt !== null && now - family.rotatedAt <= reuseGraceMs && reuseGraceMs > 0;
      if (inGrace && family.accepted.length < REFRESH_SIBLINGS_MAX) {
        family.accepted.push(next.secretHash);
        this.extend(tenantId, familyId, family, next.expiresAt);
        return rotated(family.generation);
      }
      this.remove(tenantId, familyId);
      return { status: 'reused' };
    }
    if (generation > family.generation || !family.accepted.includes(secretHash)) return { status: 'invalid' };
    family.spent.set(family.generation, family.accepted);
    family.spent.delete(family.generation - REFRESH_SPENT_GENERATIONS_KEPT);
    family.generation += 1;
    family.accepted = [next.secretHash];
    family.rotatedAt = now;
    this.extend(tenantId, familyId, family, next.expiresAt);
    return rotated(family.generation);
  }

  async revoke(tenantId: TenantId, familyId: string): Promise<void> {
    this.remove(tenantId, familyId);
  }

  async revokeUser(tenantId: TenantId, userId: UserId): Promise<number> {
    const familyIds = [...(this.byUser.read(tenantId)?.get(userId)?.keys() ?? [])];
    for (const familyId of familyIds) this.remove(tenantId, familyId);
    return familyIds.length;
  }

  private userIndex(tenantId: TenantId, userId: UserId): Map<string, EpochMs> {
    const users = this.byUser.write(tenantId);
    let index = users.get(userId);
    if (!index) {
      index = new Map();
      users.set(userId, index);
    }
    return index;
  }

  /** Sliding lifetime: the family (and its index entry) now expires at `expiresAt`. */
  private extend(tenantId: TenantId, familyId: string, family: StoredFamily, expiresAt: EpochMs): void {
    family.expiresAt = expiresAt;
    this.expiry.push({ tenantId, familyId }, expiresAt);
    this.byUser.read(tenantId)?.get(family.userId)?.set(familyId, expiresAt);
  }

  private remove(tenantId: TenantId, familyId: string): void {
    const families = this.families.read(tenantId);
    const family = families?.get(familyId);
    if (!families || !family) return;
    families.delete(familyId);
    const users = this.byUser.read(tenantId);
    const index = users?.get(family.userId);
    index?.delete(familyId);
    if (index?.size === 0) users?.delete(family.userId);
  }

  private dropExpired(now: EpochMs): void {
    for (const { key, expiresAt } of this.expiry.popExpired(now)) {
      // A rotated family was pushed again with its new expiry; only its current entry counts.
      if (this.families.read(key.tenantId)?.get(key.familyId)?.expiresAt === expiresAt) this.remove(key.tenantId, key.familyId);
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
