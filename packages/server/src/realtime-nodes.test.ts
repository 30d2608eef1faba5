/**
 * Realtime across nodes, as operators run it: `node dist/main.js` processes sharing one Redis
 * (under a unique key prefix), users connected to different nodes, and nodes that are slow to
 * read from, stopped (SIGTERM) or killed (SIGKILL) under traffic. Everything asserted is what
 * users see: frames on their sockets and REST answers. These tests need the build (`npm test`
 * runs it first). The in-process behaviour of one gateway is tested in gateway/*.test.ts.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient } from './test-support/api-client.js';
import { createGroup, createTestTenant, openDirect, sendMessage, type TenantUser } from './test-support/conversations.js';
import {
  createFleet,
  createdIn,
  deliversAcrossNodes,
  deliversBurstExactlyOnce,
  failsOver,
  isCreatedIn,
  range,
  resumesAcrossNodes,
  send,
  seqsOf,
  sleep,
  type TwoNodes,
} from './test-support/node-scenarios.js';
import type { RealtimeClient } from './test-support/realtime-client.js';
import { TEST_REDIS_URL, createTestRedis, deleteKeysWithPrefix, uniqueKeyPrefix } from './test-support/redis.js';
import type { ServerProcess } from './test-support/server-process.js';

const keyPrefix = uniqueKeyPrefix();
const fleet = createFleet({ REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: keyPrefix });
const { online, startNode, stopNode } = fleet;

/** The kernel's largest TCP send buffer (Linux), 4 MB when it cannot be read. */
function largestSendBuffer(): number {
  try {
    const max = Number(readFileSync('/proc/sys/net/ipv4/tcp_wmem', 'utf8').trim().split(/\s+/)[2]);
    return Number.isSafeInteger(max) && max > 0 ? max : 4 * 1024 * 1024;
  } catch {
    return 4 * 1024 * 1024;
  }
}

type Quintet = [TenantUser, TenantUser, TenantUser, TenantUser, TenantUser];

