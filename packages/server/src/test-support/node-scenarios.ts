/**
 * Realtime across `node dist/main.js` processes, as scenarios any Redis deployment must pass:
 * realtime-nodes.test.ts runs them on standalone Redis, realtime-cluster-nodes.test.ts on a Redis
 * Cluster. A fleet starts the processes and tracks every process and socket for cleanup; the
 * scenarios assert only what users see (frames on their sockets, REST answers).
 */
import { expect } from 'vitest';
import type { ApiClient } from './api-client.js';
import { createGroup, openDirect, sendMessage, type TenantUser, type TestTenant } from './conversations.js';
import { connectRealtime, type Frame, type RealtimeClient } from './realtime-client.js';
import { startServerProcess, type ServerProcess } from './server-process.js';
import { ADMIN_KEY } from './server.js';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 20 ms; throws after `timeoutMs`. */
export async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

export const isCreatedIn = (conversationId: string) => (frame: Frame) =>
  frame.type === 'message.created' && frame.message?.conversationId === conversationId;
/** The message.created frames of the conversation the connections received, in arrival order. */
export const createdIn = (conversationId: string, ...connections: RealtimeClient[]) =>
  connections.flatMap((client) => client.frames.filter(isCreatedIn(conversationId)));
export const seqsOf = (frames: Frame[]) => frames.map((frame) => frame.message.seq as number);
export const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

export interface SendResult {
  /** The answer's status; 0 without a complete answer (see `failure`). */
  status: number;
  body: any;
  /** Without a complete answer: the connection failed (a dead node, a cut), or none came in time. */
  failure?: 'network' | 'timeout';
}

export interface SendOptions {
  /** How long to wait for the whole answer (default 10 s). */
  timeoutMs?: number;
  /** Sent as the message's clientMessageId (an SDK's idempotency key). */
  clientMessageId?: string;
}

/**
 * POSTs a message to `node` (a server process, or any base URL such as a proxy in front of one)
 * with a timeout. Only a complete answer counts: a connection cut after the headers, before the
 * body, is a failure like a refused connection.
 */
