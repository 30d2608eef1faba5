/**
 * Redis-only checks of the moderation storage that the engine contract cannot see: a listing
 * deletes the ended mutes it meets from both the mutes hash and its order zset.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ConversationId, TenantId, UserId } from '../../domain/types.js';
import { createRedisTestEngine, createTestRedis } from '../../test-support/redis.js';
import { RedisKeys } from './redis-keys.js';

const tenant = 'acme' as TenantId;
const id = 'g1' as ConversationId;
const T0 = Date.now();
const MINUTE = 60_000;

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.map((cleanup) => cleanup()));
  cleanups = [];
});

describe('redis moderation storage', () => {
  it('keeps only live mutes stored once a listing has scanned past the ended ones', async () => {
    const { engine, keyPrefix, cleanup } = await createRedisTestEngine();
    const admin = createTestRedis();
    cleanups.push(async () => {
      await admin.quit();
      await cleanup();
    });
    const users = Array.from({ length: 250 }, (_, i) => `u-${String(i).padStart(3, '0')}` as UserId);
    await engine.conversations.createGroup(tenant, {
      id,
      type: 'group',
      title: 'g1',
      createdAt: T0,
      members: [{ userId: 'owner' as UserId, role: 'owner' }],
    });
    // Every fifth mute lives on; the others end after a minute (more than one scan batch of them).
    for (const [i, userId] of users.entries()) {
      await engine.moderation.mute(tenant, id, { userId, until: i % 5 === 0 ? null : T0 + MINUTE, createdAt: T0 });
    }
    const keys = new RedisKeys(keyPrefix).conversation(tenant, id);
    expect(await admin.hlen(keys.mutes)).toBe(250);

    const later = T0 + 2 * MINUTE;
    const listed: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await engine.moderation.listMutes(tenant, id, { limit: 20, ...(cursor === undefined ? {} : { cursor }) }, later);
      listed.push(...page.items.map((mute) => mute.userId));
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    expect(listed).toEqual(users.filter((_, i) => i % 5 === 0));
    expect(await admin.hlen(keys.mutes)).toBe(50);
    expect(await admin.zcard(keys.muteOrder)).toBe(50);
  });
});
