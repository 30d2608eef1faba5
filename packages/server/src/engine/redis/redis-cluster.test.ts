/**
 * The Redis engine on a real Redis Cluster: three masters started from redis-server on free
 * private ports for this file only, and stopped (those processes, by handle) afterwards.
 *
 * The whole engine contract runs against it, through the production connection factory: every
 * script must keep to one slot (Redis refuses a cross-slot script with CROSSSLOT), and concurrent
 * appends, group and direct creation, and listForUser must hold across nodes. Then: CLUSTER KEYSLOT
 * shows that each conversation's keys share one slot and the tenant's keys another, and PUBSUB
 * shows that topics are sharded channels, each on the master of its conversation's or user's slot,
 * and that a subscriber losing its connection to one master says so (onInterrupted) and hears again.
 */
import { Cluster, type Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TopicMessage } from '../../domain/events.js';
import type { ConversationId, MessageId, TenantId, UserId } from '../../domain/types.js';
import type { QueuedWebhookEvent, Webhook, WebhookId } from '../../domain/webhooks.js';
import { deleteKeysWithPrefix, keysWithPrefix, startLocalCluster, uniqueKeyPrefix, type LocalCluster } from '../../test-support/redis.js';
import { runEngineContract } from '../engine.contract.js';
import { createRedisClient } from './redis-connection.js';
import { createRedisEngine, RedisEngine } from './redis-engine.js';
import { RedisKeys } from './redis-keys.js';

let cluster: LocalCluster | undefined;
let admin: Cluster | undefined;

function nodeList(): string[] {
  if (!cluster) throw new Error('the cluster is not running');
  return cluster.nodes.map(({ host, port }) => `${host}:${port}`);
}

beforeAll(async () => {
  cluster = await startLocalCluster(3);
  admin = new Cluster(cluster.nodes);
}, 60_000);

afterAll(async () => {
  await admin?.quit();
  await cluster?.stop();
});

runEngineContract('redis engine on Redis Cluster', async (options) => {
  const keyPrefix = uniqueKeyPrefix();
  const engine = createRedisEngine({
    redis: createRedisClient({ clusterNodes: nodeList() }),
    keyPrefix,
    ...(options?.retention ? { retention: options.retention } : {}),
  });
  return {
    engine,
    cleanup: async () => {
      await engine.close();
      if (admin) await deleteKeysWithPrefix(admin, keyPrefix);
    },
  };
});

describe('redis engine key slots on Redis Cluster', () => {
  it('keeps every conversation in one slot and the tenant data in another', async () => {
    if (!admin) throw new Error('the cluster is not running');
    const keyPrefix = uniqueKeyPrefix();
    const engine = createRedisEngine({ redis: createRedisClient({ clusterNodes: nodeList() }), keyPrefix });
    const tenant = 'acme' as TenantId;
    const [alice, bob] = ['alice', 'bob'] as UserId[] as [UserId, UserId];
    try {
      await engine.users.register(tenant, { id: alice, username: 'alice', displayName: 'A', passwordHash: 'h', createdAt: 1 });
      await engine.users.block(tenant, alice, bob);
      const conversations = ['g1', 'g2', 'g3', 'g4'] as ConversationId[];
      for (const id of conversations) {
        await engine.conversations.createGroup(tenant, {
          id,
          type: 'group',
          title: id,
          createdAt: 1,
          members: [{ userId: alice, role: 'owner' }, { userId: bob, role: 'member' }],
        });
        await engine.messages.append(tenant, id, { id: `${id}-m1` as MessageId, senderId: alice, system: false, text: 'hi', replyTo: null, createdAt: 2, clientMessageId: 'k' }, 60_000);
        await engine.messages.react(tenant, id, `${id}-m1` as MessageId, bob, '👍', true, { maxEmojiPerMessage: 5, maxReactionsPerUser: 5 }, 2);
      }
      const direct = await engine.conversations.getOrCreateDirect(tenant, {
        id: 'd1' as ConversationId,
        type: 'direct',
        title: null,
        createdAt: 3,
        members: [{ userId: alice, role: 'member' }, { userId: bob, role: 'member' }],
      });
      expect((await engine.conversations.listForUser(tenant, bob, { limit: 10 })).items).toHaveLength(5);

      // The webhook outboxes of the conversations' slots are emptied, and then deleted, by the relay.
      await engine.webhooks.relayed();
      const keys = await keysWithPrefix(admin, keyPrefix);
      const slotsByTag = new Map<string, Set<number>>();
      for (const key of keys) {
        const tag = /\{([^}]*)\}/.exec(key)?.[1];
        expect(tag, key).toBeDefined();
        const slot = Number(await admin.cluster('KEYSLOT', key));
        slotsByTag.set(tag ?? '', (slotsByTag.get(tag ?? '') ?? new Set()).add(slot));
      }
      expect([...slotsByTag.keys()].sort()).toEqual(['c:acme:d1', 'c:acme:g1', 'c:acme:g2', 'c:acme:g3', 'c:acme:g4', 't:acme']);
      for (const slots of slotsByTag.values()) expect(slots.size).toBe(1);
      // The conversations really are spread over the cluster, so the suite exercised several nodes.
      const distinctSlots = new Set([...slotsByTag.values()].flatMap((slots) => [...slots]));
      expect(distinctSlots.size).toBeGreaterThan(1);
      expect(direct.created).toBe(true);
    } finally {
      await engine.close();
      await deleteKeysWithPrefix(admin, keyPrefix);
    }
  });
});

