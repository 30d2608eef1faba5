/**
 * The world every fault test runs in, and what it checks once the fault is over.
 *
 * - Redis engine: a private redis-server (append-only file, `appendfsync always`, on its own port,
 *   so a test can pause, stop and restart it) and two `node dist/main.js` nodes; with
 *   `redisProxy`, the nodes reach Redis through a TCP proxy the test controls. Embedded engine:
 *   one node, no Redis.
 * - Every node listens for an inspector (test-only NODE_OPTIONS), so a test can block its event
 *   loop and force a garbage collection before measuring memory.
 * - Clients reach each node through a pass-through TCP proxy of their own, so a test can cut every
 *   client connection of a node at once.
 * - Traffic (fault-traffic.ts): three senders, two retrying with a clientMessageId, and four
 *   followers over WebSockets that resume with their cursor.
 * - Readiness probes per node (readiness-probes.ts), as a kubelet makes them.
 *
 * `verify()` then asserts what the issue asks (fault-checks.ts, resource-snapshot.ts): every
 * acknowledged message stored exactly once, every follower holding every message exactly once in
 * seq order across its reconnections, every send answered in time with success or 503
 * `storage_unavailable` (a lost connection only where the fault cuts client connections), and no
 * leak against the snapshot taken before the first fault. Only sends (POST /messages) are checked
 * during faults; reads, upgrades and other writes are not.
 */
import { expect } from 'vitest';
import { createApiClient } from '../test-support/api-client.js';
import { createGroup, createTestTenant, fullHistoryOf } from '../test-support/conversations.js';
import { INSPECTOR_ENV, openInspector, type InspectorSession } from '../test-support/inspector.js';
import { createFleet, until, type Fleet } from '../test-support/node-scenarios.js';
import { parseSamples, sumOf } from '../test-support/prometheus-text.js';
import { startLocalRedis, uniqueKeyPrefix, type LocalRedis } from '../test-support/redis.js';
import type { ServerProcess } from '../test-support/server-process.js';
import { startTcpProxy, type TcpProxy } from '../test-support/tcp-proxy.js';
import { expectDeliveredOnce, expectHonestFailures, expectStoredOnce } from './fault-checks.js';
import { startFaultTraffic } from './fault-traffic.js';
import { startReadinessProbes, type ReadinessProbes } from './readiness-probes.js';
import { expectNoLeak, takeSnapshot, type Snapshot } from './resource-snapshot.js';

export type { Snapshot } from './resource-snapshot.js';

/** How many times each fault runs, with traffic in between: FAULT_ROUNDS (`npm run test:faults -- --rounds N`), 1 in `npm test`. */
export const FAULT_ROUNDS = Math.max(1, Number(process.env.FAULT_ROUNDS ?? 1) || 1);

/** Acknowledged sends to wait for before a fault and after it, in each round. */
export const SENDS_BETWEEN_FAULTS = 30;

/**
 * Before the second resource measurement every follower reconnects this many times more, so that
 * even one round (as in `npm test`) has enough reconnections for a per-reconnection leak to show
 * (resource-snapshot.ts's bounds).
 */
const CHURN_RECONNECTIONS_PER_FOLLOWER = 10;

export interface FaultNode {
  name: string;
  process: ServerProcess;
  /** What clients use (REST and WebSocket): the node's own client proxy. */
  clientProxy: TcpProxy;
  clientUrl: string;
  inspector: InspectorSession;
}

export interface FaultWorldOptions {
  engine: 'redis' | 'memory';
  /** Nodes reach Redis through a TCP proxy the test controls. */
  redisProxy?: boolean;
  /**
   * The fault cuts client connections: a send may then lose its answer (a network failure). In
   * every other fault a send must be answered.
   */
  cutsClientConnections?: boolean;
}

/** What a verified run did, for the test's log line. */
export interface VerifiedRun {
  acknowledged: number;
  sendAttempts: number;
  failedAttempts: number;
  /** The longest a send took to be answered 503 (0 without any). */
  slowestRefusalMs: number;
  /** Follower connections opened after the first ones (the churn before the last snapshot included). */
  reconnections: number;
  before: Snapshot;
  after: Snapshot;
}

export interface FaultWorld
  extends Pick<ReadinessProbes, 'notReadyEverywhere' | 'readyEverywhere' | 'samplesBetween' | 'expectNotReadyThroughout' | 'expectReadyThroughout'> {
  engine: 'redis' | 'memory';
  nodes: FaultNode[];
  redis: LocalRedis | null;
  /** Between the nodes and Redis, when asked for. */
  redisProxy: TcpProxy | null;
  /** Acknowledged messages by text (a send's clientMessageId, when it has one). */
  acked: Map<string, { id: string; seq: number }>;
  /** Resolves once `count` more sends have been acknowledged. */
  moreAcked(count: number, timeoutMs?: number): Promise<void>;
  /** A snapshot of the resources to compare with later (every follower connected, after a forced garbage collection). */
  snapshot(): Promise<Snapshot>;
  /** Stops the traffic and asserts every guarantee, and no leak since `before`. */
  verify(before: Snapshot): Promise<VerifiedRun>;
  close(): Promise<void>;
}

