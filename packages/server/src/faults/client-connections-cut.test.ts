/**
 * Fault: every client connection of a node cut at once (RST from the proxy in front of it, as a
 * restarted load balancer or a lost NAT entry does): WebSockets drop without a close frame and
 * sends in flight lose their answer, so SDKs retry them with the same clientMessageId and resume
 * with their cursors. The node itself is healthy: readiness must stay ready throughout.
 * fault-world.ts's verify() checks that no retried send was stored twice, delivery and leaks
 * (the server must notice every cut socket: its realtime connection count comes back down).
 * Runs on both engines.
 */
import { describe, expect, it } from 'vitest';
import type { FaultWorld } from './fault-world.js';
import { sleep } from '../test-support/node-scenarios.js';
import { faultTimeout, runFault } from './run-fault.js';

async function cutClients(world: FaultWorld): Promise<void> {
  const cutAt = Date.now();
  for (const node of world.nodes) expect(node.clientProxy.resetAll(), `client connections of ${node.name}`).toBeGreaterThan(0);
  await sleep(1500);
  await world.moreAcked(10);
  world.expectReadyThroughout(world.nodes, cutAt, Date.now());
}

describe('fault: every client connection cut', () => {
  it('on Redis: no retried send stored twice, every follower resumes without a gap, readiness stays ready, no leak', async () => {
    await runFault('client connections cut', { engine: 'redis', cutsClientConnections: true }, cutClients);
  }, faultTimeout());

  it('embedded engine: the same guarantees on one process', async () => {
    await runFault('client connections cut', { engine: 'memory', cutsClientConnections: true }, cutClients);
  }, faultTimeout());
});
