/**
 * Fault: Redis frozen with SIGSTOP for a few seconds (connections stay open, nothing answers: a
 * failover or a partition), then SIGCONT, under a stream of retried sends through two nodes and
 * followers reconnecting with their cursors. Readiness must fail on both nodes while Redis is
 * frozen and come back after; fault-world.ts's verify() checks storage, delivery and leaks.
 * redis-stall.test.ts also freezes Redis, to check that one node stays up and answers 503 whatever
 * its clients and timers do meanwhile; this one adds steady traffic, retries across nodes,
 * delivery and leaks.
 */
import { describe, it } from 'vitest';
import { sleep } from '../test-support/node-scenarios.js';
import { faultTimeout, runFault } from './run-fault.js';

describe('fault: Redis paused (SIGSTOP) and resumed', () => {
  it('every acknowledged message stored once and delivered once; not ready while paused, ready after; no leak', async () => {
    await runFault('redis paused', { engine: 'redis' }, async (world) => {
      const redis = world.redis!;
      await redis.pause();
      const pausedAt = Date.now();
      let resumedAt: number;
      try {
        // Long enough for sends to time out (3 s) and for presence heartbeats to fail.
        await sleep(3500);
        await world.notReadyEverywhere(world.nodes, pausedAt);
      } finally {
        resumedAt = Date.now();
        await redis.resume();
      }
      world.expectNotReadyThroughout(world.nodes, pausedAt, resumedAt);
      await world.readyEverywhere();
    });
  }, faultTimeout());
});