export async function startFaultWorld(options: FaultWorldOptions): Promise<FaultWorld> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  };
  try {
    return await build();
  } catch (error) {
    await close();
    throw error;
  }

  async function build(): Promise<FaultWorld> {
    let redis: LocalRedis | null = null;
    let redisProxy: TcpProxy | null = null;
    let fleet: Fleet;
    if (options.engine === 'redis') {
      const localRedis = await startLocalRedis({ persistence: 'always' });
      redis = localRedis;
      cleanups.push(() => localRedis.stop());
      if (options.redisProxy) {
        const proxy = await startTcpProxy({ host: '127.0.0.1', port: localRedis.port });
        redisProxy = proxy;
        cleanups.push(() => proxy.close());
      }
      fleet = createFleet({ REDIS_URL: redisProxy ? redisProxy.url('redis') : localRedis.url, REDIS_KEY_PREFIX: uniqueKeyPrefix() });
    } else {
      fleet = createFleet({});
    }
    cleanups.push(() => fleet.close());

    const nodes: FaultNode[] = [];
    for (const name of options.engine === 'redis' ? ['a', 'b'] : ['solo']) {
      const serverProcess = await fleet.startNode({ ...INSPECTOR_ENV });
      const clientProxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(serverProcess.url).port) });
      cleanups.push(() => clientProxy.close());
      const inspector = await openInspector(serverProcess);
      cleanups.push(() => inspector.close());
      nodes.push({ name, process: serverProcess, clientProxy, clientUrl: clientProxy.url('http'), inspector });
    }

    const api = createApiClient(nodes[0]!.process.url);
    const tenant = await createTestTenant(api);
    const [s1, s2, s3, ...followerUsers] = await tenant.users(['s1', 's2', 's3', 'f1', 'f2', 'f3', 'f4']);
    const group = await createGroup(api, s1!.token, [s2!, s3!, ...followerUsers].map((user) => user.id), 'faults');
    const conversationId = group.id as string;

    const probes = startReadinessProbes(nodes);
    cleanups.push(() => probes.stop());
    const traffic = await startFaultTraffic({ nodes, conversationId, senders: [s1!, s2!, s3!], followers: followerUsers });
    // Runs first on close: stops the senders' retries before the nodes go away.
    cleanups.push(() => traffic.stop(15_000));
    const redisPort = redis ? redis.port : null;
    const openClients = (name: string) => traffic.followers.filter((follower) => follower.home.name === name && follower.open !== undefined).length;

    const world: FaultWorld = {
      engine: options.engine,
      nodes,
      redis,
      redisProxy,
      acked: traffic.acked,
      notReadyEverywhere: probes.notReadyEverywhere,
      readyEverywhere: probes.readyEverywhere,
      samplesBetween: probes.samplesBetween,
      expectNotReadyThroughout: probes.expectNotReadyThroughout,
      expectReadyThroughout: probes.expectReadyThroughout,
      async moreAcked(count, timeoutMs = 30_000) {
        const target = traffic.acked.size + count;
        await until(`${target} acknowledged sends`, () => traffic.acked.size >= target, timeoutMs);
      },
      async snapshot() {
        // Settle first: every follower connected, nothing in flight but the steady stream.
        await traffic.followersConnected(20_000);
        return takeSnapshot(nodes, redisPort);
      },
      async verify(before) {
        await traffic.finishSending();
        await probes.readyEverywhere();

        const items = await fullHistoryOf(api, s1!.token, conversationId);
        expectStoredOnce(items, traffic);
        await expectDeliveredOnce(traffic.followers, conversationId, items);
        const failed = expectHonestFailures(traffic.attempts, options.cutsClientConnections === true);

        await traffic.churnFollowers(CHURN_RECONNECTIONS_PER_FOLLOWER);
        const reconnections = traffic.reconnections();
        const after = await world.snapshot();
        await expectNoLeak({ nodes, before, after, reconnections, openClients, redisPort });
        if (options.engine === 'redis') {
          for (const node of nodes) {
            const metrics = parseSamples(await (await fetch(`${node.process.url}/metrics`)).text());
            for (const role of ['commands', 'subscriber']) expect(sumOf(metrics, 'parley_redis_connection_up', { role }), `node ${node.name}'s ${role} connection up`).toBe(1);
          }
        }
        const refusals = failed.filter((attempt) => attempt.status === 503);
        return {
          acknowledged: traffic.acked.size,
          sendAttempts: traffic.attempts.length,
          failedAttempts: failed.length,
          slowestRefusalMs: Math.max(0, ...refusals.map((attempt) => attempt.elapsedMs)),
          reconnections,
          before,
          after,
        };
      },
      close,
    };
    return world;
  }
}
