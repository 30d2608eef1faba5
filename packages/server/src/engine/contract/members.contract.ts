/** Contract of membership: paging in join order, adding under a cap, removal, roles, read positions. */
import { describe, expect, it } from 'vitest';
import type { ConversationEvent } from '../../domain/events.js';
import type { ConversationId, Member, UserId } from '../../domain/types.js';
import {
  alice,
  bob,
  carol,
  createGroup,
  dave,
  erin,
  expectEngineError,
  headOf,
  newMessage,
  readLog,
  send,
  T0,
  TENANT,
  userIds,
  type ContractContext,
} from './fixtures.contract.js';

export function membersContract(context: ContractContext): void {
  /** The id of the member.added event of `userId` (the latest one when there are several). */
  async function memberAddedId(id: ConversationId, userId: UserId): Promise<string | undefined> {
    const isAdded = (event: ConversationEvent) => event.type === 'member.added' && event.userId === userId;
    return (await readLog(context.engine, id)).filter((envelope) => isAdded(envelope.event)).at(-1)?.id;
  }

  async function allMembers(id: ConversationId, limit: number): Promise<{ pages: Member[][]; cursors: (string | null)[] }> {
    const pages: Member[][] = [];
    const cursors: (string | null)[] = [];
    let cursor: string | undefined;
    do {
      const page = await context.engine.conversations.listMembers(TENANT, id, cursor === undefined ? { limit } : { cursor, limit });
      pages.push(page.items);
      cursors.push(page.nextCursor);
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined && pages.length < 100);
    return { pages, cursors };
  }

  describe('members', () => {
    it('pages through members in join order, the last page without a cursor', async () => {
      const users = userIds('member', 7);
      const id = await createGroup(context.engine, 'g1', users);
      const { pages, cursors } = await allMembers(id, 3);
      expect(pages.map((page) => page.map((member) => member.userId))).toEqual([
        users.slice(0, 3),
        users.slice(3, 6),
        users.slice(6),
      ]);
      expect(cursors[0]).toEqual(expect.any(String));
      expect(cursors[2]).toBeNull();
      expect(pages[0]?.[0]).toEqual({
        userId: users[0],
        role: 'owner',
        lastReadSeq: 0,
        joinedAt: T0,
        joinedEventId: await headOf(context.engine, id),
      });
    });

    it('ends on a full last page without a cursor, and pages with limit 1 and 1000', async () => {
      const users = userIds('member', 6);
      const id = await createGroup(context.engine, 'g1', users);
      const byThree = await allMembers(id, 3);
      expect(byThree.pages.map((page) => page.length)).toEqual([3, 3]);
      expect(byThree.cursors[1]).toBeNull();
      const byOne = await allMembers(id, 1);
      expect(byOne.pages.flat().map((member) => member.userId)).toEqual(users);
      const whole = await allMembers(id, 1000);
      expect(whole.pages).toHaveLength(1);
      expect(whole.pages[0]?.map((member) => member.userId)).toEqual(users);
    });

    it('refuses out-of-range limits and foreign cursors; an unknown conversation has no members', async () => {
      const { conversations } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice, bob]);
      await expectEngineError(conversations.listMembers(TENANT, id, { limit: 0 }), 'invalid_argument');
      await expectEngineError(conversations.listMembers(TENANT, id, { limit: 1001 }), 'invalid_argument');
      await expectEngineError(conversations.listMembers(TENANT, id, { cursor: '%%not a cursor%%', limit: 10 }), 'invalid_cursor');
      expect(await conversations.listMembers(TENANT, 'nope' as ConversationId, { limit: 10 })).toEqual({
        items: [],
        nextCursor: null,
      });
    });

    it('gets the named members in the order asked, skipping outsiders', async () => {
      const id = await createGroup(context.engine, 'g1', [alice, bob, carol]);
      const members = await context.engine.conversations.getMembers(TENANT, id, [carol, dave, alice]);
      expect(members.map((member) => member.userId)).toEqual([carol, alice]);
      expect(members[1]).toMatchObject({ role: 'owner' });
      expect(await context.engine.conversations.getMembers(TENANT, 'nope' as ConversationId, [alice])).toEqual([]);
    });

    it('adds new members at the end, read up to lastSeq, and leaves existing ones as they are', async () => {
      const { conversations } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice, bob]);
      const created = await headOf(context.engine, id);
      await send(context.engine, id, bob);
      await send(context.engine, id, alice);
      const result = await conversations.addMembers(TENANT, id, [bob, carol, alice, dave, carol], 'admin', T0 + 10, 100);
      expect(result).toMatchObject({ status: 'ok', added: [carol, dave], conversation: { id, memberCount: 4 } });
      const { pages } = await allMembers(id, 100);
      expect(pages.flat()).toEqual([
        { userId: alice, role: 'owner', lastReadSeq: 2, joinedAt: T0, joinedEventId: created },
        { userId: bob, role: 'member', lastReadSeq: 1, joinedAt: T0, joinedEventId: created },
        { userId: carol, role: 'admin', lastReadSeq: 2, joinedAt: T0 + 10, joinedEventId: await memberAddedId(id, carol) },
        { userId: dave, role: 'admin', lastReadSeq: 2, joinedAt: T0 + 10, joinedEventId: await memberAddedId(id, dave) },
      ]);
      expect(await conversations.listForUser(TENANT, carol, { limit: 10 })).toMatchObject({ items: [{ unreadCount: 0 }] });
      expect(await conversations.addMembers(TENANT, 'nope' as ConversationId, [erin], 'member', T0, 100)).toEqual({
        status: 'not_found',
      });
    });

    it('adds nothing when the result would exceed maxMembers, and fills up to it exactly', async () => {
      const { conversations } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice, bob]);
      expect(await conversations.addMembers(TENANT, id, [carol, dave, erin], 'member', T0, 4)).toEqual({
        status: 'too_many_members',
      });
      expect(await conversations.get(TENANT, id)).toMatchObject({ memberCount: 2 });
      expect(await conversations.getMembers(TENANT, id, [carol, dave, erin])).toEqual([]);
      // Existing members do not count twice.
      const filled = await conversations.addMembers(TENANT, id, [alice, carol, dave], 'member', T0, 4);
      expect(filled).toMatchObject({ status: 'ok', added: [carol, dave], conversation: { memberCount: 4 } });
    });

    it('enforces maxMembers atomically against concurrent additions', async () => {
      const { conversations } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice]);
      const batches = Array.from({ length: 10 }, (_, i) => userIds(`batch${i}`, 3));
      const results = await Promise.all(batches.map((batch) => conversations.addMembers(TENANT, id, batch, 'member', T0, 7)));
      // 1 + 3 + 3 = 7: exactly two batches fit.
      expect(results.filter((result) => result.status === 'ok')).toHaveLength(2);
      expect(results.filter((result) => result.status === 'too_many_members')).toHaveLength(8);
      expect(await conversations.get(TENANT, id)).toMatchObject({ memberCount: 7 });
      const { pages } = await allMembers(id, 1000);
      expect(pages.flat()).toHaveLength(7);
    });

    it('removes a member, who then cannot post, and re-adding puts them at the end, read up to lastSeq', async () => {
      const { conversations, messages } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice, bob, carol]);
      expect(await conversations.removeMember(TENANT, id, bob, T0 + 1)).toBe('removed');
      expect(await conversations.removeMember(TENANT, id, bob, T0 + 2)).toBe('not_found');
      expect(await conversations.removeMember(TENANT, 'nope' as ConversationId, alice, T0 + 3)).toBe('not_found');
      expect(await conversations.get(TENANT, id)).toMatchObject({ memberCount: 2 });
      expect(await conversations.getWithMember(TENANT, id, bob)).toMatchObject({ member: null });
      expect(await messages.append(TENANT, id, newMessage(bob), 1000)).toEqual({ status: 'not_member' });
      for (let i = 0; i < 3; i += 1) await send(context.engine, id, alice);
      await conversations.addMembers(TENANT, id, [bob], 'member', T0 + 5, 100);
      const { pages } = await allMembers(id, 100);
      expect(pages.flat().map((member) => member.userId)).toEqual([alice, carol, bob]);
      const [again] = await conversations.getMembers(TENANT, id, [bob]);
      expect(again).toEqual({
        userId: bob,
        role: 'member',
        lastReadSeq: 3,
        joinedAt: T0 + 5,
        joinedEventId: await memberAddedId(id, bob),
      });
    });

    it('sets a role, and answers not_found for outsiders and unknown conversations', async () => {
      const { conversations } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice, bob]);
      const joinedEventId = await headOf(context.engine, id);
      const keep = { keepOwner: false };
      expect(await conversations.setRole(TENANT, id, bob, 'admin', T0 + 1, keep)).toEqual({
        status: 'ok',
        member: { userId: bob, role: 'admin', lastReadSeq: 0, joinedAt: T0, joinedEventId },
      });
      expect(await conversations.getMembers(TENANT, id, [bob])).toMatchObject([{ role: 'admin' }]);
      expect(await conversations.setRole(TENANT, id, bob, 'admin', T0 + 2, keep)).toMatchObject({ status: 'ok', member: { role: 'admin' } });
      expect(await conversations.setRole(TENANT, id, carol, 'admin', T0 + 3, keep)).toEqual({ status: 'not_found' });
      expect(await conversations.setRole(TENANT, 'nope' as ConversationId, bob, 'admin', T0 + 4, keep)).toEqual({ status: 'not_found' });
      expect(await conversations.getMembers(TENANT, id, [carol])).toEqual([]);
    });
  });

  describe('read positions', () => {
    async function readPosition(id: ConversationId, userId: UserId): Promise<number | undefined> {
      const [member] = await context.engine.conversations.getMembers(TENANT, id, [userId]);
      return member?.lastReadSeq;
    }

    it('moves forward, never backwards, and clamps to lastSeq', async () => {
      const { conversations } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice, bob]);
      for (let i = 0; i < 5; i += 1) await send(context.engine, id, alice);
      expect(await conversations.markRead(TENANT, id, bob, 3, T0)).toEqual({ lastReadSeq: 3, changed: true });
      expect(await conversations.markRead(TENANT, id, bob, 2, T0)).toEqual({ lastReadSeq: 3, changed: false });
      expect(await conversations.markRead(TENANT, id, bob, 3, T0)).toEqual({ lastReadSeq: 3, changed: false });
      expect(await readPosition(id, bob)).toBe(3);
      expect(await conversations.markRead(TENANT, id, bob, 99, T0)).toEqual({ lastReadSeq: 5, changed: true });
      expect(await readPosition(id, bob)).toBe(5);
    });

    it('answers null for outsiders and unknown conversations', async () => {
      const { conversations } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice]);
      await send(context.engine, id, alice);
      expect(await conversations.markRead(TENANT, id, bob, 1, T0)).toBeNull();
      expect(await conversations.markRead(TENANT, 'nope' as ConversationId, alice, 1, T0)).toBeNull();
    });

    it('ends at the highest of concurrent positions', async () => {
      const id = await createGroup(context.engine, 'g1', [alice, bob]);
      for (let i = 0; i < 10; i += 1) await send(context.engine, id, alice);
      const seqs = [4, 9, 2, 7, 10, 1, 3];
      await Promise.all(seqs.map((seq) => context.engine.conversations.markRead(TENANT, id, bob, seq, T0)));
      expect(await readPosition(id, bob)).toBe(10);
    });
  });
}
