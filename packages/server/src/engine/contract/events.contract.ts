/**
 * Contract of conversation event logs and inboxes: exactly which event each change logs (and
 * that a change of nothing logs nothing), ids and order, reading after an id, heads.
 */
import { describe, expect, it } from 'vitest';
import { endOfMillisecond, type ConversationEvent, type EventId } from '../../domain/events.js';
import type { ConversationId, MessageId, UserId } from '../../domain/types.js';
import {
  alice,
  bob,
  carol,
  createGroup,
  dave,
  DEFAULT_TTL_MS,
  eventsOf,
  expectEngineError,
  expectOrderedLog,
  headOf,
  newMessage,
  OTHER_TENANT,
  range,
  readLog,
  send,
  T0,
  TENANT,
  type ContractContext,
} from './fixtures.contract.js';

const roomy = { maxEmojiPerMessage: 20, maxReactionsPerUser: 20 };
const keep = { keepOwner: false };

export function eventsContract(context: ContractContext): void {
  /** The events logged after the log's current head, once `change` ran. */
  async function loggedBy(id: ConversationId, change: () => Promise<unknown>): Promise<ConversationEvent[]> {
    const before = await headOf(context.engine, id);
    await change();
    return eventsOf(context.engine, id, { after: before });
  }

  describe('event log: what each change logs', () => {
    it('logs conversation.created with the new group at its creation time; it made the members members', async () => {
      const { conversations, events } = context.engine;
      const id = 'g1' as ConversationId;
      const created = await conversations.createGroup(TENANT, {
        id,
        type: 'group',
        title: 'Team',
        createdAt: T0 + 5,
        members: [
          { userId: alice, role: 'owner' },
          { userId: bob, role: 'member' },
        ],
      });
      const log = await readLog(context.engine, id);
      expect(log).toEqual([
        { id: expect.any(String), at: T0 + 5, event: { type: 'conversation.created', conversationId: id, conversation: created } },
      ]);
      expectOrderedLog(log);
      const createdId = log[0]?.id;
      const members = await conversations.getMembers(TENANT, id, [alice, bob]);
      expect(members.map((member) => member.joinedEventId)).toEqual([createdId, createdId]);
      expect(await events.heads(TENANT, [id])).toEqual([createdId]);
    });

    it('logs conversation.created for a direct conversation only when it creates it', async () => {
      const { conversations } = context.engine;
      const direct = (id: string) => ({
        id: id as ConversationId,
        type: 'direct' as const,
        title: null,
        createdAt: T0,
        members: [
          { userId: alice, role: 'member' as const },
          { userId: bob, role: 'member' as const },
        ],
      });
      const first = await conversations.getOrCreateDirect(TENANT, direct('d1'));
      const again = await conversations.getOrCreateDirect(TENANT, { ...direct('d2'), createdAt: T0 + 1 });
      expect([first.created, again.created]).toEqual([true, false]);
      const log = await readLog(context.engine, first.conversation.id);
      expect(log.map((envelope) => envelope.event)).toEqual([
        { type: 'conversation.created', conversationId: 'd1', conversation: first.conversation },
      ]);
      const members = await conversations.getMembers(TENANT, first.conversation.id, [alice, bob]);
      expect(members.map((member) => member.joinedEventId)).toEqual([log[0]?.id, log[0]?.id]);
      expect(await context.engine.events.heads(TENANT, ['d2' as ConversationId])).toEqual([null]);
    });

    it('logs conversation.updated with the updated conversation, and nothing when nothing changes', async () => {
      const { conversations } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice, bob]);
      const before = await headOf(context.engine, id);
      const updated = await conversations.update(TENANT, id, { title: 'Renamed' }, T0 + 10);
      await conversations.update(TENANT, id, {}, T0 + 11);
      await conversations.update(TENANT, id, { title: 'Renamed' }, T0 + 12);
      await conversations.update(TENANT, 'nope' as ConversationId, { title: 'x' }, T0 + 13);
      const log = await readLog(context.engine, id, { after: before });
      expect(log).toEqual([
        { id: expect.any(String), at: T0 + 10, event: { type: 'conversation.updated', conversationId: id, conversation: updated } },
      ]);
      expect(updated).toMatchObject({ title: 'Renamed', memberCount: 2 });
      expect(await context.engine.events.heads(TENANT, ['nope' as ConversationId])).toEqual([null]);
    });

    it('logs one member.added per added user, in the order asked; each is that member’s joinedEventId', async () => {
      const { conversations } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice, bob]);
      const before = await headOf(context.engine, id);
      const result = await conversations.addMembers(TENANT, id, [dave, bob, carol, dave], 'admin', T0 + 20, 100);
      expect(result).toMatchObject({ status: 'ok', added: [dave, carol] });
      const log = await readLog(context.engine, id, { after: before });
      expect(log).toEqual([
        { id: expect.any(String), at: T0 + 20, event: { type: 'member.added', conversationId: id, userId: dave, role: 'admin' } },
        { id: expect.any(String), at: T0 + 20, event: { type: 'member.added', conversationId: id, userId: carol, role: 'admin' } },
      ]);
      expectOrderedLog(log);
      const members = await conversations.getMembers(TENANT, id, [dave, carol, bob]);
      expect(members.map((member) => member.joinedEventId)).toEqual([log[0]?.id, log[1]?.id, before]);
    });

    it('logs nothing when addMembers adds nobody, refuses, or finds no conversation', async () => {
      const { conversations } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice, bob]);
      const logged = await loggedBy(id, async () => {
        expect(await conversations.addMembers(TENANT, id, [alice, bob], 'member', T0 + 1, 100)).toMatchObject({ added: [] });
        expect(await conversations.addMembers(TENANT, id, [carol, dave], 'member', T0 + 2, 3)).toEqual({
          status: 'too_many_members',
        });
      });
      expect(logged).toEqual([]);
      await conversations.addMembers(TENANT, 'nope' as ConversationId, [carol], 'member', T0 + 3, 100);
      expect(await context.engine.events.heads(TENANT, ['nope' as ConversationId])).toEqual([null]);
    });

    it('logs member.removed with the role the member had, and nothing when absent', async () => {
      const { conversations } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice, bob, carol]);
      await conversations.setRole(TENANT, id, carol, 'admin', T0 + 1, keep);
      const before = await headOf(context.engine, id);
      expect(await conversations.removeMember(TENANT, id, carol, T0 + 30)).toBe('removed');
      expect(await conversations.removeMember(TENANT, id, bob, T0 + 31)).toBe('removed');
      expect(await conversations.removeMember(TENANT, id, bob, T0 + 32)).toBe('not_found');
      expect(await conversations.removeMember(TENANT, id, dave, T0 + 33)).toBe('not_found');
      const log = await readLog(context.engine, id, { after: before });
      expect(log).toEqual([
        { id: expect.any(String), at: T0 + 30, event: { type: 'member.removed', conversationId: id, userId: carol, role: 'admin' } },
        { id: expect.any(String), at: T0 + 31, event: { type: 'member.removed', conversationId: id, userId: bob, role: 'member' } },
      ]);
    });

    it('logs member.updated with the new role when it changes, and nothing when it stays', async () => {
      const { conversations } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice, bob]);
      const before = await headOf(context.engine, id);
      await conversations.setRole(TENANT, id, bob, 'admin', T0 + 40, keep);
      await conversations.setRole(TENANT, id, bob, 'admin', T0 + 41, keep);
      await conversations.setRole(TENANT, id, alice, 'owner', T0 + 42, keep);
      await conversations.setRole(TENANT, id, carol, 'admin', T0 + 43, keep);
      await conversations.setRole(TENANT, id, bob, 'member', T0 + 44, keep);
      const log = await readLog(context.engine, id, { after: before });
      expect(log).toEqual([
        { id: expect.any(String), at: T0 + 40, event: { type: 'member.updated', conversationId: id, userId: bob, role: 'admin' } },
        { id: expect.any(String), at: T0 + 44, event: { type: 'member.updated', conversationId: id, userId: bob, role: 'member' } },
      ]);
    });

    it('logs read with the resulting position when it moves, and nothing when it does not', async () => {
      const { conversations } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice, bob]);
      for (let i = 0; i < 5; i += 1) await send(context.engine, id, alice);
      const before = await headOf(context.engine, id);
      await conversations.markRead(TENANT, id, bob, 3, T0 + 50);
      await conversations.markRead(TENANT, id, bob, 2, T0 + 51);
      await conversations.markRead(TENANT, id, bob, 3, T0 + 52);
      await conversations.markRead(TENANT, id, bob, 99, T0 + 53);
      await conversations.markRead(TENANT, id, bob, 99, T0 + 54);
      await conversations.markRead(TENANT, id, carol, 1, T0 + 55);
      const log = await readLog(context.engine, id, { after: before });
      expect(log).toEqual([
        { id: expect.any(String), at: T0 + 50, event: { type: 'read', conversationId: id, userId: bob, seq: 3 } },
        { id: expect.any(String), at: T0 + 53, event: { type: 'read', conversationId: id, userId: bob, seq: 5 } },
      ]);
    });

    it('logs message.created with the message as stored, and nothing for duplicates or refused appends', async () => {
      const { messages } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice, bob]);
      const before = await headOf(context.engine, id);
      const input = newMessage(alice, { text: 'first', createdAt: T0 + 60, clientMessageId: 'k1' });
      const created = await messages.append(TENANT, id, input, DEFAULT_TTL_MS);
      if (created.status !== 'created') throw new Error(created.status);
      const system = await send(context.engine, id, null, { text: 'system', createdAt: T0 + 61 });
      const refusals = [
        newMessage(alice, { clientMessageId: 'k1', createdAt: T0 + 62 }),
        newMessage(carol, { createdAt: T0 + 63 }),
        newMessage(alice, { replyTo: 'm-missing' as MessageId, createdAt: T0 + 64 }),
      ];
      for (const refused of refusals) {
        expect((await messages.append(TENANT, id, refused, DEFAULT_TTL_MS)).status).not.toBe('created');
      }
      const log = await readLog(context.engine, id, { after: before });
      // The sender's read position moves with the send: that is part of message.created, not a `read`.
      expect(log).toEqual([
        { id: expect.any(String), at: T0 + 60, event: { type: 'message.created', conversationId: id, message: created.message } },
        { id: expect.any(String), at: T0 + 61, event: { type: 'message.created', conversationId: id, message: system } },
      ]);
      expect(created.message.myReactions).toEqual([]);
    });

    it('logs message.updated with the edited message as nobody in particular sees it', async () => {
      const { messages } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice, bob]);
      const message = await send(context.engine, id, alice, { text: 'original' });
      await messages.react(TENANT, id, message.id, bob, '👍', true, roomy, T0 + 1);
      const before = await headOf(context.engine, id);
      const edited = await messages.edit(TENANT, id, message.id, 'changed', T0 + 70, bob);
      expect(edited).toMatchObject({ status: 'ok', message: { myReactions: ['👍'] } });
      await messages.edit(TENANT, id, 'm-missing' as MessageId, 'x', T0 + 71, null);
      const expected = { ...message, text: 'changed', editedAt: T0 + 70, reactions: { '👍': 1 }, myReactions: [] };
      expect(await readLog(context.engine, id, { after: before })).toEqual([
        { id: expect.any(String), at: T0 + 70, event: { type: 'message.updated', conversationId: id, message: expected } },
      ]);
      await messages.delete(TENANT, id, message.id, T0 + 72);
      const afterDelete = await headOf(context.engine, id);
      expect(await messages.edit(TENANT, id, message.id, 'revived', T0 + 73, null)).toEqual({ status: 'deleted' });
      expect(await eventsOf(context.engine, id, { after: afterDelete })).toEqual([]);
    });

    it('logs message.deleted with the tombstone the first time only', async () => {
      const { messages } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice, bob]);
      const message = await send(context.engine, id, alice, { text: 'original' });
      await messages.react(TENANT, id, message.id, bob, '🎉', true, roomy, T0 + 1);
      const before = await headOf(context.engine, id);
      await messages.delete(TENANT, id, message.id, T0 + 80);
      await messages.delete(TENANT, id, message.id, T0 + 81);
      await messages.delete(TENANT, id, 'm-missing' as MessageId, T0 + 82);
      const tombstone = { ...message, text: null, deletedAt: T0 + 80, reactions: {}, myReactions: [] };
      expect(await readLog(context.engine, id, { after: before })).toEqual([
        { id: expect.any(String), at: T0 + 80, event: { type: 'message.deleted', conversationId: id, message: tombstone } },
      ]);
    });

    it('logs reaction.added and reaction.removed only when something changed', async () => {
      const { messages } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice, bob]);
      const message = await send(context.engine, id, alice);
      const react = (userId: UserId, emoji: string, add: boolean, at: number, limits = roomy) =>
        messages.react(TENANT, id, message.id, userId, emoji, add, limits, at);
      const before = await headOf(context.engine, id);
      await react(bob, '👍', true, T0 + 90);
      await react(bob, '👍', true, T0 + 91);
      await react(bob, '🔥', false, T0 + 92);
      expect(await react(bob, '🔥', true, T0 + 93, { maxEmojiPerMessage: 1, maxReactionsPerUser: 5 })).toEqual({
        status: 'too_many_reactions',
      });
      await react(bob, '👍', false, T0 + 94);
      await react(bob, '👍', false, T0 + 95);
      const reaction = { conversationId: id, messageId: message.id, emoji: '👍', userId: bob };
      expect(await readLog(context.engine, id, { after: before })).toEqual([
        { id: expect.any(String), at: T0 + 90, event: { type: 'reaction.added', ...reaction } },
        { id: expect.any(String), at: T0 + 94, event: { type: 'reaction.removed', ...reaction } },
      ]);
      await messages.delete(TENANT, id, message.id, T0 + 96);
      const afterDelete = await headOf(context.engine, id);
      expect(await react(bob, '👍', true, T0 + 97)).toEqual({ status: 'deleted' });
      expect(await eventsOf(context.engine, id, { after: afterDelete })).toEqual([]);
    });
  });

  describe('event log: ids, order and reading', () => {
    it('gives strictly increasing ids; `at` is the time of the change, never decreasing', async () => {
      const { conversations } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice, bob], { createdAt: T0 + 100 });
      // Earlier than the previous event: logged at the previous event's time, after it.
      await conversations.update(TENANT, id, { title: 'earlier' }, T0 + 50);
      await send(context.engine, id, alice, { createdAt: T0 + 100 });
      await send(context.engine, id, bob, { createdAt: T0 + 99 });
      await conversations.markRead(TENANT, id, alice, 2, T0 + 200);
      const log = await readLog(context.engine, id);
      expect(log.map((envelope) => [envelope.event.type, envelope.at])).toEqual([
        ['conversation.created', T0 + 100],
        ['conversation.updated', T0 + 100],
        ['message.created', T0 + 100],
        ['message.created', T0 + 100],
        ['read', T0 + 200],
      ]);
      expectOrderedLog(log);
      expect(new Set(log.map((envelope) => envelope.id)).size).toBe(5);
    });

    it('reads after an id (exclusive) in pages of at most limit', async () => {
      const { events } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice]);
      for (let i = 1; i <= 9; i += 1) await send(context.engine, id, alice, { createdAt: T0 + i });
      const whole = await events.read(TENANT, id, null, 1000);
      expect(whole.trimmed).toBe(false);
      expect(whole.events.map((envelope) => envelope.event.type)).toEqual([
        'conversation.created',
        ...Array.from({ length: 9 }, () => 'message.created'),
      ]);
      expectOrderedLog(whole.events);
      const ids = whole.events.map((envelope) => envelope.id);
      const first = await events.read(TENANT, id, null, 3);
      expect(first).toEqual({ events: whole.events.slice(0, 3), trimmed: false });
      const second = await events.read(TENANT, id, ids[2] ?? null, 3);
      expect(second).toEqual({ events: whole.events.slice(3, 6), trimmed: false });
      expect((await events.read(TENANT, id, ids[8] ?? null, 3)).events).toEqual(whole.events.slice(9));
      expect(await events.read(TENANT, id, ids[9] ?? null, 3)).toEqual({ events: [], trimmed: false });
      expect((await events.read(TENANT, id, ids[0] ?? null, 1)).events.map((envelope) => envelope.id)).toEqual([ids[1]]);
      // Paged one by one, the log comes out whole and in order.
      expect(await readLog(context.engine, id, { pageSize: 1 })).toEqual(whole.events);
      // endOfMillisecond: every event after the events of that millisecond.
      const later = await events.read(TENANT, id, endOfMillisecond(T0 + 4), 1000);
      expect(later.events.map((envelope) => envelope.at)).toEqual([T0 + 5, T0 + 6, T0 + 7, T0 + 8, T0 + 9]);
    });

    it('refuses limits outside 1..1000 and an `after` that is not an event id', async () => {
      const { events } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice]);
      for (const limit of [0, 1001, 1.5, -1]) {
        await expectEngineError(events.read(TENANT, id, null, limit), 'invalid_argument');
        await expectEngineError(events.readInbox(TENANT, alice, null, limit), 'invalid_argument');
      }
      await expectEngineError(events.read(TENANT, id, 'not-an-id' as EventId, 10), 'invalid_argument');
      await expectEngineError(events.readInbox(TENANT, alice, 'x' as EventId, 10), 'invalid_argument');
      expect((await events.read(TENANT, id, null, 1000)).events).toHaveLength(1);
      expect((await events.read(TENANT, id, null, 1)).events).toHaveLength(1);
    });

    it('answers heads in order, null for unknown conversations; reads nothing from them or another tenant', async () => {
      const { events } = context.engine;
      const first = await createGroup(context.engine, 'g1', [alice]);
      const second = await createGroup(context.engine, 'g2', [alice]);
      await send(context.engine, second, alice);
      const [firstHead, secondHead] = [await headOf(context.engine, first), await headOf(context.engine, second)];
      expect(firstHead).not.toBe(secondHead);
      expect(await events.heads(TENANT, [second, 'nope' as ConversationId, first])).toEqual([secondHead, null, firstHead]);
      expect(await events.heads(TENANT, [])).toEqual([]);
      expect(await events.heads(OTHER_TENANT, [first, second])).toEqual([null, null]);
      expect(await events.read(OTHER_TENANT, first, null, 10)).toEqual({ events: [], trimmed: false });
      expect(await events.read(TENANT, 'nope' as ConversationId, null, 10)).toEqual({ events: [], trimmed: false });
      // The same id in another tenant has a log of its own.
      await createGroup(context.engine, 'g1', [bob], { tenantId: OTHER_TENANT, createdAt: T0 + 7 });
      expect(await eventsOf(context.engine, first, { tenantId: OTHER_TENANT })).toEqual([
        { type: 'conversation.created', conversationId: first, conversation: expect.objectContaining({ tenantId: OTHER_TENANT }) },
      ]);
      expect(await eventsOf(context.engine, first)).toEqual([
        { type: 'conversation.created', conversationId: first, conversation: expect.objectContaining({ tenantId: TENANT }) },
      ]);
    });

    it('logs 200 concurrent appends as message.created in seq order', async () => {
      const id = await createGroup(context.engine, 'g1', [alice, bob, carol]);
      const senders = [alice, bob, carol];
      const before = await headOf(context.engine, id);
      const results = await Promise.all(
        range(1, 200).map((i) =>
          context.engine.messages.append(TENANT, id, newMessage(senders[i % 3] ?? alice, { text: `m${i}` }), DEFAULT_TTL_MS),
        ),
      );
      expect(results.every((result) => result.status === 'created')).toBe(true);
      const log = await readLog(context.engine, id, { after: before });
      expectOrderedLog(log);
      expect(log.map((envelope) => (envelope.event.type === 'message.created' ? envelope.event.message.seq : -1))).toEqual(
        range(1, 200),
      );
    });

    it('returns copies: changing a read event changes nothing stored', async () => {
      const id = await createGroup(context.engine, 'g1', [alice]);
      const [envelope] = await readLog(context.engine, id);
      if (envelope?.event.type !== 'conversation.created') throw new Error('expected conversation.created');
      envelope.event.conversation.title = 'mutated';
      expect(await eventsOf(context.engine, id)).toEqual([
        { type: 'conversation.created', conversationId: id, conversation: expect.objectContaining({ title: 'group g1' }) },
      ]);
    });
  });

  describe('inbox', () => {
    const removal = (conversationId: string, userId: UserId): ConversationEvent => ({
      type: 'member.removed',
      conversationId: conversationId as ConversationId,
      userId,
      role: 'member',
    });

    it('appends one entry per user, with ids of that user’s inbox, `at` never decreasing', async () => {
      const { events } = context.engine;
      await events.notify(TENANT, [alice, bob], removal('g1', bob), T0 + 10);
      await events.notify(TENANT, [bob], removal('g2', bob), T0 + 5);
      const ofAlice = await events.readInbox(TENANT, alice, null, 100);
      expect(ofAlice).toEqual({ events: [{ id: expect.any(String), at: T0 + 10, event: removal('g1', bob) }], trimmed: false });
      const ofBob = await events.readInbox(TENANT, bob, null, 100);
      expect(ofBob.events).toEqual([
        { id: expect.any(String), at: T0 + 10, event: removal('g1', bob) },
        { id: expect.any(String), at: T0 + 10, event: removal('g2', bob) },
      ]);
      expectOrderedLog(ofBob.events);
      expect(await events.readInbox(TENANT, carol, null, 100)).toEqual({ events: [], trimmed: false });
      expect(await events.readInbox(OTHER_TENANT, alice, null, 100)).toEqual({ events: [], trimmed: false });
      // Inboxes are not conversation logs.
      expect(await events.heads(TENANT, ['g1' as ConversationId])).toEqual([null]);
    });

    it('pages an inbox after an id, like read', async () => {
      const { events } = context.engine;
      for (let i = 1; i <= 5; i += 1) await events.notify(TENANT, [alice], removal(`g${i}`, alice), T0 + i);
      const whole = await events.readInbox(TENANT, alice, null, 1000);
      expect(whole.events.map((envelope) => envelope.at)).toEqual([T0 + 1, T0 + 2, T0 + 3, T0 + 4, T0 + 5]);
      expectOrderedLog(whole.events);
      const page = await events.readInbox(TENANT, alice, whole.events[1]?.id ?? null, 2);
      expect(page).toEqual({ events: whole.events.slice(2, 4), trimmed: false });
      expect(await events.readInbox(TENANT, alice, whole.events[4]?.id ?? null, 2)).toEqual({ events: [], trimmed: false });
    });

    it('stores what was notified: changing the event afterwards changes nothing stored', async () => {
      const { events } = context.engine;
      const event = removal('g1', alice);
      await events.notify(TENANT, [alice], event, T0);
      (event as { userId: UserId }).userId = bob;
      expect((await events.readInbox(TENANT, alice, null, 10)).events.map((envelope) => envelope.event)).toEqual([
        removal('g1', alice),
      ]);
    });
  });
}
