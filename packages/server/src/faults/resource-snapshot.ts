/**
 * The resources a fault may leak, measured on the nodes (open file descriptors, realtime
 * connections, heap and RSS after a forced garbage collection) and on Redis (CLIENT LIST), and
 * the comparison of two measurements of the same steady state.
 *
 * bench/src/soak/resources.ts reads fds and RSS too, from outside, for a soak's curves; this one
 * also forces a GC through the test's inspector session and checks bounds.
 */
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { expect } from 'vitest';
import type { InspectorSession } from '../test-support/inspector.js';
import { sleep } from '../test-support/node-scenarios.js';
import { parseSamples, sumOf } from '../test-support/prometheus-text.js';

/** A node as measured: its process and an inspector session with it. */
export interface MeasuredNode {
  name: string;
  process: { url: string; child: { pid?: number | undefined } };
  inspector: InspectorSession;
}

export interface Snapshot {
  nodes: { name: string; fds: number; realtimeConnections: number; heapUsed: number; rss: number }[];
  redisClients: number | null;
}

/**
 * Leak bounds: how much a second measurement after the same steady state may exceed the first.
 * - File descriptors: a few for sockets still closing and keep-alive pools, plus half an fd per
 *   follower reconnection. fault-world.ts churns the followers before measuring, so there are at
 *   least 40 reconnections even in one round: a leak of one fd per reconnection (+40 or more)
 *   fails, where a bound that did not grow with the work would fail on noise or miss it.
 * - Redis clients: none. Every connection is long-lived (commands, subscriber), so after a settle
 *   the count must be what it was; one connection leaked per Redis reconnection (one or two per
 *   round) fails.
 * - Heap and RSS after a forced GC: generous (+50 % and 16 MB / 64 MB). Over one round this is a
 *   smoke check that catches only a gross leak; `--rounds 10` and more is what makes it bite.
 */
const LEAK_BOUNDS = {
  fds: (reconnections: number) => 8 + Math.floor(reconnections / 2),
  heapBytes: (before: number) => before * 0.5 + 16 * 2 ** 20,
  rssBytes: (before: number) => before * 0.5 + 64 * 2 ** 20,
};

/** Open file descriptors of a process (its sockets included), from /proc. */
async function openFds(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

/** Connections to the Redis on `port`, besides the one asking. */
async function redisClientCount(port: number): Promise<number> {
  const list = await new Promise<string>((resolve, reject) =>
    execFile('redis-cli', ['-p', String(port), 'client', 'list'], { timeout: 10_000 }, (error, stdout) => (error ? reject(error) : resolve(stdout))),
  );
  return list.trim().split('\n').filter(Boolean).length - 1;
}

async function realtimeConnectionsOf(node: MeasuredNode): Promise<number> {
  return sumOf(parseSamples(await (await fetch(`${node.process.url}/metrics`)).text()), 'parley_realtime_connections');
}

/** Measures now (after a forced GC on each node); the caller settles the traffic first. */
export async function takeSnapshot(nodes: MeasuredNode[], redisPort: number | null): Promise<Snapshot> {
  const measured = await Promise.all(
    nodes.map(async (node) => {
      await node.inspector.collectGarbage();
      const memory = (await node.inspector.evaluate('process.memoryUsage()')) as { heapUsed: number; rss: number };
      return {
        name: node.name,
        fds: await openFds(node.process.child.pid!),
        realtimeConnections: await realtimeConnectionsOf(node),
        heapUsed: memory.heapUsed,
        rss: memory.rss,
      };
    }),
  );
  return { nodes: measured, redisClients: redisPort === null ? null : await redisClientCount(redisPort) };
}

/**
 * Asserts no leak between `before` and `after`, two snapshots of the same steady state:
 * each node's realtime connection count comes back to what its clients hold (`openClients`),
 * and the bounds above hold. `reconnections` is the work done in between.
 */
export async function expectNoLeak(check: {
  nodes: MeasuredNode[];
  before: Snapshot;
  after: Snapshot;
  reconnections: number;
  openClients: (node: string) => number;
  redisPort: number | null;
}): Promise<void> {
  const { before, after, reconnections } = check;
  for (const node of check.nodes) {
    // A cut connection is noticed when its socket closes: allow it a moment.
    const deadline = Date.now() + 10_000;
    while ((await realtimeConnectionsOf(node)) !== check.openClients(node.name) && Date.now() < deadline) await sleep(100);
    expect(await realtimeConnectionsOf(node), `node ${node.name}'s realtime connections`).toBe(check.openClients(node.name));
    const was = before.nodes.find((entry) => entry.name === node.name)!;
    const now = after.nodes.find((entry) => entry.name === node.name)!;
    expect(now.fds, `node ${node.name}'s open fds (before: ${was.fds}, ${reconnections} reconnections)`).toBeLessThanOrEqual(was.fds + LEAK_BOUNDS.fds(reconnections));
    expect(now.heapUsed, `node ${node.name}'s heap after GC (before: ${was.heapUsed})`).toBeLessThanOrEqual(was.heapUsed + LEAK_BOUNDS.heapBytes(was.heapUsed));
    expect(now.rss, `node ${node.name}'s RSS (before: ${was.rss})`).toBeLessThanOrEqual(was.rss + LEAK_BOUNDS.rssBytes(was.rss));
  }
  if (check.redisPort !== null && before.redisClients !== null) {
    // A connection may still be reopening after the last fault: allow it a moment.
    const port = check.redisPort;
    const deadline = Date.now() + 10_000;
    while ((await redisClientCount(port)) !== before.redisClients && Date.now() < deadline) await sleep(200);
    expect(await redisClientCount(port), 'Redis clients, as before the faults').toBe(before.redisClients);
  }
}
