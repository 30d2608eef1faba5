/**
 * Redis for tests: the server under test is REDIS_URL (default the local 6379), and every test
 * works under its own key prefix, so tests run in parallel against one Redis and clean up only
 * what they wrote.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import type { Engine, EventRetention } from '../engine/engine.js';
import { createRedisClient } from '../engine/redis/redis-connection.js';
import { createRedisEngine } from '../engine/redis/redis-engine.js';

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

/** A Redis engine on the test Redis under a fresh prefix; cleanup closes it and deletes its keys. */
export async function createRedisTestEngine(
  options: { retention?: EventRetention } = {},
): Promise<{ engine: Engine; keyPrefix: string; cleanup: () => Promise<void> }> {
  const keyPrefix = uniqueKeyPrefix();
  // The production client factory, so tests run with the timeouts and pipelining operators get.
  const engine = createRedisEngine({
    redis: createRedisClient({ url: TEST_REDIS_URL }),
    keyPrefix,
    ...(options.retention ? { retention: options.retention } : {}),
  });
  return {
    engine,
    keyPrefix,
    cleanup: async () => {
      await engine.close();
      const admin = createTestRedis();
      try {
        await deleteKeysWithPrefix(admin, keyPrefix);
      } finally {
        await admin.quit();
      }
    },
  };
}

// ─── A throwaway Redis Cluster ──────────────────────────────────────────────────────────────

export interface LocalCluster {
  nodes: { host: string; port: number }[];
  /** Stops exactly the redis-server processes this cluster started and removes their directory. */
  stop(): Promise<void>;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** `count` consecutive ports whose cluster-bus twins (port + 10000) are free too. */
async function freePorts(count: number): Promise<number[]> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const base = 20000 + Math.floor(Math.random() * 9000);
    const ports = Array.from({ length: count }, (_, i) => base + i);
    const checks = await Promise.all(ports.flatMap((port) => [portIsFree(port), portIsFree(port + 10000)]));
    if (checks.every(Boolean)) return ports;
  }
  throw new Error('no free ports for a local Redis Cluster');
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} failed: ${error.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Servers this process started and has not stopped: killed when it exits, even after a timed-out test. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  }
});

function spawnRedisServer(port: number, directory: string, extra: string[]): ChildProcess {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', directory, '--daemonize', 'no', '--loglevel', 'warning', ...extra],
    { stdio: 'ignore' },
  );
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

function stopProcesses(processes: readonly ChildProcess[]): Promise<void[]> {
  return Promise.all(
    processes.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGCONT'); // a paused server must run to handle SIGTERM
          child.kill('SIGTERM');
        }),
    ),
  );
}

async function waitForPing(port: number): Promise<void> {
  await waitFor(`redis-server on ${port}`, async () => (await run('redis-cli', ['-p', String(port), 'ping'])).trim() === 'PONG');
}

export interface LocalRedis {
  url: string;
  /** Freezes the server (SIGSTOP): connections stay open but nothing answers, like a partition. */
  pause(): Promise<void>;
  /** Lets it run again (SIGCONT), data intact. */
  resume(): Promise<void>;
  /** Stops exactly this process and removes its directory. */
  stop(): Promise<void>;
}

/** A private standalone redis-server on a free port, for tests that take Redis away. */
export async function startLocalRedis(): Promise<LocalRedis> {
  const directory = await mkdtemp(join(tmpdir(), 'parley-redis-'));
  const [port] = await freePorts(1);
  if (port === undefined) throw new Error('no free port');
  const child = spawnRedisServer(port, directory, []);
  const stop = async () => {
    await stopProcesses([child]);
    await rm(directory, { recursive: true, force: true });
  };
  try {
    await waitForPing(port);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    pause: async () => {
      child.kill('SIGSTOP');
    },
    resume: async () => {
      child.kill('SIGCONT');
      await waitForPing(port);
    },
    stop,
  };
}

/**
 * Starts `masters` redis-server processes in cluster mode on free private ports (no persistence,
 * in a temp directory), joins them into a cluster without replicas and waits for cluster_state:ok.
 */
export async function startLocalCluster(masters = 3): Promise<LocalCluster> {
  const directory = await mkdtemp(join(tmpdir(), 'parley-cluster-'));
  const ports = await freePorts(masters);
  const processes: ChildProcess[] = [];
  const stop = async () => {
    await stopProcesses(processes);
    await rm(directory, { recursive: true, force: true });
  };
  try {
    for (const port of ports) {
      const child = spawnRedisServer(port, directory, [
        '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '5000',
      ]);
      processes.push(child);
    }
    for (const port of ports) await waitForPing(port);
    await run('redis-cli', ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes']);
    for (const port of ports) {
      await waitFor(`cluster_state:ok on ${port}`, async () => (await run('redis-cli', ['-p', String(port), 'cluster', 'info'])).includes('cluster_state:ok'));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { nodes: ports.map((port) => ({ host: '127.0.0.1', port })), stop };
}
