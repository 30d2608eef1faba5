/**
 * Realtime across nodes, as operators run it: `node dist/main.js` processes sharing one Redis
 * (under a unique key prefix), users connected to different nodes, and nodes that are slow to
 * read from, stopped (SIGTERM) or killed (SIGKILL) under traffic. Everything asserted is what
 * users see: frames on their sockets and REST answers. These tests need the build (`npm test`
 * runs it first). The in-process behaviour of one gateway is tested in gateway/*.test.ts.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient, type ApiClient } from './test-support/api-client.js';
import { createGroup, createTestTenant, openDirect, sendMessage, type TenantUser, type TestTenant } from './test-support/conversations.js';
import { connectRealtime, type Frame, type RealtimeClient } from './test-support/realtime-client.js';
import { TEST_REDIS_URL, createTestRedis, deleteKeysWithPrefix, uniqueKeyPrefix } from './test-support/redis.js';
import { startServerProcess, type ServerProcess } from './test-support/server-process.js';
import { ADMIN_KEY } from './test-support/server.js';

const keyPrefix = uniqueKeyPrefix();
const ENV = {
  REDIS_URL: TEST_REDIS_URL,
  REDIS_KEY_PREFIX: keyPrefix,
  // One issuer on every node, as behind one load balancer: a token from one node works on all.
  PUBLIC_URL: 'http://parley.test',
  PARLEY_ADMIN_KEY: ADMIN_KEY,
  // Crashed nodes are noticed within about two seconds; the TTL leaves room for a busy machine.
  PRESENCE_INTERVAL_MS: '250',
  PRESENCE_TTL_MS: '2000',
  SHUTDOWN_TIMEOUT_MS: '5000',
};

/** Every process and socket this file opened, for cleanup whatever happens. */
const nodes: ServerProcess[] = [];
const clients: RealtimeClient[] = [];
process.once('exit', () => {
  for (const node of nodes) if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill('SIGKILL');
});

async function startNode(extra: Record<string, string> = {}): Promise<ServerProcess> {
  const node = await startServerProcess({ ...ENV, ...extra });
  nodes.push(node);
  return node;
}

/** SIGTERM, then SIGKILL if the process is still there after `graceMs`. */
async function stopNode(node: ServerProcess, graceMs = 6000): Promise<number | string> {
  const timer = setTimeout(() => node.child.kill('SIGKILL'), graceMs);
  try {
    return await node.stop('SIGTERM');
  } finally {
    clearTimeout(timer);
  }
}

