/**
 * The Redis side of realtime, as actually stored and published (the behaviour itself is the
 * engine contract's): each conversation's log is one stream under its hash tag whose entries are
 * exactly what was published, once; retention trims the stream exactly and records the newest
 * dropped id; JSON assembled by Lua survives awkward text and the largest times; subscribers drop
 * what they cannot parse and let go of their connections; presence keeps its node sets tidy.
 */
import { Redis as IORedis, type Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventEnvelope, EventId, TopicMessage } from '../../domain/events.js';
import type { ConversationId, Message, MessageId, TenantId, UserId } from '../../domain/types.js';
import { createRedisTestEngine, createTestRedis, startLocalRedis, uniqueKeyPrefix } from '../../test-support/redis.js';
import { createRedisClient } from './redis-connection.js';
import { createRedisEngine } from './redis-engine.js';
import type { Engine, EventRetention } from '../engine.js';
import { RedisKeys } from './redis-keys.js';

const tenant = 'acme' as TenantId;
const alice = 'u-alice' as UserId;
const bob = 'u-bob' as UserId;
const T0 = Date.now();

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

async function setup(retention?: EventRetention): Promise<{ engine: Engine; keys: RedisKeys; admin: Redis }> {
  const { engine, keyPrefix, cleanup } = await createRedisTestEngine(retention ? { retention } : {});
  const admin = createTestRedis();
  cleanups.push(async () => {
    await admin.quit();
    await cleanup();
  });
  return { engine, keys: new RedisKeys(keyPrefix), admin };
}

/** A plain connection subscribed to `channels`, recording raw payloads. */
async function rawListener(channels: string[]): Promise<{ heard: string[] }> {
  const connection = createTestRedis();
  cleanups.push(async () => {
    await connection.quit();
  });
  const heard: string[] = [];
  connection.on('message', (_channel: string, payload: string) => heard.push(payload));
  await connection.subscribe(...channels);
  return { heard };
}

async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function group(engine: Engine, id: string, createdAt = T0): Promise<ConversationId> {
  await engine.conversations.createGroup(tenant, {
    id: id as ConversationId,
    type: 'group',
    title: `group ${id}`,
    createdAt,
    members: [
      { userId: alice, role: 'owner' },
      { userId: bob, role: 'member' },
    ],
  });
  return id as ConversationId;
}

async function send(engine: Engine, id: ConversationId, text: string, createdAt: number): Promise<Message> {
  const result = await engine.messages.append(
    tenant,
    id,
    { id: `m-${createdAt}-${text.length}-${Math.random()}` as MessageId, senderId: alice, system: false, text, replyTo: null, createdAt, clientMessageId: null },
    60_000,
  );
  if (result.status !== 'created') throw new Error(result.status);
  return result.message;
}

async function streamInfo(admin: Redis, key: string): Promise<Record<string, unknown>> {
  const flat = (await admin.xinfo('STREAM', key)) as unknown[];
  const info: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) info[String(flat[i])] = flat[i + 1];
  return info;
}