export async function send(node: { url: string }, token: string, conversationId: string, text: string, options: SendOptions = {}): Promise<SendResult> {
  try {
    const response = await fetch(`${node.url}/v1/conversations/${conversationId}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(options.clientMessageId === undefined ? { text } : { text, clientMessageId: options.clientMessageId }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
    const body = await response.text();
    return { status: response.status, body: body ? JSON.parse(body) : undefined };
  } catch (error) {
    return { status: 0, body: undefined, failure: error instanceof Error && error.name === 'TimeoutError' ? 'timeout' : 'network' };
  }
}

/**
 * Sends through `route(i)` from `workers` concurrent loops until `stop()` or `limit` sends, with a
 * short pause between a worker's sends. `acked` maps the seq of every 201 to the message id.
 */
export function startTraffic(options: {
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
        const result = await send(node, user.token, options.conversationId, `traffic ${i}`, { timeoutMs: 5000 });
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

/** Server processes sharing `env` (one Redis deployment, one key prefix) and the sockets opened to them. */
export interface Fleet {
  readonly nodes: ServerProcess[];
  startNode(extra?: Record<string, string>): Promise<ServerProcess>;
  /** SIGTERM, then SIGKILL if the process is still there after `graceMs`. */
  stopNode(node: ServerProcess, graceMs?: number): Promise<number | string>;
  /** A connected, `ready` realtime client of `user` on `node` (resuming from `cursor` when given). */
  online(node: ServerProcess, user: TenantUser, cursor?: string): Promise<RealtimeClient>;
  /** Terminates every socket and stops every process still running. */
  close(): Promise<void>;
}

/**
 * What every node of a fleet runs with, besides its Redis: the settings the scenarios' timings
 * assume.
 */
const FLEET_SETTINGS = {
  // One issuer on every node, as behind one load balancer: a token from one node works on all.
  PUBLIC_URL: 'http://parley.test',
  PARLEY_ADMIN_KEY: ADMIN_KEY,
  // Crashed nodes are noticed within about two seconds; the TTL leaves room for a busy machine.
  PRESENCE_INTERVAL_MS: '250',
  PRESENCE_TTL_MS: '2000',
  SHUTDOWN_TIMEOUT_MS: '5000',
};

/** The presence TTL every fleet node runs with: a node silent for longer is swept by the others. */
export const FLEET_PRESENCE_TTL_MS = Number(FLEET_SETTINGS.PRESENCE_TTL_MS);

/** A fleet whose nodes use the Redis that `redisEnv` names (REDIS_URL or REDIS_CLUSTER_NODES, and REDIS_KEY_PREFIX). */
export function createFleet(redisEnv: Record<string, string>): Fleet {
  const env = { ...FLEET_SETTINGS, ...redisEnv };
  const nodes: ServerProcess[] = [];
  const clients: RealtimeClient[] = [];
  process.once('exit', () => {
    for (const node of nodes) if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill('SIGKILL');
  });
  const stopNode = async (node: ServerProcess, graceMs = 6000) => {
    const timer = setTimeout(() => node.child.kill('SIGKILL'), graceMs);
    try {
      return await node.stop('SIGTERM');
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    nodes,
    stopNode,
    async startNode(extra = {}) {
      const node = await startServerProcess({ ...env, ...extra });
      nodes.push(node);
      return node;
    },
    async online(node, user, cursor) {
      const client = await connectRealtime(node.url, { token: user.token, ...(cursor ? { cursor } : {}) });
      clients.push(client);
      await client.waitFor((frame) => frame.type === 'ready', 5000);
      return client;
    },
    async close() {
      for (const client of clients) client.socket.terminate();
      await Promise.all(nodes.map((node) => stopNode(node)));
    },
  };
}

/** Two running nodes of a fleet, a REST client of each and a tenant. */
export interface TwoNodes {
  fleet: Fleet;
  nodeA: ServerProcess;
  nodeB: ServerProcess;
  apiA: ApiClient;
  apiB: ApiClient;
  tenant: TestTenant;
}

/** Messages, typing and read receipts between users connected to different nodes. */
export async function deliversAcrossNodes({ fleet, nodeA, nodeB, apiA, apiB, tenant }: TwoNodes, names: [string, string]): Promise<void> {
  const [alice, bob] = (await tenant.users(names)) as [TenantUser, TenantUser];
  const onA = await fleet.online(nodeA, alice);
  const onB = await fleet.online(nodeB, bob);

  // Created while both are connected: bob's node hears of it through his inbox and follows it.
  const direct = await openDirect(apiA, alice.token, bob.id);
  for (const client of [onA, onB]) {
    await client.waitFor((frame) => frame.type === 'conversation.created' && frame.conversation?.id === direct.id, 3000);
  }

  const hello = await sendMessage(apiA, alice.token, direct.id, 'hello from A');
  const bobSees = await onB.waitFor((frame) => frame.type === 'message.created' && frame.message.id === hello.id, 3000);
  expect(bobSees.message).toMatchObject({ conversationId: direct.id, seq: 1, senderId: alice.id, text: 'hello from A' });
  expect(typeof bobSees.cursor).toBe('string');
  // The sender's own connection is told too (other devices stay in sync).
  await onA.waitFor((frame) => frame.type === 'message.created' && frame.message.id === hello.id, 3000);

  const reply = await sendMessage(apiB, bob.token, direct.id, 'hi from B');
  const aliceSees = await onA.waitFor((frame) => frame.type === 'message.created' && frame.message.id === reply.id, 3000);
  expect(aliceSees.message).toMatchObject({ conversationId: direct.id, seq: 2, senderId: bob.id, text: 'hi from B' });

  onA.send({ type: 'typing', conversationId: direct.id });
  expect(await onB.waitFor((frame) => frame.type === 'typing', 3000)).toEqual({ type: 'typing', conversationId: direct.id, userId: alice.id });
  onB.send({ type: 'typing', conversationId: direct.id });
  expect(await onA.waitFor((frame) => frame.type === 'typing', 3000)).toEqual({ type: 'typing', conversationId: direct.id, userId: bob.id });
  // Alice's own typing was published on the same topic before bob's: it would have arrived first.
  expect(onA.frames.filter((frame) => frame.type === 'typing' && frame.userId === alice.id)).toEqual([]);

  const read = await apiA.post(`/v1/conversations/${direct.id}/read`, { seq: 2 }, alice.token);
  expect(read.status).toBe(204);
  const isAliceRead = (frame: Frame) => frame.type === 'read' && frame.userId === alice.id && frame.seq === 2;
  const receipt = await onB.waitFor(isAliceRead, 3000);
  expect(receipt).toMatchObject({ type: 'read', conversationId: direct.id, userId: alice.id, seq: 2 });
  expect(typeof receipt.cursor).toBe('string');
  await onA.waitFor(isAliceRead, 3000);
}

/**
 * `total` concurrent sends through both nodes reach every member socket exactly once, in seq
 * order. Returns how long the last socket waited for its last frame after the last answer.
 */
export async function deliversBurstExactlyOnce(
  { fleet, nodeA, nodeB, apiA, tenant }: TwoNodes,
  names: [string, string, string, string],
  total = 300,
): Promise<{ lastFrameAfterMs: number }> {
  const members = (await tenant.users(names)) as [TenantUser, TenantUser, TenantUser, TenantUser];
  const [m1, m2, m3, m4] = members;
  const group = await createGroup(apiA, m1.token, [m2.id, m3.id, m4.id], 'burst');
  // Members on both nodes, two of them on both at once (two devices).
  const sockets = await Promise.all([
    fleet.online(nodeA, m1),
    fleet.online(nodeB, m1),
    fleet.online(nodeA, m2),
    fleet.online(nodeB, m3),
    fleet.online(nodeA, m4),
    fleet.online(nodeB, m4),
  ]);

  // Sender i % 4; each sender sends half of its messages through each node.
  const results = await Promise.all(
    range(0, total - 1).map((i) => send(Math.floor(i / 4) % 2 === 0 ? nodeA : nodeB, members[i % 4]!.token, group.id, `burst ${i}`)),
  );
  const answeredAt = Date.now();
  expect(results.map((r) => r.status)).toEqual(Array(total).fill(201));
  const idBySeq = new Map(results.map((r) => [r.body.seq as number, r.body.id as string]));
  expect([...idBySeq.keys()].sort((a, b) => a - b)).toEqual(range(1, total));

  await Promise.all(sockets.map((socket) => socket.waitForCount(isCreatedIn(group.id), total, 15_000)));
  const lastFrameAfterMs = Date.now() - answeredAt;
  await sleep(300); // room for a duplicate to show up
  for (const socket of sockets) {
    const frames = createdIn(group.id, socket);
    expect(seqsOf(frames)).toEqual(range(1, total));
    expect(frames.map((frame) => frame.message.id)).toEqual(range(1, total).map((seq) => idBySeq.get(seq)));
  }
  return { lastFrameAfterMs };
}

/** Exactly the 25 messages sent through the other node while a client was away are replayed, then live ones. */
export async function resumesAcrossNodes({ fleet, nodeA, nodeB, apiA, apiB, tenant }: TwoNodes, names: [string, string, string]): Promise<void> {
  const [rita, ravi, sol] = (await tenant.users(names)) as [TenantUser, TenantUser, TenantUser];
  const group = await createGroup(apiB, sol.token, [rita.id, ravi.id], 'resume');
  // rita comes back to the node she left; ravi comes back through the other one.
  const plans = [
    { user: rita, first: nodeA, back: nodeA },
    { user: ravi, first: nodeB, back: nodeA },
  ];
  const firsts = await Promise.all(plans.map((plan) => fleet.online(plan.first, plan.user)));
  for (let i = 0; i < 3; i += 1) await sendMessage(apiA, sol.token, group.id, `before ${i}`);
  await Promise.all(firsts.map((client) => client.waitForCount(isCreatedIn(group.id), 3, 3000)));
  const cursors = firsts.map((client) => client.lastCursor()!);
  await Promise.all(firsts.map((client) => client.close()));

  const missed: string[] = [];
  for (let i = 0; i < 25; i += 1) missed.push((await sendMessage(apiB, sol.token, group.id, `missed ${i}`)).id);

  const backs = await Promise.all(plans.map((plan, i) => fleet.online(plan.back, plan.user, cursors[i])));
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
}

/**
 * A third node dies (SIGKILL) or stops (SIGTERM) under traffic; its clients reconnect to node A
 * with their last cursors while traffic goes on through A. Every client ends with every message of
 * the conversation exactly once, in seq order: all the acknowledged ones, and also any the dying
 * node stored without answering (they are in the history, so they must reach clients too). The
 * user whose only connection was on the stopped node goes offline for the others; the others do not.
 */
export async function failsOver(
  { fleet, nodeA, apiA, tenant }: TwoNodes,
  signal: 'SIGKILL' | 'SIGTERM',
  names: [string, string, string, string],
): Promise<{ offlineAfterMs: number; resumedAfterMs: number; acked: number; lastSeq: number }> {
  const victim = await fleet.startNode();
  const [alice, bob, carl, dana] = (await tenant.users(names)) as [TenantUser, TenantUser, TenantUser, TenantUser];
  const group = await createGroup(apiA, alice.token, [bob.id, carl.id, dana.id], `failover ${signal}`);
  const aliceOnA = await fleet.online(nodeA, alice);
  // When each presence frame reached alice.
  const presenceSeen: { frame: Frame; at: number }[] = [];
  aliceOnA.socket.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as Frame;
    if (frame.type === 'presence') presenceSeen.push({ frame, at: Date.now() });
  });
  const danaOnA = await fleet.online(nodeA, dana);
  const bobOnVictim = await fleet.online(victim, bob);
  const carlOnVictim = await fleet.online(victim, carl);
  const danaOnVictim = await fleet.online(victim, dana);
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
  let resumedAfterMs: number;
  try {
    await until('50 acknowledged sends', () => traffic.acked.size >= 50, 10_000);
    killedAt = Date.now();
    victim.child.kill(signal);
    const closes = await Promise.all(
      [bobOnVictim, carlOnVictim, danaOnVictim].map((client) => Promise.race([client.closed, sleep(8000).then(() => null)])),
    );
    // bob and dana reconnect to the surviving node at once, with their last cursors; carl does not.
    [bobAgain, danaAgain] = await Promise.all([fleet.online(nodeA, bob, bobOnVictim.lastCursor()), fleet.online(nodeA, dana, danaOnVictim.lastCursor())]);
    resumedAfterMs = Date.now() - killedAt;
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
  return { offlineAfterMs, resumedAfterMs: resumedAfterMs!, acked: traffic.acked.size, lastSeq };
}
