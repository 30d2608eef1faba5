/**
 * Fault: a node's event loop blocked for about a second (a long synchronous task, a major GC
 * pause, a starved CPU): its timers, heartbeats, sockets and requests all wait. The block is real
 * and inside the process: the test evaluates a busy loop on the node's main thread through the
 * inspector (NODE_OPTIONS=--inspect, set by the test only; no route or setting in the server).
 * The loop spins until the test releases it, so its length is the test's choice, not a race: the
 * test releases it once a readiness probe started during the block went unanswered for its
 * second (as a kubelet counts it) and at least a second has passed.
 * Runs on both engines: two nodes on Redis (the other node keeps serving), and the embedded one.
 */
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FaultNode, FaultWorld } from './fault-world.js';
import { sleep, until } from '../test-support/node-scenarios.js';
import { faultTimeout, runFault } from './run-fault.js';

const BLOCKED = 'fault: event loop blocked';

/** Blocks `node`'s event loop until the test lets go, about a second, and checks readiness showed it. */
async function blockEventLoop(world: FaultWorld, node: FaultNode): Promise<void> {
  const release = join(tmpdir(), `parley-fault-release-${randomBytes(6).toString('hex')}`);
  const blockedBefore = node.process.logs.filter((entry) => entry.msg === BLOCKED).length;
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
    await until('the event loop to block', () => node.process.logs.filter((entry) => entry.msg === BLOCKED).length > blockedBefore, 10_000);
    blocked.from = Date.now();
    await sleep(1000);
    await world.notReadyEverywhere([node], blocked.from);
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
  await world.readyEverywhere();
}

describe('fault: a node event loop blocked for about a second', () => {
  it('on Redis: every acknowledged message stored once and delivered once; the node not ready while blocked, ready after; no leak', async () => {
    await runFault('event loop blocked', { engine: 'redis' }, (world) => blockEventLoop(world, world.nodes[0]!));
  }, faultTimeout());

  it('embedded engine: the same guarantees on one process', async () => {
    await runFault('event loop blocked', { engine: 'memory' }, (world) => blockEventLoop(world, world.nodes[0]!));
  }, faultTimeout());
});
