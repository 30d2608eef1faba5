/** Contract of the identity stores: tenants, refresh-token families and signing keys. */
import { describe, expect, it } from 'vitest';
import type { TenantId } from '../../domain/types.js';
import { REFRESH_SPENT_GENERATIONS_KEPT, type RefreshFamily, type StoredSigningKey } from '../engine.js';
import { alice, apiKey, HOUR, T0, TENANT, tally, type ContractContext } from './fixtures.contract.js';

function family(overrides: Partial<RefreshFamily> = {}): RefreshFamily {
  return {
    tenantId: TENANT,
    familyId: 'fam-1',
    userId: alice,
    generation: 0,
    secretHash: 'hash-0',
    expiresAt: T0 + HOUR,
    ...overrides,
  };
}

function signingKey(kid: string): StoredSigningKey {
  return {
    kid,
    alg: 'EdDSA',
    privateJwk: { kty: 'OKP', crv: 'Ed25519', d: `private-${kid}`, x: `public-${kid}` },
    publicJwk: { kty: 'OKP', crv: 'Ed25519', x: `public-${kid}` },
    createdAt: T0,
  };
}

export function identityContract(context: ContractContext): void {
  describe('tenants', () => {
    it('creates a tenant once: the first writer wins and keeps its first key', async () => {
      const { tenants } = context.engine;
      const id = 'tenant-a' as TenantId;
      expect(await tenants.create({ id, name: 'First', createdAt: T0 }, apiKey('first'))).toBe(true);
      expect(await tenants.create({ id, name: 'Second', createdAt: T0 + 1 }, apiKey('second'))).toBe(false);
      expect(await tenants.get(id)).toEqual({ id, name: 'First', createdAt: T0 });
      expect(await tenants.getApiKey(id, 'first')).toEqual(apiKey('first'));
      expect(await tenants.getApiKey(id, 'second')).toBeNull();
      expect(await tenants.listApiKeys(id)).toEqual([{ ...apiKey('first'), lastUsedAt: null }]);
    });

    it('answers null for an unknown tenant and for a tenant without a key', async () => {
      const { tenants } = context.engine;
      const keyless = 'keyless' as TenantId;
      await tenants.create({ id: keyless, name: 'No key', createdAt: T0 }, null);
      expect(await tenants.get('nobody' as TenantId)).toBeNull();
      expect(await tenants.getApiKey('nobody' as TenantId, 'first')).toBeNull();
      expect(await tenants.listApiKeys('nobody' as TenantId)).toBeNull();
      expect(await tenants.listApiKeys(keyless)).toEqual([]);
      expect(await tenants.get(keyless)).toEqual({ id: keyless, name: 'No key', createdAt: T0 });
    });

    it('lets exactly one of many concurrent creations of one tenant succeed', async () => {
      const id = 'raced' as TenantId;
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          context.engine.tenants.create({ id, name: `name ${i}`, createdAt: T0 }, apiKey(`key-${i}`)),
        ),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = results.indexOf(true);
      expect(await context.engine.tenants.get(id)).toMatchObject({ name: `name ${winner}` });
      expect((await context.engine.tenants.listApiKeys(id))?.map((key) => key.id)).toEqual([`key-${winner}`]);
    });
  });

  describe('refresh tokens', () => {
    const next = (n: number) => ({ secretHash: `hash-${n}`, expiresAt: T0 + 2 * HOUR + n });

    it('rotates the current generation to the next one, again and again', async () => {
      const { refreshTokens } = context.engine;
      await refreshTokens.create(family(), T0);
      const first = await refreshTokens.rotate(TENANT, 'fam-1', 0, 'hash-0', next(1), T0 + 1);
      expect(first).toEqual({
        status: 'rotated',
        family: { ...family(), generation: 1, secretHash: 'hash-1', expiresAt: next(1).expiresAt },
      });
      const second = await refreshTokens.rotate(TENANT, 'fam-1', 1, 'hash-1', next(2), T0 + 2);
      expect(second).toMatchObject({ status: 'rotated', family: { generation: 2, secretHash: 'hash-2' } });
    });

    it('lets exactly one of concurrent rotations with one token succeed', async () => {
      const { refreshTokens } = context.engine;
      await refreshTokens.create(family(), T0);
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => refreshTokens.rotate(TENANT, 'fam-1', 0, 'hash-0', next(i), T0 + 1)),
      );
      const statuses = results.map((result) => result.status);
      expect(tally(statuses).rotated).toBe(1);
      // The losers presented a generation that had just been spent: that is reuse.
      for (const status of statuses) expect(['rotated', 'reused', 'invalid']).toContain(status);
    });

    it('treats a spent generation as reuse and revokes the whole family', async () => {
      const { refreshTokens } = context.engine;
      await refreshTokens.create(family(), T0);
      await refreshTokens.rotate(TENANT, 'fam-1', 0, 'hash-0', next(1), T0 + 1);
      expect(await refreshTokens.rotate(TENANT, 'fam-1', 0, 'hash-0', next(9), T0 + 2)).toEqual({ status: 'reused' });
      // Even the legitimate current token is dead now.
      expect(await refreshTokens.rotate(TENANT, 'fam-1', 1, 'hash-1', next(2), T0 + 3)).toEqual({ status: 'invalid' });
    });

    it('refuses a spent generation with a forged secret and revokes nothing', async () => {
      const { refreshTokens } = context.engine;
      await refreshTokens.create(family(), T0);
      await refreshTokens.rotate(TENANT, 'fam-1', 0, 'hash-0', next(1), T0 + 1);
      await refreshTokens.rotate(TENANT, 'fam-1', 1, 'hash-1', next(2), T0 + 2);
      // Knowing the family id and guessing a spent generation proves nothing: no revocation.
      expect(await refreshTokens.rotate(TENANT, 'fam-1', 0, 'forged', next(9), T0 + 3)).toEqual({ status: 'invalid' });
      // Another spent generation's secret does not prove this one either.
      expect(await refreshTokens.rotate(TENANT, 'fam-1', 1, 'hash-0', next(9), T0 + 3)).toEqual({ status: 'invalid' });
      expect(await refreshTokens.rotate(TENANT, 'fam-1', 2, 'hash-2', next(3), T0 + 4)).toMatchObject({
        status: 'rotated',
        family: { generation: 3 },
      });
      // A genuine spent token (two generations old) still proves reuse.
      expect(await refreshTokens.rotate(TENANT, 'fam-1', 1, 'hash-1', next(9), T0 + 5)).toEqual({ status: 'reused' });
      expect(await refreshTokens.rotate(TENANT, 'fam-1', 3, 'hash-3', next(4), T0 + 6)).toEqual({ status: 'invalid' });
    });

    it(`remembers the last ${REFRESH_SPENT_GENERATIONS_KEPT} spent generations; an older one is just invalid`, async () => {
      const { refreshTokens } = context.engine;
      await refreshTokens.create(family(), T0);
      const rotations = REFRESH_SPENT_GENERATIONS_KEPT + 1;
      for (let generation = 0; generation < rotations; generation++) {
        await refreshTokens.rotate(TENANT, 'fam-1', generation, `hash-${generation}`, next(generation + 1), T0 + 1 + generation);
      }
      const now = T0 + 1 + rotations;
      // Generation 0 has been forgotten: it can no longer prove reuse, and revokes nothing.
      expect(await refreshTokens.rotate(TENANT, 'fam-1', 0, 'hash-0', next(99), now)).toEqual({ status: 'invalid' });
      expect(await refreshTokens.rotate(TENANT, 'fam-1', 1, 'hash-1', next(99), now + 1)).toEqual({ status: 'reused' });
    });

    it('refuses a wrong secret without revoking the family', async () => {
      const { refreshTokens } = context.engine;
      await refreshTokens.create(family(), T0);
      expect(await refreshTokens.rotate(TENANT, 'fam-1', 0, 'wrong', next(1), T0 + 1)).toEqual({ status: 'invalid' });
      expect(await refreshTokens.rotate(TENANT, 'fam-1', 0, 'hash-0', next(1), T0 + 2)).toMatchObject({
        status: 'rotated',
      });
    });

    it('refuses a generation from the future and an unknown family', async () => {
      const { refreshTokens } = context.engine;
      await refreshTokens.create(family(), T0);
      expect(await refreshTokens.rotate(TENANT, 'fam-1', 5, 'hash-0', next(1), T0 + 1)).toEqual({ status: 'invalid' });
      expect(await refreshTokens.rotate(TENANT, 'no-such', 0, 'hash-0', next(1), T0 + 1)).toEqual({
        status: 'invalid',
      });
      expect(await refreshTokens.rotate(TENANT, 'fam-1', 0, 'hash-0', next(1), T0 + 2)).toMatchObject({
        status: 'rotated',
      });
    });

    it('refuses an expired family and accepts it just before expiry', async () => {
      const { refreshTokens } = context.engine;
      const expiresAt = T0 + HOUR;
      await refreshTokens.create(family({ familyId: 'expired', expiresAt }), T0);
      await refreshTokens.create(family({ familyId: 'fresh', expiresAt }), T0);
      // Time only moves forward, as it does between real calls.
      expect(await refreshTokens.rotate(TENANT, 'fresh', 0, 'hash-0', next(1), expiresAt - 1)).toMatchObject({
        status: 'rotated',
      });
      expect(await refreshTokens.rotate(TENANT, 'expired', 0, 'hash-0', next(1), expiresAt + 1)).toEqual({
        status: 'invalid',
      });
    });

    it('revokes a family idempotently, and revoking an unknown family is harmless', async () => {
      const { refreshTokens } = context.engine;
      await refreshTokens.create(family(), T0);
      await refreshTokens.create(family({ familyId: 'fam-2' }), T0);
      await refreshTokens.revoke(TENANT, 'fam-1');
      await refreshTokens.revoke(TENANT, 'fam-1');
      await refreshTokens.revoke(TENANT, 'never-existed');
      expect(await refreshTokens.rotate(TENANT, 'fam-1', 0, 'hash-0', next(1), T0 + 1)).toEqual({ status: 'invalid' });
      expect(await refreshTokens.rotate(TENANT, 'fam-2', 0, 'hash-0', next(1), T0 + 1)).toMatchObject({
        status: 'rotated',
      });
    });
  });

  describe('signing keys', () => {
    it('stores the first candidate and keeps returning it', async () => {
      const { signingKeys } = context.engine;
      expect(await signingKeys.list(T0)).toEqual([]);
      expect(await signingKeys.ensureCurrent(signingKey('k1'))).toEqual(signingKey('k1'));
      expect(await signingKeys.ensureCurrent(signingKey('k2'))).toEqual(signingKey('k1'));
      expect(await signingKeys.list(T0)).toEqual([signingKey('k1')]);
    });

    it('gives every concurrent starter the same key', async () => {
      const { signingKeys } = context.engine;
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => signingKeys.ensureCurrent(signingKey(`k${i}`))),
      );
      const kids = new Set(results.map((key) => key.kid));
      expect(kids.size).toBe(1);
      const list = await signingKeys.list(T0);
      expect(list.map((key) => key.kid)).toEqual([...kids]);
    });

    it('stores the first issuer and keeps returning it', async () => {
      const { signingKeys } = context.engine;
      expect(await signingKeys.ensureIssuer('http://node-a:3000')).toBe('http://node-a:3000');
      expect(await signingKeys.ensureIssuer('http://node-b:3001')).toBe('http://node-a:3000');
      expect(await signingKeys.ensureIssuer('https://chat.example.com')).toBe('http://node-a:3000');
    });

    it('gives every concurrent starter the same issuer', async () => {
      const { signingKeys } = context.engine;
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => signingKeys.ensureIssuer(`http://node-${i}:${3000 + i}`)),
      );
      expect(new Set(results).size).toBe(1);
      expect(results[0]).toMatch(/^http:\/\/node-\d:300\d$/);
      expect(await signingKeys.ensureIssuer('http://late:4000')).toBe(results[0]);
    });
  });
}
