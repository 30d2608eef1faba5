import type { Engine } from '../engine/engine.js';
import { createMemoryEngine } from '../engine/memory/memory-engine.js';
import { createRedisClient } from '../engine/redis/redis-connection.js';
import { createRedisEngine } from '../engine/redis/redis-engine.js';
import { TEST_REDIS_URL, createTestRedis, deleteKeysWithPrefix, uniqueKeyPrefix } from './redis.js';

export type EngineKind = 'memory' | 'redis';
export const ENGINE_KINDS: readonly EngineKind[] = ['memory', 'redis'];

/** A fresh, empty engine of the kind: a new memory engine, or the test Redis under a unique prefix. */
export async function createTestEngine(kind: EngineKind): Promise<{ engine: Engine; keyPrefix?: string; cleanup: () => Promise<void> }> {
  if (kind === 'memory') {
    const engine = createMemoryEngine();
    return { engine, cleanup: () => engine.close() };
  }
  const keyPrefix = uniqueKeyPrefix();
  const engine = createRedisEngine({ redis: createRedisClient({ url: TEST_REDIS_URL }), keyPrefix });
  return {
    engine,
    keyPrefix,
    async cleanup() {
      await engine.close().catch(() => undefined);
      const redis = createTestRedis();
      try {
        await deleteKeysWithPrefix(redis, keyPrefix);
      } finally {
        redis.disconnect();
      }
    },
  };
}
