/**
 * The systems under the `connections` workload, each one process with its inspector on a loopback
 * port (memory is read through it, see inspector.ts): Parley on the harness's Redis, its users
 * set up through the public API, and the bare `ws` baseline.
 */
import { startBaseline } from '../baselines/start-baseline.js';
import { mapLimit } from '../concurrency.js';
import { createGroup, createUsers, newAdminKey, openDirectPairs, type BenchUser } from '../parley-api.js';
import { startParley } from '../parley-server.js';
import { freePort } from '../ports.js';
import { progress } from '../report.js';

export interface IdleTarget {
  readonly name: 'parley' | 'bare-ws';
  readonly wsUrl: string;
  readonly pid: number;
  readonly inspectorPort: number;
  /** Handshake headers of client `index` (its own user's token). */
  headers(index: number): Record<string, string>;
  stop(): Promise<void>;
}

/** Groups of this size tile the users twice (the second tiling shifted by half a group). */
const GROUP_SIZE = 10;

/**
 * Each user's conversations, so that a connect reads real memberships and announces presence to
 * real contacts, while no group is so big that presence at connect (quadratic in a group's online
 * members) becomes what is measured: one direct conversation (pairs u0–u1, u2–u3, …) and two
 * groups of 10 (u0–u9, u10–u19, … and u5–u14, u15–u24, …), so three conversations for most users
 * and 9 + 18 + 1 contacts.
 */
async function createConversations(baseUrl: string, users: BenchUser[]): Promise<void> {
  await openDirectPairs(baseUrl, users);
  const groups: BenchUser[][] = [];
  for (const offset of [0, GROUP_SIZE / 2]) {
    for (let start = offset; start + GROUP_SIZE <= users.length; start += GROUP_SIZE) groups.push(users.slice(start, start + GROUP_SIZE));
  }
  await mapLimit(groups, 16, (members) => createGroup(baseUrl, members));
}

export async function startParleyIdleTarget(redisUrl: string, users: number, heartbeatMs: number, logLevel: string): Promise<IdleTarget> {
  const inspectorPort = await freePort();
  const adminKey = newAdminKey();
  const node = await startParley('parley', {
    redisUrl,
    adminKey,
    logLevel,
    env: { NODE_OPTIONS: `--inspect=127.0.0.1:${inspectorPort}`, REALTIME_HEARTBEAT_MS: String(heartbeatMs) },
  });
  try {
    const started = Date.now();
    const created = await createUsers(node.url, adminKey, users);
    await createConversations(node.url, created);
    progress(`connections parley: ${users} users and their conversations set up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return {
      name: 'parley',
      wsUrl: `${node.url.replace(/^http/, 'ws')}/v1/realtime`,
      pid: node.pid,
      inspectorPort,
      headers: (index) => ({ authorization: `Bearer ${created[index]!.token}` }),
      stop: () => node.stop(),
    };
  } catch (error) {
    await node.stop();
    throw error;
  }
}

/** A token-shaped string of a Parley access token's typical length: sent, never verified. */
const UNCHECKED_TOKEN = 'x'.repeat(400);

export async function startBareWsIdleTarget(heartbeatMs: number): Promise<IdleTarget> {
  const inspectorPort = await freePort();
  const server = await startBaseline('bare-ws-idle', 'bare-ws', { HEARTBEAT_MS: String(heartbeatMs) }, [`--inspect=127.0.0.1:${inspectorPort}`]);
  return {
    name: 'bare-ws',
    wsUrl: `ws://127.0.0.1:${server.port}/`,
    pid: server.process.pid,
    inspectorPort,
    headers: () => ({ authorization: `Bearer ${UNCHECKED_TOKEN}` }),
    stop: () => server.process.stop(),
  };
}
