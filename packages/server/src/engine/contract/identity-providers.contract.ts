/** Contract of external identity providers and of the users created on first sight of their tokens. */
import { describe, expect, it } from 'vitest';
import type { IdentityProvider, TenantId, UserId } from '../../domain/types.js';
import { MAX_IDENTITY_PROVIDERS_PER_TENANT, type NewExternalUser } from '../engine.js';
import { alice, bob, OTHER_TENANT, T0, TENANT, type ContractContext } from './fixtures.contract.js';

function provider(overrides: Partial<IdentityProvider> = {}): IdentityProvider {
  return {
    tenantId: TENANT,
    id: 'corp',
    issuer: 'https://idp.example.com/',
    audience: 'https://chat.example.com',
    algorithms: ['RS256', 'ES256'],
    claims: { username: 'preferred_username' },
    jwksUri: 'https://idp.example.com/jwks',
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}

function external(id: UserId, subject: string, overrides: Partial<NewExternalUser> = {}): NewExternalUser {
  return { id, identity: { provider: 'corp', issuer: 'https://idp.example.com', subject }, displayName: `Person ${subject}`, username: null, ...overrides };
}

export function identityProvidersContract(context: ContractContext): void {
  describe('identity providers', () => {
    it('creates, reads, lists, replaces (keeping createdAt) and deletes a provider', async () => {
      const store = context.engine.identityProviders;
      expect(await store.put(provider())).toEqual({ status: 'created', provider: provider() });
      expect(await store.get(TENANT, 'corp')).toEqual(provider());
      const replacement = provider({ audience: 'other-api', algorithms: ['EdDSA'], claims: {}, createdAt: T0 + 5, updatedAt: T0 + 5 });
      expect(await store.put(replacement)).toEqual({ status: 'replaced', provider: { ...replacement, createdAt: T0 } });
      expect(await store.list(TENANT)).toEqual([{ ...replacement, createdAt: T0 }]);
      expect(await store.listAll()).toEqual([{ ...replacement, createdAt: T0 }]);
      expect(await store.delete(TENANT, 'corp')).toBe(true);
      expect(await store.delete(TENANT, 'corp')).toBe(false);
      expect(await store.get(TENANT, 'corp')).toBeNull();
      expect(await store.list(TENANT)).toEqual([]);
      expect(await store.listAll()).toEqual([]);
    });

    it('keeps (issuer, audience) unique across tenants, and releases it on replace and delete', async () => {
      const store = context.engine.identityProviders;
      await store.put(provider());
      expect(await store.put(provider({ tenantId: OTHER_TENANT, id: 'sso' }))).toEqual({ status: 'conflict' });
      expect(await store.put(provider({ id: 'second' }))).toEqual({ status: 'conflict' });
      expect(await store.get(OTHER_TENANT, 'sso')).toBeNull();
      // Same issuer, another audience: a different pair.
      expect(await store.put(provider({ tenantId: OTHER_TENANT, id: 'sso', audience: 'globex-api' }))).toMatchObject({ status: 'created' });
      // Moving acme's provider to a new audience frees the old pair.
      await store.put(provider({ audience: 'moved' }));
      expect(await store.put(provider({ tenantId: OTHER_TENANT, id: 'sso2' }))).toMatchObject({ status: 'created' });
      await store.delete(OTHER_TENANT, 'sso2');
      expect(await store.put(provider({ id: 'again' }))).toMatchObject({ status: 'created' });
      expect((await store.listAll()).map((p) => `${p.tenantId}/${p.id}`).sort()).toEqual(['acme/again', 'acme/corp', 'globex/sso']);
    });

    it('lets exactly one of concurrent claims of one pair by two tenants succeed', async () => {
      const store = context.engine.identityProviders;
      const tenants = Array.from({ length: 10 }, (_, i) => `tenant-${i}` as TenantId);
      const results = await Promise.all(tenants.map((tenantId) => store.put(provider({ tenantId }))));
      expect(results.filter((r) => r.status === 'created')).toHaveLength(1);
      expect(results.filter((r) => r.status === 'conflict')).toHaveLength(9);
      expect(await store.listAll()).toHaveLength(1);
    });

    it(`refuses an eleventh provider in one tenant, but still replaces existing ones`, async () => {
      const store = context.engine.identityProviders;
      for (let i = 0; i < MAX_IDENTITY_PROVIDERS_PER_TENANT; i++) {
        expect(await store.put(provider({ id: `p${i}`, audience: `aud-${i}` }))).toMatchObject({ status: 'created' });
      }
      expect(await store.put(provider({ id: 'one-more', audience: 'aud-x' }))).toEqual({ status: 'too_many' });
      expect(await store.put(provider({ id: 'p0', audience: 'aud-0b' }))).toMatchObject({ status: 'replaced' });
      expect(await store.put(provider({ tenantId: OTHER_TENANT, id: 'one-more', audience: 'aud-x' }))).toMatchObject({ status: 'created' });
      expect(await store.list(TENANT)).toHaveLength(MAX_IDENTITY_PROVIDERS_PER_TENANT);
    });
  });

  describe('external users', () => {
    it('creates the user of a (provider, subject) on first sight and returns it afterwards', async () => {
      const { users } = context.engine;
      const first = await users.ensureExternal(TENANT, external(alice, 'sub-1', { username: 'alice' }), T0);
      const expected = {
        tenantId: TENANT,
        id: alice,
        username: 'alice',
        displayName: 'Person sub-1',
        metadata: null,
        createdAt: T0,
        updatedAt: T0,
        identity: { provider: 'corp', issuer: 'https://idp.example.com', subject: 'sub-1' },
      };
      expect(first).toEqual({ user: expected, created: true });
      const again = await users.ensureExternal(TENANT, external(bob, 'sub-1', { displayName: 'Renamed' }), T0 + 1);
      expect(again).toEqual({ user: expected, created: false });
      expect(await users.get(TENANT, alice)).toEqual(expected);
      expect(await users.get(TENANT, bob)).toBeNull();
      // An external user has no password: it never signs in with the built-in provider.
      expect(await users.findCredentials(TENANT, 'alice')).toBeNull();
    });

    it('keys users by provider, issuer and subject, per tenant', async () => {
      const { users } = context.engine;
      const a = await users.ensureExternal(TENANT, external('u-1' as UserId, 'same'), T0);
      const b = await users.ensureExternal(
        TENANT,
        external('u-2' as UserId, 'same', { identity: { provider: 'other', issuer: 'https://idp.example.com', subject: 'same' } }),
        T0,
      );
      const c = await users.ensureExternal(OTHER_TENANT, external('u-3' as UserId, 'same'), T0);
      // The provider id pointed at another issuer: that issuer's `same` is somebody else.
      const d = await users.ensureExternal(
        TENANT,
        external('u-4' as UserId, 'same', { identity: { provider: 'corp', issuer: 'https://other-idp.example.com', subject: 'same' } }),
        T0,
      );
      expect([a.created, b.created, c.created, d.created]).toEqual([true, true, true, true]);
      expect(new Set([a.user.id, b.user.id, c.user.id, d.user.id]).size).toBe(4);
      // The same three again: the same users.
      const again = await users.ensureExternal(TENANT, external('u-5' as UserId, 'same'), T0);
      expect(again).toMatchObject({ created: false, user: { id: a.user.id } });
    });

    it('takes a username only when it is free', async () => {
      const { users } = context.engine;
      await users.register(TENANT, { id: alice, username: 'taken', displayName: 'A', passwordHash: 'h', createdAt: T0 });
      const { user } = await users.ensureExternal(TENANT, external(bob, 'sub-2', { username: 'taken' }), T0);
      expect(user.username).toBeNull();
      expect(await users.findCredentials(TENANT, 'taken')).toMatchObject({ user: { id: alice } });
    });

    it('creates exactly one user when many first sightings of one subject race', async () => {
      const { users } = context.engine;
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => users.ensureExternal(TENANT, external(`u-race-${i}` as UserId, 'racer'), T0)),
      );
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(results.map((r) => r.user.id)).size).toBe(1);
    });

    it('keeps the identity through later updates and upserts', async () => {
      const { users } = context.engine;
      await users.ensureExternal(TENANT, external(alice, 'sub-9'), T0);
      const identity = { provider: 'corp', issuer: 'https://idp.example.com', subject: 'sub-9' };
      expect(await users.update(TENANT, alice, { displayName: 'New' }, T0 + 1)).toMatchObject({ identity });
      const { user } = (await users.upsert(TENANT, { id: alice, displayName: 'Upserted', metadata: null }, T0 + 2))!;
      expect(user.identity).toEqual(identity);
    });
  });
}
