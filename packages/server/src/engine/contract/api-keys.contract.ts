/** Contract of tenant API keys: several per tenant, a bounded count, revocation and recorded uses. */
import { describe, expect, it } from 'vitest';
import { apiKey, OTHER_TENANT, T0, TENANT, type ContractContext } from './fixtures.contract.js';

export function apiKeysContract(context: ContractContext): void {
  describe('tenant API keys', () => {
    const createTenant = (tenantId = TENANT, firstKey = apiKey('first')) =>
      context.engine.tenants.create({ id: tenantId, name: 'Acme', createdAt: T0 }, firstKey);

    it('keeps several live keys, each found by its id, listed oldest first without recorded uses', async () => {
      const { tenants } = context.engine;
      await createTenant();
      expect(await tenants.createApiKey(TENANT, apiKey('second', T0 + 2), 10)).toBe('created');
      expect(await tenants.createApiKey(TENANT, apiKey('between', T0 + 1), 10)).toBe('created');
      for (const id of ['first', 'second', 'between']) {
        expect(await tenants.getApiKey(TENANT, id)).toEqual(apiKey(id, id === 'first' ? T0 : id === 'second' ? T0 + 2 : T0 + 1));
      }
      expect(await tenants.getApiKey(TENANT, 'unknown')).toBeNull();
      expect(await tenants.listApiKeys(TENANT)).toEqual([
        { ...apiKey('first'), lastUsedAt: null },
        { ...apiKey('between', T0 + 1), lastUsedAt: null },
        { ...apiKey('second', T0 + 2), lastUsedAt: null },
      ]);
    });

    it('refuses a key to an unknown tenant and an id that is taken, changing nothing', async () => {
      const { tenants } = context.engine;
      expect(await tenants.createApiKey(OTHER_TENANT, apiKey('orphan'), 10)).toBe('tenant_not_found');
      expect(await tenants.getApiKey(OTHER_TENANT, 'orphan')).toBeNull();
      expect(await tenants.listApiKeys(OTHER_TENANT)).toBeNull();
      await createTenant();
      expect(await tenants.createApiKey(TENANT, { ...apiKey('first', T0 + 5), hash: 'sha256:other' }, 10)).toBe('id_taken');
      expect(await tenants.getApiKey(TENANT, 'first')).toEqual(apiKey('first'));
    });

    it('never holds more than maxKeys live keys, even under concurrent creations; a revocation frees a place', async () => {
      const { tenants } = context.engine;
      await createTenant();
      const results = await Promise.all(Array.from({ length: 15 }, (_, i) => tenants.createApiKey(TENANT, apiKey(`k${i}`, T0 + i), 10)));
      expect(results.filter((result) => result === 'created')).toHaveLength(9);
      expect(results.filter((result) => result === 'too_many_api_keys')).toHaveLength(6);
      expect(await tenants.listApiKeys(TENANT)).toHaveLength(10);
      expect(await tenants.revokeApiKey(TENANT, 'first')).toBe(true);
      expect(await tenants.createApiKey(TENANT, apiKey('after'), 10)).toBe('created');
      expect(await tenants.createApiKey(TENANT, apiKey('over'), 10)).toBe('too_many_api_keys');
    });

    it('revokes a key for good: absent from then on, false when revoked again or unknown, others kept', async () => {
      const { tenants } = context.engine;
      await createTenant();
      await tenants.createApiKey(TENANT, apiKey('second', T0 + 1), 10);
      expect(await tenants.revokeApiKey(TENANT, 'first')).toBe(true);
      expect(await tenants.getApiKey(TENANT, 'first')).toBeNull();
      expect(await tenants.revokeApiKey(TENANT, 'first')).toBe(false);
      expect(await tenants.revokeApiKey(TENANT, 'never-was')).toBe(false);
      expect(await tenants.getApiKey(TENANT, 'second')).toEqual(apiKey('second', T0 + 1));
      expect((await tenants.listApiKeys(TENANT))?.map((key) => key.id)).toEqual(['second']);
      // The last key may go too: the tenant stays, with no key.
      expect(await tenants.revokeApiKey(TENANT, 'second')).toBe(true);
      expect(await tenants.listApiKeys(TENANT)).toEqual([]);
    });

    it('never brings back a revoked first key, whatever key operation runs afterwards', async () => {
      // The Redis engine also keeps the first key in the tenant record for pods of the previous
      // version during a rolling upgrade; revoking it must clear that copy, not re-adopt it.
      const { tenants } = context.engine;
      await createTenant();
      expect(await tenants.revokeApiKey(TENANT, 'first')).toBe(true);
      expect(await tenants.createApiKey(TENANT, apiKey('second', T0 + 1), 10)).toBe('created');
      expect(await tenants.getApiKey(TENANT, 'first')).toBeNull();
      expect((await tenants.listApiKeys(TENANT))?.map((key) => key.id)).toEqual(['second']);
      expect(await tenants.revokeApiKey(TENANT, 'second')).toBe(true);
      expect(await tenants.revokeApiKey(TENANT, 'first')).toBe(false);
      expect(await tenants.listApiKeys(TENANT)).toEqual([]);
    });

    it('records the latest use of a live key, never moving back and never reviving a revoked key', async () => {
      const { tenants } = context.engine;
      await createTenant();
      await tenants.createApiKey(TENANT, apiKey('second', T0 + 1), 10);
      await tenants.touchApiKey(TENANT, 'first', T0 + 100);
      await tenants.touchApiKey(TENANT, 'first', T0 + 50);
      const listed = await tenants.listApiKeys(TENANT);
      expect(listed).toEqual([
        { ...apiKey('first'), lastUsedAt: T0 + 100 },
        { ...apiKey('second', T0 + 1), lastUsedAt: null },
      ]);
      await tenants.touchApiKey(TENANT, 'first', T0 + 200);
      expect((await tenants.listApiKeys(TENANT))?.[0]?.lastUsedAt).toBe(T0 + 200);

      await tenants.revokeApiKey(TENANT, 'first');
      await tenants.touchApiKey(TENANT, 'first', T0 + 300);
      await tenants.touchApiKey(TENANT, 'never-was', T0 + 300);
      expect(await tenants.getApiKey(TENANT, 'first')).toBeNull();
      expect(await tenants.getApiKey(TENANT, 'never-was')).toBeNull();
      expect((await tenants.listApiKeys(TENANT))?.map((key) => key.id)).toEqual(['second']);
    });

    it('keeps keys per tenant: the same id in two tenants never meets', async () => {
      const { tenants } = context.engine;
      await createTenant(TENANT, apiKey('shared'));
      await createTenant(OTHER_TENANT, { ...apiKey('shared'), hash: 'sha256:globex' });
      expect(await tenants.getApiKey(OTHER_TENANT, 'shared')).toEqual({ ...apiKey('shared'), hash: 'sha256:globex' });
      await tenants.touchApiKey(OTHER_TENANT, 'shared', T0 + 1);
      expect(await tenants.revokeApiKey(OTHER_TENANT, 'shared')).toBe(true);
      expect(await tenants.getApiKey(TENANT, 'shared')).toEqual(apiKey('shared'));
      expect(await tenants.listApiKeys(TENANT)).toEqual([{ ...apiKey('shared'), lastUsedAt: null }]);
    });

    it('refuses a maxKeys outside 1..MAX_API_KEYS_LIMIT', async () => {
      await createTenant();
      for (const maxKeys of [0, 101, 1.5]) {
        await expect(context.engine.tenants.createApiKey(TENANT, apiKey('x'), maxKeys)).rejects.toMatchObject({ code: 'invalid_argument' });
      }
    });
  });
}
