/**
 * Connecting: the engine factory picks the engine from configuration, and an unreachable Redis
 * makes calls fail fast with storage_unavailable instead of hanging (readiness answers 503), whether
 * the connection is refused or the server stops answering.
 */
import { createServer } from 'node:net';
import { Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { ConversationId, TenantId } from '../../domain/types.js';
import { createTestRedis, deleteKeysWithPrefix, startLocalCluster, startLocalRedis, TEST_REDIS_URL, uniqueKeyPrefix } from '../../test-support/redis.js';
import { startTcpProxy } from '../../test-support/tcp-proxy.js';
import { createEngine } from '../create-engine.js';
import { EngineError } from '../errors.js';
import { COMMAND_TIMEOUT_MS, CONNECTION_CLOSED_MESSAGE, createRedisClient, reconnectDelay } from './redis-connection.js';
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

  it('never sends again a command lost with its connection on standalone Redis, and fails it at once (at most once)', async () => {
    // Found by fault injection (faults/redis-latency.test.ts): ioredis resent the commands whose
    // replies were lost with a connection once it reconnected (autoResendUnfulfilledCommands), so
    // a script that had run ran twice: a tenant creation answered "exists already", a send
    // without clientMessageId stored and then refused as "message id in use". With the resend
    // off, ioredis 6.0.0 never settled them either: they waited for the 3 s command timeout.
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
      const lostAt = Date.now();
      proxy.setBlackHole(false);
      // Each call fails as soon as the connection closes (it was applied; the caller cannot know),
      // not at the command timeout...
      const [incrementResult, createResult] = await Promise.all([incremented, created]);
      const settledAfter = Date.now() - lostAt;
      expect(incrementResult).toBeInstanceOf(Error);
      expect((incrementResult as Error).message).toBe(CONNECTION_CLOSED_MESSAGE);
      expect(createResult).toBeInstanceOf(EngineError);
      expect((createResult as EngineError).code).toBe('storage_unavailable');
      expect(settledAfter, 'failed when the connection closed, not at the 3 s command timeout').toBeLessThan(COMMAND_TIMEOUT_MS - 1000);
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

  it('keeps the command timeout that settles any command left without a reply', () => {
    // Raw client calls outside redis-guard.ts, and quit() on shutdown, rely on it.
    const cluster = createRedisClient({ clusterNodes: ['127.0.0.1:7000'], onError: () => {} });
    const standalone = createRedisClient({ url: TEST_REDIS_URL, onError: () => {} });
    try {
      expect(standalone instanceof Redis && standalone.options.commandTimeout).toBe(COMMAND_TIMEOUT_MS);
      expect(cluster instanceof Cluster && cluster.options.redisOptions?.commandTimeout).toBe(COMMAND_TIMEOUT_MS);
    } finally {
      cluster.disconnect();
      standalone.disconnect();
    }
  });

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

describe('createRedisClient on Redis Cluster', () => {
  /** INCRs KEYS[1], then keeps its node busy for ARGV[1] ms: long enough to lose the connection while it runs. */
  const SLOW_INCREMENT = `
    redis.call('INCR', KEYS[1])
    local function now() local t = redis.call('TIME') return t[1] * 1000 + math.floor(t[2] / 1000) end
    local started = now()
    while now() - started < tonumber(ARGV[1]) do end
    return 'ran'`;

  it('never sends again a command lost with its connection on Cluster, fails it at once, and recovers (at most once)', async () => {
    // ioredis closes a Cluster node connection for good when it drops and rejects what was in
    // flight with "Connection is closed."; by default the Cluster then sent it again 100 ms later
    // (retryDelayOnFailover), so a script that had run ran twice and reported success.
    const cluster = await startLocalCluster(3);
    const nodes = cluster.nodes.map(({ host, port }) => `${host}:${port}`);
    const client = createRedisClient({ clusterNodes: nodes, onError: () => {} });
    const admin = new Cluster(cluster.nodes);
    const keyPrefix = uniqueKeyPrefix();
    const counter = `${keyPrefix}counter`;
    try {
      if (!(client instanceof Cluster)) throw new Error('expected a Cluster client');
      await client.set(counter, '0');
      const running = client.eval(SLOW_INCREMENT, 1, counter, 600).then((value) => value, (error: Error) => error);
      // The script is running (its node answers nothing else meanwhile); cut every node connection.
      await new Promise((resolve) => setTimeout(resolve, 150));
      const lostAt = Date.now();
      for (const node of client.nodes('master')) node.stream?.destroy(); // nodes never used have no stream yet
      const result = await running;
      expect(result, `the script answered ${String(result)}`).toBeInstanceOf(Error);
      expect((result as Error).message).toBe(CONNECTION_CLOSED_MESSAGE);
      expect(Date.now() - lostAt, 'failed when the connection closed, not at the 3 s command timeout').toBeLessThan(COMMAND_TIMEOUT_MS - 1000);
      // The script ran once; a re-sent one would have run right after it (within 100 ms + 600 ms).
      expect(await admin.get(counter)).toBe('1');
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(await admin.get(counter)).toBe('1');
      // The client reconnects to the node on the next command (the slot's node is found again).
      await expect.poll(() => client.incr(counter).then(() => 'up', () => 'down'), { timeout: 10_000, interval: 100 }).toBe('up');
      expect(Number(await admin.get(counter))).toBeGreaterThanOrEqual(2);
    } finally {
      client.disconnect();
      admin.disconnect();
      await cluster.stop();
    }
  }, 60_000);

  it('still follows a MOVED redirection when a slot moves to another master', async () => {
    // retryDelayOnFailover 0 only changes what "Connection is closed." does; redirections are
    // replies of commands that did not run, and are still followed.
    const cluster = await startLocalCluster(3);
    const client = createRedisClient({ clusterNodes: cluster.nodes.map(({ host, port }) => `${host}:${port}`), onError: () => {} });
    const direct = cluster.nodes.map(({ port }) => new Redis({ port, host: '127.0.0.1', lazyConnect: false }));
    const key = `${uniqueKeyPrefix()}moved`;
    try {
      if (!(client instanceof Cluster)) throw new Error('expected a Cluster client');
      await client.set(key, 'before'); // the client has loaded the slot map
      await client.del(key); // an empty slot moves without migrating keys
      const [first] = direct;
      if (!first) throw new Error('no node');
      const slot = Number(await first.call('CLUSTER', 'KEYSLOT', key));
      const ids = await Promise.all(direct.map(async (node) => String(await node.call('CLUSTER', 'MYID'))));
      const owner = await Promise.all(direct.map(async (node) => (await node.get(key).then(() => true, () => false))));
      const ownerIndex = owner.indexOf(true);
      const targetIndex = (ownerIndex + 1) % direct.length;
      const targetId = ids[targetIndex];
      if (ownerIndex < 0 || targetId === undefined) throw new Error('no owner found for the slot');
      for (const node of direct) await node.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', targetId);
      // The client still maps the slot to the old owner, which answers MOVED; the write lands on the new one.
      await client.set(key, 'after');
      expect(await direct[targetIndex]?.get(key)).toBe('after');
    } finally {
      client.disconnect();
      for (const node of direct) node.disconnect();
      await cluster.stop();
    }
  }, 60_000);
});
