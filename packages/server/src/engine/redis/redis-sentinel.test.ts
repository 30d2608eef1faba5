/**
 * The Redis engine behind Redis Sentinel: a primary, one replica and sentinels started from
 * redis-server on free private ports for this file only, and stopped (those processes, by handle)
 * afterwards.
 *
 * First the whole engine contract runs through the production connection factory in Sentinel mode
 * (the client asks a sentinel for the primary's address, then talks to the primary). Then a real
 * failover: the primary is killed (SIGKILL) while the engine is in use, three sentinels elect a
 * leader and promote the replica, and the same engine, without being told anything, must write
 * again on the promoted replica with seqs that carry on from where they were, keep its subscriber
 * hearing the conversation, and answer ping. Last a switchover (SENTINEL FAILOVER), where the old
 * primary keeps running and accepting writes until Sentinel demotes it some 10 s later: the engine
 * must move when Sentinel announces the new primary (+switch-master), not when the old one drops
 * it, and the sentinel subscriptions that this takes must close with the engine.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareEventIds, type TopicMessage } from '../../domain/events.js';
import type { ConversationId, MessageId, TenantId, UserId } from '../../domain/types.js';
import { deleteKeysWithPrefix, startLocalSentinel, uniqueKeyPrefix, type LocalSentinel } from '../../test-support/redis.js';
import { runEngineContract } from '../engine.contract.js';
import type { NewMessage } from '../engine.js';
import { EngineError } from '../errors.js';
import { createRedisClient } from './redis-connection.js';
import { createRedisEngine } from './redis-engine.js';

/** `INFO <section>` reply as a field map. */
function infoFields(text: string): Map<string, string> {
  return new Map(
    text
      .split(/\r?\n/)
      .filter((line) => line.includes(':') && !line.startsWith('#'))
      .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1)] as const),
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('redis engine on Redis Sentinel', () => {
  let deployment: LocalSentinel | undefined;
  /** Plumbing on the primary (this deployment never fails over). */
  let admin: Redis | undefined;

  beforeAll(async () => {
    deployment = await startLocalSentinel({ sentinels: 1 });
    admin = new Redis({ host: '127.0.0.1', port: deployment.primaryPort, maxRetriesPerRequest: 1 });
  }, 60_000);

  afterAll(async () => {
    await admin?.quit().catch(() => admin?.disconnect());
    await deployment?.stop();
  });

  runEngineContract('redis engine through Redis Sentinel', async (options) => {
    if (!deployment) throw new Error('the sentinel deployment is not running');
    const keyPrefix = uniqueKeyPrefix();
    const engine = createRedisEngine({
      redis: createRedisClient({ sentinels: deployment.sentinels, sentinelName: deployment.name }),
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
});

/** Plain clients for probing a deployment; each describe closes them in its afterAll, whatever happened. */
const clients: Redis[] = [];

function plainClient(port: number): Redis {
  const client = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, retryStrategy: () => null });
  client.on('error', () => {});
  clients.push(client);
  return client;
}

describe('redis engine across a Sentinel failover', () => {
  let deployment: LocalSentinel | undefined;

  beforeAll(async () => {
    // Three sentinels: the failover needs a leader elected by a majority of them, as in production.
    deployment = await startLocalSentinel({ sentinels: 3 });
  }, 60_000);

  afterAll(async () => {
    for (const client of clients.splice(0)) client.disconnect();
    await deployment?.stop();
  });

  it('keeps writing on the promoted replica after the primary is killed, with seqs continuing and no duplicate', async () => {
    if (!deployment) throw new Error('the sentinel deployment is not running');
    const { sentinels, name, primaryPort, replicaPort } = deployment;
    const tenant = 'acme' as TenantId;
    const alice = 'u-alice' as UserId;
    const conversation = 'g-failover' as ConversationId;
    // The engine's client, kept to ask it which server it is connected to.
    const redis = createRedisClient({ sentinels, sentinelName: name, onError: () => {} });
    const engine = createRedisEngine({ redis, keyPrefix: uniqueKeyPrefix() });
    const heard: TopicMessage[] = [];
    let interruptions = 0;
    const subscriber = engine.pubsub.createSubscriber(
      (message) => heard.push(message),
      () => {
        interruptions += 1;
      },
    );
    try {
      await engine.conversations.createGroup(tenant, {
        id: conversation,
        type: 'group',
        title: 'failover',
        createdAt: Date.now(),
        members: [{ userId: alice, role: 'owner' }],
      });
      await subscriber.subscribeConversations(tenant, [conversation]);

      let counter = 0;
      const nextMessage = (): NewMessage => {
        counter += 1;
        return { id: `m-${counter}` as MessageId, senderId: alice, system: false, text: `message ${counter}`, replyTo: null, createdAt: Date.now(), clientMessageId: `k-${counter}` };
      };
      /** Every acknowledged append, in the order acknowledged. */
      const acknowledged: { id: MessageId; seq: number; afterFailover: boolean }[] = [];
      const appendOnce = async (message: NewMessage, afterFailover: boolean) => {
        const result = await engine.messages.append(tenant, conversation, message, 600_000);
        if (result.status !== 'created' && result.status !== 'duplicate') throw new Error(`append answered ${result.status}`);
        acknowledged.push({ id: result.message.id, seq: result.message.seq, afterFailover });
      };

      for (let i = 0; i < 5; i += 1) await appendOnce(nextMessage(), false);
      expect(acknowledged.map(({ seq }) => seq)).toEqual([1, 2, 3, 4, 5]);

      // Replication is asynchronous: a write the primary acknowledged but had not yet sent to the
      // replica is lost when the primary dies, and the promoted replica then hands its seq out
      // again. That is Redis's guarantee (see redis-engine.ts, Durability), not the engine's to fix.
      // So the kill waits until the replica has everything; then every acknowledged write must
      // survive and the assertions below are exact, not probabilistic.
      const primaryAdmin = plainClient(primaryPort);
      const replicaAdmin = plainClient(replicaPort);
      const replicationDeadline = Date.now() + 5000;
      for (;;) {
        const masterOffset = infoFields(await primaryAdmin.info('replication')).get('master_repl_offset');
        const replicaOffset = infoFields(await replicaAdmin.info('replication')).get('slave_repl_offset');
        if (masterOffset !== undefined && masterOffset === replicaOffset) break;
        if (Date.now() > replicationDeadline) throw new Error(`the replica did not catch up (${replicaOffset} of ${masterOffset})`);
        await sleep(20);
      }
      primaryAdmin.disconnect();
      replicaAdmin.disconnect();

      const killedAt = Date.now();
      await deployment.killPrimary();

      // Retry one message until the engine writes again. The same id and idempotency key every
      // time: an attempt that was applied but whose reply was lost answers `duplicate` with its seq.
      const pending = nextMessage();
      const failures: unknown[] = [];
      const deadline = killedAt + 20_000;
      for (;;) {
        try {
          await appendOnce(pending, true);
          break;
        } catch (error) {
          failures.push(error);
          if (Date.now() > deadline) throw new Error(`no write succeeded within 20 s of the kill (${failures.length} failures)`, { cause: error });
          await sleep(100);
        }
      }
      const recoveredAfterMs = Date.now() - killedAt;
      // The outage was real and surfaced as the engine's one error type, never as a hang.
      expect(failures.length).toBeGreaterThan(0);
      for (const failure of failures) {
        expect(failure).toBeInstanceOf(EngineError);
        expect((failure as EngineError).code).toBe('storage_unavailable');
      }
      expect(recoveredAfterMs).toBeLessThan(20_000);

      // Once back, writes succeed without retrying.
      for (let i = 0; i < 5; i += 1) await appendOnce(nextMessage(), true);

      // The engine talks to the former replica, which is now the primary.
      const serverInfo = infoFields(await redis.info('server'));
      expect(serverInfo.get('tcp_port')).toBe(String(replicaPort));
      expect(infoFields(await redis.info('replication')).get('role')).toBe('master');
      // (A fresh connection: the sentinels drop every client of an instance they reconfigure.)
      expect(infoFields(await plainClient(replicaPort).info('replication')).get('role')).toBe('master');
      const sentinel = plainClient(sentinels[0]?.port ?? 0);
      expect(await sentinel.call('SENTINEL', 'get-master-addr-by-name', name)).toEqual(['127.0.0.1', String(replicaPort)]);

      // Seqs carry on: 1..11 in the order acknowledged, none twice, nothing acknowledged lost.
      const seqs = acknowledged.map(({ seq }) => seq);
      expect(seqs).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
      expect(new Set(seqs).size).toBe(seqs.length);
      const history = await engine.messages.history(tenant, conversation, { limit: 100 }, alice);
      expect(history.items.map(({ seq, id }) => ({ seq, id }))).toEqual(acknowledged.map(({ seq, id }) => ({ seq, id })));
      // Every write acknowledged after the failover is on the new primary (read there directly too).
      for (const { id, seq } of acknowledged.filter(({ afterFailover }) => afterFailover)) {
        expect((await engine.messages.get(tenant, conversation, id, null))?.seq).toBe(seq);
      }

      // The event log continued too: one message.created per seq, in order, ids increasing.
      const { events } = await engine.events.read(tenant, conversation, null, 1000);
      const created = events.filter(({ event }) => event.type === 'message.created');
      expect(created.map(({ event }) => (event.type === 'message.created' ? event.message.seq : null))).toEqual(seqs);
      for (let i = 1; i < events.length; i += 1) expect(compareEventIds((events[i - 1] as (typeof events)[number]).id, (events[i] as (typeof events)[number]).id)).toBeLessThan(0);

      // The subscriber lost its connection with the primary (and said so), resubscribes through
      // the sentinels by itself, and then hears what is published on the new primary. It may come
      // back later than the engine's connection (each backs off on its own): publish until heard.
      expect(interruptions).toBeGreaterThan(0);
      const heardTyping = () => heard.some((message) => message.kind === 'ephemeral' && message.event.type === 'typing');
      const heardDeadline = Date.now() + 10_000;
      while (!heardTyping() && Date.now() < heardDeadline) {
        await engine.pubsub.publishEphemeral(tenant, conversation, { type: 'typing', conversationId: conversation, userId: alice });
        await sleep(50);
      }
      expect(heardTyping()).toBe(true);

      await expect(engine.ping()).resolves.toBeUndefined();
    } finally {
      await subscriber.close();
      await engine.close();
    }
  });
});

describe('redis engine across a Sentinel switchover', () => {
  let deployment: LocalSentinel | undefined;

  beforeAll(async () => {
    deployment = await startLocalSentinel({ sentinels: 1 });
  }, 60_000);

  afterAll(async () => {
    for (const client of clients.splice(0)) client.disconnect();
    await deployment?.stop();
  });

  it('moves to the promoted replica as soon as Sentinel announces it, though the old primary still runs', async () => {
    if (!deployment) throw new Error('the sentinel deployment is not running');
    const { sentinels, name, primaryPort, replicaPort } = deployment;
    const tenant = 'acme' as TenantId;
    const alice = 'u-alice' as UserId;
    const conversation = 'g-switchover' as ConversationId;
    const sentinel = plainClient(sentinels[0]?.port ?? 0);
    const sentinelClients = async () => Number(infoFields(String(await sentinel.call('INFO', 'clients'))).get('connected_clients'));
    const clientsBefore = await sentinelClients();
    const keyPrefix = uniqueKeyPrefix();
    const redis = createRedisClient({ sentinels, sentinelName: name, onError: () => {} });
    const engine = createRedisEngine({ redis, keyPrefix });
    const fresh = createRedisEngine({ redis: createRedisClient({ sentinels, sentinelName: name, onError: () => {} }), keyPrefix });
    const heard: TopicMessage[] = [];
    const subscriber = engine.pubsub.createSubscriber((message) => heard.push(message));
    try {
      await engine.conversations.createGroup(tenant, { id: conversation, type: 'group', title: 'switchover', createdAt: Date.now(), members: [{ userId: alice, role: 'owner' }] });
      await subscriber.subscribeConversations(tenant, [conversation]);
      let counter = 0;
      const append = async () => {
        counter += 1;
        const message: NewMessage = { id: `m-${counter}` as MessageId, senderId: alice, system: false, text: `message ${counter}`, replyTo: null, createdAt: Date.now(), clientMessageId: `k-${counter}` };
        const result = await engine.messages.append(tenant, conversation, message, 600_000);
        if (result.status !== 'created') throw new Error(`append answered ${result.status}`);
        return { id: result.message.id, seq: result.message.seq };
      };
      for (let i = 0; i < 3; i += 1) await append();
      const engineOn = async () => infoFields(await redis.info('server')).get('tcp_port');
      expect(await engineOn()).toBe(String(primaryPort));

      // A switchover: Sentinel promotes the replica and leaves the old primary running (it demotes
      // it only some 10 s later). Until the client hears +switch-master it writes to the old
      // primary, and those writes vanish when it is demoted: the connection must move at once.
      // Writes the old primary acknowledged between the promotion and the announcement (about a
      // second here) are lost all the same; that is asynchronous replication, so they are not
      // checked (min-replicas-to-write on the primary is what narrows that window).
      await sentinel.call('SENTINEL', 'FAILOVER', name);
      const deadline = Date.now() + 10_000;
      let announcedAt: number | undefined;
      let movedAt: number | undefined;
      while (movedAt === undefined) {
        if (Date.now() > deadline) throw new Error(`the engine did not move to ${replicaPort} within 10 s (announced: ${announcedAt !== undefined})`);
        await append().catch(() => undefined); // keep the engine busy through the switch
        if (announcedAt === undefined && String(await sentinel.call('SENTINEL', 'get-master-addr-by-name', name)).endsWith(`,${replicaPort}`)) announcedAt = Date.now();
        if ((await engineOn().catch(() => undefined)) === String(replicaPort)) movedAt = Date.now();
        await sleep(20);
      }
      // Without listening for the announcement the client moves only when the old primary is
      // demoted and its clients are killed, ~10 s later.
      expect(movedAt - (announcedAt ?? movedAt)).toBeLessThan(3000);

      // From now on every write lands on the new primary, seqs continuing without repeats, and
      // another client (resolving the primary afresh through the sentinel) reads each of them.
      const after: { id: MessageId; seq: number }[] = [];
      for (let i = 0; i < 5; i += 1) after.push(await append());
      expect(after.map(({ seq }) => seq - (after[0]?.seq ?? 0))).toEqual([0, 1, 2, 3, 4]);
      expect(infoFields(await redis.info('replication')).get('role')).toBe('master');
      for (const { id, seq } of after) expect((await fresh.messages.get(tenant, conversation, id, null))?.seq).toBe(seq);
      const history = await fresh.messages.history(tenant, conversation, { limit: 100 }, null);
      const seqs = history.items.map(({ seq }) => seq);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
      await expect(engine.ping()).resolves.toBeUndefined();

      // The subscriber (its own connection) moved as well: it hears what the new primary publishes.
      const heardTyping = () => heard.some((message) => message.kind === 'ephemeral' && message.event.type === 'typing');
      const heardDeadline = Date.now() + 3000;
      while (!heardTyping() && Date.now() < heardDeadline) {
        await engine.pubsub.publishEphemeral(tenant, conversation, { type: 'typing', conversationId: conversation, userId: alice });
        await sleep(50);
      }
      expect(heardTyping()).toBe(true);
    } finally {
      await subscriber.close();
      await engine.close();
      await fresh.close();
    }
    // The connections that listen to the sentinels (the engine's, its subscriber's, the other
    // engine's) close with them.
    const closeDeadline = Date.now() + 3000;
    while ((await sentinelClients()) > clientsBefore && Date.now() < closeDeadline) await sleep(20);
    expect(await sentinelClients()).toBe(clientsBefore);
  });
});
