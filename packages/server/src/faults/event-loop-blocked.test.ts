/**
 * Fault: a node's event loop blocked (a long synchronous task, a major GC pause, a starved CPU):
 * its timers, heartbeats, sockets and requests all wait. The block is real and inside the
 * process: the test evaluates a busy loop on the node's main thread through the inspector
 * (NODE_OPTIONS=--inspect, set by the test only; no route or setting in the server).
 *
 * The loop spins until the test releases it, after a fixed 1.5 × the presence TTL (3 s). So the
 * run always takes the same path: the node's presence heartbeat is silent for longer than the
 * TTL, so once it runs again it closes every socket with 1012 (its users may have been swept
 * offline by the other node meanwhile) and its clients resume; verify() checks they miss nothing.
 * A block shorter than the TTL (nothing closed) is the path of every ordinary slow tick, and the
 * other faults cover it; one whose length straddled the TTL would test either path by chance.
 * Runs on both engines: two nodes on Redis (the other node keeps serving), and the embedded one.
 */
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FaultNode, FaultWorld } from './fault-world.js';
import { FLEET_PRESENCE_TTL_MS, sleep, until } from '../test-support/node-scenarios.js';
import { faultTimeout, runFault } from './run-fault.js';

const BLOCKED = 'fault: event loop blocked';
/** What the gateway logs when its heartbeat was silent for longer than the TTL. */
const LAPSED = 'presence heartbeat lapsed; reconnecting clients';
/** Well past the TTL, whatever the heartbeat's phase (every 250 ms) when the block starts. */
const BLOCK_MS = FLEET_PRESENCE_TTL_MS * 1.5;

const countLogs = (node: FaultNode, msg: string) => node.process.logs.filter((entry) => entry.msg === msg).length;

/** Blocks `node`'s event loop for BLOCK_MS, and checks readiness showed it and the node noticed its presence lapsed. */
async function blockEventLoop(world: FaultWorld, node: FaultNode): Promise<void> {
  const release = join(tmpdir(), `parley-fault-release-${randomBytes(6).toString('hex')}`);
  const blockedBefore = countLogs(node, BLOCKED);
  const lapsedBefore = countLogs(node, LAPSED);
  // Writes to a pipe are synchronous on Linux, so the line arrives while the loop spins; the
  // 20 s cap frees the process even if the test dies before releasing it.
  const spin = `(() => {
    const fs = process.getBuiltinModule('node:fs');
    process.stdout.write(JSON.stringify({ msg: ${JSON.stringify(BLOCKED)} }) + '\\n');
    const cap = Date.now() + 20000;
    while (!fs.existsSync(${JSON.stringify(release)}) && Date.now() < cap) {}
    return Date.now() < cap;
  })()`;
  const blocking = node.inspector.evaluate(spin);
  const blocked = { from: 0, to: 0 };
  try {
    await until('the event loop to block', () => countLogs(node, BLOCKED) > blockedBefore, 10_000);
    blocked.from = Date.now();
    // Long enough for several probes to start and time out (1 s each) within the block.
    await sleep(BLOCK_MS);
  } finally {
    blocked.to = Date.now();
    await writeFile(release, '');
  }
  // Every probe made while the loop spun went unanswered; on Redis, the other node stayed ready.
  world.expectNotReadyThroughout([node], blocked.from, blocked.to);
  const others = world.nodes.filter((candidate) => candidate !== node);
  if (others.length > 0) world.expectReadyThroughout(others, blocked.from, blocked.to);
  expect(await blocking, 'released by the test, not by the cap').toBe(true);
  await rm(release, { force: true });
  // Running again, the node finds its heartbeat silent for longer than the TTL and closes its
  // sockets with 1012; its followers resume (verify() checks delivery across that).
  await until('the node to notice its presence lapsed', () => countLogs(node, LAPSED) > lapsedBefore, 10_000);
  await world.readyEverywhere();
}

describe('fault: a node event loop blocked for longer than the presence TTL', () => {
  it('on Redis: every acknowledged message stored once and delivered once; the node not ready while blocked, its clients resumed after its presence lapsed; no leak', async () => {
    await runFault('event loop blocked', { engine: 'redis' }, (world) => blockEventLoop(world, world.nodes[0]!));
  }, faultTimeout());

  it('embedded engine: the same guarantees on one process', async () => {
    await runFault('event loop blocked', { engine: 'memory' }, (world) => blockEventLoop(world, world.nodes[0]!));
  }, faultTimeout());
});