describe('redis engine pub/sub on Redis Cluster', () => {
  /** Subscribers of `channel` on each master: [sharded, classic]. */
  async function subscriptions(channel: string): Promise<{ sharded: number[]; classic: number[] }> {
    if (!admin) throw new Error('the cluster is not running');
    const masters: Redis[] = admin.nodes('master');
    const count = async (master: Redis, kind: 'SHARDNUMSUB' | 'NUMSUB') => {
      const reply = (await master.call('PUBSUB', kind, channel)) as [string, number];
      return Number(reply[1]);
    };
    return {
      sharded: await Promise.all(masters.map((master) => count(master, 'SHARDNUMSUB'))),
      classic: await Promise.all(masters.map((master) => count(master, 'NUMSUB'))),
    };
  }

  async function until(what: string, check: () => boolean): Promise<void> {
    const deadline = Date.now() + 5000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  const tenant = 'acme' as TenantId;
  const alice = 'alice' as UserId;

  /** An engine under a fresh prefix and `count` groups of alice's, g0, g1...; `cleanup` closes it and deletes its keys. */
  async function groupsOfAlice(count: number) {
    const keyPrefix = uniqueKeyPrefix();
    const engine = createRedisEngine({ redis: createRedisClient({ clusterNodes: nodeList() }), keyPrefix });
    const conversations = Array.from({ length: count }, (_, i) => `g${i}` as ConversationId);
    const cleanup = async () => {
      await engine.close();
      if (admin) await deleteKeysWithPrefix(admin, keyPrefix);
    };
    try {
      for (const id of conversations) {
        await engine.conversations.createGroup(tenant, { id, type: 'group', title: id, createdAt: 1, members: [{ userId: alice, role: 'owner' }] });
      }
    } catch (error) {
      await cleanup();
      throw error;
    }
    return { keys: new RedisKeys(keyPrefix), engine, conversations, cleanup };
  }

  it('publishes with SPUBLISH on the master of the topic’s slot and subscribes with SSUBSCRIBE there only', async () => {
    if (!admin) throw new Error('the cluster is not running');
    const { keys, engine, conversations, cleanup } = await groupsOfAlice(12);
    const heard: TopicMessage[] = [];
    const subscriber = engine.pubsub.createSubscriber((message) => heard.push(message));
    try {
      await subscriber.subscribeConversations(tenant, conversations);
      await subscriber.subscribeUsers(tenant, [alice]);

      const owners = new Set<number>();
      for (const id of conversations) {
        const channel = keys.conversationTopic(tenant, id);
        // The channel hashes to the conversation's slot, so its scripts can SPUBLISH it.
        expect(await admin.cluster('KEYSLOT', channel)).toBe(await admin.cluster('KEYSLOT', keys.conversation(tenant, id).meta));
        const { sharded, classic } = await subscriptions(channel);
        expect(sharded.filter((count) => count === 1)).toHaveLength(1);
        expect(sharded.reduce((sum, count) => sum + count, 0)).toBe(1);
        expect(classic.every((count) => count === 0)).toBe(true);
        owners.add(sharded.indexOf(1));
      }
      // One subscriber connection per master holding its channels, on more than one master.
      expect(owners.size).toBeGreaterThan(1);

      for (const [i, id] of conversations.entries()) {
        await engine.messages.append(tenant, id, { id: `${id}-m` as MessageId, senderId: alice, system: false, text: `m${i}`, replyTo: null, createdAt: 2, clientMessageId: null }, 0);
        await engine.pubsub.publishEphemeral(tenant, id, { type: 'typing', conversationId: id, userId: alice });
      }
      await engine.events.notify(tenant, [alice], { type: 'member.removed', conversationId: 'g0' as ConversationId, userId: alice, role: 'owner' }, 3);
      await until('every message, typing and inbox entry', () => heard.length >= 2 * conversations.length + 1);
      for (const id of conversations) {
        // Per topic, in publish order.
        expect(heard.filter((message) => 'conversationId' in message && message.conversationId === id).map((message) => message.kind)).toEqual(['event', 'ephemeral']);
      }
      expect(heard.filter((message) => message.kind === 'inbox')).toHaveLength(1);

      await subscriber.unsubscribeConversations(tenant, conversations.slice(0, 6));
      expect((await subscriptions(keys.conversationTopic(tenant, 'g0' as ConversationId))).sharded.every((count) => count === 0)).toBe(true);
      expect((await subscriptions(keys.conversationTopic(tenant, 'g6' as ConversationId))).sharded.reduce((sum, count) => sum + count, 0)).toBe(1);
      // close() drops the shard connections (without waiting for the server to notice): poll.
      await subscriber.close();
      const deadline = Date.now() + 5000;
      for (const channel of [keys.conversationTopic(tenant, 'g6' as ConversationId), keys.userTopic(tenant, alice)]) {
        while ((await subscriptions(channel)).sharded.some((count) => count > 0) && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        expect((await subscriptions(channel)).sharded.every((count) => count === 0)).toBe(true);
      }
    } finally {
      await subscriber.close();
      await cleanup();
    }
  });

  it('reports a lost shard subscriber connection at once and again once re-subscribed; a channel dropped and taken again meanwhile stays heard', async () => {
    if (!admin) throw new Error('the cluster is not running');
    const { keys, engine, conversations, cleanup } = await groupsOfAlice(6);
    const heard: TopicMessage[] = [];
    const interruptions: number[] = [];
    const subscriber = engine.pubsub.createSubscriber(
      (message) => heard.push(message),
      () => interruptions.push(Date.now()),
    );
    try {
      await subscriber.subscribeConversations(tenant, conversations);
      const [lostOne] = conversations as [ConversationId];
      const masters: Redis[] = admin.nodes('master');
      const owner = masters[(await subscriptions(keys.conversationTopic(tenant, lostOne))).sharded.indexOf(1)]!;
      // The others on another master keep their connection.
      const elsewhere: ConversationId[] = [];
      for (const id of conversations) if ((await subscriptions(keys.conversationTopic(tenant, id))).sharded[masters.indexOf(owner)] === 0) elsewhere.push(id);
      expect(elsewhere.length).toBeGreaterThan(0);

      const list = (await owner.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string;
      const ids = list.split('\n').flatMap((line) => (/ name=ioredis-cluster\(ssubscriber\)/.test(line) ? [/^id=(\d+)/.exec(line)![1]!] : []));
      expect(ids).toHaveLength(1);
      const killedAt = Date.now();
      await owner.call('CLIENT', 'KILL', 'ID', ids[0]!);
      await until('the loss to be reported', () => interruptions.length >= 1);
      // What the gateway does next: its clients go, so the topic is dropped (ioredis retries that
      // UNSUBSCRIBE a little later, on the new connection); one comes back once re-subscribed.
      const dropped = subscriber.unsubscribeConversations(tenant, [lostOne]).catch(() => undefined);
      await until('the re-subscription to be reported', () => interruptions.length >= 2);
      await subscriber.subscribeConversations(tenant, [lostOne]);
      await dropped;
      expect(interruptions.length).toBe(2);

      for (const id of [lostOne, elsewhere[0]!]) {
        await engine.messages.append(tenant, id, { id: `${id}-m` as MessageId, senderId: alice, system: false, text: 'after', replyTo: null, createdAt: 2, clientMessageId: null }, 0);
      }
      await until('both messages', () => heard.length >= 2);
      expect(heard.map((message) => ('conversationId' in message ? message.conversationId : null)).sort()).toEqual([lostOne, elsewhere[0]].sort());
      expect((await subscriptions(keys.conversationTopic(tenant, lostOne))).sharded.reduce((sum, count) => sum + count, 0)).toBe(1);
      console.info(`shard subscriber loss reported after ${interruptions[0]! - killedAt} ms and again after ${interruptions[1]! - killedAt} ms`);
    } finally {
      await subscriber.close();
      await cleanup();
    }
  });
});

describe('webhook outboxes on Redis Cluster', () => {
  const tenant = 'acme' as TenantId;
  const alice = 'alice' as UserId;
  const bob = 'bob' as UserId;

  async function withEngines(run: (a: RedisEngine, b: RedisEngine, keyPrefix: string) => Promise<void>): Promise<void> {
    if (!admin) throw new Error('the cluster is not running');
    const keyPrefix = uniqueKeyPrefix();
    const a = new RedisEngine({ redis: createRedisClient({ clusterNodes: nodeList() }), keyPrefix });
    const b = new RedisEngine({ redis: createRedisClient({ clusterNodes: nodeList() }), keyPrefix });
    try {
      await a.webhooks.create(clusterWebhook(tenant, 'w-1'), 20);
      await run(a, b, keyPrefix);
    } finally {
      await a.close();
      await b.close();
      await deleteKeysWithPrefix(admin, keyPrefix);
    }
  }

  function clusterWebhook(tenantId: TenantId, id: string): Webhook {
    return { tenantId, id: id as WebhookId, url: 'https://example.com/hook', events: ['*'], description: null, enabled: true, createdAt: 1, secrets: [{ secret: 'whsec_x', expiresAt: null }], failingSince: null, disabledAt: null };
  }

  async function queued(engine: RedisEngine, id = 'w-1'): Promise<QueuedWebhookEvent[]> {
    expect(['acquired', 'renewed']).toContain(await engine.webhooks.lease(tenant, id as WebhookId, 'node', 60_000, 1));
    return (await engine.webhooks.take(tenant, id as WebhookId, 'node', 1000, 1)).map(({ entry }) => entry);
  }

  it('queues, in log order and once each, what two nodes log into one conversation at the same time', async () => {
    await withEngines(async (a, b) => {
      await a.conversations.createGroup(tenant, { id: 'g' as ConversationId, type: 'group', title: 'g', createdAt: 1, members: [{ userId: alice, role: 'owner' }, { userId: bob, role: 'member' }] });
      const sends = Array.from({ length: 30 }, (_, i) =>
        (i % 2 === 0 ? a : b).messages.append(tenant, 'g' as ConversationId, { id: `m${i}` as MessageId, senderId: alice, system: false, text: `m${i}`, replyTo: null, createdAt: 2 + i, clientMessageId: null }, 60_000),
      );
      await Promise.all(sends);
      await Promise.all([a.webhooks.relayed(), b.webhooks.relayed()]);
      const entries = await queued(b);
      const seqs = entries.filter((entry) => entry.type === 'message.created').map((entry) => (entry.event.message as { seq: number }).seq);
      expect(seqs).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      expect(new Set(entries.map((entry) => entry.eventId)).size).toBe(entries.length);
    });
  });

  it("relays by the sweep what a node logged and died before relaying, and leaves no outbox behind", async () => {
    await withEngines(async (a, b, keyPrefix) => {
      if (!admin) throw new Error('the cluster is not running');
      const keys = new RedisKeys(keyPrefix);
      const conversationId = 'g-dead' as ConversationId;
      // What the logging script of a node that died right after it wrote to its slot's outbox.
      const outbox = keys.webhookOutbox(keys.conversationKeySlot(tenant, conversationId));
      const event = { type: 'member.added', conversationId, userId: bob, role: 'member' };
      await admin.xadd(outbox, '*', 'tenantId', tenant, 'conversationId', conversationId, 'id', '5-0', 'at', '5', 'event', JSON.stringify(event));
      expect(await queued(a)).toEqual([]);
      await b.webhooks.sweep();
      const [entry, ...rest] = await queued(a);
      expect(rest).toEqual([]);
      expect(entry).toMatchObject({ type: 'member.added', conversationId, at: 5, event });
      expect(await admin.exists(outbox)).toBe(0);
      // A tenant without webhooks: relayed and dropped, the outbox gone all the same.
      await a.conversations.createGroup('other' as TenantId, { id: 'g2' as ConversationId, type: 'group', title: 'g', createdAt: 1, members: [{ userId: alice, role: 'owner' }] });
      await a.webhooks.relayed();
      expect(await keysWithPrefix(admin, `${keyPrefix}{s`)).toEqual([]);
    });
  });
});
