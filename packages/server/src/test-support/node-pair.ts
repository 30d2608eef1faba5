import { afterAll, beforeAll } from 'vitest';
import { TEST_REDIS_URL, createTestRedis, deleteKeysWithPrefix, uniqueKeyPrefix } from './redis.js';
import { startServerProcess, type ServerProcess } from './server-process.js';

export interface NodePair {
  /** The REDIS_KEY_PREFIX both nodes share: one deployment. */
  readonly keyPrefix: string;
  readonly a: ServerProcess;
  readonly b: ServerProcess;
}

/**
 * Two `node dist/main.js` processes of one deployment, as the README starts them: the test Redis,
 * a fresh REDIS_KEY_PREFIX, each its own port. Started together before the enclosing suite's tests
 * (with `env` added, or what the function resolves to, which may start what the nodes need first)
 * and stopped after them, their keys deleted.
 */
export function useNodePair(env: Record<string, string> | (() => Promise<Record<string, string>>) = {}): NodePair {
  const keyPrefix = uniqueKeyPrefix();
  let nodes: [ServerProcess, ServerProcess] | undefined;
  const started = (): [ServerProcess, ServerProcess] => {
    if (!nodes) throw new Error('the nodes run only inside the suite');
    return nodes;
  };

  beforeAll(async () => {
    const extra = typeof env === 'function' ? await env() : env;
    const environment = { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: keyPrefix, ...extra };
    nodes = await Promise.all([startServerProcess(environment), startServerProcess(environment)]);
  });
  afterAll(async () => {
    await Promise.all((nodes ?? []).map((node) => node.stop()));
    const redis = createTestRedis();
    await deleteKeysWithPrefix(redis, keyPrefix);
    redis.disconnect();
  });

  return {
    keyPrefix,
    get a() {
      return started()[0];
    },
    get b() {
      return started()[1];
    },
  };
}
