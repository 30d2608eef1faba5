/**
 * Contract of the account lifecycle: user deletion, password replacement, revoking every refresh
 * family of a user (and the per-user bound on them), and the refresh reuse grace window.
 */
import { describe, expect, it } from 'vitest';
import { REFRESH_FAMILIES_PER_USER_MAX, REFRESH_SIBLINGS_MAX, type RefreshFamily } from '../engine.js';
import { alice, bob, carol, HOUR, OTHER_TENANT, T0, TENANT, tally, type ContractContext } from './fixtures.contract.js';

const GRACE = 10_000;

function family(overrides: Partial<RefreshFamily> = {}): RefreshFamily {
  return { tenantId: TENANT, familyId: 'fam-1', userId: alice, generation: 0, secretHash: 'h0', expiresAt: T0 + HOUR, ...overrides };
}

const next = (name: string, at = T0) => ({ secretHash: name, expiresAt: at + 2 * HOUR });

function registered(id: typeof alice, username: string) {
  return { id, username, displayName: username.toUpperCase(), passwordHash: `pw-${username}`, createdAt: T0 };
}

export function accountsContract(context: ContractContext): void {
  describe('user deletion', () => {
    it('erases the profile and credentials, frees the username and keeps a tombstone', async () => {
      const { users } = context.engine;
      await users.register(TENANT, registered(alice, 'alice'));
      await users.block(TENANT, alice, bob);
      expect(await users.delete(TENANT, alice, T0 + 5)).toBe(true);

      expect(await users.get(TENANT, alice)).toBeNull();
      expect(await users.getMany(TENANT, [alice])).toEqual([null]);
      expect(await users.findCredentials(TENANT, 'alice')).toBeNull();
      expect(await users.listBlocked(TENANT, alice)).toEqual([]);
      expect(await users.findDeleted(TENANT, alice)).toEqual({ id: alice, createdAt: T0, deletedAt: T0 + 5 });
      // The username is free; the id is not.
      const again = await users.register(TENANT, registered(carol, 'alice'));
      expect(again).toMatchObject({ status: 'created', user: { id: carol, username: 'alice' } });
      expect(await users.findCredentials(TENANT, 'alice')).toMatchObject({ user: { id: carol } });
    });

    it('refuses to bring a deleted id back by upsert or update, and deletes once', async () => {
      const { users } = context.engine;
      await users.upsert(TENANT, { id: bob, displayName: 'Bob', metadata: { plan: 'pro' } }, T0);
      expect(await users.delete(TENANT, bob, T0 + 1)).toBe(true);
      expect(await users.delete(TENANT, bob, T0 + 2)).toBe(false);
      expect(await users.findDeleted(TENANT, bob)).toEqual({ id: bob, createdAt: T0, deletedAt: T0 + 1 });
      expect(await users.upsert(TENANT, { id: bob, displayName: 'Bob again', metadata: null }, T0 + 3)).toBeNull();
      expect(await users.update(TENANT, bob, { displayName: 'Bob again' }, T0 + 3)).toBeNull();
      expect(await users.get(TENANT, bob)).toBeNull();
    });

    it("unlinks an external user's (provider, subject): that identity signs in as a new user", async () => {
      const { users } = context.engine;
      const identity = { provider: 'corp', issuer: 'https://idp.example.com', subject: 'sub-1' };
      const first = await users.ensureExternal(TENANT, { id: alice, identity, displayName: 'Alice', username: 'alice' }, T0);
      expect(first.created).toBe(true);
      expect(await users.delete(TENANT, alice, T0 + 1)).toBe(true);
      const again = await users.ensureExternal(TENANT, { id: bob, identity, displayName: 'Alice', username: 'alice' }, T0 + 2);
      expect(again).toMatchObject({ created: true, user: { id: bob, username: 'alice', identity } });
      expect(await users.get(TENANT, alice)).toBeNull();
      expect(await users.findDeleted(TENANT, alice)).toEqual({ id: alice, createdAt: T0, deletedAt: T0 + 1 });
    });

    it('answers false and null for unknown users, and keeps tenants apart', async () => {
      const { users } = context.engine;
      await users.register(TENANT, registered(alice, 'alice'));
      expect(await users.delete(TENANT, carol, T0)).toBe(false);
      expect(await users.findDeleted(TENANT, carol)).toBeNull();
      expect(await users.findDeleted(TENANT, alice)).toBeNull();
      expect(await users.delete(OTHER_TENANT, alice, T0)).toBe(false);
      expect(await users.get(TENANT, alice)).toMatchObject({ id: alice });
    });
  });

  describe('password replacement', () => {
    it('replaces the hash only when the current one matches, exactly once under concurrency', async () => {
      const { users } = context.engine;
      await users.register(TENANT, registered(alice, 'alice'));
      expect(await users.replacePasswordHash(TENANT, alice, 'wrong', 'pw-new', T0 + 1)).toBe(false);
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => users.replacePasswordHash(TENANT, alice, 'pw-alice', `pw-${i}`, T0 + 2)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = results.indexOf(true);
      expect(await users.findCredentials(TENANT, 'alice')).toMatchObject({ passwordHash: `pw-${winner}`, user: { updatedAt: T0 + 2 } });
    });

    it('refuses users without a password and deleted users', async () => {
      const { users } = context.engine;
      await users.upsert(TENANT, { id: bob, displayName: 'Bob', metadata: null }, T0);
      expect(await users.replacePasswordHash(TENANT, bob, 'pw-bob', 'pw', T0)).toBe(false);
      await users.register(TENANT, registered(alice, 'alice'));
      await users.delete(TENANT, alice, T0);
      expect(await users.replacePasswordHash(TENANT, alice, 'pw-alice', 'pw', T0)).toBe(false);
    });
  });

  describe("a user's refresh families", () => {
    it('revokes every family of the user and no one else’s', async () => {
      const { refreshTokens } = context.engine;
      for (const familyId of ['a1', 'a2', 'a3']) await refreshTokens.create(family({ familyId }), T0);
      await refreshTokens.create(family({ familyId: 'b1', userId: bob }), T0);
      await refreshTokens.create(family({ familyId: 'x1', tenantId: OTHER_TENANT }), T0);
      // A rotated family is still the user's.
      await refreshTokens.rotate(TENANT, 'a2', 0, 'h0', next('h1'), T0 + 1);

      expect(await refreshTokens.revokeUser(TENANT, alice)).toBe(3);
      for (const [familyId, generation, hash] of [['a1', 0, 'h0'], ['a2', 1, 'h1'], ['a3', 0, 'h0']] as const) {
        expect(await refreshTokens.rotate(TENANT, familyId, generation, hash, next('z'), T0 + 2)).toEqual({ status: 'invalid' });
      }
      expect((await refreshTokens.rotate(TENANT, 'b1', 0, 'h0', next('z'), T0 + 2)).status).toBe('rotated');
      expect((await refreshTokens.rotate(OTHER_TENANT, 'x1', 0, 'h0', next('z'), T0 + 2)).status).toBe('rotated');
      expect(await refreshTokens.revokeUser(TENANT, alice)).toBe(0);
      expect(await refreshTokens.revokeUser(TENANT, carol)).toBe(0);
    });

    it('keeps a family started after the revocation', async () => {
      const { refreshTokens } = context.engine;
      await refreshTokens.create(family({ familyId: 'old' }), T0);
      await refreshTokens.revokeUser(TENANT, alice);
      await refreshTokens.create(family({ familyId: 'new' }), T0 + 1);
      expect((await refreshTokens.rotate(TENANT, 'new', 0, 'h0', next('h1'), T0 + 2)).status).toBe('rotated');
    });

    it(`keeps at most ${REFRESH_FAMILIES_PER_USER_MAX} live families per user, revoking the ones expiring soonest`, async () => {
      const { refreshTokens } = context.engine;
      const total = REFRESH_FAMILIES_PER_USER_MAX + 2;
      for (let i = 0; i < total; i++) {
        await refreshTokens.create(family({ familyId: `f${i}`, expiresAt: T0 + HOUR + i }), T0 + i);
      }
      const now = T0 + total;
      expect((await refreshTokens.rotate(TENANT, 'f0', 0, 'h0', next('z', now), now)).status).toBe('invalid');
      expect((await refreshTokens.rotate(TENANT, 'f1', 0, 'h0', next('z', now), now)).status).toBe('invalid');
      expect((await refreshTokens.rotate(TENANT, 'f2', 0, 'h0', next('z', now), now)).status).toBe('rotated');
      expect((await refreshTokens.rotate(TENANT, `f${total - 1}`, 0, 'h0', next('z', now), now)).status).toBe('rotated');
      expect(await refreshTokens.revokeUser(TENANT, alice)).toBe(REFRESH_FAMILIES_PER_USER_MAX);
    });

    it('forgets expired families: they neither count against the bound nor survive in the index', async () => {
      const { refreshTokens } = context.engine;
      for (let i = 0; i < REFRESH_FAMILIES_PER_USER_MAX; i++) {
        await refreshTokens.create(family({ familyId: `old${i}`, expiresAt: T0 + 10 }), T0);
      }
      // All of those have expired by now: the new family evicts nothing live and is alone.
      await refreshTokens.create(family({ familyId: 'fresh', expiresAt: T0 + HOUR }), T0 + 20);
      expect(await refreshTokens.revokeUser(TENANT, alice)).toBe(1);
    });
  });

  describe('refresh reuse grace window', () => {
    it('gives a just-spent token a sibling within the window; both rotate on normally', async () => {
      const { refreshTokens } = context.engine;
      await refreshTokens.create(family(), T0);
      const first = await refreshTokens.rotate(TENANT, 'fam-1', 0, 'h0', next('tab-a'), T0 + 1, GRACE);
      const second = await refreshTokens.rotate(TENANT, 'fam-1', 0, 'h0', next('tab-b'), T0 + 1 + GRACE, GRACE);
      expect(first).toMatchObject({ status: 'rotated', family: { generation: 1, secretHash: 'tab-a' } });
      expect(second).toMatchObject({ status: 'rotated', family: { generation: 1, secretHash: 'tab-b', userId: alice } });
      // Tab B rotates first, then tab A, within the window of B's rotation: both keep going.
      expect(await refreshTokens.rotate(TENANT, 'fam-1', 1, 'tab-b', next('b2'), T0 + 2 * GRACE, GRACE)).toMatchObject({
        status: 'rotated',
        family: { generation: 2 },
      });
      expect(await refreshTokens.rotate(TENANT, 'fam-1', 1, 'tab-a', next('a2'), T0 + 2 * GRACE + 1, GRACE)).toMatchObject({
        status: 'rotated',
        family: { generation: 2 },
      });
      expect((await refreshTokens.rotate(TENANT, 'fam-1', 2, 'a2', next('a3'), T0 + 2 * GRACE + 2, GRACE)).status).toBe('rotated');
    });

    it('treats a spent token after the window as reuse and revokes the family', async () => {
      const { refreshTokens } = context.engine;
      await refreshTokens.create(family(), T0);
      await refreshTokens.rotate(TENANT, 'fam-1', 0, 'h0', next('h1'), T0 + 1, GRACE);
      expect(await refreshTokens.rotate(TENANT, 'fam-1', 0, 'h0', next('late'), T0 + 2 + GRACE, GRACE)).toEqual({ status: 'reused' });
      expect(await refreshTokens.rotate(TENANT, 'fam-1', 1, 'h1', next('h2'), T0 + 3 + GRACE, GRACE)).toEqual({ status: 'invalid' });
    });

    it('counts the window from the rotation, not from a sibling, and a sibling spent later is reuse', async () => {
      const { refreshTokens } = context.engine;
      await refreshTokens.create(family(), T0);
      await refreshTokens.rotate(TENANT, 'fam-1', 0, 'h0', next('a1'), T0, GRACE);
      await refreshTokens.rotate(TENANT, 'fam-1', 0, 'h0', next('b1'), T0 + GRACE, GRACE);
      await refreshTokens.rotate(TENANT, 'fam-1', 1, 'a1', next('a2'), T0 + GRACE + 1, GRACE);
      // b1's generation was spent (by a1) longer than the window ago: reuse.
      expect(await refreshTokens.rotate(TENANT, 'fam-1', 1, 'b1', next('b2'), T0 + 3 * GRACE, GRACE)).toEqual({ status: 'reused' });
    });

    it('gives a sibling to every one of concurrent refreshes with one token within the window', async () => {
      const { refreshTokens } = context.engine;
      await refreshTokens.create(family(), T0);
      const tabs = REFRESH_SIBLINGS_MAX;
      const results = await Promise.all(
        Array.from({ length: tabs }, (_, i) => refreshTokens.rotate(TENANT, 'fam-1', 0, 'h0', next(`tab-${i}`), T0 + 1, GRACE)),
      );
      expect(tally(results.map((result) => result.status))).toEqual({ rotated: tabs });
      // Every tab's token works; one spends generation 1, the rest are siblings of generation 2.
      for (let i = 0; i < tabs; i++) {
        const rotated = await refreshTokens.rotate(TENANT, 'fam-1', 1, `tab-${i}`, next(`tab-${i}-2`), T0 + 2, GRACE);
        expect(rotated).toMatchObject({ status: 'rotated', family: { generation: 2 } });
      }
    });

    it(`treats one token more than ${REFRESH_SIBLINGS_MAX} per generation as reuse`, async () => {
      const { refreshTokens } = context.engine;
      await refreshTokens.create(family(), T0);
      for (let i = 0; i < REFRESH_SIBLINGS_MAX; i++) {
        expect((await refreshTokens.rotate(TENANT, 'fam-1', 0, 'h0', next(`tab-${i}`), T0 + 1, GRACE)).status).toBe('rotated');
      }
      expect(await refreshTokens.rotate(TENANT, 'fam-1', 0, 'h0', next('one-more'), T0 + 2, GRACE)).toEqual({ status: 'reused' });
    });

    it('without a window (0), concurrent refreshes with one token revoke the family as before', async () => {
      const { refreshTokens } = context.engine;
      await refreshTokens.create(family(), T0);
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => refreshTokens.rotate(TENANT, 'fam-1', 0, 'h0', next(`t${i}`), T0 + 1, 0)));
      const statuses = tally(results.map((result) => result.status));
      // One spends the token, the next is reuse and revokes; any after that find no family.
      expect(statuses.rotated).toBe(1);
      expect(statuses.reused).toBeGreaterThanOrEqual(1);
      const winner = results.findIndex((result) => result.status === 'rotated');
      expect(await refreshTokens.rotate(TENANT, 'fam-1', 1, `t${winner}`, next('z'), T0 + 2, 0)).toEqual({ status: 'invalid' });
    });

    it('refuses a forged secret within the window and revokes nothing', async () => {
      const { refreshTokens } = context.engine;
      await refreshTokens.create(family(), T0);
      await refreshTokens.rotate(TENANT, 'fam-1', 0, 'h0', next('h1'), T0 + 1, GRACE);
      expect(await refreshTokens.rotate(TENANT, 'fam-1', 0, 'forged', next('x'), T0 + 2, GRACE)).toEqual({ status: 'invalid' });
      expect((await refreshTokens.rotate(TENANT, 'fam-1', 1, 'h1', next('h2'), T0 + 3, GRACE)).status).toBe('rotated');
    });
  });
}
