/**
 * Redis for tests: the server under test is REDIS_URL (default the local 6379), and every test
 * works under its own key prefix, so tests run in parallel against one Redis and clean up only
 * what they wrote.
 */
import { randomBytes } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';

export const TEST_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A prefix no other test uses, e.g. `parley-test:3f9a1c0b2d4e:`. Contains no glob characters. */
export function uniqueKeyPrefix(): string {
  return `parley-test:${randomBytes(6).toString('hex')}:`;
}

/** A plain client for test plumbing (not the engine's: the engine owns and closes its own). */
export function createTestRedis(): Redis {
  return new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: false });
}

/** Every key under the prefix (on every master of a Cluster). SCAN is fine here: tests only. */
export async function keysWithPrefix(redis: Redis | Cluster, prefix: string): Promise<string[]> {
  if (!prefix.startsWith('parley-test:')) throw new Error(`refusing to touch keys outside parley-test: (${prefix})`);
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  const found: string[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      found.push(...keys);
      cursor = next;
    } while (cursor !== '0');
  }
  return found;
}

/** Deletes the keys under the prefix, and only those. */
export async function deleteKeysWithPrefix(redis: Redis | Cluster, prefix: string): Promise<void> {
  const keys = await keysWithPrefix(redis, prefix);
  // One DEL per key: keys of different slots cannot share a DEL on Cluster.
  await Promise.all(keys.map((key) => redis.del(key)));
}
