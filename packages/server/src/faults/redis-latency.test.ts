/**
 * Fault: the network between Parley and Redis (a TCP proxy the nodes' REDIS_URL points at). In
 * each round: 20–100 ms of latency with jitter in each direction while traffic goes on (readiness
 * must stay ready: a ping still answers well within its second); then a black hole (connections
 * open, nothing arrives: readiness must fail on both nodes), ended by resetting every connection
 * (RST) as a partition's timeouts would; then, with the latency still on, every connection reset
 * once more mid-stream; then replies lost (requests reach Redis and run, answers are held) until
 * every connection is reset. fault-world.ts's verify() checks storage, delivery and leaks afterwards.
 */
import { describe, expect, it } from 'vitest';
import { SENDS_BETWEEN_FAULTS } from './fault-world.js';
import { sleep } from '../test-support/node-scenarios.js';
import { faultTimeout, runFault } from './run-fault.js';

describe('fault: latency, a black hole and resets between Parley and Redis', () => {
  it('every acknowledged message stored once and delivered once; ready under latency, not ready in the black hole; no leak', async () => {
    await runFault('redis latency', { engine: 'redis', redisProxy: true }, async (world) => {
      const proxy = world.redisProxy!;
      proxy.setLatency({ minMs: 20, maxMs: 100 });
      try {
        const slowFrom = Date.now();
        await world.moreAcked(SENDS_BETWEEN_FAULTS);
        const slowTo = Date.now();
        world.expectReadyThroughout(world.nodes, slowFrom, slowTo);

        proxy.setBlackHole(true);
        const holeAt = Date.now();
        try {
          await sleep(2000);
          await world.notReadyEverywhere(world.nodes, holeAt);
          world.expectNotReadyThroughout(world.nodes, holeAt, Date.now());
          expect(proxy.resetAll(), 'connections reset out of the black hole').toBeGreaterThan(0);
        } finally {
          proxy.setBlackHole(false);
        }
        await world.readyEverywhere();

        await world.moreAcked(10);
        expect(proxy.resetAll(), 'connections reset under latency').toBeGreaterThan(0);
        await world.readyEverywhere();

        // Answers lost: commands reach Redis and run, their replies never come back, then every
        // connection is reset. What ran must not run again; but with auto-pipelining only the
        // first pipeline each connection sends after the hole opens reaches Redis (often a
        // readiness PING or a heartbeat; later commands wait client-side and never run), so this
        // phase only sometimes meets a send. The deterministic check is
        // engine/redis/redis-connection.test.ts ("never sends again a command lost with its
        // connection…"); here verify() checks that nothing was stored twice and every send was
        // answered.
        await world.moreAcked(10);
        proxy.setBlackHole(true, 'from-target');
        const repliesLostAt = Date.now();
        try {
          await sleep(1500);
          await world.notReadyEverywhere(world.nodes, repliesLostAt);
          world.expectNotReadyThroughout(world.nodes, repliesLostAt, Date.now());
          expect(proxy.resetAll(), 'connections reset after lost replies').toBeGreaterThan(0);
        } finally {
          proxy.setBlackHole(false);
        }
        await world.readyEverywhere();
      } finally {
        proxy.setLatency(null);
      }
    });
  }, faultTimeout(40_000));
});