describe('redis event logs', () => {
  it('stores each event as one stream entry under the conversation’s tag and publishes that same envelope once', async () => {
    const { engine, keys, admin } = await setup();
    const id = 'g1' as ConversationId;
    const listener = await rawListener([keys.conversationTopic(tenant, id)]);
    await group(engine, id);
    const message = await send(engine, id, 'hi', T0 + 1);
    await engine.messages.react(tenant, id, message.id, bob, '👍', true, { maxEmojiPerMessage: 5, maxReactionsPerUser: 5 }, T0 + 2);
    await engine.conversations.markRead(tenant, id, bob, 1, T0 + 3);

    const stream = keys.conversation(tenant, id).events;
    expect(stream.startsWith(`${keys.prefix}{c:acme:g1}:`)).toBe(true);
    const entries = await admin.xrange(stream, '-', '+');
    expect(entries.map(([, fields]) => fields[0])).toEqual(['event', 'event', 'event', 'event']);
    const stored: EventEnvelope[] = entries.map(([entryId, fields]) => ({
      id: entryId as EventId,
      at: Number(entryId.split('-')[0]),
      event: JSON.parse(fields[1] ?? 'null') as EventEnvelope['event'],
    }));
    expect(stored.map((envelope) => [envelope.event.type, envelope.at])).toEqual([
      ['conversation.created', T0],
      ['message.created', T0 + 1],
      ['reaction.added', T0 + 2],
      ['read', T0 + 3],
    ]);
    expect(stored.map((envelope) => envelope.id)).toEqual([`${T0}-0`, `${T0 + 1}-0`, `${T0 + 2}-0`, `${T0 + 3}-0`]);
    await until('four publications', () => listener.heard.length >= 4);
    expect(listener.heard.map((payload) => JSON.parse(payload) as unknown)).toEqual(stored);
    // What read() returns is what was stored.
    expect((await engine.events.read(tenant, id, null, 10)).events).toEqual(stored);
  });

  it('trims the stream exactly to maxEvents and by age, keeping the newest dropped id as max-deleted-entry-id', async () => {
    const { engine, keys, admin } = await setup({ maxEvents: 3, maxAgeMs: 1000 });
    const id = await group(engine, 'g1');
    for (let i = 1; i <= 5; i += 1) await send(engine, id, `m${i}`, T0 + i);
    const stream = keys.conversation(tenant, id).events;
    expect(await admin.xlen(stream)).toBe(3);
    // Six events logged (created + 5 messages), the oldest three dropped: the third is the newest dropped.
    expect(await streamInfo(admin, stream)).toMatchObject({ 'max-deleted-entry-id': `${T0 + 2}-0`, 'entries-added': 6 });
    expect((await engine.events.read(tenant, id, `${T0 + 2}-0` as EventId, 10)).trimmed).toBe(false);
    expect((await engine.events.read(tenant, id, `${T0 + 1}-0` as EventId, 10)).trimmed).toBe(true);

    // A new event 2 s later: everything more than 1 s older goes at once.
    await send(engine, id, 'late', T0 + 2005);
    expect(await admin.xrange(stream, '-', '+')).toEqual([[`${T0 + 2005}-0`, ['event', expect.any(String)]]]);
    expect(await streamInfo(admin, stream)).toMatchObject({ 'max-deleted-entry-id': `${T0 + 5}-0`, 'last-generated-id': `${T0 + 2005}-0` });
  });

  it('numbers events of one millisecond, and logs an earlier change at the newest entry’s millisecond', async () => {
    const { engine, keys, admin } = await setup();
    const id = await group(engine, 'g1', T0 + 10);
    await send(engine, id, 'same ms', T0 + 10);
    await engine.conversations.update(tenant, id, { title: 'earlier' }, T0 + 5);
    expect((await admin.xrange(keys.conversation(tenant, id).events, '-', '+')).map(([entryId]) => entryId)).toEqual([
      `${T0 + 10}-0`,
      `${T0 + 10}-1`,
      `${T0 + 10}-2`,
    ]);
  });

  it('carries awkward text, emptiness and the largest times through Lua-built JSON exactly', async () => {
    const { engine } = await setup();
    const late = 1e14 - 1;
    const title = 'quote " backslash \\ slash / </script> \u2028 tab \t nul-ish \u0001 ü 👩‍👩‍👧';
    await engine.conversations.createGroup(tenant, {
      id: 'x"}{:%' as ConversationId,
      type: 'group',
      title,
      createdAt: late - 10,
      members: [{ userId: 'u"1' as UserId, role: 'owner' }],
    });
    const id = 'x"}{:%' as ConversationId;
    const text = `${title} {"json":[]} []`;
    const sent = await engine.messages.append(
      tenant,
      id,
      { id: 'm"1' as MessageId, senderId: 'u"1' as UserId, system: false, text, replyTo: null, createdAt: late, clientMessageId: null },
      0,
    );
    if (sent.status !== 'created') throw new Error(sent.status);
    await engine.messages.react(tenant, id, sent.message.id, 'u"1' as UserId, '{}', true, { maxEmojiPerMessage: 5, maxReactionsPerUser: 5 }, late);
    await engine.messages.react(tenant, id, sent.message.id, 'u"1' as UserId, '{}', false, { maxEmojiPerMessage: 5, maxReactionsPerUser: 5 }, late);
    const edited = await engine.messages.edit(tenant, id, sent.message.id, `${text}!`, late, null);
    const log = (await engine.events.read(tenant, id, null, 10)).events;
    const conversation = await engine.conversations.get(tenant, id);
    expect(log.map((envelope) => envelope.event)).toEqual([
      { type: 'conversation.created', conversationId: id, conversation: { ...conversation, lastSeq: 0, lastActivityAt: late - 10 } },
      { type: 'message.created', conversationId: id, message: sent.message },
      { type: 'reaction.added', conversationId: id, messageId: 'm"1', emoji: '{}', userId: 'u"1' },
      { type: 'reaction.removed', conversationId: id, messageId: 'm"1', emoji: '{}', userId: 'u"1' },
      { type: 'message.updated', conversationId: id, message: edited.status === 'ok' ? edited.message : null },
    ]);
    expect(log.at(-1)?.at).toBe(late);
    // Reactions back to none: an empty object, never an array, and myReactions always [].
    expect(log.at(-1)?.event).toMatchObject({ message: { reactions: {}, myReactions: [], text: `${text}!` } });
  });

  it('keeps each inbox in the user’s own slot, trimmed like a log', async () => {
    const { engine, keys, admin } = await setup({ maxEvents: 2, maxAgeMs: 1000 });
    const event = (n: number) => ({ type: 'member.removed' as const, conversationId: `g${n}` as ConversationId, userId: alice, role: 'member' as const });
    for (let n = 1; n <= 3; n += 1) await engine.events.notify(tenant, [alice], event(n), T0 + n);
    const inbox = keys.inbox(tenant, alice);
    expect(inbox).toBe(`${keys.prefix}{u:acme:u-alice}:inbox`);
    expect(await admin.xlen(inbox)).toBe(2);
    expect(await streamInfo(admin, inbox)).toMatchObject({ 'max-deleted-entry-id': `${T0 + 1}-0` });
    expect((await admin.xrange(inbox, '-', '+')).map(([, fields]) => JSON.parse(fields[1] ?? '') as unknown)).toEqual([event(2), event(3)]);
  });
});

