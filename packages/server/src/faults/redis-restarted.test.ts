/**
 * Fault: Redis shut down (SIGTERM: it finishes its append-only file, `appendfsync always`) and
 * started again on the same port and directory, under a stream of retried sends through two
 * nodes and followers reconnecting with their cursors. Readiness must fail on both nodes while
 * Redis is down and come back after; fault-world.ts's verify() checks that every acknowledged
 * message survived, exactly once, and reached every follower once, and that nothing leaked.
 * redis-crash.test.ts kills Redis (SIGKILL) to check what survives a crash per fsync policy; this
 * one restarts it cleanly under steady traffic, for delivery, readiness and leaks.
 */
import { describe, it } from 'vitest';
import { sleep } from '../test-support/node-scenarios.js';
import { faultTimeout, runFault } from './run-fault.js';

describe('fault: Redis restarted on its append-only file', () => {
  it('every acknowledged message survives, stored once and delivered once; not ready while down, ready after; no leak', async () => {
    await runFault('redis restarted', { engine: 'redis' }, async (world) => {
      const redis = world.redis!;
      await redis.shutdown();
      const downAt = Date.now();
      let restartedAt: number;
      try {
        await sleep(2000);
        await world.notReadyEverywhere(world.nodes, downAt);
      } finally {
        restartedAt = Date.now();
        await redis.restart();
      }
      world.expectNotReadyThroughout(world.nodes, downAt, restartedAt);
      await world.readyEverywhere();
    });
  }, faultTimeout());
});
