/**
 * The tenant-slot indexes are kept apart from the conversations they index (another Cluster
 * slot), so they may briefly disagree; these tests put them in the states a crash or a race can
 * leave and check that readers still answer exactly and repair what they meet.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ConversationId, MessageId, TenantId, UserId } from '../../domain/types.js';
import { createRedisTestEngine, createTestRedis } from '../../test-support/redis.js';
import type { Engine } from '../engine.js';
import { RedisKeys } from './redis-keys.js';

const tenant = 'acme' as TenantId;
const alice = 'alice' as UserId;
const bob = 'bob' as UserId;
const T0 = Date.now();

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.map((cleanup) => cleanup()));
  cleanups = [];
});

async function setup(): Promise<{ engine: Engine; keys: RedisKeys; admin: ReturnType<typeof createTestRedis> }> {
  const { engine, keyPrefix, cleanup } = await createRedisTestEngine();
  const admin = createTestRedis();
  cleanups.push(async () => {
    await admin.quit();
    await cleanup();
  });
  return { engine, keys: new RedisKeys(keyPrefix), admin };
}

function group(engine: Engine, id: string, members: UserId[], createdAt = T0) {
  return engine.conversations.createGroup(tenant, {
    id: id as ConversationId,
    type: 'group',
    title: id,
    createdAt,
    members: members.map((userId, i) => ({ userId, role: i === 0 ? 'owner' : 'member' })),
  });
}

const ids = (page: { items: { conversation: { id: string } }[] }) => page.items.map((view) => view.conversation.id);

describe('redis engine user index', () => {
  it('skips and prunes stale entries, still filling every page', async () => {
    const { engine, keys, admin } = await setup();
    for (let i = 0; i < 6; i += 1) await group(engine, `real-${i}`, [alice], T0 + i * 10);
    // As a crash can leave them: entries for conversations alice never joined or that never got created.
    for (let i = 0; i < 6; i += 1) {
      await group(engine, `foreign-${i}`, [bob], T0 + i * 10 + 5);
      await admin.sadd(keys.userConversations(tenant, alice), `foreign-${i}`);
    }
    await admin.sadd(keys.userConversations(tenant, alice), 'never-created');
    await admin.zadd(keys.conversationActivity(tenant), T0 + 1000, 'never-created');

    const first = await engine.conversations.listForUser(tenant, alice, { limit: 4 });
    expect(ids(first)).toEqual(['real-5', 'real-4', 'real-3', 'real-2']);
    const second = await engine.conversations.listForUser(tenant, alice, { cursor: first.nextCursor ?? '', limit: 4 });
    expect(ids(second)).toEqual(['real-1', 'real-0']);
    expect(second.nextCursor).toBeNull();
    // What the reads met is gone from alice's set; bob's own entries are untouched.
    const remaining = await admin.smembers(keys.userConversations(tenant, alice));
    expect(remaining.filter((id) => !id.startsWith('real-'))).toEqual([]);
    expect(await admin.scard(keys.userConversations(tenant, bob))).toBe(6);
  });

  it('lists memberships without stale entries, pruning them, and counts them only until then', async () => {
    const { engine, keys, admin } = await setup();
    await group(engine, 'real', [alice]);
    await group(engine, 'foreign', [bob]);
    // As a crash midway through a leave can leave them.
    await admin.sadd(keys.userConversations(tenant, alice), 'foreign', 'never-created');
    expect(await engine.conversations.countMemberships(tenant, [alice])).toEqual([3]);
    const listed = await engine.conversations.listMemberships(tenant, alice, 10);
    expect(listed.map((m) => m.conversationId)).toEqual(['real']);
    expect(await engine.conversations.countMemberships(tenant, [alice])).toEqual([1]);
    expect(await admin.smembers(keys.userConversations(tenant, bob))).toEqual(['foreign']);
  });

  it('repairs the activity order an interrupted append left behind', async () => {
    const { engine, keys, admin } = await setup();
    await group(engine, 'a', [alice], T0);
    await group(engine, 'b', [alice], T0 + 1);
    await engine.messages.append(tenant, 'a' as ConversationId, { id: 'm1' as MessageId, senderId: alice, system: false, text: 'x', replyTo: null, createdAt: T0 + 50, clientMessageId: null }, 1000);
    // As if the node died between the append script and its activity update.
    await admin.zadd(keys.conversationActivity(tenant), T0, 'a');
    const stale = await engine.conversations.listForUser(tenant, alice, { limit: 10 });
    expect(stale.items.find((view) => view.conversation.id === 'a')?.conversation.lastActivityAt).toBe(T0 + 50);
    expect(Number(await admin.zscore(keys.conversationActivity(tenant), 'a'))).toBe(T0 + 50);
    expect(ids(await engine.conversations.listForUser(tenant, alice, { limit: 10 }))).toEqual(['a', 'b']);
  });

  it('never loses a member from the index under racing joins and leaves', async () => {
    const { engine, keys, admin } = await setup();
    const id = 'g' as ConversationId;
    await group(engine, id, [bob]);
    for (let round = 0; round < 20; round += 1) {
      await Promise.all([
        engine.conversations.addMembers(tenant, id, [alice], 'member', T0, 100),
        engine.conversations.removeMember(tenant, id, alice, T0),
        engine.conversations.addMembers(tenant, id, [alice], 'member', T0, 100),
        ...(round % 2 === 0 ? [engine.conversations.removeMember(tenant, id, alice, T0)] : []),
      ]);
      const member = (await engine.conversations.getMembers(tenant, id, [alice])).length === 1;
      const indexed = (await admin.sismember(keys.userConversations(tenant, alice), id)) === 1;
      if (member) expect(indexed).toBe(true);
      expect(ids(await engine.conversations.listForUser(tenant, alice, { limit: 10 }))).toEqual(member ? [id] : []);
    }
  });

  it('pages a user with thousands of conversations completely and in order, ties included', async () => {
    const { engine } = await setup();
    const total = 2000;
    for (let start = 0; start < total; start += 200) {
      await Promise.all(
        Array.from({ length: 200 }, (_, j) => start + j).map((i) =>
          // Activity out of creation order with many ties, so the cursor's tie-break does real work.
          group(engine, `c-${String(i).padStart(5, '0')}`, [alice], T0 + ((i * 7919) % 300)),
        ),
      );
    }
    const seen: { id: string; at: number }[] = [];
    let cursor: string | undefined;
    do {
      const page = await engine.conversations.listForUser(tenant, alice, cursor === undefined ? { limit: 100 } : { cursor, limit: 100 });
      seen.push(...page.items.map((view) => ({ id: view.conversation.id, at: view.conversation.lastActivityAt })));
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    const expected = [...seen].sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
    expect(seen).toHaveLength(total);
    expect(new Set(seen.map((entry) => entry.id)).size).toBe(total);
    expect(seen).toEqual(expected);
  });

  it('indexes every member of a large group and of a large addition', async () => {
    const { engine } = await setup();
    const many = Array.from({ length: 1201 }, (_, i) => `user-${String(i).padStart(5, '0')}` as UserId);
    await group(engine, 'big', many.slice(0, 1001));
    const added = await engine.conversations.addMembers(tenant, 'big' as ConversationId, many.slice(1001), 'member', T0, 10_000);
    expect(added).toMatchObject({ status: 'ok', conversation: { memberCount: 1201 } });
    for (const userId of [many[0], many[999], many[1000], many[1200]] as UserId[]) {
      expect(ids(await engine.conversations.listForUser(tenant, userId, { limit: 5 }))).toEqual(['big']);
    }
  });
});

describe('redis engine stored data', () => {
  it('round-trips awkward text, emoji and metadata through Lua untouched', async () => {
    const { engine } = await setup();
    const id = 'g' as ConversationId;
    await group(engine, id, [alice]);
    const text = 'quote " backslash \\ slash / tab \t newline \n nul-ish \u0001 emoji 👩‍👩‍👧 rtl \u202e {"json":[]}';
    const sent = await engine.messages.append(tenant, id, { id: 'm1' as MessageId, senderId: alice, system: false, text, replyTo: null, createdAt: T0, clientMessageId: null }, 1000);
    expect(sent).toMatchObject({ status: 'created', message: { text } });
    for (const emoji of ['1', '[]', '{}', '👍🏽', 'a:b']) {
      await engine.messages.react(tenant, id, 'm1' as MessageId, alice, emoji, true, { maxEmojiPerMessage: 10, maxReactionsPerUser: 10 }, T0);
    }
    const edited = await engine.messages.edit(tenant, id, 'm1' as MessageId, `${text} (edited)`, T0 + 1, alice);
    expect(edited).toMatchObject({
      status: 'ok',
      message: { text: `${text} (edited)`, reactions: { '1': 1, '[]': 1, '{}': 1, '👍🏽': 1, 'a:b': 1 }, myReactions: ['1', '[]', '{}', '👍🏽', 'a:b'] },
    });
    const metadata = { big: 9007199254740991, empty: [], nested: { list: [1, 'two', null] }, unicode: 'ü' };
    await engine.users.upsert(tenant, { id: bob, displayName: 'B', metadata }, T0);
    await engine.users.update(tenant, bob, { displayName: 'Bee' }, T0 + 1);
    expect(await engine.users.get(tenant, bob)).toMatchObject({ displayName: 'Bee', metadata });
  });

  it('measures the idempotency window on the given times, like every other time', async () => {
    const { engine } = await setup();
    const id = 'g' as ConversationId;
    await group(engine, id, [alice]);
    let n = 0;
    const send = (createdAt: number) => {
      n += 1;
      return engine.messages.append(tenant, id, { id: `m${n}` as MessageId, senderId: alice, system: false, text: 'x', replyTo: null, createdAt, clientMessageId: 'k' }, 60_000);
    };
    expect((await send(T0)).status).toBe('created');
    expect((await send(T0 + 59_999)).status).toBe('duplicate');
    expect(await send(T0 + 60_000)).toMatchObject({ status: 'created', message: { seq: 2 } });
    expect(await send(T0 + 60_001)).toMatchObject({ status: 'duplicate', message: { seq: 2 } });
  });

  it('refuses times that Lua could not store exactly', async () => {
    const { engine } = await setup();
    await expect(group(engine, 'g', [alice], 1e15)).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(group(engine, 'g', [alice], 1.5)).rejects.toMatchObject({ code: 'invalid_argument' });
  });
});
