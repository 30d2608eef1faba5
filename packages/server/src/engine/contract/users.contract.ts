/** Contract of the user store: registration, upsert, lookups, updates and blocks. */
import { describe, expect, it } from 'vitest';
import type { UserId } from '../../domain/types.js';
import type { NewUser } from '../engine.js';
import { alice, bob, carol, T0, TENANT, type ContractContext } from './fixtures.contract.js';

function newUser(id: UserId, username: string, overrides: Partial<NewUser> = {}): NewUser {
  return { id, username, displayName: `The ${username}`, passwordHash: `pw-${username}`, createdAt: T0, ...overrides };
}

export function usersContract(context: ContractContext): void {
  describe('users', () => {
    it('registers a built-in user and finds it by id and by username', async () => {
      const { users } = context.engine;
      const result = await users.register(TENANT, newUser(alice, 'alice'));
      const expected = {
        tenantId: TENANT,
        id: alice,
        username: 'alice',
        displayName: 'The alice',
        metadata: null,
        createdAt: T0,
        updatedAt: T0,
      };
      expect(result).toEqual({ status: 'created', user: expected });
      expect(await users.get(TENANT, alice)).toEqual(expected);
      expect(await users.findCredentials(TENANT, 'alice')).toEqual({ user: expected, passwordHash: 'pw-alice' });
      expect(await users.findCredentials(TENANT, 'nobody')).toBeNull();
      expect(await users.get(TENANT, bob)).toBeNull();
    });

    it('finds a live user by exact username, built-in or external, and nobody once the account is deleted', async () => {
      const { users } = context.engine;
      await users.register(TENANT, newUser(alice, 'alice'));
      await users.ensureExternal(TENANT, { id: bob, username: 'bob', displayName: 'Bob', identity: { provider: 'corp', issuer: 'https://idp.example.com', subject: 'sub-b' } }, T0);
      expect(await users.findByUsername(TENANT, 'alice')).toMatchObject({ id: alice, username: 'alice' });
      expect(await users.findByUsername(TENANT, 'bob')).toMatchObject({ id: bob, username: 'bob' });
      expect(await users.findByUsername(TENANT, 'ALICE')).toBeNull();
      expect(await users.findByUsername(TENANT, 'ali')).toBeNull();
      expect(await users.findByUsername('another-tenant' as typeof TENANT, 'alice')).toBeNull();
      expect(await users.delete(TENANT, alice, T0 + 1)).toBe(true);
      expect(await users.findByUsername(TENANT, 'alice')).toBeNull();
    });

    it('refuses a taken username and leaves the owner untouched', async () => {
      const { users } = context.engine;
      await users.register(TENANT, newUser(alice, 'alice'));
      const second = await users.register(TENANT, newUser(bob, 'alice', { passwordHash: 'pw-impostor' }));
      expect(second).toEqual({ status: 'username_taken' });
      expect(await users.get(TENANT, bob)).toBeNull();
      expect(await users.findCredentials(TENANT, 'alice')).toMatchObject({ user: { id: alice }, passwordHash: 'pw-alice' });
    });

    it('lets exactly one of many concurrent registrations of one username succeed', async () => {
      const { users } = context.engine;
      const ids = Array.from({ length: 20 }, (_, i) => `racer-${i}` as UserId);
      const results = await Promise.all(ids.map((id) => users.register(TENANT, newUser(id, 'popular'))));
      const created = results.flatMap((result) => (result.status === 'created' ? [result.user.id] : []));
      expect(created).toHaveLength(1);
      expect(results.filter((result) => result.status === 'username_taken')).toHaveLength(19);
      expect(await users.findCredentials(TENANT, 'popular')).toMatchObject({ user: { id: created[0] } });
      const stored = await users.getMany(TENANT, ids);
      expect(stored.filter((user) => user !== null)).toHaveLength(1);
    });

    it('upserts: creates without a username, then replaces displayName and metadata only', async () => {
      const { users } = context.engine;
      const first = await users.upsert(TENANT, { id: carol, displayName: 'Carol', metadata: { plan: 'pro' } }, T0);
      expect(first).toEqual({
        created: true,
        user: {
          tenantId: TENANT,
          id: carol,
          username: null,
          displayName: 'Carol',
          metadata: { plan: 'pro' },
          createdAt: T0,
          updatedAt: T0,
        },
      });
      const second = await users.upsert(TENANT, { id: carol, displayName: 'Caroline', metadata: null }, T0 + 5);
      expect(second).toEqual({
        created: false,
        user: { ...first!.user, displayName: 'Caroline', metadata: null, updatedAt: T0 + 5 },
      });
      expect(await users.get(TENANT, carol)).toEqual(second!.user);
    });

    it('keeps the username, createdAt and credentials of a registered user it upserts', async () => {
      const { users } = context.engine;
      await users.register(TENANT, newUser(alice, 'alice'));
      const result = await users.upsert(TENANT, { id: alice, displayName: 'Alice B.', metadata: { a: 1 } }, T0 + 9);
      expect(result!.created).toBe(false);
      expect(result!.user).toMatchObject({ username: 'alice', createdAt: T0, updatedAt: T0 + 9, displayName: 'Alice B.' });
      expect(await users.findCredentials(TENANT, 'alice')).toMatchObject({
        user: { displayName: 'Alice B.' },
        passwordHash: 'pw-alice',
      });
    });

    it('gets many users in the order asked, with null where absent', async () => {
      const { users } = context.engine;
      await users.register(TENANT, newUser(alice, 'alice'));
      await users.upsert(TENANT, { id: carol, displayName: 'Carol', metadata: null }, T0);
      const result = await users.getMany(TENANT, [carol, bob, alice, carol]);
      expect(result.map((user) => user?.id ?? null)).toEqual([carol, null, alice, carol]);
      expect(await users.getMany(TENANT, [])).toEqual([]);
    });

    it('updates the given fields and answers null for an unknown user', async () => {
      const { users } = context.engine;
      await users.register(TENANT, newUser(alice, 'alice'));
      const updated = await users.update(TENANT, alice, { displayName: 'Ally' }, T0 + 3);
      expect(updated).toMatchObject({ id: alice, username: 'alice', displayName: 'Ally', createdAt: T0, updatedAt: T0 + 3 });
      expect(await users.get(TENANT, alice)).toEqual(updated);
      const untouched = await users.update(TENANT, alice, {}, T0 + 4);
      expect(untouched).toMatchObject({ displayName: 'Ally' });
      expect(await users.update(TENANT, bob, { displayName: 'Bob' }, T0)).toBeNull();
      expect(await users.get(TENANT, bob)).toBeNull();
    });

    it('blocks in one direction only, idempotently, until unblocked', async () => {
      const { users } = context.engine;
      expect(await users.isBlocked(TENANT, alice, bob)).toBe(false);
      await users.block(TENANT, alice, bob);
      await users.block(TENANT, alice, bob);
      expect(await users.isBlocked(TENANT, alice, bob)).toBe(true);
      expect(await users.isBlocked(TENANT, bob, alice)).toBe(false);
      expect(await users.isBlocked(TENANT, alice, carol)).toBe(false);
      await users.unblock(TENANT, alice, bob);
      expect(await users.isBlocked(TENANT, alice, bob)).toBe(false);
      await users.unblock(TENANT, alice, bob);
      await users.unblock(TENANT, carol, alice);
      expect(await users.isBlocked(TENANT, carol, alice)).toBe(false);
    });

    it('returns copies: changing a returned user changes nothing stored', async () => {
      const { users } = context.engine;
      const { user } = (await users.upsert(TENANT, { id: carol, displayName: 'Carol', metadata: { tags: ['a'] } }, T0))!;
      user.displayName = 'mutated';
      (user.metadata?.tags as string[]).push('b');
      const fetched = await users.get(TENANT, carol);
      expect(fetched).toMatchObject({ displayName: 'Carol', metadata: { tags: ['a'] } });
      if (fetched) fetched.displayName = 'mutated again';
      expect(await users.get(TENANT, carol)).toMatchObject({ displayName: 'Carol' });
    });
  });
}
