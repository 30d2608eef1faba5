/**
 * Contract of topics: a subscriber hears the events of what it subscribed to, as logged and in
 * log order, and nothing else. Deliveries are asynchronous, so tests wait for them (waitFor);
 * to show that something was NOT heard, a test makes a later "marker" event that the subscriber
 * does hear on the same connection and checks, once the marker arrived, that nothing else did.
 * Where the silent topic can carry the marker itself (resubscribing after the silent period),
 * the proof is exact: a topic delivers in publish order.
 */
import { describe, expect, it } from 'vitest';
import type { ConversationEvent, EphemeralEvent, TopicMessage } from '../../domain/events.js';
import type { ConversationId, TenantId, UserId } from '../../domain/types.js';
import {
  alice,
  bob,
  carol,
  createGroup,
  DEFAULT_TTL_MS,
  headOf,
  isCreationOf,
  newMessage,
  OTHER_TENANT,
  range,
  readLog,
  recorder,
  send,
  T0,
  TENANT,
  waitFor,
  type ContractContext,
} from './fixtures.contract.js';

const roomy = { maxEmojiPerMessage: 20, maxReactionsPerUser: 20 };

function typing(conversationId: ConversationId, userId: UserId): EphemeralEvent {
  return { type: 'typing', conversationId, userId };
}

function removal(conversationId: string, userId: UserId): ConversationEvent {
  return { type: 'member.removed', conversationId: conversationId as ConversationId, userId, role: 'member' };
}

function isEphemeral(tenantId: TenantId, conversationId: ConversationId): (message: TopicMessage) => boolean {
  return (message) => message.kind === 'ephemeral' && message.tenantId === tenantId && message.conversationId === conversationId;
}

function isInbox(tenantId: TenantId, userId: UserId, event: ConversationEvent): (message: TopicMessage) => boolean {
  return (message) =>
    message.kind === 'inbox' &&
    message.tenantId === tenantId &&
    message.userId === userId &&
    JSON.stringify(message.envelope.event) === JSON.stringify(event);
}

