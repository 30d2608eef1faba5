/** Contract of a user's conversation list: activity order, paging, unread counts, last message. */
import { describe, expect, it } from 'vitest';
import type { ConversationId, UserId } from '../../domain/types.js';
import type { ConversationView } from '../engine.js';
import {
  alice,
  bob,
  carol,
  createGroup,
  expectEngineError,
  headOf,
  send,
  T0,
  TENANT,
  type ContractContext,
} from './fixtures.contract.js';

export function listForUserContract(context: ContractContext): void {
  async function listAll(limit: number): Promise<{ pages: ConversationView[][]; lastCursor: string | null }> {
    const pages: ConversationView[][] = [];
    let cursor: string | undefined;
    let lastCursor: string | null;
    do {
      const page = await context.engine.conversations.listForUser(
        TENANT,
        alice,
        cursor === undefined ? { limit } : { cursor, limit },
      );
      pages.push(page.items);
      lastCursor = page.nextCursor;
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined && pages.length < 100);
    return { pages, lastCursor };
  }

  const idsOf = (views: readonly ConversationView[]) => views.map((view) => view.conversation.id);

  describe('listForUser', () => {
    it('orders by last activity: the newest message, else creation; ties newer id first', async () => {
      const old = await createGroup(context.engine, 'c-old', [alice, bob], { createdAt: T0 + 1 });
      const middle = await createGroup(context.engine, 'c-middle', [alice], { createdAt: T0 + 2 });
      const tieLow = await createGroup(context.engine, 'c-tie-a', [alice], { createdAt: T0 + 3 });
      const tieHigh = await createGroup(context.engine, 'c-tie-b', [alice], { createdAt: T0 + 3 });
      expect(idsOf((await listAll(100)).pages.flat())).toEqual([tieHigh, tieLow, middle, old]);
      await send(context.engine, old, bob, { createdAt: T0 + 10 });
      expect(idsOf((await listAll(100)).pages.flat())).toEqual([old, tieHigh, tieLow, middle]);
    });

    it('pages with no duplicates and no omissions, the last page without a cursor', async () => {
      // Every third conversation has a message, newer than any creation: both kinds of activity count.
      const created: { id: ConversationId; activity: number }[] = [];
      for (let i = 0; i < 25; i += 1) {
        const id = await createGroup(context.engine, `c-${String(i).padStart(2, '0')}`, [alice, bob], { createdAt: T0 + i * 2 });
        if (i % 3 === 0) await send(context.engine, id, bob, { createdAt: T0 + 100 + i });
        created.push({ id, activity: i % 3 === 0 ? 100 + i : i * 2 });
      }
      const order = created.sort((a, b) => b.activity - a.activity).map((entry) => entry.id);
      const { pages, lastCursor } = await listAll(10);
      expect(pages.map((page) => page.length)).toEqual([10, 10, 5]);
      expect(lastCursor).toBeNull();
      expect(idsOf(pages.flat())).toEqual(order);
      const byOne = await listAll(1);
      expect(idsOf(byOne.pages.flat())).toEqual(order);
    });

    it('ends on a full last page without a cursor', async () => {
      for (let i = 0; i < 4; i += 1) await createGroup(context.engine, `c-${i}`, [alice], { createdAt: T0 + i });
      const { pages, lastCursor } = await listAll(2);
      expect(pages.map((page) => page.length)).toEqual([2, 2]);
      expect(lastCursor).toBeNull();
    });

    it('includes only conversations the user is a member of now', async () => {
      const kept = await createGroup(context.engine, 'c-kept', [alice, bob]);
      const left = await createGroup(context.engine, 'c-left', [alice, bob]);
      await createGroup(context.engine, 'c-foreign', [bob, carol]);
      await context.engine.conversations.removeMember(TENANT, left, alice, T0);
      expect(idsOf((await listAll(100)).pages.flat())).toEqual([kept]);
      expect(await context.engine.conversations.listForUser(TENANT, 'u-nobody' as UserId, { limit: 10 })).toEqual({
        items: [],
        nextCursor: null,
      });
    });

    it('carries the membership, the last message and unread = lastSeq - lastReadSeq', async () => {
      const { conversations } = context.engine;
      const id = await createGroup(context.engine, 'c1', [alice, bob]);
      const joinedEventId = await headOf(context.engine, id);
      await send(context.engine, id, bob, { text: 'one', createdAt: T0 + 1 });
      await send(context.engine, id, bob, { text: 'two', createdAt: T0 + 2 });
      const third = await send(context.engine, id, bob, { text: 'three', createdAt: T0 + 3 });
      const [view] = (await conversations.listForUser(TENANT, alice, { limit: 10 })).items;
      expect(view).toEqual({
        conversation: expect.objectContaining({ id, lastSeq: 3, lastActivityAt: T0 + 3 }),
        member: { userId: alice, role: 'owner', lastReadSeq: 0, joinedAt: T0, joinedEventId },
        lastMessage: { ...third, myReactions: [] },
        unreadCount: 3,
      });
      await conversations.markRead(TENANT, id, alice, 2, T0);
      expect((await conversations.listForUser(TENANT, alice, { limit: 10 })).items[0]?.unreadCount).toBe(1);
      expect((await conversations.listForUser(TENANT, bob, { limit: 10 })).items[0]?.unreadCount).toBe(0);
    });

    it('moves the sender own read position when sending', async () => {
      const { conversations } = context.engine;
      const id = await createGroup(context.engine, 'c1', [alice, bob]);
      await send(context.engine, id, bob);
      await send(context.engine, id, bob);
      await send(context.engine, id, alice);
      const [view] = (await conversations.listForUser(TENANT, alice, { limit: 10 })).items;
      expect(view).toMatchObject({ member: { lastReadSeq: 3 }, unreadCount: 0 });
      const [bobView] = (await conversations.listForUser(TENANT, bob, { limit: 10 })).items;
      expect(bobView).toMatchObject({ member: { lastReadSeq: 2 }, unreadCount: 1 });
    });

    it('shows a deleted last message without its text, and no last message when empty', async () => {
      const { conversations, messages } = context.engine;
      const empty = await createGroup(context.engine, 'c-empty', [alice], { createdAt: T0 });
      const id = await createGroup(context.engine, 'c-deleted', [alice], { createdAt: T0 });
      const sent = await send(context.engine, id, alice, { createdAt: T0 + 5 });
      await messages.delete(TENANT, id, sent.id, T0 + 6);
      const views = (await conversations.listForUser(TENANT, alice, { limit: 10 })).items;
      expect(views.map((view) => [view.conversation.id, view.lastMessage?.text, view.lastMessage?.deletedAt])).toEqual([
        [id, null, T0 + 6],
        [empty, undefined, undefined],
      ]);
      expect(views[1]?.lastMessage).toBeNull();
    });

    it('refuses out-of-range limits and foreign cursors', async () => {
      const { conversations } = context.engine;
      await createGroup(context.engine, 'c1', [alice]);
      await expectEngineError(conversations.listForUser(TENANT, alice, { limit: 0 }), 'invalid_argument');
      await expectEngineError(conversations.listForUser(TENANT, alice, { limit: 101 }), 'invalid_argument');
      await expectEngineError(conversations.listForUser(TENANT, alice, { cursor: '%%not a cursor%%', limit: 10 }), 'invalid_cursor');
    });
  });
}
