/**
 * Connecting: the engine factory picks the engine from configuration, and an unreachable Redis
 * makes calls fail fast with storage_unavailable instead of hanging (readiness answers 503), whether
 * the connection is refused or the server stops answering.
 */
import { createServer } from 'node:net';
import { Cluster } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { ConversationId, TenantId } from '../../domain/types.js';
import { createTestRedis, deleteKeysWithPrefix, startLocalRedis, TEST_REDIS_URL, uniqueKeyPrefix } from '../../test-support/redis.js';
import { startTcpProxy } from '../../test-support/tcp-proxy.js';
import { createEngine } from '../create-engine.js';
import { EngineError } from '../errors.js';
import { COMMAND_TIMEOUT_MS, createRedisClient, reconnectDelay } from './redis-connection.js';
import { createRedisEngine } from './redis-engine.js';

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 1;
      server.close(() => resolve(port));
    });
  });
}

describe('createEngine', () => {
  it('is the memory engine without Redis settings', async () => {
    const engine = createEngine({ keyPrefix: 'parley:' });
    expect(engine.kind).toBe('memory');
    await engine.close();
  });

  it('is the Redis engine with a URL, under the given prefix', async () => {
    const keyPrefix = uniqueKeyPrefix();
    const engine = createEngine({ redisUrl: TEST_REDIS_URL, keyPrefix });
    const admin = createTestRedis();
    try {
      expect(engine.kind).toBe('redis');
      await engine.ping();
      await engine.tenants.create({ id: 'acme' as TenantId, name: 'Acme', createdAt: 1 }, null);
      expect(await admin.exists(`${keyPrefix}{t:acme}:tenant`)).toBe(1);
    } finally {
      await engine.close();
      await deleteKeysWithPrefix(admin, keyPrefix);
      await admin.quit();
    }
  });
});

