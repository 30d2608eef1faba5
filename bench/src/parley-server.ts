/**
 * Starts Parley exactly as operators run it — `node packages/server/dist/main.js` with its
 * configuration in environment variables — on a private loopback port.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';
import { startProcess, waitForHttp, type Managed } from './processes.js';

/** The compiled server (bench/dist/ → repo root); `npm run bench` builds it first. */
const MAIN_JS = fileURLToPath(new URL('../../packages/server/dist/main.js', import.meta.url));

export interface ParleyNode {
  readonly url: string;
  readonly pid: number;
  readonly process: Managed;
  stop(): Promise<void>;
}

export interface ParleyOptions {
  redisUrl: string;
  adminKey: string;
  /** The issuer of tokens: identical on every node, as behind one load balancer. */
  publicUrl?: string;
  port?: number;
  logLevel: string;
  /** Extra environment (e.g. NODE_OPTIONS for the sizing script's inspector). */
  env?: Record<string, string>;
}

let profileDir: string | null = null;

/**
 * `--profile DIR`: every Parley process started from now on writes a V8 CPU profile
 * (`--cpu-prof`) into DIR/<process name>/ when it exits; `npm run bench:profile-summary` reads them.
 */
export function profileParleyInto(dir: string): void {
  profileDir = resolve(dir);
}

export async function startParley(name: string, options: ParleyOptions): Promise<ParleyNode> {
  if (!existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} is missing: run \`npm run build\` first (npm run bench does)`);
  const profiling = profileDir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, name)}`];
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const managed = startProcess(name, process.execPath, [...profiling, MAIN_JS], {
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_URL: options.publicUrl ?? url,
    REDIS_URL: options.redisUrl,
    PARLEY_ADMIN_KEY: options.adminKey,
    LOG_LEVEL: options.logLevel,
    // Default 25 s: a node that is slow to drain should not stretch the benchmark's teardown.
    SHUTDOWN_TIMEOUT_MS: '5000',
    // The load comes from a few users and one IP far faster than any person: limits stay on (their
    // counting is part of the cost measured) but far above the load, so none refuses.
    RATE_LIMIT_SEND: '1000000/1000s',
    RATE_LIMIT_LOGIN_FAILURES_ACCOUNT: '1000000/1000s',
    RATE_LIMIT_LOGIN_FAILURES_IP: '1000000/1000s',
    RATE_LIMIT_REGISTER_IP: '1000000/1000s',
    RATE_LIMIT_SERVER_KEY: '1000000/1000s',
    RATE_LIMIT_REALTIME_CONNECT: '1000000/1000s',
    ...options.env,
  });
  try {
    await waitForHttp(managed, `${url}/health/ready`);
  } catch (error) {
    await managed.stop();
    throw error;
  }
  return { url, pid: managed.pid, process: managed, stop: () => managed.stop() };
}

/**
 * Nodes of one cluster, one per name, sharing one Redis and one issuer (the first node's URL), as
 * behind one load balancer. If one fails to start, those already started are stopped.
 */
export async function startParleyNodes(names: readonly string[], options: Omit<ParleyOptions, 'publicUrl' | 'port'>): Promise<ParleyNode[]> {
  const ports: number[] = [];
  for (const _name of names) ports.push(await freePort());
  const publicUrl = `http://127.0.0.1:${ports[0]}`;
  const nodes: ParleyNode[] = [];
  try {
    for (const [index, name] of names.entries()) nodes.push(await startParley(name, { ...options, publicUrl, port: ports[index] }));
    return nodes;
  } catch (error) {
    await Promise.all(nodes.map((node) => node.stop()));
    throw error;
  }
}
