/** Contract of conversation creation and lookup: groups, the one direct per pair, updates. */
import { describe, expect, it } from 'vitest';
import type { ConversationId } from '../../domain/types.js';
import { alice, bob, carol, createGroup, headOf, newDirect as direct, T0, TENANT, type ContractContext } from './fixtures.contract.js';

export function conversationsContract(context: ContractContext): void {
  describe('conversations', () => {
    it('creates a group with its members and reads it back', async () => {
      const { conversations } = context.engine;
      const id = 'g1' as ConversationId;
      const created = await conversations.createGroup(TENANT, {
        id,
        type: 'group',
        title: 'Team',
        createdAt: T0,
        members: [
          { userId: alice, role: 'owner' },
          { userId: bob, role: 'admin' },
          { userId: carol, role: 'member' },
        ],
      });
      const expected = {
        tenantId: TENANT,
        id,
        type: 'group',
        title: 'Team',
        createdAt: T0,
        lastSeq: 0,
        lastActivityAt: T0,
        memberCount: 3,
      };
      expect(created).toEqual(expected);
      expect(await conversations.get(TENANT, id)).toEqual(expected);
      expect(await conversations.getWithMember(TENANT, id, bob)).toEqual({
        conversation: expected,
        member: { userId: bob, role: 'admin', lastReadSeq: 0, joinedAt: T0, joinedEventId: await headOf(context.engine, id) },
        mute: null,
        otherMember: null,
      });
    });

    it('answers null for unknown conversations and a null member for outsiders', async () => {
      const { conversations } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice, bob]);
      expect(await conversations.get(TENANT, 'nope' as ConversationId)).toBeNull();
      expect(await conversations.getWithMember(TENANT, 'nope' as ConversationId, alice)).toBeNull();
      expect(await conversations.getWithMember(TENANT, id, carol)).toMatchObject({ conversation: { id }, member: null });
    });

    it('updates the title, and answers null for an unknown conversation', async () => {
      const { conversations } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice]);
      expect(await conversations.update(TENANT, id, { title: 'Renamed' }, T0 + 1)).toMatchObject({ id, title: 'Renamed' });
      expect(await conversations.get(TENANT, id)).toMatchObject({ title: 'Renamed', memberCount: 1 });
      expect(await conversations.update(TENANT, id, {}, T0 + 2)).toMatchObject({ title: 'Renamed' });
      expect(await conversations.update(TENANT, 'nope' as ConversationId, { title: 'x' }, T0 + 3)).toBeNull();
      expect(await conversations.get(TENANT, 'nope' as ConversationId)).toBeNull();
    });

    it('returns copies: changing a returned conversation changes nothing stored', async () => {
      const { conversations } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice, bob]);
      const seen = await conversations.getWithMember(TENANT, id, bob);
      if (!seen?.member) throw new Error('expected a membership');
      seen.conversation.title = 'mutated';
      seen.conversation.memberCount = 99;
      seen.member.role = 'owner';
      expect(await conversations.getWithMember(TENANT, id, bob)).toMatchObject({
        conversation: { title: 'group g1', memberCount: 2 },
        member: { role: 'member' },
      });
    });

    it('creates one direct conversation per pair, whichever user asks', async () => {
      const { conversations } = context.engine;
      const first = await conversations.getOrCreateDirect(TENANT, direct('d1', alice, bob));
      expect(first).toEqual({
        created: true,
        conversation: {
          tenantId: TENANT,
          id: 'd1',
          type: 'direct',
          title: null,
          createdAt: T0,
          lastSeq: 0,
          lastActivityAt: T0,
          memberCount: 2,
        },
      });
      const again = await conversations.getOrCreateDirect(TENANT, direct('d2', alice, bob));
      const reversed = await conversations.getOrCreateDirect(TENANT, direct('d3', bob, alice));
      expect(again).toEqual({ created: false, conversation: first.conversation });
      expect(reversed).toEqual({ created: false, conversation: first.conversation });
      expect(await conversations.get(TENANT, 'd2' as ConversationId)).toBeNull();
      expect(await conversations.get(TENANT, 'd3' as ConversationId)).toBeNull();
      const members = await conversations.getMembers(TENANT, 'd1' as ConversationId, [alice, bob]);
      expect(members.map((member) => [member.userId, member.role])).toEqual([
        [alice, 'member'],
        [bob, 'member'],
      ]);
    });

    it('keeps different pairs apart', async () => {
      const { conversations } = context.engine;
      const ab = await conversations.getOrCreateDirect(TENANT, direct('d-ab', alice, bob));
      const ac = await conversations.getOrCreateDirect(TENANT, direct('d-ac', alice, carol));
      expect(ab.created && ac.created).toBe(true);
      expect(ab.conversation.id).not.toBe(ac.conversation.id);
    });

    it('gives concurrent callers of one pair, in either order, the same single conversation', async () => {
      const { conversations } = context.engine;
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          conversations.getOrCreateDirect(TENANT, i % 2 === 0 ? direct(`d${i}`, alice, bob) : direct(`d${i}`, bob, alice)),
        ),
      );
      expect(new Set(results.map((result) => result.conversation.id)).size).toBe(1);
      expect(results.filter((result) => result.created)).toHaveLength(1);
      const page = await conversations.listForUser(TENANT, alice, { limit: 100 });
      expect(page.items).toHaveLength(1);
    });
  });
}