describe('createRedisClient', () => {
  it('backs off exponentially up to 2 s between reconnection attempts', () => {
    expect([1, 2, 3, 5, 10, 100].map(reconnectDelay)).toEqual([100, 200, 400, 1600, 2000, 2000]);
  });

  it('fails calls fast with storage_unavailable while Redis is unreachable', async () => {
    const errors: Error[] = [];
    const client = createRedisClient({ url: `redis://127.0.0.1:${await closedPort()}`, onError: (error) => errors.push(error) });
    const engine = createRedisEngine({ redis: client, keyPrefix: uniqueKeyPrefix() });
    try {
      const started = Date.now();
      const outcomes = await Promise.allSettled([engine.ping(), engine.conversations.get('t' as TenantId, 'c' as ConversationId)]);
      expect(Date.now() - started).toBeLessThan(3000);
      for (const outcome of outcomes) {
        expect(outcome.status).toBe('rejected');
        const reason: unknown = outcome.status === 'rejected' ? outcome.reason : null;
        expect(reason).toBeInstanceOf(EngineError);
        expect((reason as EngineError).code).toBe('storage_unavailable');
      }
      expect(errors.length).toBeGreaterThan(0);
    } finally {
      await engine.close();
    }
  });

  it('fails calls on a stalled Redis after the command timeout, and recovers when it answers again', async () => {
    const local = await startLocalRedis();
    const engine = createRedisEngine({ redis: createRedisClient({ url: local.url, onError: () => {} }), keyPrefix: uniqueKeyPrefix() });
    try {
      await engine.tenants.create({ id: 'acme' as TenantId, name: 'Acme', createdAt: 1 }, null);
      await local.pause();
      const started = Date.now();
      await expect(engine.tenants.get('acme' as TenantId)).rejects.toMatchObject({ code: 'storage_unavailable' });
      expect(Date.now() - started).toBeLessThan(8000);
      await local.resume();
      await expect.poll(() => engine.ping().then(() => 'up', () => 'down'), { timeout: 10_000, interval: 200 }).toBe('up');
      expect(await engine.tenants.get('acme' as TenantId)).toMatchObject({ name: 'Acme' });
    } finally {
      await engine.close();
      await local.stop();
    }
  }, 30_000);

  it('fails an operation issued behind a pipeline already waiting on a stalled Redis within the command timeout', async () => {
    // Auto-pipelining holds commands issued while a pipeline waits; without the operation
    // deadline the second call would fail only ~3 s after the first one did (about 5.5 s).
    const local = await startLocalRedis();
    const engine = createRedisEngine({ redis: createRedisClient({ url: local.url, onError: () => {} }), keyPrefix: uniqueKeyPrefix() });
    try {
      await engine.tenants.create({ id: 'acme' as TenantId, name: 'Acme', createdAt: 1 }, null);
      await local.pause();
      const first = engine.tenants.get('acme' as TenantId).catch((error: unknown) => error);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const started = Date.now();
      await expect(engine.tenants.get('acme' as TenantId)).rejects.toMatchObject({ code: 'storage_unavailable' });
      expect(Date.now() - started).toBeLessThan(COMMAND_TIMEOUT_MS + 300);
      expect(await first).toMatchObject({ code: 'storage_unavailable' });
    } finally {
      await local.resume();
      await engine.close();
      await local.stop();
    }
  }, 30_000);

  it('never sends a command again after its connection is lost with the reply (at most once, not "created" twice)', async () => {
    // Found by fault injection (faults/redis-latency.test.ts): ioredis resent the commands whose
    // replies were lost with a connection once it reconnected (autoResendUnfulfilledCommands), so
    // a script that had run ran twice: a tenant creation answered "exists already", a send
    // without clientMessageId stored and then refused as "message id in use".
    const local = await startLocalRedis();
    const proxy = await startTcpProxy({ host: '127.0.0.1', port: local.port });
    const keyPrefix = uniqueKeyPrefix();
    const client = createRedisClient({ url: proxy.url('redis'), onError: () => {} });
    const engine = createRedisEngine({ redis: client, keyPrefix });
    const admin = createRedisClient({ url: local.url, onError: () => {} });
    try {
      // Loads the script first, so that the create below is one EVALSHA.
      await engine.tenants.create({ id: 'globex' as TenantId, name: 'Globex', createdAt: 1 }, null);
      const counter = `${keyPrefix}counter`;
      proxy.setBlackHole(true, 'from-target');
      const incremented = client.incr(counter).then((value) => value, (error: Error) => error);
      const created = engine.tenants.create({ id: 'acme' as TenantId, name: 'Acme', createdAt: 1 }, null).then((value) => value, (error: Error) => error);
      // Both ran on the server; their replies are held by the proxy. Then the connection is lost.
      await expect.poll(async () => [await admin.get(counter), await admin.exists(`${keyPrefix}{t:acme}:tenant`)], { timeout: 5000, interval: 50 }).toEqual(['1', 1]);
      proxy.resetAll();
      proxy.setBlackHole(false);
      // Each call fails (it may have been applied, as with any timeout) or reports its own success...
      const [incrementResult, createResult] = await Promise.all([incremented, created]);
      expect(incrementResult === 1 || incrementResult instanceof Error, `INCR answered ${String(incrementResult)}`).toBe(true);
      expect(createResult === true || (createResult instanceof EngineError && createResult.code === 'storage_unavailable'), `create answered ${String(createResult)}`).toBe(true);
      // ...and nothing ran a second time once the client reconnected.
      await expect.poll(() => engine.ping().then(() => 'up', () => 'down'), { timeout: 10_000, interval: 100 }).toBe('up');
      expect(await admin.get(counter)).toBe('1');
    } finally {
      await engine.close();
      admin.disconnect();
      await proxy.close();
      await local.stop();
    }
  }, 30_000);

  it('builds a Cluster client from a node list and a standalone one from a URL', async () => {
    const cluster = createRedisClient({ clusterNodes: ['127.0.0.1:7000', 'redis://:secret@127.0.0.1:7001'], onError: () => {} });
    const standalone = createRedisClient({ url: TEST_REDIS_URL });
    try {
      expect(cluster).toBeInstanceOf(Cluster);
      expect(cluster instanceof Cluster && cluster.options.redisOptions?.password).toBe('secret');
      expect(standalone.isCluster).toBe(false);
      await expect(standalone.ping()).resolves.toBe('PONG');
    } finally {
      cluster.disconnect();
      await standalone.quit();
    }
  });
});
