/**
 * A private redis-server for one workload: a free loopback port, no persistence, a temp directory
 * removed afterwards. Parley's keys are the only data in it, so runs can start from FLUSHALL.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { sleep } from './clock.js';
import { freePort } from './ports.js';
import { startProcess, type Managed } from './processes.js';

export interface BenchRedis {
  readonly url: string;
  readonly pid: number;
  /** Empties this private instance between runs, so every run starts from the same state. */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<BenchRedis> {
  const directory = await mkdtemp(join(tmpdir(), 'parley-bench-redis-'));
  const port = await freePort();
  const server: Managed = startProcess('redis-server', 'redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', directory, '--daemonize', 'no', '--loglevel', 'warning',
  ], {});
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  // Connection errors while redis-server starts are expected and retried; real failures reject calls.
  client.on('error', () => undefined);
  const stop = async () => {
    client.disconnect();
    await server.stop();
    await rm(directory, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (server.child.exitCode !== null) throw new Error(`redis-server exited:\n${server.tail()}`);
      try {
        if (client.status === 'wait') await client.connect();
        if ((await client.ping()) === 'PONG') break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
      await sleep(100);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    pid: server.pid,
    flush: async () => {
      await client.flushall();
    },
    stop,
  };
}