/** The kernel's largest TCP send buffer (Linux), 4 MB when it cannot be read. */
function largestSendBuffer(): number {
  try {
    const max = Number(readFileSync('/proc/sys/net/ipv4/tcp_wmem', 'utf8').trim().split(/\s+/)[2]);
    return Number.isSafeInteger(max) && max > 0 ? max : 4 * 1024 * 1024;
  } catch {
    return 4 * 1024 * 1024;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 20 ms; throws after `timeoutMs`. */
async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** A connected, `ready` realtime client of `user` on `node` (resuming from `cursor` when given). */
async function online(node: ServerProcess, user: TenantUser, cursor?: string): Promise<RealtimeClient> {
  const client = await connectRealtime(node.url, { token: user.token, ...(cursor ? { cursor } : {}) });
  clients.push(client);
  await client.waitFor((frame) => frame.type === 'ready', 5000);
  return client;
}

const isCreatedIn = (conversationId: string) => (frame: Frame) =>
  frame.type === 'message.created' && frame.message?.conversationId === conversationId;
/** The message.created frames of the conversation a connection received, in arrival order. */
const createdIn = (conversationId: string, ...connections: RealtimeClient[]) =>
  connections.flatMap((client) => client.frames.filter(isCreatedIn(conversationId)));
const seqsOf = (frames: Frame[]) => frames.map((frame) => frame.message.seq as number);
type Quintet = [TenantUser, TenantUser, TenantUser, TenantUser, TenantUser];
const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

interface SendResult {
  status: number;
  body: any;
}

/** POSTs a message with a timeout; a network error (a dead node) is status 0. */
async function send(node: ServerProcess, token: string, conversationId: string, text: string, timeoutMs = 10_000): Promise<SendResult> {
  try {
    const response = await fetch(`${node.url}/v1/conversations/${conversationId}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ text }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = await response.text();
    return { status: response.status, body: body ? JSON.parse(body) : undefined };
  } catch {
    return { status: 0, body: undefined };
  }
}

/**
 * Sends through `route(i)` from `workers` concurrent loops until `stop()` or `limit` sends, with a
 * short pause between a worker's sends. `acked` maps the seq of every 201 to the message id.
 */
function startTraffic(options: {
  conversationId: string;
  limit: number;
  workers: number;
  route: (i: number) => { node: ServerProcess; user: TenantUser };
}) {
  const acked = new Map<number, string>();
  let next = 0;
  let stopped = false;
  const done = Promise.all(
    Array.from({ length: options.workers }, async () => {
      while (!stopped && next < options.limit) {
        const i = next++;
        const { node, user } = options.route(i);
        const result = await send(node, user.token, options.conversationId, `traffic ${i}`, 5000);
        if (result.status === 201) acked.set(result.body.seq, result.body.id);
        await sleep(5);
      }
    }),
  );
  return {
    acked,
    /** Stops the loops and resolves once every send in flight has an answer. */
    async stop() {
      stopped = true;
      await done;
    },
  };
}

describe('realtime across nodes on one Redis', () => {
  let nodeA: ServerProcess;
  let nodeB: ServerProcess;
  let apiA: ApiClient;
  let apiB: ApiClient;
  let tenant: TestTenant;

  beforeAll(async () => {
    [nodeA, nodeB] = await Promise.all([startNode(), startNode()]);
    apiA = createApiClient(nodeA.url);
    apiB = createApiClient(nodeB.url);
    tenant = await createTestTenant(apiA);
  });

  afterAll(async () => {
    for (const client of clients) client.socket.terminate();
    await Promise.all(nodes.map((node) => stopNode(node)));
    const redis = createTestRedis();
    try {
      await deleteKeysWithPrefix(redis, keyPrefix);
    } finally {
      redis.disconnect();
    }
  });

  it('delivers messages, typing and read receipts between users connected to different nodes', async () => {
    const [alice, bob] = await tenant.users(['rt-alice', 'rt-bob']);
    const onA = await online(nodeA, alice!);
    const onB = await online(nodeB, bob!);

    // Created while both are connected: bob's node hears of it through his inbox and follows it.
    const direct = await openDirect(apiA, alice!.token, bob!.id);
    for (const client of [onA, onB]) {
      await client.waitFor((frame) => frame.type === 'conversation.created' && frame.conversation?.id === direct.id, 3000);
    }

    const hello = await sendMessage(apiA, alice!.token, direct.id, 'hello from A');
    const bobSees = await onB.waitFor((frame) => frame.type === 'message.created' && frame.message.id === hello.id, 3000);
    expect(bobSees.message).toMatchObject({ conversationId: direct.id, seq: 1, senderId: alice!.id, text: 'hello from A' });
    expect(typeof bobSees.cursor).toBe('string');
    // The sender's own connection is told too (other devices stay in sync).
    await onA.waitFor((frame) => frame.type === 'message.created' && frame.message.id === hello.id, 3000);

    const reply = await sendMessage(apiB, bob!.token, direct.id, 'hi from B');
    const aliceSees = await onA.waitFor((frame) => frame.type === 'message.created' && frame.message.id === reply.id, 3000);
    expect(aliceSees.message).toMatchObject({ conversationId: direct.id, seq: 2, senderId: bob!.id, text: 'hi from B' });

    onA.send({ type: 'typing', conversationId: direct.id });
    expect(await onB.waitFor((frame) => frame.type === 'typing', 3000)).toEqual({ type: 'typing', conversationId: direct.id, userId: alice!.id });
    onB.send({ type: 'typing', conversationId: direct.id });
    expect(await onA.waitFor((frame) => frame.type === 'typing', 3000)).toEqual({ type: 'typing', conversationId: direct.id, userId: bob!.id });
    // Alice's own typing was published on the same topic before bob's: it would have arrived first.
    expect(onA.frames.filter((frame) => frame.type === 'typing' && frame.userId === alice!.id)).toEqual([]);

    const read = await apiA.post(`/v1/conversations/${direct.id}/read`, { seq: 2 }, alice!.token);
    expect(read.status).toBe(204);
    const isAliceRead = (frame: Frame) => frame.type === 'read' && frame.userId === alice!.id && frame.seq === 2;
    const receipt = await onB.waitFor(isAliceRead, 3000);
    expect(receipt).toMatchObject({ type: 'read', conversationId: direct.id, userId: alice!.id, seq: 2 });
    expect(typeof receipt.cursor).toBe('string');
    await onA.waitFor(isAliceRead, 3000);
  });

  it('delivers 300 concurrent sends through both nodes to every member socket exactly once, in seq order', async () => {
    const members = await tenant.users(['burst-1', 'burst-2', 'burst-3', 'burst-4']);
    const [m1, m2, m3, m4] = members as [TenantUser, TenantUser, TenantUser, TenantUser];
    const group = await createGroup(apiA, m1.token, [m2.id, m3.id, m4.id], 'burst');
    // Members on both nodes, two of them on both at once (two devices).
    const sockets = await Promise.all([
      online(nodeA, m1),
      online(nodeB, m1),
      online(nodeA, m2),
      online(nodeB, m3),
      online(nodeA, m4),
      online(nodeB, m4),
    ]);

    const total = 300;
    // Sender i % 4; each sender sends half of its messages through each node.
    const results = await Promise.all(
      range(0, total - 1).map((i) => send(Math.floor(i / 4) % 2 === 0 ? nodeA : nodeB, members[i % 4]!.token, group.id, `burst ${i}`)),
    );
    expect(results.map((r) => r.status)).toEqual(Array(total).fill(201));
    const idBySeq = new Map(results.map((r) => [r.body.seq as number, r.body.id as string]));
    expect([...idBySeq.keys()].sort((a, b) => a - b)).toEqual(range(1, total));

    await Promise.all(sockets.map((socket) => socket.waitForCount(isCreatedIn(group.id), total, 15_000)));
    await sleep(300); // room for a duplicate to show up
    for (const socket of sockets) {
      const frames = createdIn(group.id, socket);
      expect(seqsOf(frames)).toEqual(range(1, total));
      expect(frames.map((frame) => frame.message.id)).toEqual(range(1, total).map((seq) => idBySeq.get(seq)));
    }
  });

  it('replays exactly the 25 messages sent through the other node while a client was away, then live ones', async () => {
    const [rita, ravi, sol] = (await tenant.users(['resume-rita', 'resume-ravi', 'resume-sol'])) as [TenantUser, TenantUser, TenantUser];
    const group = await createGroup(apiB, sol.token, [rita.id, ravi.id], 'resume');
    // rita comes back to the node she left; ravi comes back through the other one.
    const plans = [
      { user: rita, first: nodeA, back: nodeA },
      { user: ravi, first: nodeB, back: nodeA },
    ];
    const firsts = await Promise.all(plans.map((plan) => online(plan.first, plan.user)));
    for (let i = 0; i < 3; i += 1) await sendMessage(apiA, sol.token, group.id, `before ${i}`);
    await Promise.all(firsts.map((client) => client.waitForCount(isCreatedIn(group.id), 3, 3000)));
    const cursors = firsts.map((client) => client.lastCursor()!);
    await Promise.all(firsts.map((client) => client.close()));

    const missed: string[] = [];
    for (let i = 0; i < 25; i += 1) missed.push((await sendMessage(apiB, sol.token, group.id, `missed ${i}`)).id);

    const backs = await Promise.all(plans.map((plan, i) => online(plan.back, plan.user, cursors[i])));
    for (const back of backs) {
      expect(back.frames[0]?.type).toBe('ready');
      await back.waitForCount(isCreatedIn(group.id), 25, 5000);
      await sleep(100);
      // Exactly the missed ones: nothing seen before the disconnect comes again.
      expect(createdIn(group.id, back).map((frame) => frame.message.id)).toEqual(missed);
    }

    const live: string[] = [];
    for (let i = 0; i < 5; i += 1) live.push((await sendMessage(apiB, sol.token, group.id, `live ${i}`)).id);
    for (const back of backs) {
      await back.waitForCount(isCreatedIn(group.id), 30, 5000);
      await sleep(100);
      expect(createdIn(group.id, back).map((frame) => frame.message.id)).toEqual([...missed, ...live]);
      expect(seqsOf(createdIn(group.id, back))).toEqual(range(4, 33));
    }
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

  /**
   * A node dies (SIGKILL) or stops (SIGTERM) under traffic; its clients reconnect to node A with
   * their last cursors while traffic goes on through A. Every client ends with every message of
   * the conversation exactly once, in seq order: all the acknowledged ones, and also any the dying
   * node stored without answering (they are in the history, so they must reach clients too).
   */
  async function failover(signal: 'SIGKILL' | 'SIGTERM', names: string[]) {
    const victim = await startNode();
    const [alice, bob, carl, dana] = (await tenant.users(names)) as [TenantUser, TenantUser, TenantUser, TenantUser];
    const group = await createGroup(apiA, alice.token, [bob.id, carl.id, dana.id], `failover ${signal}`);
    const aliceOnA = await online(nodeA, alice);
    // When each presence frame reached alice.
    const presenceSeen: { frame: Frame; at: number }[] = [];
    aliceOnA.socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      if (frame.type === 'presence') presenceSeen.push({ frame, at: Date.now() });
    });
    const danaOnA = await online(nodeA, dana);
    const bobOnVictim = await online(victim, bob);
    const carlOnVictim = await online(victim, carl);
    const danaOnVictim = await online(victim, dana);
    const senders = [alice, bob, dana];

    const traffic = startTraffic({
      conversationId: group.id,
      limit: 2000,
      workers: 4,
      route: (i) => ({ node: i % 2 === 0 ? nodeA : victim, user: senders[i % 3]! }),
    });
    let bobAgain: RealtimeClient;
    let danaAgain: RealtimeClient;
    let killedAt: number;
    try {
      await until('50 acknowledged sends', () => traffic.acked.size >= 50, 10_000);
      killedAt = Date.now();
      victim.child.kill(signal);
      const closes = await Promise.all(
        [bobOnVictim, carlOnVictim, danaOnVictim].map((client) => Promise.race([client.closed, sleep(8000).then(() => null)])),
      );
      // bob and dana reconnect to the surviving node at once, with their last cursors; carl does not.
      [bobAgain, danaAgain] = await Promise.all([online(nodeA, bob, bobOnVictim.lastCursor()), online(nodeA, dana, danaOnVictim.lastCursor())]);
      const ackedAtReconnect = traffic.acked.size;
      await until('50 more acknowledged sends through the survivor', () => traffic.acked.size >= ackedAtReconnect + 50, 10_000);
      expect(closes.map((close) => close?.code)).toEqual(Array(3).fill(signal === 'SIGKILL' ? 1006 : 1012));
    } finally {
      await traffic.stop();
    }
    expect(await Promise.race([victim.exited, sleep(8000).then(() => 'still running')])).toBe(signal === 'SIGKILL' ? 'SIGKILL' : 0);

    const conversation = await apiA.get(`/v1/conversations/${group.id}`, alice.token);
    const lastSeq = conversation.body.lastSeq as number;
    expect(lastSeq).toBeGreaterThanOrEqual(traffic.acked.size);
    const views = {
      alice: [aliceOnA],
      'dana on A': [danaOnA],
      bob: [bobOnVictim, bobAgain!],
      'dana moved': [danaOnVictim, danaAgain!],
    };
    const everyoneHasAll = () => Object.values(views).every((connections) => createdIn(group.id, ...connections).length >= lastSeq);
    // On a timeout the assertions below say who is missing what.
    await until(`every client to have ${lastSeq} messages`, everyoneHasAll, 10_000).catch(() => undefined);
    await sleep(300);
    for (const [who, connections] of Object.entries(views)) {
      const frames = createdIn(group.id, ...connections);
      expect(seqsOf(frames), who).toEqual(range(1, lastSeq));
      for (const frame of frames) {
        const ackedId = traffic.acked.get(frame.message.seq);
        if (ackedId !== undefined) expect(frame.message.id, who).toBe(ackedId);
      }
    }
    // carl stopped at the close: what he has is a prefix, with no duplicate.
    const carls = seqsOf(createdIn(group.id, carlOnVictim));
    expect(carls).toEqual(range(1, carls.length));

    // carl's only connection was on the stopped node: he goes offline for the others; bob moved
    // to the survivor and dana had a connection there all along: both stay online.
    const isCarlOffline = (frame: Frame) => frame.type === 'presence' && frame.userId === carl.id && frame.status === 'offline';
    const offline = await aliceOnA.waitFor(isCarlOffline, 8000);
    expect(typeof offline.lastSeenAt).toBe('string');
    const offlineAfterMs = presenceSeen.find(({ frame }) => isCarlOffline(frame))!.at - killedAt!;
    const presenceOf = async (userId: string) => (await apiA.get(`/v1/users/${userId}/presence`, alice.token)).body;
    expect(await presenceOf(carl.id)).toMatchObject({ status: 'offline', lastSeenAt: expect.any(String) });
    expect(await presenceOf(bob.id)).toEqual({ status: 'online', lastSeenAt: null });
    expect(await presenceOf(dana.id)).toEqual({ status: 'online', lastSeenAt: null });
    // dana was never without a live connection. bob reconnected within milliseconds, long before a
    // sweep could notice the dead node; a node that stops cleanly may hand his presence over first.
    const neverOffline = signal === 'SIGKILL' ? [bob.id, dana.id] : [dana.id];
    const wronglyOffline = presenceSeen.filter(({ frame }) => frame.status === 'offline' && neverOffline.includes(frame.userId));
    expect(wronglyOffline).toEqual([]);
    return { offlineAfterMs };
  }

  it('SIGTERM: a stopping node closes its sockets with 1012 and its clients resume on another node without loss', async () => {
    const { offlineAfterMs } = await failover('SIGTERM', ['term-alice', 'term-bob', 'term-carl', 'term-dana']);
    // A clean stop hands its users' presence over at once, without waiting for a sweep.
    expect(offlineAfterMs).toBeLessThan(2000);
  }, 45_000);

  it('SIGKILL under traffic: clients resume on the survivor with nothing lost or doubled; the dead node users go offline', async () => {
    const { offlineAfterMs } = await failover('SIGKILL', ['kill-alice', 'kill-bob', 'kill-carl', 'kill-dana']);
    // Noticed by a live node's sweep: the TTL (2 s) plus a sweep interval, with room for a busy machine.
    expect(offlineAfterMs).toBeLessThan(5000);
  }, 45_000);
});