describe('redis subscribers', () => {
  it('drop whatever is not a well-formed message of a held channel, and survive an onMessage that throws', async () => {
    const { engine, keys, admin } = await setup();
    const id = await group(engine, 'g1');
    const heard: TopicMessage[] = [];
    let calls = 0;
    const subscriber = engine.pubsub.createSubscriber((message) => {
      calls += 1;
      if (calls === 1) throw new Error('a careless listener');
      heard.push(message);
    });
    cleanups.push(() => subscriber.close());
    await subscriber.subscribeConversations(tenant, [id]);
    await subscriber.subscribeUsers(tenant, [alice]);
    const first = await send(engine, id, 'thrown away by the listener', T0 + 1);

    const channel = keys.conversationTopic(tenant, id);
    const [valid] = (await engine.events.read(tenant, id, null, 10)).events;
    const otherConversation = { ...valid, event: { ...valid?.event, conversationId: 'g2' } };
    for (const payload of [
      'not json',
      '[]',
      '{}',
      '{"id":"x","at":1,"event":{}}',
      JSON.stringify({ ...valid, at: 1 }), // at disagrees with the id
      JSON.stringify({ ...valid, event: { type: 'message.exploded', conversationId: id } }),
      JSON.stringify(otherConversation), // logged events of g1 are about g1
      JSON.stringify({ ephemeral: { type: 'typing', conversationId: 'g2', userId: alice } }),
      JSON.stringify({ ephemeral: { type: 'presence', userId: alice, status: 'away', lastSeenAt: null } }),
      JSON.stringify({ ephemeral: 'typing' }),
    ]) {
      await admin.publish(channel, payload);
    }
    await admin.publish(keys.userTopic(tenant, alice), '{"broken":');
    const marker = await send(engine, id, 'marker', T0 + 2);
    await until('the marker', () => heard.length >= 1);
    expect(calls).toBe(2);
    expect(heard).toEqual([
      { kind: 'event', tenantId: tenant, conversationId: id, envelope: expect.objectContaining({ event: expect.objectContaining({ message: marker }) }) },
    ]);
    expect(first.seq).toBe(1);
  });

  it('report an interruption when their connection drops, then hear new events again', async () => {
    // A private server: killing pub/sub clients on the shared one would disturb other test files.
    const local = await startLocalRedis();
    const keyPrefix = uniqueKeyPrefix();
    const engine = createRedisEngine({ redis: createRedisClient({ url: local.url }), keyPrefix });
    const channel = new RedisKeys(keyPrefix).conversationTopic(tenant, 'g1' as ConversationId);
    const admin = new IORedis(local.url);
    cleanups.push(async () => {
      await admin.quit();
      await engine.close();
      await local.stop();
    });
    const id = await group(engine, 'g1');
    const heard: TopicMessage[] = [];
    let interruptions = 0;
    const subscriber = engine.pubsub.createSubscriber(
      (message) => heard.push(message),
      () => (interruptions += 1),
    );
    await subscriber.subscribeConversations(tenant, [id]);
    await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await until('the interruption', () => interruptions === 1);
    // ioredis reconnects and subscribes again by itself; what is published then is heard.
    const deadline = Date.now() + 5000;
    while (Number(((await admin.pubsub('NUMSUB', channel)) as [string, number])[1]) !== 1 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const after = await send(engine, id, 'after the drop', T0 + 5);
    await until('the event after reconnecting', () => heard.some((m) => m.kind === 'event' && JSON.stringify(m.envelope).includes(after.id)));
    expect(interruptions).toBe(1);
  });

  it('hold one connection each, released by close() and by the engine’s close()', async () => {
    const { engine, keys, admin } = await setup();
    const channel = keys.conversationTopic(tenant, 'g1' as ConversationId);
    const numsub = async () => Number(((await admin.pubsub('NUMSUB', channel)) as [string, number])[1]);
    const first = engine.pubsub.createSubscriber(() => undefined);
    const second = engine.pubsub.createSubscriber(() => undefined);
    await first.subscribeConversations(tenant, ['g1' as ConversationId, 'g1' as ConversationId]);
    await second.subscribeConversations(tenant, ['g1' as ConversationId]);
    expect(await numsub()).toBe(2);
    await first.close();
    await first.close();
    expect(await numsub()).toBe(1);
    await engine.close();
    expect(await numsub()).toBe(0);
  });
});

describe('redis presence', () => {
  it('keeps each node’s users set a superset of its connections and forgets a swept node entirely', async () => {
    const { engine, keys, admin } = await setup();
    const { presence } = engine;
    const nodeUsers = keys.nodeUsers('n1');
    await presence.heartbeat('n1', T0 + 1000);
    await presence.connect(tenant, alice, 'n1', T0);
    await presence.connect(tenant, alice, 'n1', T0);
    await presence.connect(tenant, bob, 'n1', T0);
    expect((await admin.smembers(nodeUsers)).sort()).toEqual(['acme:u-alice', 'acme:u-bob']);
    expect(await admin.hgetall(keys.presence(tenant, alice))).toEqual({ 'node:n1': '2', online: '1' });

    await presence.disconnect(tenant, bob, 'n1', T0 + 1);
    expect(await admin.smembers(nodeUsers)).toEqual(['acme:u-alice']);
    expect(await admin.hgetall(keys.presence(tenant, bob))).toEqual({ lastSeenAt: String(T0 + 1) });

    expect(await presence.sweepDeadNodes(T0 + 2000)).toEqual([{ tenantId: tenant, userId: alice, lastSeenAt: T0 + 2000 }]);
    expect(await admin.exists(nodeUsers)).toBe(0);
    expect(await admin.zscore(keys.presenceNodes(), 'n1')).toBeNull();
    expect(await admin.hgetall(keys.presence(tenant, alice))).toEqual({ lastSeenAt: String(T0 + 2000) });
  });

  it('sweeps a node with more users than one scan batch', async () => {
    const { engine } = await setup();
    const users = Array.from({ length: 1200 }, (_, i) => `u-${i}` as UserId);
    await engine.presence.heartbeat('n1', T0 + 1000);
    await Promise.all(users.map((userId) => engine.presence.connect(tenant, userId, 'n1', T0)));
    const offline = await engine.presence.sweepDeadNodes(T0 + 1001);
    expect(offline.map((entry) => entry.userId).sort()).toEqual([...users].sort());
  });
});