export function pubsubContract(context: ContractContext): void {
  describe('topics', () => {
    it('delivers every durable event of a subscribed conversation, as logged and in log order', async () => {
      const { conversations, messages } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice, bob]);
      const listener = recorder(context);
      await listener.subscriber.subscribeConversations(TENANT, [id]);
      const before = await headOf(context.engine, id);

      const first = await send(context.engine, id, alice, { createdAt: T0 + 1 });
      await send(context.engine, id, bob, { createdAt: T0 + 2 });
      await messages.edit(TENANT, id, first.id, 'edited', T0 + 3, alice);
      await messages.react(TENANT, id, first.id, bob, '👍', true, roomy, T0 + 4);
      await conversations.markRead(TENANT, id, alice, 2, T0 + 5);
      await conversations.update(TENANT, id, { title: 'Renamed' }, T0 + 6);
      await conversations.addMembers(TENANT, id, [carol], 'member', T0 + 7, 100);
      await conversations.setRole(TENANT, id, carol, 'admin', T0 + 8, { keepOwner: false });
      await conversations.removeMember(TENANT, id, carol, T0 + 9);
      await messages.delete(TENANT, id, first.id, T0 + 10);

      const logged = await readLog(context.engine, id, { after: before });
      expect(logged).toHaveLength(10);
      await waitFor('every logged event', () => (listener.heard.length >= logged.length ? true : undefined));
      expect(listener.heard).toEqual(
        logged.map((envelope) => ({ kind: 'event', tenantId: TENANT, conversationId: id, envelope })),
      );
    });

    it('delivers 200 concurrent appends in seq order', async () => {
      const id = await createGroup(context.engine, 'g1', [alice, bob, carol]);
      const listener = recorder(context);
      await listener.subscriber.subscribeConversations(TENANT, [id]);
      const senders = [alice, bob, carol];
      await Promise.all(
        range(1, 200).map((i) =>
          context.engine.messages.append(TENANT, id, newMessage(senders[i % 3] ?? alice), DEFAULT_TTL_MS),
        ),
      );
      await waitFor('200 message events', () => (listener.heard.length >= 200 ? true : undefined));
      const seqs = listener.heard.map((message) =>
        message.kind === 'event' && message.envelope.event.type === 'message.created' ? message.envelope.event.message.seq : -1,
      );
      expect(seqs).toEqual(range(1, 200));
    });

    it('hears nothing of conversations it did not subscribe to, nor of the same id in another tenant', async () => {
      const ours = await createGroup(context.engine, 'g1', [alice]);
      const unsubscribed = await createGroup(context.engine, 'g2', [alice]);
      const theirs = await createGroup(context.engine, 'g1', [alice], { tenantId: OTHER_TENANT });
      const listener = recorder(context);
      await listener.subscriber.subscribeConversations(TENANT, [ours]);
      // A second subscriber proves the events it must not hear were published.
      const witness = recorder(context);
      await witness.subscriber.subscribeConversations(TENANT, [unsubscribed]);
      await witness.subscriber.subscribeConversations(OTHER_TENANT, [theirs]);

      const elsewhere = await send(context.engine, unsubscribed, alice);
      const foreign = await send(context.engine, theirs, alice, { tenantId: OTHER_TENANT });
      await context.engine.pubsub.publishEphemeral(TENANT, unsubscribed, typing(unsubscribed, alice));
      await context.engine.pubsub.publishEphemeral(OTHER_TENANT, theirs, typing(theirs, alice));
      await witness.waitFor('the other conversation’s message', isCreationOf(elsewhere.id));
      await witness.waitFor('the other tenant’s message', isCreationOf(foreign.id));
      await witness.waitFor('the other conversation’s typing', isEphemeral(TENANT, unsubscribed));
      await witness.waitFor('the other tenant’s typing', isEphemeral(OTHER_TENANT, theirs));

      const marker = await send(context.engine, ours, alice);
      await listener.waitFor('the marker', isCreationOf(marker.id));
      expect(listener.heard).toHaveLength(1);
      expect(listener.heard[0]).toMatchObject({ kind: 'event', tenantId: TENANT, conversationId: ours });
    });

    it('publishes ephemeral events on the conversation topic without logging them', async () => {
      const id = await createGroup(context.engine, 'g1', [alice, bob]);
      const listener = recorder(context);
      await listener.subscriber.subscribeConversations(TENANT, [id]);
      const head = await headOf(context.engine, id);
      const presence: EphemeralEvent = { type: 'presence', userId: bob, status: 'offline', lastSeenAt: T0 };
      await context.engine.pubsub.publishEphemeral(TENANT, id, typing(id, alice));
      await context.engine.pubsub.publishEphemeral(TENANT, id, presence);
      await waitFor('both ephemeral events', () => (listener.heard.length >= 2 ? true : undefined));
      expect(listener.heard).toEqual([
        { kind: 'ephemeral', tenantId: TENANT, conversationId: id, event: typing(id, alice) },
        { kind: 'ephemeral', tenantId: TENANT, conversationId: id, event: presence },
      ]);
      expect(await context.engine.events.heads(TENANT, [id])).toEqual([head]);
      expect(await readLog(context.engine, id, { after: head })).toEqual([]);
    });

    it('keeps ephemeral and durable events of one conversation in publish order', async () => {
      const id = await createGroup(context.engine, 'g1', [alice, bob]);
      const listener = recorder(context);
      await listener.subscriber.subscribeConversations(TENANT, [id]);
      const first = await send(context.engine, id, alice);
      await context.engine.pubsub.publishEphemeral(TENANT, id, typing(id, bob));
      const second = await send(context.engine, id, bob);
      await listener.waitFor('the second message', isCreationOf(second.id));
      expect(listener.heard.map((message) => (message.kind === 'event' ? message.envelope.event.type : message.kind))).toEqual([
        'message.created',
        'ephemeral',
        'message.created',
      ]);
      expect(listener.heard[0]).toSatisfy(isCreationOf(first.id));
    });

    it('delivers inbox entries on the user’s topic, as stored, and nothing of other users or tenants', async () => {
      const { events } = context.engine;
      const listener = recorder(context);
      await listener.subscriber.subscribeUsers(TENANT, [alice]);
      const witness = recorder(context);
      await witness.subscriber.subscribeUsers(TENANT, [bob]);
      await witness.subscriber.subscribeUsers(OTHER_TENANT, [alice]);

      await events.notify(TENANT, [bob], removal('g1', bob), T0);
      await events.notify(OTHER_TENANT, [alice], removal('g2', alice), T0);
      await witness.waitFor('bob’s entry', isInbox(TENANT, bob, removal('g1', bob)));
      await witness.waitFor('the other tenant’s entry', isInbox(OTHER_TENANT, alice, removal('g2', alice)));

      await events.notify(TENANT, [bob, alice], removal('g3', alice), T0 + 1);
      await listener.waitFor('alice’s entry', isInbox(TENANT, alice, removal('g3', alice)));
      const stored = await events.readInbox(TENANT, alice, null, 10);
      expect(listener.heard).toEqual([{ kind: 'inbox', tenantId: TENANT, userId: alice, envelope: stored.events[0] }]);
    });

    it('keeps a user’s topic and a conversation topic of the same id apart', async () => {
      const sameId = alice as string as ConversationId;
      await createGroup(context.engine, sameId, [bob]);
      const listener = recorder(context);
      await listener.subscriber.subscribeUsers(TENANT, [alice]);
      const witness = recorder(context);
      await witness.subscriber.subscribeConversations(TENANT, [sameId]);
      const message = await send(context.engine, sameId, bob);
      await context.engine.pubsub.publishEphemeral(TENANT, sameId, typing(sameId, bob));
      await witness.waitFor('the conversation’s message', isCreationOf(message.id));
      await witness.waitFor('the conversation’s typing', isEphemeral(TENANT, sameId));

      await context.engine.events.notify(TENANT, [alice], removal('g9', alice), T0);
      await listener.waitFor('the marker entry', isInbox(TENANT, alice, removal('g9', alice)));
      expect(listener.heard.map((heard) => heard.kind)).toEqual(['inbox']);
    });

    it('stops delivering a conversation after unsubscribe, and resumes on subscribe', async () => {
      const id = await createGroup(context.engine, 'g1', [alice]);
      const other = await createGroup(context.engine, 'g2', [alice]);
      const listener = recorder(context);
      await listener.subscriber.subscribeConversations(TENANT, [id, other]);
      const heardBefore = await send(context.engine, id, alice);
      await listener.waitFor('a message while subscribed', isCreationOf(heardBefore.id));

      await listener.subscriber.unsubscribeConversations(TENANT, [id]);
      const missed = await send(context.engine, id, alice);
      await context.engine.pubsub.publishEphemeral(TENANT, id, typing(id, alice));
      const otherMarker = await send(context.engine, other, alice);
      await listener.waitFor('the marker of the topic still subscribed', isCreationOf(otherMarker.id));

      await listener.subscriber.subscribeConversations(TENANT, [id]);
      const marker = await send(context.engine, id, alice);
      await listener.waitFor('the marker after subscribing again', isCreationOf(marker.id));
      expect(listener.heard.some(isCreationOf(missed.id))).toBe(false);
      expect(listener.heard.some(isEphemeral(TENANT, id))).toBe(false);
      expect(listener.heard).toHaveLength(3);
    });

    it('stops delivering a user’s inbox after unsubscribe, and resumes on subscribe', async () => {
      const { events } = context.engine;
      const listener = recorder(context);
      await listener.subscriber.subscribeUsers(TENANT, [alice]);
      await events.notify(TENANT, [alice], removal('g1', alice), T0);
      await listener.waitFor('an entry while subscribed', isInbox(TENANT, alice, removal('g1', alice)));
      await listener.subscriber.unsubscribeUsers(TENANT, [alice]);
      await events.notify(TENANT, [alice], removal('g2', alice), T0 + 1);
      await listener.subscriber.subscribeUsers(TENANT, [alice]);
      await events.notify(TENANT, [alice], removal('g3', alice), T0 + 2);
      await listener.waitFor('the marker after subscribing again', isInbox(TENANT, alice, removal('g3', alice)));
      expect(listener.heard.some(isInbox(TENANT, alice, removal('g2', alice)))).toBe(false);
      expect(listener.heard).toHaveLength(2);
    });

    it('hears each message once however often subscribed, and one unsubscribe ends it (sets, not counts)', async () => {
      const id = await createGroup(context.engine, 'g1', [alice]);
      const listener = recorder(context);
      await listener.subscriber.subscribeConversations(TENANT, [id, id]);
      await listener.subscriber.subscribeConversations(TENANT, [id]);
      const once = await send(context.engine, id, alice);
      const marker = await send(context.engine, id, alice);
      await listener.waitFor('the marker', isCreationOf(marker.id));
      expect(listener.heard.filter(isCreationOf(once.id))).toHaveLength(1);
      expect(listener.heard).toHaveLength(2);

      await listener.subscriber.unsubscribeConversations(TENANT, [id]);
      const missed = await send(context.engine, id, alice);
      await listener.subscriber.subscribeConversations(TENANT, [id]);
      const again = await send(context.engine, id, alice);
      await listener.waitFor('the marker after subscribing again', isCreationOf(again.id));
      expect(listener.heard.some(isCreationOf(missed.id))).toBe(false);
      expect(listener.heard).toHaveLength(3);
    });

    it('delivers to every subscriber; closing one leaves the others', async () => {
      const id = await createGroup(context.engine, 'g1', [alice]);
      const first = recorder(context);
      const second = recorder(context);
      await first.subscriber.subscribeConversations(TENANT, [id]);
      await second.subscriber.subscribeConversations(TENANT, [id]);
      const both = await send(context.engine, id, alice);
      await first.waitFor('the message', isCreationOf(both.id));
      await second.waitFor('the message', isCreationOf(both.id));
      expect(first.heard).toEqual(second.heard);

      await first.subscriber.close();
      const later = await send(context.engine, id, alice);
      await second.waitFor('the later message', isCreationOf(later.id));
      expect(first.heard).toHaveLength(1);
    });
  });
}
