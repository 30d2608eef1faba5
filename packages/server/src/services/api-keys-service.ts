/**
 * Tenant API keys after creation: make more, list them, revoke them (key rotation). Several keys
 * are valid at once, so a back end rotates by creating a key, deploying it, then revoking the old.
 *
 * Guarantees:
 *   - Callers are the operator (any tenant) or a tenant's own key (its tenant only). Another
 *     tenant, and a tenant that does not exist, are the same 404 `tenant_not_found`, so a key
 *     learns nothing about other tenants.
 *   - A new key is returned once; only its hash is stored. Listings carry no hash and no secret.
 *   - At most MAX_API_KEYS_PER_TENANT live keys per tenant (409 `too_many_api_keys`), checked
 *     atomically with the creation.
 *   - Revocation is effective at once on every node: keys are never cached (each request reads the
 *     stored key), and the revocation is also published on engine.revocations for any node that
 *     keeps something derived from the key. A key may revoke itself. If publishing fails the call
 *     fails (503) although the key is already revoked in storage.
 */
import { generateApiKey } from '../auth/api-keys.js';
import { mayAdministerTenant, type TenantAdministrator } from '../domain/permissions.js';
import type { EpochMs, TenantId } from '../domain/types.js';
import type { Engine } from '../engine/engine.js';
import type { Clock } from './ids.js';
import { ServiceError } from './service-error.js';

/** Live keys a tenant may hold at once: enough to rotate several back ends without a gap. */
export const MAX_API_KEYS_PER_TENANT = 10;
/** A fresh key's id colliding with a live one (96 random bits) means something is broken. */
const CREATE_ATTEMPTS = 3;

export interface ApiKeysServiceDeps {
  engine: Pick<Engine, 'tenants' | 'revocations'>;
  clock: Clock;
}

/** What a listing shows of a key. */
export interface ApiKeySummary {
  id: string;
  createdAt: EpochMs;
  /** The last recorded use (recorded at most once a minute per key per node); null when never used. */
  lastUsedAt: EpochMs | null;
}

export type ApiKeysService = ReturnType<typeof createApiKeysService>;

export function createApiKeysService({ engine, clock }: ApiKeysServiceDeps) {
  const requireAdministration = (administrator: TenantAdministrator, tenantId: TenantId): void => {
    if (!mayAdministerTenant(administrator, tenantId)) throw new ServiceError('tenant_not_found');
  };

  return {
    /** A new key for the tenant: `apiKey` is shown this once. */
    async create(administrator: TenantAdministrator, tenantId: TenantId): Promise<{ id: string; apiKey: string; createdAt: EpochMs }> {
      requireAdministration(administrator, tenantId);
      for (let attempt = 0; attempt < CREATE_ATTEMPTS; attempt++) {
        const { apiKey, id, hash } = generateApiKey(tenantId);
        const createdAt = clock();
        const result = await engine.tenants.createApiKey(tenantId, { id, hash, createdAt }, MAX_API_KEYS_PER_TENANT);
        if (result === 'created') return { id, apiKey, createdAt };
        if (result === 'tenant_not_found') throw new ServiceError('tenant_not_found');
        if (result === 'too_many_api_keys') {
          throw new ServiceError('too_many_api_keys', `A tenant holds at most ${MAX_API_KEYS_PER_TENANT} API keys; revoke one first`);
        }
      }
      throw new Error('Could not find a free API key id');
    },

    /** The tenant's live keys, oldest first. */
    async list(administrator: TenantAdministrator, tenantId: TenantId): Promise<ApiKeySummary[]> {
      requireAdministration(administrator, tenantId);
      const keys = await engine.tenants.listApiKeys(tenantId);
      if (keys === null) throw new ServiceError('tenant_not_found');
      return keys.map(({ id, createdAt, lastUsedAt }) => ({ id, createdAt, lastUsedAt }));
    },

    /** Revokes the key: from now on it answers 401, on every node. 404 `api_key_not_found` when not live. */
    async revoke(administrator: TenantAdministrator, tenantId: TenantId, keyId: string): Promise<void> {
      requireAdministration(administrator, tenantId);
      if (!(await engine.tenants.revokeApiKey(tenantId, keyId))) {
        // The failure path only: tell an unknown tenant (for the operator) from an unknown key.
        if ((await engine.tenants.get(tenantId)) === null) throw new ServiceError('tenant_not_found');
        throw new ServiceError('api_key_not_found');
      }
      // Advisory: nothing caches keys, so the revocation is in force already; a failed announcement
      // must not turn a done revocation into a 503 (and its retry into a 404).
      await engine.revocations.publish({ kind: 'api-key', tenantId, keyId }).catch(() => undefined);
    },
  };
}
