/**
 * Realtime across `node dist/main.js` processes on a real Redis Cluster: three masters started
 * from redis-server for this file only (startLocalCluster), every Parley node given
 * REDIS_CLUSTER_NODES and one unique key prefix. The scenarios of realtime-nodes.test.ts run
 * unchanged (test-support/node-scenarios.ts): cross-node delivery, 300 concurrent sends, resume
 * across nodes, a node killed under traffic. Then what only Cluster has: each node subscribes
 * through one connection per master (sharded pub/sub), and losing one of them must not lose
 * events silently: its followers are told to resume and catch up from the logs.
 * Everything asserted is what users see. These tests need the build (`npm test` runs it first).
 */
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConversationId, TenantId } from './domain/types.js';
import { RedisKeys } from './engine/redis/redis-keys.js';
import { createApiClient } from './test-support/api-client.js';
import { createGroup, createTestTenant, type TenantUser } from './test-support/conversations.js';
import {
  createFleet,
  createdIn,
  deliversAcrossNodes,
  deliversBurstExactlyOnce,
  failsOver,
  range,
  resumesAcrossNodes,
  seqsOf,
  sleep,
  startTraffic,
  until,
  type Fleet,
  type TwoNodes,
} from './test-support/node-scenarios.js';
import { connectRealtime, type RealtimeClient } from './test-support/realtime-client.js';
import { deleteKeysWithPrefix, startLocalCluster, uniqueKeyPrefix, type LocalCluster } from './test-support/redis.js';
import type { ServerProcess } from './test-support/server-process.js';

const keyPrefix = uniqueKeyPrefix();
let cluster: LocalCluster | undefined;
let admin: Cluster | undefined;
let fleet: Fleet;
let world: TwoNodes;

beforeAll(async () => {
  cluster = await startLocalCluster(3);
  admin = new Cluster(cluster.nodes);
  fleet = createFleet({
    REDIS_CLUSTER_NODES: cluster.nodes.map(({ host, port }) => `${host}:${port}`).join(','),
    REDIS_KEY_PREFIX: keyPrefix,
  });
  const [nodeA, nodeB] = await Promise.all([fleet.startNode(), fleet.startNode()]);
  const apiA = createApiClient(nodeA.url);
  world = { fleet, nodeA, nodeB, apiA, apiB: createApiClient(nodeB.url), tenant: await createTestTenant(apiA) };
}, 60_000);

afterAll(async () => {
  await fleet?.close();
  try {
    if (admin) await deleteKeysWithPrefix(admin, keyPrefix);
  } finally {
    await admin?.quit();
    await cluster?.stop();
  }
});

/**
 * A user who stays online on `node` the way an SDK does: whenever the connection closes, it
 * reconnects with the last cursor it holds, until `stop()`. A connection closed before its
 * `ready` (a node still re-subscribing refuses to start it) is retried after a short pause.
 */
function stayOnline(node: ServerProcess, user: TenantUser) {
  const connections: RealtimeClient[] = [];
  const closes: { code: number; reason: string; at: number }[] = [];
  /** When each connection after the first got its `ready`. */
  const readyAt: number[] = [];
  let stopped = false;
  const lastCursor = () => connections.reduceRight<string | undefined>((found, client) => found ?? client.lastCursor(), undefined);
  const connect = async (): Promise<void> => {
    while (!stopped) {
      const cursor = lastCursor();
      const client = await connectRealtime(node.url, { token: user.token, ...(cursor ? { cursor } : {}) });
      connections.push(client);
      const first = await Promise.race([client.waitFor((frame) => frame.type === 'ready', 5000).then(() => 'ready' as const), client.closed]);
      if (first === 'ready') {
        if (connections.length > 1) readyAt.push(Date.now());
        // A failure to reconnect shows as missing messages in the assertions.
        client.closed.then((close) => {
          closes.push({ ...close, at: Date.now() });
          return connect();
        }).catch(() => undefined);
        return;
      }
      closes.push({ ...first, at: Date.now() });
      await sleep(50);
    }
  };
  return {
    connections,
    closes,
    readyAt,
    started: connect(),
    async stop() {
      stopped = true;
      await Promise.all(connections.map((client) => client.close()));
    },
  };
}

