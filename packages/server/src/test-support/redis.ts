/**
 * Redis for tests: the server under test is REDIS_URL (default the local 6379), and every test
 * works under its own key prefix, so tests run in parallel against one Redis and clean up only
 * what they wrote.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
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
  port: number;
  /** The server's working directory (its AOF lives here with `persistence`). */
  directory: string;
  /** Freezes the server (SIGSTOP): connections stay open but nothing answers, like a partition. */
  pause(): Promise<void>;
  /** Lets it run again (SIGCONT), data intact. */
  resume(): Promise<void>;
  /** Kills the server outright (SIGKILL: no shutdown, no final fsync) and waits until it is gone. */
  crash(): Promise<void>;
  /** Shuts the server down cleanly (SIGTERM: it finishes writing its append-only file) and waits until it is gone. */
  shutdown(): Promise<void>;
  /** Starts a crashed or shut-down server again on the same port and directory; resolves once it has loaded its data and answers. */
  restart(): Promise<void>;
  /** Stops exactly this process and removes its directory. */
  stop(): Promise<void>;
}

export interface LocalRedisOptions {
  /** Append-only file with this fsync policy (`appendfsync`); without it, no persistence at all. */
  persistence?: 'always' | 'everysec';
}

/** A private standalone redis-server on a free port, for tests that take Redis away. */
export async function startLocalRedis(options: LocalRedisOptions = {}): Promise<LocalRedis> {
  const directory = await mkdtemp(join(tmpdir(), 'parley-redis-'));
  const [port] = await freePorts(1);
  if (port === undefined) throw new Error('no free port');
  const args = options.persistence ? ['--appendonly', 'yes', '--appendfsync', options.persistence] : [];
  let child = spawnRedisServer(port, directory, args);
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
    port,
    directory,
    pause: async () => {
      child.kill('SIGSTOP');
    },
    resume: async () => {
      child.kill('SIGCONT');
      await waitForPing(port);
    },
    crash: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
    shutdown: () => stopProcesses([child]).then(() => undefined),
    restart: async () => {
      if (child.exitCode === null && child.signalCode === null) throw new Error('restart: the server is still running');
      child = spawnRedisServer(port, directory, args);
      // PING answers LOADING until the append-only file is replayed, so this waits for the data too.
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

// ─── A throwaway Sentinel deployment ────────────────────────────────────────────────────────

export interface LocalSentinel {
  /** The sentinels' addresses, for `createRedisClient({ sentinels, sentinelName })`. */
  sentinels: { host: string; port: number }[];
  /** The master name the sentinels monitor. */
  name: string;
  primaryPort: number;
  replicaPort: number;
  /** Kills the primary outright (SIGKILL, no shutdown) and waits until the process is gone. */
  killPrimary(): Promise<void>;
  /** Stops exactly the processes this deployment started (those still running) and removes their directory. */
  stop(): Promise<void>;
}

/** `redis-server <config> --sentinel`: the config file first (Sentinel rewrites it, so it is writable). */
function spawnSentinel(configPath: string): ChildProcess {
  const child = spawn('redis-server', [configPath, '--sentinel'], { stdio: 'ignore' });
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

/** INFO <section> of the server on `port` as a field map. */
async function infoFields(port: number, section: string): Promise<Map<string, string>> {
  const text = await run('redis-cli', ['-p', String(port), 'info', section]);
  return new Map(
    text
      .split(/\r?\n/)
      .filter((line) => line.includes(':') && !line.startsWith('#'))
      .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1)] as const),
  );
}

/**
 * A primary redis-server, one replica of it and `sentinelCount` sentinels (quorum 1, down after
 * 1 s, failover timeout 5 s), every process on 127.0.0.1 on free private ports, without
 * persistence, in a temp directory. Resolves when the replica is in sync and every sentinel knows
 * the primary, the replica and (with several) the other sentinels, so a failover can start at once.
 */
