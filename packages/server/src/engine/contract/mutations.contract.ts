/** Contract of changing stored messages: edits, tombstone deletes and reactions. */
import { describe, expect, it } from 'vitest';
import type { ConversationId, Message, MessageId, UserId } from '../../domain/types.js';
import { alice, bob, carol, createGroup, send, T0, TENANT, userIds, type ContractContext } from './fixtures.contract.js';

const roomy = { maxEmojiPerMessage: 20, maxReactionsPerUser: 20 };

export function mutationsContract(context: ContractContext): void {
  async function groupWithMessage(): Promise<{ id: ConversationId; message: Message }> {
    const id = await createGroup(context.engine, 'g1', [alice, bob, carol]);
    const message = await send(context.engine, id, alice, { text: 'original' });
    return { id, message };
  }

  function react(id: ConversationId, messageId: MessageId, userId: UserId, emoji: string, add = true, limits = roomy) {
    return context.engine.messages.react(TENANT, id, messageId, userId, emoji, add, limits, T0 + 1);
  }

  describe('edit', () => {
    it('replaces the text and sets editedAt, keeping seq and reactions', async () => {
      const { messages } = context.engine;
      const { id, message } = await groupWithMessage();
      await react(id, message.id, bob, '👍');
      const result = await messages.edit(TENANT, id, message.id, 'changed', T0 + 50, bob);
      const expected = { ...message, text: 'changed', editedAt: T0 + 50, reactions: { '👍': 1 }, myReactions: ['👍'] };
      expect(result).toEqual({ status: 'ok', message: expected });
      expect(await messages.get(TENANT, id, message.id, bob)).toEqual(expected);
    });

    it('answers not_found for unknown messages and deleted for deleted ones', async () => {
      const { messages } = context.engine;
      const { id, message } = await groupWithMessage();
      expect(await messages.edit(TENANT, id, 'm-missing' as MessageId, 'x', T0, null)).toEqual({ status: 'not_found' });
      expect(await messages.edit(TENANT, 'nope' as ConversationId, message.id, 'x', T0, null)).toEqual({
        status: 'not_found',
      });
      await messages.delete(TENANT, id, message.id, T0 + 1);
      expect(await messages.edit(TENANT, id, message.id, 'revived', T0 + 2, null)).toEqual({ status: 'deleted' });
      expect(await messages.get(TENANT, id, message.id, null)).toMatchObject({ text: null, editedAt: null });
    });
  });

  describe('delete', () => {
    it('tombstones the message: no text, deletedAt set, reactions cleared, seq kept', async () => {
      const { messages } = context.engine;
      const { id, message } = await groupWithMessage();
      await react(id, message.id, bob, '🎉');
      const later = await send(context.engine, id, bob);
      const deleted = await messages.delete(TENANT, id, message.id, T0 + 9);
      const expected = { ...message, text: null, deletedAt: T0 + 9, reactions: {}, myReactions: [] };
      expect(deleted).toEqual(expected);
      expect(await messages.get(TENANT, id, message.id, bob)).toEqual(expected);
      const history = await messages.history(TENANT, id, { limit: 10 }, null);
      expect(history.items.map((item) => [item.seq, item.text])).toEqual([
        [1, null],
        [2, later.text],
      ]);
      expect(await context.engine.conversations.get(TENANT, id)).toMatchObject({ lastSeq: 2 });
    });

    it('is idempotent and answers null for unknown messages', async () => {
      const { messages } = context.engine;
      const { id, message } = await groupWithMessage();
      const first = await messages.delete(TENANT, id, message.id, T0 + 9);
      expect(await messages.delete(TENANT, id, message.id, T0 + 99)).toEqual(first);
      expect(await messages.delete(TENANT, id, 'm-missing' as MessageId, T0)).toBeNull();
      expect(await messages.delete(TENANT, 'nope' as ConversationId, message.id, T0)).toBeNull();
    });
  });

  /**
   * The reactions of a message as `viewer` sees them, compared whole with toEqual (toMatchObject
   * would let a leftover emoji with a count of 0 slip through). myReactions is sorted: the
   * interface promises no order for it.
   */
  async function reactionsSeenBy(id: ConversationId, messageId: MessageId, viewer: UserId | null) {
    const message = await context.engine.messages.get(TENANT, id, messageId, viewer);
    return message && { reactions: message.reactions, myReactions: [...message.myReactions].sort() };
  }

  describe('reactions', () => {
    it('counts each user once per emoji and shows each viewer their own', async () => {
      const { id, message } = await groupWithMessage();
      const first = await react(id, message.id, bob, '👍');
      expect(first).toEqual({ status: 'ok', changed: true, message: { ...message, reactions: { '👍': 1 }, myReactions: ['👍'] } });
      const repeated = await react(id, message.id, bob, '👍');
      expect(repeated).toEqual({ status: 'ok', changed: false, message: { ...message, reactions: { '👍': 1 }, myReactions: ['👍'] } });
      await react(id, message.id, carol, '👍');
      await react(id, message.id, carol, '❤️');
      const counts = { '👍': 2, '❤️': 1 };
      expect(await reactionsSeenBy(id, message.id, carol)).toEqual({ reactions: counts, myReactions: ['❤️', '👍'].sort() });
      expect(await reactionsSeenBy(id, message.id, bob)).toEqual({ reactions: counts, myReactions: ['👍'] });
      expect(await reactionsSeenBy(id, message.id, alice)).toEqual({ reactions: counts, myReactions: [] });
      expect(await reactionsSeenBy(id, message.id, null)).toEqual({ reactions: counts, myReactions: [] });
      const [fromHistory] = (await context.engine.messages.history(TENANT, id, { limit: 1 }, bob)).items;
      expect(fromHistory && [fromHistory.reactions, fromHistory.myReactions]).toEqual([counts, ['👍']]);
    });

    it('removes a reaction, dropping an emoji nobody uses any more; removing twice changes nothing', async () => {
      const { id, message } = await groupWithMessage();
      await react(id, message.id, bob, '👍');
      await react(id, message.id, carol, '👍');
      await react(id, message.id, bob, '🔥');
      const removed = await react(id, message.id, bob, '🔥', false);
      expect(removed).toEqual({ status: 'ok', changed: true, message: { ...message, reactions: { '👍': 2 }, myReactions: ['👍'] } });
      const unliked = await react(id, message.id, bob, '👍', false);
      expect(unliked).toEqual({ status: 'ok', changed: true, message: { ...message, reactions: { '👍': 1 }, myReactions: [] } });
      await react(id, message.id, carol, '👍', false);
      const again = await react(id, message.id, bob, '👍', false);
      expect(again).toEqual({ status: 'ok', changed: false, message: { ...message, reactions: {}, myReactions: [] } });
      expect(await reactionsSeenBy(id, message.id, null)).toEqual({ reactions: {}, myReactions: [] });
    });

    it('refuses a new emoji beyond maxEmojiPerMessage but accepts joining an existing one', async () => {
      const { id, message } = await groupWithMessage();
      const limits = { maxEmojiPerMessage: 2, maxReactionsPerUser: 10 };
      await react(id, message.id, bob, 'a', true, limits);
      await react(id, message.id, carol, 'b', true, limits);
      expect(await react(id, message.id, alice, 'c', true, limits)).toEqual({ status: 'too_many_reactions' });
      expect(await react(id, message.id, alice, 'a', true, limits)).toMatchObject({ status: 'ok', changed: true });
      expect(await reactionsSeenBy(id, message.id, alice)).toEqual({ reactions: { a: 2, b: 1 }, myReactions: ['a'] });
    });

    it('refuses a user more than maxReactionsPerUser, re-adding one they have is fine', async () => {
      const { id, message } = await groupWithMessage();
      const limits = { maxEmojiPerMessage: 10, maxReactionsPerUser: 2 };
      await react(id, message.id, bob, 'a', true, limits);
      await react(id, message.id, bob, 'b', true, limits);
      expect(await react(id, message.id, bob, 'c', true, limits)).toEqual({ status: 'too_many_reactions' });
      expect(await react(id, message.id, bob, 'a', true, limits)).toMatchObject({ status: 'ok', changed: false });
      expect(await react(id, message.id, carol, 'c', true, limits)).toMatchObject({ status: 'ok', changed: true });
      expect(await reactionsSeenBy(id, message.id, bob)).toEqual({ reactions: { a: 1, b: 1, c: 1 }, myReactions: ['a', 'b'] });
    });

    it('answers deleted for a deleted message and not_found for an unknown one', async () => {
      const { id, message } = await groupWithMessage();
      expect(await react(id, 'm-missing' as MessageId, bob, '👍')).toEqual({ status: 'not_found' });
      expect(await react('nope' as ConversationId, message.id, bob, '👍')).toEqual({ status: 'not_found' });
      await context.engine.messages.delete(TENANT, id, message.id, T0 + 1);
      expect(await react(id, message.id, bob, '👍')).toEqual({ status: 'deleted' });
      expect(await react(id, message.id, bob, '👍', false)).toEqual({ status: 'deleted' });
      expect(await reactionsSeenBy(id, message.id, bob)).toEqual({ reactions: {}, myReactions: [] });
    });

    it('counts every one of many concurrent reactions', async () => {
      const { id, message } = await groupWithMessage();
      const reactors = userIds('fan', 50);
      const results = await Promise.all(reactors.map((userId) => react(id, message.id, userId, '🎉')));
      expect(results.every((result) => result.status === 'ok' && result.changed)).toBe(true);
      expect(await reactionsSeenBy(id, message.id, reactors[0] ?? null)).toEqual({ reactions: { '🎉': 50 }, myReactions: ['🎉'] });
    });

    it('returns copies: changing a returned message changes nothing stored', async () => {
      const { messages } = context.engine;
      const { id, message } = await groupWithMessage();
      await react(id, message.id, bob, '👍');
      const fetched = await messages.get(TENANT, id, message.id, bob);
      if (!fetched) throw new Error('expected the message');
      fetched.text = 'mutated';
      fetched.reactions['👍'] = 99;
      fetched.myReactions.push('🔥');
      expect(await messages.get(TENANT, id, message.id, bob)).toEqual({ ...message, reactions: { '👍': 1 }, myReactions: ['👍'] });
    });
  });
}
