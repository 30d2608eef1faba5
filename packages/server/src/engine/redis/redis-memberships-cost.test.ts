/**
 * What opening a realtime connection costs Redis for a user in thousands of conversations. On a
 * private redis-server (nothing else runs on it), its own CPU time is read before and after:
 *   - the old way, paging listForUser 100 at a time, intersects the user's set with the tenant's
 *     activity zset on every page (O(n log n) each, O(n² log n) in all);
 *   - listMemberships reads the user's set once and one membership field per conversation (O(n)).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConversationId, TenantId, UserId } from '../../domain/types.js';
import { startLocalRedis, type LocalRedis } from '../../test-support/redis.js';
import type { Engine } from '../engine.js';
import { createRedisClient } from './redis-connection.js';
import { createRedisEngine } from './redis-engine.js';

const tenant = 'acme' as TenantId;
const alice = 'alice' as UserId;
const CONVERSATIONS = 3000;

describe('a connecting user in 3,000 conversations', () => {
  let redis: LocalRedis;
  let engine: Engine;
  let admin: Redis;

  beforeAll(async () => {
    redis = await startLocalRedis();
    engine = createRedisEngine({ redis: createRedisClient({ url: redis.url }), keyPrefix: 'cost' });
    admin = new Redis(redis.url);
    const T0 = Date.now();
    for (let start = 0; start < CONVERSATIONS; start += 250) {
      await Promise.all(
        Array.from({ length: 250 }, (_, j) => start + j).map((i) =>
          engine.conversations.createGroup(tenant, {
            id: `c-${i}` as ConversationId,
            type: 'group',
            title: `c-${i}`,
            createdAt: T0 + i,
            members: [{ userId: alice, role: 'owner' }],
          }),
        ),
      );
    }
  }, 120_000);
  afterAll(async () => {
    admin?.disconnect();
    await engine?.close();
    await redis?.stop();
  });

  /** Redis's own CPU time (user + system, ms) spent running `work`, and what it returned. */
  async function redisCpuMs<T>(work: () => Promise<T>): Promise<{ ms: number; result: T }> {
    const cpu = async () => {
      const info = await admin.info('cpu');
      const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1]);
      return (field('used_cpu_user') + field('used_cpu_sys')) * 1000;
    };
    const before = await cpu();
    const result = await work();
    return { ms: (await cpu()) - before, result };
  }

  it('reads memberships in one pass, at a fraction of the Redis time of paging the conversation list', async () => {
    const paged = await redisCpuMs(async () => {
      const found: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await engine.conversations.listForUser(tenant, alice, cursor === undefined ? { limit: 100 } : { cursor, limit: 100 });
        found.push(...page.items.map((view) => view.conversation.id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor !== undefined);
      return found;
    });
    const indexed = await redisCpuMs(() => engine.conversations.listMemberships(tenant, alice, 10_000));

    expect(paged.result).toHaveLength(CONVERSATIONS);
    expect(new Set(indexed.result.map((m) => m.conversationId))).toEqual(new Set(paged.result));
    console.log(`memberships of a user in ${CONVERSATIONS} conversations, Redis CPU: paged listForUser ${paged.ms.toFixed(0)} ms, listMemberships ${indexed.ms.toFixed(0)} ms`);
    expect(indexed.ms).toBeLessThan(paged.ms / 4);
  }, 60_000);
});
