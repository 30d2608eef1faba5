/**
 * The engine contract against the real Redis (REDIS_URL, default 127.0.0.1:6379), each test under
 * its own key prefix.
 */
import { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import { deleteKeysWithPrefix, createTestRedis, TEST_REDIS_URL, uniqueKeyPrefix } from '../../test-support/redis.js';
import { runEngineContract } from '../engine.contract.js';
import { createRedisEngine } from './redis-engine.js';

const admin = createTestRedis();
afterAll(async () => {
  await admin.quit();
});

runEngineContract('redis engine', async (options) => {
  const keyPrefix = uniqueKeyPrefix();
  const engine = createRedisEngine({
    redis: new Redis(TEST_REDIS_URL, { enableAutoPipelining: true }),
    keyPrefix,
    ...(options?.retention ? { retention: options.retention } : {}),
  });
  return {
    engine,
    cleanup: async () => {
      await engine.close();
      await deleteKeysWithPrefix(admin, keyPrefix);
    },
  };
});
