/**
 * The Redis engine on a real Redis Cluster: three masters started from redis-server on free
 * private ports for this file only, and stopped (those processes, by handle) afterwards.
 *
 * The whole engine contract runs against it, through the production connection factory: every
 * script must keep to one slot (Redis refuses a cross-slot script with CROSSSLOT), and concurrent
 * appends, group and direct creation, and listForUser must hold across nodes. A last test checks
 * with CLUSTER KEYSLOT that each conversation's keys share one slot and the tenant's keys another.
 */
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConversationId, MessageId, TenantId, UserId } from '../../domain/types.js';
import { deleteKeysWithPrefix, keysWithPrefix, startLocalCluster, uniqueKeyPrefix, type LocalCluster } from '../../test-support/redis.js';
import { runEngineContract } from '../engine.contract.js';
import { createRedisClient } from './redis-connection.js';
import { createRedisEngine } from './redis-engine.js';

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

runEngineContract('redis engine on Redis Cluster', async () => {
  const keyPrefix = uniqueKeyPrefix();
  const engine = createRedisEngine({ redis: createRedisClient({ clusterNodes: nodeList() }), keyPrefix });
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
        await engine.messages.react(tenant, id, `${id}-m1` as MessageId, bob, '👍', true, { maxEmojiPerMessage: 5, maxReactionsPerUser: 5 });
      }
      const direct = await engine.conversations.getOrCreateDirect(tenant, {
        id: 'd1' as ConversationId,
        type: 'direct',
        title: null,
        createdAt: 3,
        members: [{ userId: alice, role: 'member' }, { userId: bob, role: 'member' }],
      });
      expect((await engine.conversations.listForUser(tenant, bob, { limit: 10 })).items).toHaveLength(5);

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