describe('realtime across nodes on one Redis', () => {
  let world: TwoNodes;
  let nodeA: ServerProcess;
  let nodeB: ServerProcess;
  let apiA: TwoNodes['apiA'];
  let apiB: TwoNodes['apiB'];
  let tenant: TwoNodes['tenant'];

  beforeAll(async () => {
    [nodeA, nodeB] = await Promise.all([startNode(), startNode()]);
    apiA = createApiClient(nodeA.url);
    apiB = createApiClient(nodeB.url);
    tenant = await createTestTenant(apiA);
    world = { fleet, nodeA, nodeB, apiA, apiB, tenant };
  });

  afterAll(async () => {
    await fleet.close();
    const redis = createTestRedis();
    try {
      await deleteKeysWithPrefix(redis, keyPrefix);
    } finally {
      redis.disconnect();
    }
  });

  it('delivers messages, typing and read receipts between users connected to different nodes', async () => {
    await deliversAcrossNodes(world, ['rt-alice', 'rt-bob']);
  });

  it('delivers 300 concurrent sends through both nodes to every member socket exactly once, in seq order', async () => {
    await deliversBurstExactlyOnce(world, ['burst-1', 'burst-2', 'burst-3', 'burst-4']);
  });

  it('replays exactly the 25 messages sent through the other node while a client was away, then live ones', async () => {
    await resumesAcrossNodes(world, ['resume-rita', 'resume-ravi', 'resume-sol']);
  });

  it('never sends a non-member any event of a conversation, though a member on the same node gets them', async () => {
    const [alice, bob, eve, fay, gus] = (await tenant.users(['nm-alice', 'nm-bob', 'nm-eve', 'nm-fay', 'nm-gus'])) as Quintet;
    const group = await createGroup(apiA, alice.token, [bob.id], 'members only');
    const evesOwn = await openDirect(apiA, gus.token, eve.id);
    const bobOnB = await online(nodeB, bob);
    const eveOnB = await online(nodeB, eve);
    const eveOnA = await online(nodeA, eve);
    const aliceOnA = await online(nodeA, alice);

    const path = `/v1/conversations/${group.id}`;
    const first = await sendMessage(apiA, alice.token, group.id, 'secret');
    expect((await apiA.patch(`${path}/messages/${first.id}`, { text: 'edited secret' }, alice.token)).status).toBe(200);
    expect((await apiB.put(`${path}/messages/${first.id}/reactions/${encodeURIComponent('👍')}`, {}, bob.token)).status).toBe(204);
    expect((await apiB.post(`${path}/read`, { seq: 1 }, bob.token)).status).toBe(204);
    expect((await apiA.patch(path, { title: 'renamed' }, alice.token)).status).toBe(200);
    expect((await apiA.post(`${path}/members`, { userIds: [fay.id] }, alice.token)).status).toBeLessThan(300);
    expect((await apiA.delete(`${path}/members/${fay.id}`, alice.token)).status).toBe(204);
    aliceOnA.send({ type: 'typing', conversationId: group.id });
    await bobOnB.waitFor((frame) => frame.type === 'typing' && frame.conversationId === group.id, 3000);
    // Alice goes offline and comes back: presence goes to her contacts only.
    await aliceOnA.close();
    await bobOnB.waitFor((frame) => frame.type === 'presence' && frame.userId === alice.id && frame.status === 'offline', 3000);
    await online(nodeA, alice);
    await bobOnB.waitFor((frame) => frame.type === 'presence' && frame.userId === alice.id && frame.status === 'online', 3000);
    const last = await sendMessage(apiA, alice.token, group.id, 'last secret');
    expect((await apiA.delete(`${path}/messages/${last.id}`, alice.token)).status).toBe(204);
    await bobOnB.waitFor((frame) => frame.type === 'message.deleted' && frame.message.id === last.id, 3000);

    // The member on eve's node got every kind of event...
    const kinds = new Set(bobOnB.frames.filter((frame) => JSON.stringify(frame).includes(group.id)).map((frame) => frame.type));
    for (const kind of ['message.created', 'message.updated', 'reaction.added', 'read', 'conversation.updated', 'member.added', 'member.removed', 'typing', 'message.deleted']) {
      expect(kinds, kind).toContain(kind);
    }
    // ...while eve, live on both nodes (a message of her own conversation reaches her), got none.
    const sentinel = await sendMessage(apiB, gus.token, evesOwn.id, 'for eve');
    for (const client of [eveOnA, eveOnB]) await client.waitFor((frame) => frame.type === 'message.created' && frame.message.id === sentinel.id, 3000);
    await sleep(200);
    for (const client of [eveOnA, eveOnB]) {
      expect(client.frames.filter((frame) => JSON.stringify(frame).includes(group.id))).toEqual([]);
      expect(client.frames.filter((frame) => frame.type === 'presence' && [alice.id, bob.id, fay.id].includes(frame.userId))).toEqual([]);
    }
  });

  it('cuts a client that stops reading off with 4008 while the other members keep receiving promptly', async () => {
    const small = await startNode({ REALTIME_MAX_BUFFERED_BYTES: '16384' });
    const [sam, hana, hugo] = (await tenant.users(['slow-sam', 'slow-hana', 'slow-hugo'])) as [TenantUser, TenantUser, TenantUser];
    const group = await createGroup(apiA, hugo.token, [sam.id, hana.id], 'flood');
    const samOnSmall = await online(small, sam);
    // Healthy members: one on the same node as the slow one, one on another node.
    const hanaOnSmall = await online(small, hana);
    const hugoOnA = await online(nodeA, hugo);

    // 3990 four-byte characters: 16 KB per frame. The kernel holds about its largest send buffer
    // (4 MB by default) for a paused socket before anything stays in the server's own buffer, so the
    // flood sends one and a half times that. Not much more: the server ends a socket that never
    // completes its closing handshake after 5 s, and the client must still read the 4008 by then.
    const padding = '😀'.repeat(3990);
    const total = Math.min(2000, Math.ceil((1.5 * largestSendBuffer()) / Buffer.byteLength(padding)));
    const issuedAt = new Map<number, number>();
    const latencies = new Map<RealtimeClient, number[]>([
      [hanaOnSmall, []],
      [hugoOnA, []],
    ]);
    for (const [client, samples] of latencies) {
      client.socket.on('message', (data) => {
        const text = data.toString();
        if (!text.startsWith('{"type":"message.created"')) return;
        const match = /"text":"#(\d+) /.exec(text);
        const sentAt = match ? issuedAt.get(Number(match[1])) : undefined;
        if (sentAt !== undefined) samples.push(Date.now() - sentAt);
      });
    }

    (samOnSmall.socket as any)._socket.pause();
    let next = 0;
    const statuses: number[] = [];
    // Sam reads again as soon as the node has cut him off (its slow-consumer counter moved), not
    // after the whole flood: on a loaded machine the flood may outlast the 5 s the node gives a
    // closing handshake, and then the socket is gone before the 4008 could be read.
    let flooding = true;
    const cutOff = (async () => {
      while (flooding) {
        const metrics = await fetch(`${small.url}/metrics`).then((response) => response.text());
        if (/^parley_realtime_slow_consumer_closes_total(\{[^}]*\})? [1-9]/m.test(metrics)) {
          (samOnSmall.socket as any)._socket.resume();
          return true;
        }
        await sleep(50);
      }
      return false;
    })();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < total) {
          const i = next++;
          issuedAt.set(i, Date.now());
          const result = await send(i % 2 === 0 ? small : nodeA, i % 2 === 0 ? hana.token : hugo.token, group.id, `#${i} ${padding}`);
          statuses.push(result.status);
        }
      }),
    ).finally(() => (flooding = false));
    expect(await cutOff, 'the node cut the paused client off').toBe(true);
    expect(statuses).toEqual(Array(total).fill(201));

    const closed = await Promise.race([samOnSmall.closed, sleep(10_000).then(() => null)]);
    expect(closed?.code, 'the paused client is cut off with 4008').toBe(4008);
    const samBeforeCut = createdIn(group.id, samOnSmall);
    expect(samBeforeCut.length).toBeLessThan(total);

    for (const [client, samples] of latencies) {
      await client.waitForCount(isCreatedIn(group.id), total, 15_000);
      expect(seqsOf(createdIn(group.id, client))).toEqual(range(1, total));
      expect(client.socket.readyState).toBe(client.socket.OPEN);
      const sorted = [...samples].sort((a, b) => a - b);
      expect(sorted.length).toBe(total);
      const p99 = sorted[Math.ceil(sorted.length * 0.99) - 1]!;
      expect(p99, `p99 send→frame latency, ms (median ${sorted[sorted.length >> 1]})`).toBeLessThan(1000);
    }

    // The slow client resumes with its cursor and ends up with everything exactly once.
    const samAgain = await online(small, sam, samOnSmall.lastCursor());
    await samAgain.waitForCount(isCreatedIn(group.id), total - samBeforeCut.length, 10_000);
    await sleep(200);
    expect(seqsOf(createdIn(group.id, samOnSmall, samAgain))).toEqual(range(1, total));
    await stopNode(small);
  }, 45_000);

  describe('with a node whose clock runs 500 ms behind', () => {
    let lagging: ServerProcess;
    beforeAll(async () => {
      const shift = 'const now = Date.now; Date.now = () => now() - 500;';
      lagging = await startNode({ NODE_OPTIONS: `--import=data:text/javascript,${encodeURIComponent(shift)}` });
      // The skew is real: what the lagging node stamps is half a second in the past.
      const [probe] = await tenant.users(['skew-probe']);
      const self = await createGroup(apiA, probe!.token, [], 'clock probe');
      const before = Date.now();
      const stamped = Date.parse((await sendMessage(createApiClient(lagging.url), probe!.token, self.id, 'tick')).createdAt);
      expect(stamped).toBeLessThan(before - 300);
    });

    /*
     * Known bug, pinned as an expected failure: flip to a plain `it` once fixed. A fresh
     * connection's cursor starts at the connecting node's clock (Connection.startFresh:
     * watermark = now), and a resume replays each conversation without a position from that
     * watermark on; but an event's time comes from the clock of the node that handled the change
     * (made non-decreasing per log). Events written through a node whose clock is behind, within
     * the skew after the connect, sort before the watermark and are never replayed: the client
     * misses them with no resync. (The same happens without skew when a send's time is taken
     * before a connect and committed after it.)
     */
    it('replays what a client missed even when it was written through a node whose clock is behind', async () => {
      const [rita, sol] = (await tenant.users(['skew-rita', 'skew-sol'])) as [TenantUser, TenantUser];
      const group = await createGroup(apiA, sol.token, [rita.id], 'skew');
      const first = await online(nodeA, rita);
      const cursor = first.lastCursor()!;
      await first.close();
      const missed: string[] = [];
      for (let i = 0; i < 5; i += 1) missed.push((await sendMessage(createApiClient(lagging.url), sol.token, group.id, `missed ${i}`)).id);
      const back = await online(nodeA, rita, cursor);
      await back.waitForCount(isCreatedIn(group.id), 5, 2000);
      expect(createdIn(group.id, back).map((frame) => frame.message.id)).toEqual(missed);
    });
  });

  it('SIGTERM: a stopping node closes its sockets with 1012 and its clients resume on another node without loss', async () => {
    const { offlineAfterMs } = await failsOver(world, 'SIGTERM', ['term-alice', 'term-bob', 'term-carl', 'term-dana']);
    // A clean stop hands its users' presence over at once, without waiting for a sweep.
    expect(offlineAfterMs).toBeLessThan(2000);
  }, 45_000);

  it('SIGKILL under traffic: clients resume on the survivor with nothing lost or doubled; the dead node users go offline', async () => {
    const { offlineAfterMs } = await failsOver(world, 'SIGKILL', ['kill-alice', 'kill-bob', 'kill-carl', 'kill-dana']);
    // Noticed by a live node's sweep: the TTL (2 s) plus a sweep interval, with room for a busy machine.
    expect(offlineAfterMs).toBeLessThan(5000);
  }, 45_000);
});
