/**
 * Contract of owners: a group with members always has an owner. removeMember hands ownership on
 * when the only owner goes (longest-standing admin, else member, in the same step); setRole with
 * keepOwner refuses to demote the only owner, changing and logging nothing. Both hold when owners
 * leave or are demoted at the same time.
 */
import { describe, expect, it } from 'vitest';
import type { ConversationId, Role, UserId } from '../../domain/types.js';
import { alice, bob, carol, createGroup, dave, eventsOf, headOf, newDirect, T0, TENANT, type ContractContext } from './fixtures.contract.js';

const keepOwner = { keepOwner: true };

export function ownersContract(context: ContractContext): void {
  async function groupWithRoles(id: string, members: readonly [UserId, Role][]): Promise<ConversationId> {
    const conversationId = id as ConversationId;
    await context.engine.conversations.createGroup(TENANT, {
      id: conversationId,
      type: 'group',
      title: id,
      createdAt: T0,
      members: members.map(([userId, role]) => ({ userId, role })),
    });
    return conversationId;
  }

  async function owners(id: ConversationId): Promise<UserId[]> {
    const page = await context.engine.conversations.listMembers(TENANT, id, { limit: 1000 });
    return page.items.filter((member) => member.role === 'owner').map((member) => member.userId);
  }

  describe('keeping an owner', () => {
    it('hands ownership to the longest-standing admin when the only owner leaves, in one step', async () => {
      const { conversations } = context.engine;
      const id = await groupWithRoles('g1', [
        [alice, 'owner'],
        [bob, 'member'],
        [carol, 'admin'],
        [dave, 'admin'],
      ]);
      const head = await headOf(context.engine, id);
      expect(await conversations.removeMember(TENANT, id, alice, T0 + 1)).toBe('removed');
      expect(await owners(id)).toEqual([carol]);
      expect(await eventsOf(context.engine, id, { after: head })).toEqual([
        { type: 'member.removed', conversationId: id, userId: alice, role: 'owner' },
        { type: 'member.updated', conversationId: id, userId: carol, role: 'owner' },
      ]);
      expect(await conversations.get(TENANT, id)).toMatchObject({ memberCount: 3 });
    });

    it('hands ownership to the longest-standing member when there is no admin', async () => {
      const { conversations } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice, bob, carol]);
      // Re-joining puts a member at the end of the line: carol now stands longer than bob.
      expect(await conversations.removeMember(TENANT, id, bob, T0 + 1)).toBe('removed');
      await conversations.addMembers(TENANT, id, [bob], 'member', T0 + 2, 100);
      expect(await conversations.removeMember(TENANT, id, alice, T0 + 3)).toBe('removed');
      expect(await owners(id)).toEqual([carol]);
      // The new owner leaving hands on again; the last member leaving leaves an empty group.
      expect(await conversations.removeMember(TENANT, id, carol, T0 + 4)).toBe('removed');
      expect(await owners(id)).toEqual([bob]);
      const head = await headOf(context.engine, id);
      expect(await conversations.removeMember(TENANT, id, bob, T0 + 5)).toBe('removed');
      expect(await conversations.get(TENANT, id)).toMatchObject({ memberCount: 0 });
      expect((await eventsOf(context.engine, id, { after: head })).map((event) => event.type)).toEqual(['member.removed']);
      expect(await conversations.removeMember(TENANT, id, dave, T0 + 6)).toBe('not_found');
    });

    it('hands nothing on while another owner stays', async () => {
      const { conversations } = context.engine;
      const id = await groupWithRoles('g1', [
        [alice, 'owner'],
        [bob, 'owner'],
        [carol, 'admin'],
      ]);
      const head = await headOf(context.engine, id);
      expect(await conversations.removeMember(TENANT, id, alice, T0 + 1)).toBe('removed');
      expect(await owners(id)).toEqual([bob]);
      expect((await eventsOf(context.engine, id, { after: head })).map((event) => event.type)).toEqual(['member.removed']);
    });

    it('refuses to demote the only owner with keepOwner, changing and logging nothing', async () => {
      const { conversations } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice, bob]);
      const head = await headOf(context.engine, id);
      expect(await conversations.setRole(TENANT, id, alice, 'admin', T0 + 1, keepOwner)).toEqual({ status: 'last_owner' });
      expect(await conversations.setRole(TENANT, id, alice, 'member', T0 + 2, keepOwner)).toEqual({ status: 'last_owner' });
      expect(await owners(id)).toEqual([alice]);
      expect(await eventsOf(context.engine, id, { after: head })).toEqual([]);
      // Staying owner is no demotion; promoting another frees the first.
      expect(await conversations.setRole(TENANT, id, alice, 'owner', T0 + 3, keepOwner)).toMatchObject({ status: 'ok' });
      expect(await conversations.setRole(TENANT, id, bob, 'owner', T0 + 4, keepOwner)).toMatchObject({ status: 'ok' });
      expect(await conversations.setRole(TENANT, id, alice, 'admin', T0 + 5, keepOwner)).toMatchObject({
        status: 'ok',
        member: { userId: alice, role: 'admin' },
      });
      expect(await owners(id)).toEqual([bob]);
      // Without keepOwner the last owner may be demoted.
      expect(await conversations.setRole(TENANT, id, bob, 'member', T0 + 6, { keepOwner: false })).toMatchObject({ status: 'ok' });
      expect(await owners(id)).toEqual([]);
    });

    it('lets both of two owners leave at once, ownership passing on exactly once', async () => {
      const { conversations } = context.engine;
      for (let round = 0; round < 5; round += 1) {
        const id = await groupWithRoles(`race-${round}`, [
          [alice, 'owner'],
          [bob, 'owner'],
          [carol, 'member'],
          [dave, 'member'],
        ]);
        const head = await headOf(context.engine, id);
        const results = await Promise.all([
          conversations.removeMember(TENANT, id, alice, T0 + 1),
          conversations.removeMember(TENANT, id, bob, T0 + 1),
        ]);
        expect(results).toEqual(['removed', 'removed']);
        expect(await owners(id)).toEqual([carol]);
        const logged = await eventsOf(context.engine, id, { after: head });
        expect(logged.map((event) => event.type)).toEqual(['member.removed', 'member.removed', 'member.updated']);
      }
    });

    it('keeps an owner when one owner leaves while the other is demoted at once', async () => {
      const { conversations } = context.engine;
      for (let round = 0; round < 5; round += 1) {
        const id = await groupWithRoles(`race-${round}`, [
          [alice, 'owner'],
          [bob, 'owner'],
        ]);
        const [left, demoted] = await Promise.all([
          conversations.removeMember(TENANT, id, alice, T0 + 1),
          conversations.setRole(TENANT, id, bob, 'admin', T0 + 1, keepOwner),
        ]);
        // Either bob stepped down first (then alice, the last owner, handed ownership back to him),
        // or alice left first (then bob, now the only owner, may not step down).
        expect(left).toBe('removed');
        expect(await owners(id)).toEqual([bob]);
        expect(['ok', 'last_owner']).toContain(demoted.status);
      }
    });

    it('applies to groups only: a member of a direct conversation leaves and nobody becomes owner', async () => {
      const { conversations } = context.engine;
      const { conversation } = await conversations.getOrCreateDirect(TENANT, newDirect('d1', alice, bob));
      expect(await conversations.removeMember(TENANT, conversation.id, alice, T0 + 1)).toBe('removed');
      expect(await owners(conversation.id)).toEqual([]);
    });
  });
}
