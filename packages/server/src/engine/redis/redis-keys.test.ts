/**
 * The key layout as actually written: every key carries the prefix and its tenant, every key of a
 * conversation shares that conversation's hash tag, and ids cannot break out of their segment.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ConversationId, MessageId, TenantId, UserId } from '../../domain/types.js';
import { createRedisTestEngine, createTestRedis, keysWithPrefix } from '../../test-support/redis.js';
import { RedisKeys } from './redis-keys.js';

const tenant = 'acme' as TenantId;
const alice = 'u-alice' as UserId;
const bob = 'u-bob' as UserId;
const T0 = Date.now();

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.map((cleanup) => cleanup()));
  cleanups = [];
});

describe('RedisKeys', () => {
  it('uses the prefix, the tenant and one hash tag per conversation', () => {
    const keys = new RedisKeys('p:');
    const conversation = keys.conversation(tenant, 'c1' as ConversationId);
    expect(Object.values(conversation).every((key) => key.startsWith('p:{c:acme:c1}:'))).toBe(true);
    expect(keys.reactors(tenant, 'c1' as ConversationId, 7)).toBe('p:{c:acme:c1}:reactors:7');
    expect(keys.conversationTopic(tenant, 'c1' as ConversationId)).toBe('p:{c:acme:c1}:topic');
    expect([keys.inbox(tenant, alice), keys.presence(tenant, alice), keys.userTopic(tenant, alice)]).toEqual([
      'p:{u:acme:u-alice}:inbox',
      'p:{u:acme:u-alice}:presence',
      'p:{u:acme:u-alice}:topic',
    ]);
    expect(keys.systemIdempotency(tenant, 'c1' as ConversationId, 'k')).toBe('p:{c:acme:c1}:idem-system:k');
    expect(keys.user(tenant, alice)).toBe('p:{t:acme}:user:u-alice');
    expect(keys.refreshFamily(tenant, 'f1')).toBe('p:{rt:acme:f1}:family');
    expect(new RedisKeys().tenant(tenant)).toBe('parley:{t:acme}:tenant');
  });

  it('percent-encodes ids so that they cannot end a hash tag or collide across segments', () => {
    const keys = new RedisKeys('p:');
    expect(keys.conversation('a:b' as TenantId, 'c' as ConversationId).meta).toBe('p:{c:a%3Ab:c}:meta');
    expect(keys.conversation('a' as TenantId, 'b:c' as ConversationId).meta).toBe('p:{c:a:b%3Ac}:meta');
    expect(keys.conversation(tenant, 'x}y{z' as ConversationId).meta).toBe('p:{c:acme:x%7Dy%7Bz}:meta');
    expect(keys.idempotency(tenant, 'c' as ConversationId, 'u:1' as UserId, 'k')).not.toBe(
      keys.idempotency(tenant, 'c' as ConversationId, 'u' as UserId, '1:k'),
    );
    expect(keys.nodeUsers('n:{1}')).toBe('p:{presence-node:n%3A%7B1%7D}:users');
  });

  it('maps a topic back to its tenant and conversation or user, ids decoded, and nothing else', () => {
    const keys = new RedisKeys('p:');
    const awkward = ['a:b', 'x}y{z', '100%', 'ü 👍', '-'];
    for (const tenantId of awkward as TenantId[]) {
      for (const id of awkward) {
        expect(keys.parseTopic(keys.conversationTopic(tenantId, id as ConversationId))).toEqual({ kind: 'conversation', tenantId, conversationId: id });
        expect(keys.parseTopic(keys.userTopic(tenantId, id as UserId))).toEqual({ kind: 'user', tenantId, userId: id });
      }
      const member = keys.nodeUserMember(tenantId, 'u:1' as UserId);
      expect(keys.parseNodeUserMember(member)).toEqual({ tenantId, userId: 'u:1' });
    }
    for (const channel of [
      'q:{c:acme:c1}:topic', // another prefix
      'p:{c:acme:c1}:meta',
      'p:{c:acme}:topic',
      'p:{x:acme:c1}:topic',
      'p:{c:acme:c%ZZ}:topic', // not percent-encoding
      'p:{c:acme:a%3ab}:topic', // not the encoding segment() writes
      'p:{c:acme:a b}:topic',
    ]) {
      expect(keys.parseTopic(channel), channel).toBeNull();
    }
  });
});

describe('redis engine key layout', () => {
  it('writes exactly the documented keys, each with its tenant, and bounds what expires', async () => {
    const { engine, keyPrefix, cleanup } = await createRedisTestEngine();
    cleanups.push(cleanup);
    await engine.tenants.create({ id: tenant, name: 'Acme', createdAt: T0 }, { id: 'key-1', hash: 'key-hash', createdAt: T0 });
    await engine.tenants.touchApiKey(tenant, 'key-1', T0);
    await engine.users.register(tenant, { id: alice, username: 'alice', displayName: 'A', passwordHash: 'h', createdAt: T0 });
    await engine.users.upsert(tenant, { id: bob, displayName: 'B', metadata: { tags: [] } }, T0);
    await engine.users.block(tenant, alice, bob);
    await engine.conversations.createGroup(tenant, {
      id: 'g1' as ConversationId,
      type: 'group',
      title: 'G',
      createdAt: T0,
      members: [{ userId: alice, role: 'owner' }, { userId: bob, role: 'member' }],
    });
    const message = { id: 'm1' as MessageId, senderId: alice, system: false, text: 'hi', replyTo: null, createdAt: T0, clientMessageId: 'k1' };
    await engine.messages.append(tenant, 'g1' as ConversationId, message, 60_000);
    await engine.messages.react(tenant, 'g1' as ConversationId, message.id, bob, '👍', true, { maxEmojiPerMessage: 5, maxReactionsPerUser: 5 }, T0);
    await engine.conversations.getOrCreateDirect(tenant, {
      id: 'd1' as ConversationId,
      type: 'direct',
      title: null,
      createdAt: T0,
      members: [{ userId: alice, role: 'member' }, { userId: bob, role: 'member' }],
    });
    await engine.users.block(tenant, bob, alice);
    await engine.refreshTokens.create({ tenantId: tenant, familyId: 'fam-1', userId: alice, generation: 0, secretHash: 'h', expiresAt: T0 + 3_600_000 }, T0);
    await engine.signingKeys.ensureCurrent({ kid: 'k1', alg: 'EdDSA', privateJwk: { d: 'x' }, publicJwk: { x: 'y' }, createdAt: T0 });
    await engine.signingKeys.ensureIssuer('http://parley.test');
    await engine.messages.append(tenant, 'g1' as ConversationId, { ...message, id: 'm2' as MessageId, senderId: null, system: true, clientMessageId: 'k2' }, 60_000);
    await engine.events.notify(tenant, [bob], { type: 'member.removed', conversationId: 'g0' as ConversationId, userId: bob, role: 'member' }, T0);
    await engine.presence.heartbeat('n1', T0 + 60_000);
    await engine.presence.connect(tenant, alice, 'n1', T0);
    await engine.rateLimits.consume({ limit: 'send', tenantId: tenant, subject: alice }, { count: 10, windowMs: 10_000 }, T0);
    await engine.rateLimits.consume({ limit: 'register-ip', tenantId: null, subject: '10.0.0.1' }, { count: 10, windowMs: 60_000 }, T0);

    const admin = createTestRedis();
    try {
      const keys = (await keysWithPrefix(admin, keyPrefix)).map((key) => key.slice(keyPrefix.length)).sort();
      expect(keys).toEqual(
        [
          '{c:acme:d1}:events',
          '{c:acme:d1}:member-order',
          '{c:acme:d1}:members',
          '{c:acme:d1}:meta',
          '{c:acme:g1}:events',
          '{c:acme:g1}:idem-system:k2',
          '{c:acme:g1}:idem:u-alice:k1',
          '{c:acme:g1}:member-order',
          '{c:acme:g1}:members',
          '{c:acme:g1}:message-ids',
          '{c:acme:g1}:messages',
          '{c:acme:g1}:meta',
          '{c:acme:g1}:my-reactions',
          '{c:acme:g1}:reactors:1',
          '{rt:acme:fam-1}:family',
          '{signing-keys}:all',
          '{signing-keys}:current',
          '{signing-keys}:issuer',
          '{t:acme}:api-keys',
          '{t:acme}:api-keys-used',
          '{t:acme}:blocks:u-alice',
          '{t:acme}:blocks:u-bob',
          '{t:acme}:conv-activity',
          '{t:acme}:direct-pairs',
          '{t:acme}:tenant',
          '{t:acme}:user-convs:u-alice',
          '{t:acme}:user-convs:u-bob',
          '{t:acme}:user:u-alice',
          '{t:acme}:user:u-bob',
          '{t:acme}:usernames',
          '{u:acme:u-alice}:presence',
          '{u:acme:u-alice}:refresh-families',
          '{u:acme:u-bob}:inbox',
          '{presence}:nodes',
          '{presence-node:n1}:users',
          '{rl:send:acme:u-alice}:tat',
          '{rl-ip:register-ip:10.0.0.1}:tat',
        ].sort(),
      );
      // Signing keys, the presence nodes (operational state of the deployment's gateway nodes) and
      // per-IP rate limits are the deliberately global families; everything else names its tenant.
      const global = /^\{(signing-keys|presence|presence-node:[^}]*|rl-ip:[^}]*)\}:/;
      for (const key of keys.filter((name) => !global.test(name))) expect(key).toMatch(/^\{(t|c|rt|u|rl:[a-z-]+):acme[:}]/);
      // Rate limit counters go away on their own once their burst is full again.
      const counterTtl = await admin.pttl(`${keyPrefix}{rl:send:acme:u-alice}:tat`);
      expect(counterTtl).toBeGreaterThan(0);
      expect(counterTtl).toBeLessThanOrEqual(1000);
      expect(await admin.smembers(`${keyPrefix}{presence-node:n1}:users`)).toEqual(['acme:u-alice']);
      // What must go away on its own does: the idempotency windows and the refresh family.
      for (const key of ['{c:acme:g1}:idem:u-alice:k1', '{c:acme:g1}:idem-system:k2']) {
        const idempotencyTtl = await admin.pttl(`${keyPrefix}${key}`);
        expect(idempotencyTtl).toBeGreaterThan(0);
        expect(idempotencyTtl).toBeLessThanOrEqual(60_000);
      }
      expect(await admin.pttl(`${keyPrefix}{rt:acme:fam-1}:family`)).toBeGreaterThan(0);
      expect(await admin.pttl(`${keyPrefix}{u:acme:u-alice}:refresh-families`)).toBeGreaterThan(0);
      // Deleting the message clears its reactions everywhere, reactors set included.
      await engine.messages.delete(tenant, 'g1' as ConversationId, message.id, T0 + 1);
      expect(await admin.exists(`${keyPrefix}{c:acme:g1}:reactors:1`, `${keyPrefix}{c:acme:g1}:my-reactions`)).toBe(0);
      // Metadata is stored as the caller's JSON: an empty array stays an array.
      expect(await engine.users.get(tenant, bob)).toMatchObject({ metadata: { tags: [] } });
    } finally {
      await admin.quit();
    }
  });
});