describe('realtime across nodes on Redis Cluster', () => {
  it('delivers messages, typing and read receipts between users connected to different nodes', async () => {
    await deliversAcrossNodes(world, ['rt-alice', 'rt-bob']);
  });

  it('delivers 300 concurrent sends through both nodes to every member socket exactly once, in seq order', async () => {
    const { lastFrameAfterMs } = await deliversBurstExactlyOnce(world, ['burst-1', 'burst-2', 'burst-3', 'burst-4']);
    console.info(`cluster burst: 300 sends × 6 sockets delivered exactly once, last frame ${lastFrameAfterMs} ms after the last answer`);
  }, 30_000);

  it('replays exactly the 25 messages sent through the other node while a client was away, then live ones', async () => {
    await resumesAcrossNodes(world, ['resume-rita', 'resume-ravi', 'resume-sol']);
  });

  it('SIGKILL under traffic: clients resume on the survivor with nothing lost or doubled; the dead node users go offline', async () => {
    const figures = await failsOver(world, 'SIGKILL', ['kill-alice', 'kill-bob', 'kill-carl', 'kill-dana']);
    console.info(`cluster SIGKILL: ${figures.acked} acknowledged of ${figures.lastSeq} stored; resumed on the survivor after ${figures.resumedAfterMs} ms; offline after ${figures.offlineAfterMs} ms`);
    expect(figures.offlineAfterMs).toBeLessThan(5000);
  }, 45_000);

  it("a node's lost connection to one master makes its followers resume: every message sent around the drop arrives exactly once, in order", async () => {
    const { nodeA, nodeB, apiA, tenant } = world;
    const [sol, fay, gil] = (await tenant.users(['shard-sol', 'shard-fay', 'shard-gil'])) as [TenantUser, TenantUser, TenantUser];
    const group = await createGroup(apiA, sol.token, [fay.id, gil.id], 'shard loss');
    // A follower on each node: the master's subscriber connections of both nodes are dropped.
    const followers = { 'fay on B': stayOnline(nodeB, fay), 'gil on A': stayOnline(nodeA, gil) };
    await Promise.all(Object.values(followers).map((follower) => follower.started));

    // The master of the conversation's channel: where both nodes subscribed to it.
    const channel = new RedisKeys(keyPrefix).conversationTopic(tenant.id as TenantId, group.id as ConversationId);
    const masters = cluster!.nodes.map(({ host, port }) => new Redis({ host, port, lazyConnect: false, maxRetriesPerRequest: 1 }));
    let killed: number;
    let killedAt: number;
    const traffic = startTraffic({
      conversationId: group.id,
      limit: 2000,
      workers: 4,
      route: (i) => ({ node: i % 2 === 0 ? nodeA : nodeB, user: sol }),
    });
    try {
      const counts = await Promise.all(masters.map(async (master) => Number(((await master.call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number])[1])));
      const owner = masters[counts.findIndex((count) => count > 0)]!;
      expect(counts.filter((count) => count > 0)).toEqual([2]);
      await until('50 acknowledged sends', () => traffic.acked.size >= 50, 10_000);
      // Only the sharded subscribers' connections (ioredis names them), by id: the nodes' data
      // connections and anything else on that master stay.
      const list = (await owner.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string;
      const ids = list
        .split('\n')
        .filter((line) => / name=ioredis-cluster\(ssubscriber\)/.test(line))
        .map((line) => /^id=(\d+)/.exec(line)![1]!);
      expect(ids.length).toBeGreaterThanOrEqual(2);
      killedAt = Date.now();
      killed = 0;
      for (const id of ids) killed += Number(await owner.call('CLIENT', 'KILL', 'ID', id));
      const ackedAtKill = traffic.acked.size;
      await until('100 more acknowledged sends', () => traffic.acked.size >= ackedAtKill + 100, 10_000);
    } finally {
      await traffic.stop();
      for (const master of masters) master.disconnect();
    }
    expect(killed!).toBeGreaterThanOrEqual(2);

    const lastSeq = (await apiA.get(`/v1/conversations/${group.id}`, sol.token)).body.lastSeq as number;
    expect(lastSeq).toBe(traffic.acked.size);
    const hasAll = () => Object.values(followers).every(({ connections }) => createdIn(group.id, ...connections).length >= lastSeq);
    await until(`every follower to have ${lastSeq} messages`, hasAll, 10_000).catch(() => undefined);
    await sleep(300); // room for a duplicate to show up
    const figures: string[] = [];
    for (const [who, follower] of Object.entries(followers)) {
      const frames = createdIn(group.id, ...follower.connections);
      expect(seqsOf(frames), who).toEqual(range(1, lastSeq));
      expect(frames.map((frame) => frame.message.id), who).toEqual(range(1, lastSeq).map((seq) => traffic.acked.get(seq)));
      // Told to resume, not left to miss what was published while the node re-subscribed.
      expect(follower.closes.map((close) => close.code), who).toContain(1012);
      expect(follower.readyAt.length, who).toBeGreaterThanOrEqual(1);
      figures.push(`${who}: ${frames.length} frames for ${lastSeq} messages, ${follower.connections.length} connections, closed ${follower.closes.map((close) => `${close.code} ${close.at - killedAt!}`).join('/')} ms and resumed ${follower.readyAt.map((at) => at - killedAt!).join('/')} ms after the drop`);
    }
    console.info(`cluster shard loss: ${killed!} subscriber connections dropped; ${figures.join('; ')}`);
    await Promise.all(Object.values(followers).map((follower) => follower.stop()));
  }, 30_000);
});
