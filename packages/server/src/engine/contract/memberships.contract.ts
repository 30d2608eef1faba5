/** Contract of a user's membership list (what a realtime connection follows) and membership counts. */
import { describe, expect, it } from 'vitest';
import type { ConversationId } from '../../domain/types.js';
import type { Membership } from '../engine.js';
import { MAX_MEMBERSHIPS_LISTED } from '../engine.js';
import { alice, bob, carol, createGroup, expectEngineError, OTHER_TENANT, T0, TENANT, type ContractContext } from './fixtures.contract.js';

export function membershipsContract(context: ContractContext): void {
  const sorted = (memberships: Membership[]) => [...memberships].sort((a, b) => (a.conversationId < b.conversationId ? -1 : 1));

  describe('listMemberships and countMemberships', () => {
    it('lists every conversation of the user once, with the event that made them a member', async () => {
      const { engine } = context;
      const first = await createGroup(engine, 'm-first', [alice, bob]);
      const second = await createGroup(engine, 'm-second', [bob]);
      await createGroup(engine, 'm-not-alice', [bob, carol]);
      const added = await engine.conversations.addMembers(TENANT, second, [alice], 'member', T0 + 1, 100);
      expect(added.status).toBe('ok');
      const [createdOfFirst] = (await engine.events.read(TENANT, first, null, 1)).events;
      const log = (await engine.events.read(TENANT, second, null, 10)).events;
      const aliceAdded = log.find(({ event }) => event.type === 'member.added' && event.userId === alice);

      expect(sorted(await engine.conversations.listMemberships(TENANT, alice, 100))).toEqual([
        { conversationId: first, joinedEventId: createdOfFirst!.id },
        { conversationId: second, joinedEventId: aliceAdded!.id },
      ]);
      expect(await engine.conversations.countMemberships(TENANT, [alice, bob, carol, 'u-nobody' as never])).toEqual([2, 3, 1, 0]);
    });

    it('forgets a conversation the user left, and follows them back in with the new join', async () => {
      const { engine } = context;
      const id = await createGroup(engine, 'm-left', [bob, alice]);
      expect(await engine.conversations.removeMember(TENANT, id, alice, T0 + 1)).toBe('removed');
      expect(await engine.conversations.listMemberships(TENANT, alice, 100)).toEqual([]);
      expect(await engine.conversations.countMemberships(TENANT, [alice])).toEqual([0]);
      await engine.conversations.addMembers(TENANT, id, [alice], 'member', T0 + 2, 100);
      const [membership] = await engine.conversations.listMemberships(TENANT, alice, 100);
      const [member] = await engine.conversations.getMembers(TENANT, id, [alice]);
      expect(membership).toEqual({ conversationId: id, joinedEventId: member!.joinedEventId });
    });

    it('returns at most `limit`, each a real membership, and refuses a limit out of range', async () => {
      const { engine } = context;
      const ids: ConversationId[] = [];
      for (let i = 0; i < 5; i++) ids.push(await createGroup(engine, `m-many-${i}`, [alice]));
      const three = await engine.conversations.listMemberships(TENANT, alice, 3);
      expect(three).toHaveLength(3);
      for (const { conversationId } of three) expect(ids).toContain(conversationId);
      expect(new Set(three.map((m) => m.conversationId)).size).toBe(3);
      await expectEngineError(engine.conversations.listMemberships(TENANT, alice, 0), 'invalid_argument');
      await expectEngineError(engine.conversations.listMemberships(TENANT, alice, MAX_MEMBERSHIPS_LISTED + 1), 'invalid_argument');
    });

    it('keeps tenants apart', async () => {
      const { engine } = context;
      await createGroup(engine, 'm-tenant', [alice]);
      expect(await engine.conversations.listMemberships(OTHER_TENANT, alice, 100)).toEqual([]);
      expect(await engine.conversations.countMemberships(OTHER_TENANT, [alice])).toEqual([0]);
    });
  });
}
