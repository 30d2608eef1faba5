/**
 * Contract of keepOwner: a group never loses its last owner through removeMember or setRole
 * with keepOwner, even when owners leave or are demoted at the same time, and a refusal changes
 * and logs nothing.
 */
import { describe, expect, it } from 'vitest';
import type { ConversationId, Role, UserId } from '../../domain/types.js';
import { alice, bob, carol, createGroup, eventsOf, headOf, T0, TENANT, tally, type ContractContext } from './fixtures.contract.js';

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
    it('refuses to remove the only owner with keepOwner, changing and logging nothing', async () => {
      const { conversations } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice, bob]);
      const head = await headOf(context.engine, id);
      expect(await conversations.removeMember(TENANT, id, alice, T0 + 1, keepOwner)).toBe('last_owner');
      expect(await owners(id)).toEqual([alice]);
      expect(await conversations.get(TENANT, id)).toMatchObject({ memberCount: 2 });
      expect(await eventsOf(context.engine, id, { after: head })).toEqual([]);
      // Others leave freely; an unknown member is not_found, not last_owner.
      expect(await conversations.removeMember(TENANT, id, carol, T0 + 2, keepOwner)).toBe('not_found');
      expect(await conversations.removeMember(TENANT, id, bob, T0 + 3, keepOwner)).toBe('removed');
      // Without keepOwner the last owner may go.
      expect(await conversations.removeMember(TENANT, id, alice, T0 + 4, { keepOwner: false })).toBe('removed');
      expect(await conversations.get(TENANT, id)).toMatchObject({ memberCount: 0 });
    });

    it('lets an owner leave with keepOwner while another owner stays', async () => {
      const { conversations } = context.engine;
      const id = await groupWithRoles('g1', [
        [alice, 'owner'],
        [bob, 'owner'],
        [carol, 'member'],
      ]);
      expect(await conversations.removeMember(TENANT, id, alice, T0 + 1, keepOwner)).toBe('removed');
      expect(await owners(id)).toEqual([bob]);
      expect(await conversations.removeMember(TENANT, id, bob, T0 + 2, keepOwner)).toBe('last_owner');
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

    it('lets exactly one of two owners leave when both leave at once', async () => {
      const { conversations } = context.engine;
      for (let round = 0; round < 5; round += 1) {
        const id = await groupWithRoles(`race-${round}`, [
          [alice, 'owner'],
          [bob, 'owner'],
          [carol, 'member'],
        ]);
        const head = await headOf(context.engine, id);
        const results = await Promise.all([
          conversations.removeMember(TENANT, id, alice, T0 + 1, keepOwner),
          conversations.removeMember(TENANT, id, bob, T0 + 1, keepOwner),
        ]);
        expect(tally(results)).toEqual({ removed: 1, last_owner: 1 });
        expect(await owners(id)).toHaveLength(1);
        const logged = await eventsOf(context.engine, id, { after: head });
        expect(logged.map((event) => event.type)).toEqual(['member.removed']);
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
          conversations.removeMember(TENANT, id, alice, T0 + 1, keepOwner),
          conversations.setRole(TENANT, id, bob, 'admin', T0 + 1, keepOwner),
        ]);
        expect([left === 'removed', demoted.status === 'ok'].filter(Boolean)).toHaveLength(1);
        expect([left, demoted.status]).toContain('last_owner');
        expect(await owners(id)).toHaveLength(1);
      }
    });

    it('applies to groups only: a member of a direct conversation leaves with keepOwner', async () => {
      const { conversations } = context.engine;
      const { conversation } = await conversations.getOrCreateDirect(TENANT, {
        id: 'd1' as ConversationId,
        type: 'direct',
        title: null,
        createdAt: T0,
        members: [
          { userId: alice, role: 'member' },
          { userId: bob, role: 'member' },
        ],
      });
      expect(await conversations.removeMember(TENANT, conversation.id, alice, T0 + 1, keepOwner)).toBe('removed');
    });
  });
}