export async function startLocalSentinel(options: { sentinels?: 1 | 3; name?: string } = {}): Promise<LocalSentinel> {
  const sentinelCount = options.sentinels ?? 1;
  const name = options.name ?? 'parley-test';
  const [primaryPort, replicaPort, ...sentinelPorts] = await freePorts(2 + sentinelCount);
  if (primaryPort === undefined || replicaPort === undefined) throw new Error('no free ports');
  const directory = await mkdtemp(join(tmpdir(), 'parley-sentinel-'));
  const processes: ChildProcess[] = [];
  const stop = async () => {
    await stopProcesses(processes);
    await rm(directory, { recursive: true, force: true });
  };
  let primary: ChildProcess | undefined;
  try {
    // A directory each: a replica may write a sync file to its own.
    for (const sub of ['primary', 'replica', ...sentinelPorts.map((port) => `sentinel-${port}`)]) await mkdir(join(directory, sub));
    // Sync the replica at once (diskless syncs wait 5 s by default for more replicas to join).
    primary = spawnRedisServer(primaryPort, join(directory, 'primary'), ['--repl-diskless-sync-delay', '0']);
    processes.push(primary);
    await waitForPing(primaryPort);
    processes.push(
      spawnRedisServer(replicaPort, join(directory, 'replica'), ['--replicaof', '127.0.0.1', String(primaryPort), '--repl-diskless-load', 'on-empty-db']),
    );
    await waitForPing(replicaPort);
    await waitFor(`the replica on ${replicaPort} in sync`, async () => {
      const [replica, master] = await Promise.all([infoFields(replicaPort, 'replication'), infoFields(primaryPort, 'replication')]);
      return replica.get('master_link_status') === 'up' && [...master.values()].some((value) => value.includes(`port=${replicaPort},state=online`));
    });
    // "online" is not yet streaming: after a diskless sync the primary sends writes only once the
    // replica's first REPLCONF ACK arrives (up to a second later). Wait for a probe write to arrive.
    const probe = 'parley-test:sentinel-probe';
    await run('redis-cli', ['-p', String(primaryPort), 'set', probe, '1']);
    await waitFor('a write to reach the replica', async () => (await run('redis-cli', ['-p', String(replicaPort), 'get', probe])).trim() === '1');
    await run('redis-cli', ['-p', String(primaryPort), 'del', probe]);
    await waitFor('a delete to reach the replica', async () => (await run('redis-cli', ['-p', String(replicaPort), 'exists', probe])).trim() === '0');
    for (const port of sentinelPorts) {
      const sentinelDirectory = join(directory, `sentinel-${port}`);
      const configPath = join(sentinelDirectory, 'sentinel.conf');
      await writeFile(
        configPath,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${sentinelDirectory}`,
          'daemonize no',
          'loglevel warning',
          'sentinel resolve-hostnames no',
          `sentinel monitor ${name} 127.0.0.1 ${primaryPort} 1`,
          `sentinel down-after-milliseconds ${name} 1000`,
          `sentinel failover-timeout ${name} 5000`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      );
      processes.push(spawnSentinel(configPath));
    }
    for (const port of sentinelPorts) {
      await waitForPing(port);
      const cli = (...args: string[]) => run('redis-cli', ['-p', String(port), 'sentinel', ...args]);
      await waitFor(`sentinel ${port} to watch the primary and its replica`, async () => {
        const address = (await cli('get-master-addr-by-name', name)).trim().split(/\s+/);
        const replicas = await cli('replicas', name);
        // The replica's own INFO reached the sentinel (link up), so it can be elected right away.
        return (
          address[1] === String(primaryPort) &&
          replicas.includes(`127.0.0.1:${replicaPort}`) &&
          /master-link-status\s+ok/.test(replicas) &&
          !/disconnected|s_down/.test(replicas)
        );
      });
      if (sentinelCount > 1) {
        // Sentinels find each other through hello messages on the primary, every 2 s.
        await waitFor(`sentinel ${port} to know the other sentinels`, async () => {
          const master = await cli('master', name);
          const lines = master.trim().split(/\r?\n/);
          const index = lines.indexOf('num-other-sentinels');
          return index >= 0 && Number(lines[index + 1]) === sentinelCount - 1;
        });
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const primaryProcess = primary;
  return {
    sentinels: sentinelPorts.map((port) => ({ host: '127.0.0.1', port })),
    name,
    primaryPort,
    replicaPort,
    killPrimary: () =>
      new Promise<void>((resolve) => {
        if (primaryProcess.exitCode !== null || primaryProcess.signalCode !== null) return resolve();
        primaryProcess.once('exit', () => resolve());
        primaryProcess.kill('SIGKILL');
      }),
    stop,
  };
}
