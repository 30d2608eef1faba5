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
 * - Three senders send a steady stream to one group: two give each message its own
 *   clientMessageId and retry it with the same id (through the next node) until acknowledged, as
 *   an SDK does; the third sends without one and gives up on a failure.
 * - Four followers (spread over the nodes) follow the group over WebSockets and, whenever a socket
 *   closes or cannot open, reconnect to their node with the cursor of the last frame they got.
 * - A readiness probe per node, every 150 ms with a 1 s timeout (a kubelet's default): an answer
 *   other than 200, or none within the second, is a not-ready sample.
 *
 * `verify()` then asserts what the issue asks: every acknowledged message stored exactly once
 * (REST history, seqs 1..n; no send stored twice, nothing stored that was not sent), every
 * follower holding every message exactly once in seq order across its reconnections, every send
 * answered in time with success or 503 `storage_unavailable` (a lost connection only where the
 * fault cuts client connections), and no leak (file descriptors, realtime connections, Redis
 * clients, heap and RSS after a forced garbage collection) against the snapshot taken before the
 * first fault. Only sends (POST /messages) are checked during faults; reads, upgrades and other
 * writes are not.
 */
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { expect } from 'vitest';
import { createApiClient, type ApiClient } from '../test-support/api-client.js';
import { createGroup, createTestTenant, type TenantUser } from '../test-support/conversations.js';
import { COMMAND_TIMEOUT_MS } from '../engine/redis/redis-connection.js';
import { INSPECTOR_ENV, openInspector, type InspectorSession } from '../test-support/inspector.js';
import { createFleet, isCreatedIn, range, sleep, until, type Fleet } from '../test-support/node-scenarios.js';
import { parseSamples, sumOf } from '../test-support/prometheus-text.js';
import { connectRealtime, type Frame, type RealtimeClient } from '../test-support/realtime-client.js';
import { startLocalRedis, uniqueKeyPrefix, type LocalRedis } from '../test-support/redis.js';
import type { ServerProcess } from '../test-support/server-process.js';
import { startTcpProxy, type TcpProxy } from '../test-support/tcp-proxy.js';

/** How many times each fault runs, with traffic in between: FAULT_ROUNDS (`npm run test:faults -- --rounds N`), 1 in `npm test`. */
export const FAULT_ROUNDS = Math.max(1, Number(process.env.FAULT_ROUNDS ?? 1) || 1);

/** Acknowledged sends to wait for before a fault and after it, in each round. */
export const SENDS_BETWEEN_FAULTS = 30;

/**
 * A send attempt gets this long for an answer: a send that meets an unreachable or stalled Redis
 * is answered 503 within the command timeout (3 s), plus room for a loaded machine. No answer by
 * then is a hang, and fails the test.
 */
const SEND_ATTEMPT_TIMEOUT_MS = COMMAND_TIMEOUT_MS + 3000;

/**
 * Before the second resource measurement every follower reconnects this many times more, so that
 * even one round (as in `npm test`) has enough reconnections for a per-reconnection leak to show.
 */
const CHURN_RECONNECTIONS_PER_FOLLOWER = 10;

/**
 * Leak bounds: how much a second measurement after the same steady state may exceed the first.
 * - File descriptors: a few for sockets still closing and keep-alive pools, plus half an fd per
 *   follower reconnection. With the churn above there are at least 40 reconnections, so a leak of
 *   one fd per reconnection (+40 or more) fails even in one round, while a bound that did not
 *   grow with the work would either fail on noise or miss it.
 * - Redis clients: none. Every connection is long-lived (commands, subscriber), so after a settle
 *   the count must be what it was; one connection leaked per Redis reconnection (one or two per
 *   round) fails.
 * - Heap and RSS after a forced GC: generous (+50 % and 16 MB / 64 MB). Over one round this is a
 *   smoke check that catches only a gross leak; `--rounds 10` and more is what makes it bite.
 */
const LEAK_BOUNDS = {
  fds: (reconnections: number) => 8 + Math.floor(reconnections / 2),
  heapBytes: (before: number) => before * 0.5 + 16 * 2 ** 20,
  rssBytes: (before: number) => before * 0.5 + 64 * 2 ** 20,
};

export interface FaultNode {
  name: string;
  process: ServerProcess;
  /** What clients use (REST and WebSocket): the node's own client proxy. */
  clientProxy: TcpProxy;
  clientUrl: string;
  inspector: InspectorSession;
}

/** One attempt of a sender, as the client saw it. */
interface SendAttempt {
  node: string;
  /** The answer's status; 0 when there was no complete answer. */
  status: number;
  code?: string;
  /** Without a complete answer: the connection failed (cut, reset), or none came in time. */
  failure?: 'network' | 'timeout';
  elapsedMs: number;
}

export interface ReadinessSample {
  node: string;
  startedAt: number;
  endedAt: number;
  /** The answer's status; 0 when none came within the probe's timeout. */
  status: number;
}

interface Follower {
  user: TenantUser;
  home: FaultNode;
  connections: RealtimeClient[];
  /** The open connection, once ready; undefined while reconnecting. */
  open: RealtimeClient | undefined;
}

export interface Snapshot {
  nodes: { name: string; fds: number; realtimeConnections: number; heapUsed: number; rss: number }[];
  redisClients: number | null;
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

export interface FaultWorld {
  engine: 'redis' | 'memory';
  nodes: FaultNode[];
  redis: LocalRedis | null;
  /** Between the nodes and Redis, when asked for. */
  redisProxy: TcpProxy | null;
  readiness: ReadinessSample[];
  /** Acknowledged messages by text (a send's clientMessageId, when it has one). */
  acked: Map<string, { id: string; seq: number }>;
  /** Resolves once `count` more sends have been acknowledged. */
  moreAcked(count: number, timeoutMs?: number): Promise<void>;
  /** Resolves once every node has a not-ready readiness sample that started at or after `since`. */
  notReadyEverywhere(nodes: FaultNode[], since: number, timeoutMs?: number): Promise<void>;
  /** Resolves once every node answers its readiness probe 200 again. */
  readyEverywhere(timeoutMs?: number): Promise<void>;
  /** The samples of `node` that started within [from, to]. */
  samplesBetween(node: FaultNode, from: number, to: number): ReadinessSample[];
  /**
   * Asserts that every readiness probe of the nodes that started at or after `from` (the fault in
   * place) and ended by `to` (before it was undone) failed, and that there was at least one each.
   */
  expectNotReadyThroughout(nodes: FaultNode[], from: number, to: number): void;
  /**
   * Asserts that every readiness probe of the nodes that started within [from, to] and got an
   * answer was answered 200, and that there was one at least. A probe without an answer within its
   * second is not counted here: on a loaded test machine that is the test's own slowness, whereas
   * a node that finds itself unready says so (503) within its 1 s ping timeout.
   */
  expectReadyThroughout(nodes: FaultNode[], from: number, to: number): void;
  /** A snapshot of the resources to compare with later (after a forced garbage collection). */
  snapshot(): Promise<Snapshot>;
  /** Stops the traffic and asserts every guarantee, and no leak since `before`. */
  verify(before: Snapshot): Promise<VerifiedRun>;
  close(): Promise<void>;
}

/** Open file descriptors of a process (its sockets included), from /proc. */
async function openFds(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

async function redisClientCount(port: number): Promise<number> {
  const list = await new Promise<string>((resolve, reject) =>
    execFile('redis-cli', ['-p', String(port), 'client', 'list'], { timeout: 10_000 }, (error, stdout) => (error ? reject(error) : resolve(stdout))),
  );
  // The redis-cli connection itself is listed too.
  return list.trim().split('\n').filter(Boolean).length - 1;
}

/** Every message of the conversation, oldest first. */
async function fullHistory(api: ApiClient, token: string, conversationId: string): Promise<any[]> {
  const items: any[] = [];
  for (;;) {
    const after = items.length === 0 ? 0 : (items.at(-1).seq as number);
    const page = await api.get(`/v1/conversations/${conversationId}/messages?after=${after}&limit=100`, token);
    expect(page.status, 'history page').toBe(200);
    items.push(...page.body.items);
    if (!page.body.hasMore) return items;
  }
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

export async function startFaultWorld(options: FaultWorldOptions): Promise<FaultWorld> {
  const cleanups: (() => Promise<unknown>)[] = [];
  /** The probe and follower loops run until `stopped`; the senders until `sending` is false. */
  let stopped = false;
  let sending = true;
  const close = async () => {
    sending = false;
    stopped = true;
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
    const users = await tenant.users(['s1', 's2', 's3', 'f1', 'f2', 'f3', 'f4']);
    const senders = users.slice(0, 3);
    const group = await createGroup(api, senders[0]!.token, users.slice(1).map((user) => user.id), 'faults');
    const conversationId = group.id as string;

    // ─── Readiness probes ───
    const readiness: ReadinessSample[] = [];
    const probes = Promise.all(
      nodes.map(async (node) => {
        while (!stopped) {
          const startedAt = Date.now();
          let status = 0;
          try {
            status = (await fetch(`${node.process.url}/health/ready`, { signal: AbortSignal.timeout(1000) })).status;
          } catch {
            // No answer within the probe's timeout: not ready, as a kubelet counts it.
          }
          readiness.push({ node: node.name, startedAt, endedAt: Date.now(), status });
          await sleep(150);
        }
      }),
    );

    // ─── Followers ───
    const followers: Follower[] = users.slice(3).map((user, i) => ({ user, home: nodes[i % nodes.length]!, connections: [], open: undefined }));
    const followerLoops = Promise.all(
      followers.map(async (follower) => {
        let cursor: string | undefined;
        while (!stopped) {
          try {
            const client = await connectRealtime(follower.home.clientUrl, { token: follower.user.token, ...(cursor ? { cursor } : {}) });
            if (stopped) {
              // Connected while the world was closing: nobody would terminate it.
              client.socket.terminate();
              break;
            }
            follower.connections.push(client);
            client.waitFor((frame) => frame.type === 'ready', 60_000).then(
              () => (follower.open = client),
              () => undefined,
            );
            await client.closed;
            follower.open = undefined;
            cursor = client.lastCursor() ?? cursor;
          } catch {
            // Refused (503 while storage is unreachable) or cut before the upgrade: try again.
          }
          if (!stopped) await sleep(100);
        }
      }),
    );
    await until('every follower to be ready', () => followers.every((follower) => follower.open !== undefined), 15_000);

    // ─── Senders ───
    // s1 and s2 send with a clientMessageId and retry until acknowledged; s3 sends without one, as
    // an app that does not retry: a failed send of s3 is given up, and may or may not be stored,
    // but never twice (each of its texts is unique).
    const acked = new Map<string, { id: string; seq: number }>();
    const givenUp = new Set<string>();
    const attempts: SendAttempt[] = [];
    const sendLoops = Promise.all(
      senders.map(async (sender, senderIndex) => {
        const retries = senderIndex < 2;
        for (let i = 1; sending; i++) {
          const text = retries ? `${sender.id}-${i}` : `${sender.id}-once-${i}`;
          for (let attempt = 0; ; attempt++) {
            // The world is closing (a test failed, or is over): no retries into stopped nodes.
            if (stopped) return;
            // Each retry goes through the next node, as behind a load balancer.
            const node = nodes[(senderIndex + i + attempt) % nodes.length]!;
            const startedAt = Date.now();
            const outcome: SendAttempt = { node: node.name, status: 0, elapsedMs: 0 };
            let body: any;
            try {
              const response = await fetch(`${node.clientUrl}/v1/conversations/${conversationId}/messages`, {
                method: 'POST',
                headers: { authorization: `Bearer ${sender.token}`, 'content-type': 'application/json' },
                body: JSON.stringify(retries ? { text, clientMessageId: text } : { text }),
                signal: AbortSignal.timeout(SEND_ATTEMPT_TIMEOUT_MS),
              });
              const raw = await response.text();
              body = raw ? JSON.parse(raw) : undefined;
              // Only a complete answer counts: a connection cut between the headers and the body
              // is a lost answer like any other.
              outcome.status = response.status;
            } catch (error) {
              outcome.failure = error instanceof Error && error.name === 'TimeoutError' ? 'timeout' : 'network';
            }
            outcome.elapsedMs = Date.now() - startedAt;
            if (typeof body?.code === 'string') outcome.code = body.code;
            attempts.push(outcome);
            if (outcome.status === 200 || outcome.status === 201) {
              acked.set(text, { id: body.id as string, seq: body.seq as number });
              break;
            }
            if (!retries) {
              givenUp.add(text);
              break;
            }
            await sleep(100);
          }
          await sleep(20);
        }
      }),
    );

    const world: FaultWorld = {
      engine: options.engine,
      nodes,
      redis,
      redisProxy,
      readiness,
      acked,
      async moreAcked(count, timeoutMs = 30_000) {
        const target = acked.size + count;
        await until(`${target} acknowledged sends`, () => acked.size >= target, timeoutMs);
      },
      async notReadyEverywhere(which, since, timeoutMs = 15_000) {
        await until(
          'readiness to report the outage on every node',
          () => which.every((node) => readiness.some((sample) => sample.node === node.name && sample.startedAt >= since && sample.status !== 200)),
          timeoutMs,
        );
      },
      async readyEverywhere(timeoutMs = 30_000) {
        const since = Date.now();
        await until(
          'readiness 200 on every node',
          () => nodes.every((node) => readiness.some((sample) => sample.node === node.name && sample.startedAt >= since && sample.status === 200)),
          timeoutMs,
        );
      },
      samplesBetween: (node, from, to) => readiness.filter((sample) => sample.node === node.name && sample.startedAt >= from && sample.startedAt <= to),
      expectReadyThroughout(which, from, to) {
        for (const node of which) {
          // A 503 that took the node's whole 1 s ping timeout is the machine's load too (the node
          // was too starved to get its ping's answer in time), not a reason to be unready.
          const answered = world
            .samplesBetween(node, from, to)
            .filter((sample) => sample.status !== 0 && !(sample.status === 503 && sample.endedAt - sample.startedAt >= 900));
          expect(answered.length, `answered readiness probes of ${node.name}`).toBeGreaterThan(0);
          expect(answered.filter((sample) => sample.status !== 200), `readiness of ${node.name}`).toEqual([]);
        }
      },
      expectNotReadyThroughout(which, from, to) {
        for (const node of which) {
          const within = readiness.filter((sample) => sample.node === node.name && sample.startedAt >= from && sample.endedAt <= to);
          expect(within.length, `readiness probes of ${node.name} during the outage`).toBeGreaterThan(0);
          expect(within.filter((sample) => sample.status === 200), `probes of ${node.name} answered ready during the outage`).toEqual([]);
        }
      },
      async snapshot() {
        // Settle first: every follower connected, nothing in flight but the steady stream.
        await until('every follower to be connected', () => followers.every((follower) => follower.open !== undefined), 20_000);
        const measured = await Promise.all(
          nodes.map(async (node) => {
            await node.inspector.collectGarbage();
            const memory = (await node.inspector.evaluate('process.memoryUsage()')) as { heapUsed: number; rss: number };
            const metrics = parseSamples(await (await fetch(`${node.process.url}/metrics`)).text());
            return {
              name: node.name,
              fds: await openFds(node.process.child.pid!),
              realtimeConnections: sumOf(metrics, 'parley_realtime_connections'),
              heapUsed: memory.heapUsed,
              rss: memory.rss,
            };
          }),
        );
        return { nodes: measured, redisClients: redis ? await redisClientCount(redis.port) : null };
      },
      async verify(before) {
        sending = false;
        await sendLoops;
        await world.readyEverywhere();

        // Stored exactly once: seqs 1..n, every acknowledged message as acknowledged, no text twice
        // (a retried clientMessageId, or a send without one repeated behind the client's back),
        // nothing that was never sent.
        const items = await fullHistory(api, senders[0]!.token, conversationId);
        expect(items.map((message) => message.seq), 'history seqs').toEqual(range(1, items.length));
        const texts = items.map((message) => message.text as string);
        const twice = texts.filter((text, index) => texts.indexOf(text) !== index);
        expect(twice, 'sends stored twice').toEqual([]);
        expect(texts.filter((text) => !acked.has(text) && !givenUp.has(text)), 'stored but never sent').toEqual([]);
        const stored = new Map(items.map((message) => [message.text as string, message]));
        for (const [text, message] of acked) {
          expect(stored.get(text)?.id, `acknowledged ${text}`).toBe(message.id);
          expect(stored.get(text)?.seq, `seq of ${text}`).toBe(message.seq);
        }

        // Every follower has every message exactly once, in seq order, across its reconnections.
        const lastSeq = items.length;
        const framesOf = (follower: Follower) => follower.connections.flatMap((client) => client.frames.filter(isCreatedIn(conversationId)));
        await until(`every follower to have ${lastSeq} messages`, () => followers.every((follower) => framesOf(follower).length >= lastSeq), 20_000).catch(
          () => undefined, // the assertions below say who misses what
        );
        // Room for a duplicate to show up. A duplicate later than this would be missed; the seq and
        // id checks below still catch any that has arrived.
        await sleep(300);
        for (const follower of followers) {
          const frames = framesOf(follower);
          expect(frames.map((frame) => frame.message.seq as number), `${follower.user.id}'s seqs`).toEqual(range(1, lastSeq));
          expect(frames.map((frame) => frame.message.id), `${follower.user.id}'s ids`).toEqual(items.map((message) => message.id));
          const resyncs = follower.connections.flatMap((client) => client.frames.filter((frame: Frame) => frame.type === 'resync.required'));
          expect(resyncs, `${follower.user.id} told to resync`).toEqual([]);
        }

        // Every failed attempt was answered 503 storage_unavailable in time, or (only where the
        // fault cuts client connections) lost its connection. None went unanswered.
        const failed = attempts.filter((attempt) => attempt.status !== 200 && attempt.status !== 201);
        expect(failed.filter((attempt) => attempt.failure === 'timeout'), `sends unanswered within ${SEND_ATTEMPT_TIMEOUT_MS} ms`).toEqual([]);
        const unexpected = failed.filter(
          (attempt) => !(attempt.status === 503 && attempt.code === 'storage_unavailable') && !(attempt.failure === 'network' && options.cutsClientConnections),
        );
        expect(unexpected, 'send answers other than success or 503 storage_unavailable (or a cut, where connections are cut)').toEqual([]);
        const refusals = failed.filter((attempt) => attempt.status === 503);
        for (const refusal of refusals) expect(refusal.elapsedMs, '503 within the attempt timeout').toBeLessThan(SEND_ATTEMPT_TIMEOUT_MS);

        // Enough follower reconnections for a per-reconnection leak to show (see LEAK_BOUNDS).
        await Promise.all(
          followers.map(async (follower) => {
            for (let churn = 0; churn < CHURN_RECONNECTIONS_PER_FOLLOWER; churn++) {
              const current = follower.open;
              if (!current) throw new Error(`${follower.user.id} is not connected`);
              current.socket.close();
              await until(`${follower.user.id} to reconnect`, () => follower.open !== undefined && follower.open !== current, 10_000);
            }
          }),
        );
        const reconnections = followers.reduce((total, follower) => total + follower.connections.length - 1, 0);

        // No leak: same steady state (every follower connected once), compared with generous bounds.
        const after = await world.snapshot();
        const openPerNode = (name: string) => followers.filter((follower) => follower.home.name === name && follower.open !== undefined).length;
        for (const node of nodes) {
          // The server's own count of realtime connections comes back to what the clients hold
          // (a cut connection is noticed when its socket closes, so allow it a moment).
          const realtimeConnections = async () => sumOf(parseSamples(await (await fetch(`${node.process.url}/metrics`)).text()), 'parley_realtime_connections');
          const deadline = Date.now() + 10_000;
          while ((await realtimeConnections()) !== openPerNode(node.name) && Date.now() < deadline) await sleep(100);
          expect(await realtimeConnections(), `node ${node.name}'s realtime connections`).toBe(openPerNode(node.name));
          const was = before.nodes.find((entry) => entry.name === node.name)!;
          const now = after.nodes.find((entry) => entry.name === node.name)!;
          expect(now.fds, `node ${node.name}'s open fds (before: ${was.fds}, ${reconnections} reconnections)`).toBeLessThanOrEqual(was.fds + LEAK_BOUNDS.fds(reconnections));
          expect(now.heapUsed, `node ${node.name}'s heap after GC (before: ${was.heapUsed})`).toBeLessThanOrEqual(was.heapUsed + LEAK_BOUNDS.heapBytes(was.heapUsed));
          expect(now.rss, `node ${node.name}'s RSS (before: ${was.rss})`).toBeLessThanOrEqual(was.rss + LEAK_BOUNDS.rssBytes(was.rss));
          if (options.engine === 'redis') {
            const metrics = parseSamples(await (await fetch(`${node.process.url}/metrics`)).text());
            for (const role of ['commands', 'subscriber']) expect(sumOf(metrics, 'parley_redis_connection_up', { role }), `node ${node.name}'s ${role} connection up`).toBe(1);
          }
        }
        if (redis && before.redisClients !== null) {
          // A connection may still be reopening after the last fault: allow it a moment.
          const port = redis.port;
          const deadline = Date.now() + 10_000;
          while ((await redisClientCount(port)) !== before.redisClients && Date.now() < deadline) await sleep(200);
          expect(await redisClientCount(port), 'Redis clients, as before the faults').toBe(before.redisClients);
        }
        return {
          acknowledged: acked.size,
          sendAttempts: attempts.length,
          failedAttempts: failed.length,
          slowestRefusalMs: Math.max(0, ...refusals.map((attempt) => attempt.elapsedMs)),
          reconnections,
          before,
          after,
        };
      },
      async close() {
        sending = false;
        stopped = true;
        for (const follower of followers) for (const client of follower.connections) client.socket.terminate();
        await Promise.race([Promise.all([sendLoops, followerLoops, probes]), sleep(15_000)]);
        await close();
      },
    };
    return world;
  }
}
