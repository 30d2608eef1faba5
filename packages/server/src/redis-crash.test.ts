/**
 * What an acknowledged message survives when Redis dies: a private redis-server with an
 * append-only file, a Parley node process on it, three users sending a steady stream of messages
 * (each send retried with its clientMessageId until acknowledged) and a fourth following the
 * conversation over a WebSocket, reconnecting with its cursor whenever the socket closes. Mid-stream
 * the redis-server is killed (SIGKILL: no shutdown, no final fsync), left dead for a while, and
 * started again on the same port and directory, so it reloads its append-only file.
 *
 * - During the outage every send is answered 503 problem+json `storage_unavailable` (never 2xx,
 *   never 500), none takes longer than the 3 s command timeout plus a margin, readiness fails and
 *   liveness holds. A send made while Redis is dead may succeed if Redis is back before it times out.
 * - `appendfsync always`: every acknowledged message is in the history afterwards, seqs 1..n
 *   without gap or duplicate, retried sends stored once, and the follower has every message
 *   exactly once in seq order across its reconnection.
 * - `appendfsync everysec`: a killed process loses nothing the kernel already has, but a power
 *   loss keeps only what was fsynced, up to about a second ago. The run emulates that by cutting
 *   the append-only file back to its size one second before the kill, and the check that compares
 *   acknowledged with surviving messages must then report exactly the messages acknowledged after
 *   that point as lost.
 *
 * The figures (send latencies, time to ready, time to the first successful send, acknowledged and
 * lost counts) are printed per run. Needs the build (`npm test` runs it first).
 */
import { readdir, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createApiClient } from './test-support/api-client.js';
import { createGroup, createTestTenant, fullHistoryOf, type TenantUser } from './test-support/conversations.js';
import { connectRealtime, type Frame, type RealtimeClient } from './test-support/realtime-client.js';
import { startLocalRedis, type LocalRedis } from './test-support/redis.js';
import { startServerProcess, type ServerProcess } from './test-support/server-process.js';
import { ADMIN_KEY } from './test-support/server.js';

/**
 * The longest any request may take while Redis is down: a command fails after one reconnection
 * attempt, or after the 3 s command timeout at worst (engine/redis/redis-connection.ts).
 */
const REQUEST_BOUND_MS = 4000;
/**
 * How long Redis stays dead: longer than a send takes to fail (the command timeout), so that each
 * sender makes at least one whole send, started and answered, while Redis is dead.
 */
const OUTAGE_MS = 5000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const started: { nodes: ServerProcess[]; redis: LocalRedis[] } = { nodes: [], redis: [] };
afterAll(async () => {
  await Promise.all(started.nodes.map((node) => node.stop('SIGKILL')));
  await Promise.all(started.redis.map((redis) => redis.stop()));
});

/** Polls `check` every 20 ms; throws after `timeoutMs`. */
async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

interface Attempt {
  clientMessageId: string;
  text: string;
  startedAt: number;
  endedAt: number;
  /** 0: no HTTP answer at all (a network error or our own timeout). */
  status: number;
  contentType: string;
  body: any;
}

/** A POST of a message; an attempt that gets no answer within twice the bound is status 0. */
async function attemptSend(node: ServerProcess, token: string, conversationId: string, clientMessageId: string, text: string): Promise<Attempt> {
  const startedAt = Date.now();
  try {
    const response = await fetch(`${node.url}/v1/conversations/${conversationId}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ text, clientMessageId }),
      signal: AbortSignal.timeout(2 * REQUEST_BOUND_MS),
    });
    const raw = await response.text();
    const contentType = response.headers.get('content-type') ?? '';
    return { clientMessageId, text, startedAt, endedAt: Date.now(), status: response.status, contentType, body: contentType.includes('json') && raw ? JSON.parse(raw) : raw };
  } catch (error) {
    return { clientMessageId, text, startedAt, endedAt: Date.now(), status: 0, contentType: '', body: String(error) };
  }
}

/**
 * One sequential loop per sender: each message is sent with its own clientMessageId and retried
 * with the same one (100 ms apart) until it is acknowledged, as an SDK does; then the next one.
 */
function startTraffic(node: ServerProcess, senders: TenantUser[], conversationId: string) {
  const attempts: Attempt[] = [];
  /** clientMessageId → the acknowledged message and when the acknowledgement arrived. */
  const acked = new Map<string, { id: string; seq: number; at: number }>();
  let stopped = false;
  const done = Promise.all(
    senders.map(async (sender) => {
      for (let i = 1; !stopped; i++) {
        const clientMessageId = `${sender.id}-${i}`;
        const text = `${sender.id} says ${i}`;
        for (;;) {
          const attempt = await attemptSend(node, sender.token, conversationId, clientMessageId, text);
          attempts.push(attempt);
          if (attempt.status === 200 || attempt.status === 201) {
            acked.set(clientMessageId, { id: attempt.body.id as string, seq: attempt.body.seq as number, at: attempt.endedAt });
            break;
          }
          await sleep(100);
        }
        await sleep(5);
      }
    }),
  );
  return {
    attempts,
    acked,
    /** Stops after each sender's current message is acknowledged. */
    async stop() {
      stopped = true;
      await done;
    },
  };
}

/**
 * A user following the conversation over WebSockets like an SDK: whenever the socket closes (or
 * cannot be opened), it reconnects 100 ms later with the cursor of the last frame it received.
 */
function follow(node: ServerProcess, user: TenantUser) {
  const connections: RealtimeClient[] = [];
  const closeCodes: number[] = [];
  /** When each connection got its `ready`. */
  const readyAt: number[] = [];
  let stopped = false;
  const loop = (async () => {
    let cursor: string | undefined;
    while (!stopped) {
      try {
        const client = await connectRealtime(node.url, { token: user.token, ...(cursor ? { cursor } : {}) });
        connections.push(client);
        client.waitFor((frame) => frame.type === 'ready', 60_000).then(() => readyAt.push(Date.now()), () => undefined);
        const { code } = await client.closed;
        closeCodes.push(code);
        cursor = client.lastCursor() ?? cursor;
      } catch {
        // Refused while Redis is down (the upgrade is answered 503): try again.
      }
      if (!stopped) await sleep(100);
    }
  })();
  return {
    connections,
    closeCodes,
    readyAt,
    /** Every frame received, over all connections, in arrival order. */
    frames: (): Frame[] => connections.flatMap((client) => client.frames),
    async stop() {
      stopped = true;
      await Promise.all(connections.map((client) => client.close()));
      await loop;
    },
  };
}

/** The append-only file Redis is appending to now (the newest incremental one of Redis 7's multi-part AOF). */
async function currentAofFile(directory: string): Promise<string> {
  const folder = join(directory, 'appendonlydir');
  const files = (await readdir(folder)).filter((name) => /\.incr\.aof$/.test(name));
  const numberOf = (name: string) => Number(/\.(\d+)\.incr\.aof$/.exec(name)?.[1] ?? 0);
  const newest = files.sort((a, b) => numberOf(a) - numberOf(b)).at(-1);
  if (!newest) throw new Error(`no incremental AOF in ${folder}: ${files.join(', ')}`);
  return join(folder, newest);
}

const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

type Mode = 'always' | 'everysec' | 'everysec, power loss emulated';

async function crashRun(mode: Mode) {
  const redis = await startLocalRedis({ persistence: mode === 'always' ? 'always' : 'everysec' });
  started.redis.push(redis);
  const node = await startServerProcess({ REDIS_URL: redis.url, PARLEY_ADMIN_KEY: ADMIN_KEY });
  started.nodes.push(node);
  const api = createApiClient(node.url);
  const tenant = await createTestTenant(api);
  const [alice, bob, carl, dana] = (await tenant.users(['alice', 'bob', 'carl', 'dana'])) as [TenantUser, TenantUser, TenantUser, TenantUser];
  const group = await createGroup(api, alice.token, [bob.id, carl.id, dana.id], `crash ${mode}`);
  const conversationId = group.id as string;

  const follower = follow(node, dana);
  await until('the follower to be ready', () => follower.frames().some((frame) => frame.type === 'ready'), 5000);
  const aof = await currentAofFile(redis.directory);
  const aofSizes: { at: number; size: number }[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      aofSizes.push({ at: Date.now(), size: (await stat(aof)).size });
      await sleep(50);
    }
  })();

  const traffic = startTraffic(node, [alice, bob, carl], conversationId);
  const health: { path: string; at: number; status: number; tookMs: number }[] = [];
  let killedAt = 0;
  let deadAt = 0;
  let restartedAt = 0;
  let redisBackAt: number | undefined;
  let firstReadyAt = 0;
  try {
    // Long enough that the AOF was sampled a full second before the kill, with traffic since.
    await sleep(1500);
    killedAt = Date.now();
    await redis.crash();
    deadAt = Date.now();
    sampling = false;
    await sampler;

    // The outage, probed as a load balancer (readiness) and an orchestrator (liveness) would,
    // each on its own loop: a slow readiness answer must not hide liveness.
    await Promise.all(
      ['/health/ready', '/health/live'].map(async (path) => {
        while (Date.now() < killedAt + OUTAGE_MS) {
          const sentAt = Date.now();
          const response = await fetch(`${node.url}${path}`, { signal: AbortSignal.timeout(2 * REQUEST_BOUND_MS) });
          health.push({ path, at: Date.now(), status: response.status, tookMs: Date.now() - sentAt });
          await sleep(100);
        }
      }),
    );

    let cutTo: { at: number; size: number } | undefined;
    if (mode === 'everysec, power loss emulated') {
      // A power loss keeps what was fsynced; everysec fsyncs about once a second. Keep the file
      // as it was a full second before the kill (Redis drops a torn command or MULTI at the end).
      cutTo = aofSizes.filter((sample) => sample.at <= killedAt - 1000).at(-1);
      expect(cutTo, 'an AOF size sampled a second before the kill').toBeDefined();
      await truncate(aof, cutTo!.size);
    }

    restartedAt = Date.now();
    await redis.restart();
    redisBackAt = Date.now();
    while (!firstReadyAt) {
      const response = await fetch(`${node.url}/health/ready`);
      if (response.status === 200) firstReadyAt = Date.now();
      else await sleep(20);
      expect(Date.now() - restartedAt, 'readiness back in time').toBeLessThan(10_000);
    }
    const ackedAtRecovery = traffic.acked.size;
    await until('30 sends acknowledged after the restart', () => traffic.acked.size >= ackedAtRecovery + 30, 10_000);
  } finally {
    sampling = false;
    await traffic.stop();
  }

  // ─── The outage as clients saw it ───
  const unexpected = traffic.attempts.filter((attempt) => ![200, 201, 503].includes(attempt.status));
  expect(unexpected.map(({ status, body }) => ({ status, body })), 'only 2xx or 503').toEqual([]);
  for (const attempt of traffic.attempts.filter(({ status }) => status === 503)) {
    expect(attempt.contentType).toContain('application/problem+json');
    expect(attempt.body).toMatchObject({ status: 503, code: 'storage_unavailable' });
  }
  // Sent once Redis was dead and answered before it came back: 503, never 2xx. (A send started
  // earlier may still be answered 2xx from a reply Redis sent just before the kill, relayed late
  // on a loaded machine.)
  const during = traffic.attempts.filter((attempt) => attempt.startedAt > deadAt && attempt.endedAt < restartedAt);
  expect(during.length, 'sends answered during the outage').toBeGreaterThanOrEqual(3);
  expect(during.filter(({ status }) => status !== 503), 'a send during the outage not answered 503').toEqual([]);
  // A send made while Redis was dead waits for it within the command timeout: it fails (503) or,
  // if Redis came back meanwhile, succeeds; either way within the bound (checked below).
  const slowest = Math.max(...traffic.attempts.map((attempt) => attempt.endedAt - attempt.startedAt));
  expect(slowest).toBeLessThan(REQUEST_BOUND_MS);
  const ready = health.filter(({ path }) => path === '/health/ready');
  const live = health.filter(({ path }) => path === '/health/live');
  // The first probe may still catch a connection that has not noticed the kill (a few ms).
  expect(ready.filter(({ at }) => at > killedAt + 200).map(({ status }) => status)).toEqual(
    ready.filter(({ at }) => at > killedAt + 200).map(() => 503),
  );
  expect(ready.length).toBeGreaterThanOrEqual(1);
  expect(live.length).toBeGreaterThan(5);
  expect(live.map(({ status }) => status)).toEqual(live.map(() => 200));
  const firstSendAfterRestart = traffic.attempts
    .filter((attempt) => attempt.endedAt > restartedAt && (attempt.status === 200 || attempt.status === 201))
    .sort((a, b) => a.endedAt - b.endedAt)[0]!;

  // ─── What survived ───
  const items = await fullHistoryOf(api, alice.token, conversationId);
  // Whatever was lost, what is there is a consistent prefix plus later sends: 1..n.
  expect(items.map((message) => message.seq)).toEqual(range(1, items.length));
  // A retried send is stored once.
  const texts = items.map((message) => message.text as string);
  expect(new Set(texts).size).toBe(texts.length);
  const surviving = new Map(items.map((message) => [message.id as string, message]));
  const lost = [...traffic.acked].filter(([, message]) => !surviving.has(message.id));
  for (const [, message] of traffic.acked) {
    const stored = surviving.get(message.id);
    if (stored) expect(stored.seq).toBe(message.seq);
  }
  // Everything acknowledged since the restart is there in any mode.
  expect(lost.filter(([, message]) => message.at > restartedAt)).toEqual([]);

  const figures = {
    mode,
    acknowledged: traffic.acked.size,
    lost: lost.length,
    sendAttempts: traffic.attempts.length,
    sendsDuringOutage: during.length,
    slowestSendMs: slowest,
    slowestOutageSendMs: Math.max(...during.map((attempt) => attempt.endedAt - attempt.startedAt)),
    slowestReadinessProbeMs: Math.max(...ready.map(({ tookMs }) => tookMs)),
    redisLoadedMs: redisBackAt! - restartedAt,
    readyAfterRestartMs: firstReadyAt - restartedAt,
    firstSendAfterRestartMs: firstSendAfterRestart.endedAt - restartedAt,
    followerReadyAfterRestartMs: (follower.readyAt.find((at) => at > restartedAt) ?? Number.NaN) - restartedAt,
  };
  return { mode, items, lost, traffic, follower, figures, killedAt, restartedAt, aofSizes, dana, node, conversationId };
}

/** The follower's message.created frames for the conversation, in arrival order. */
const createdFrames = (follower: ReturnType<typeof follow>, conversationId: string) =>
  follower.frames().filter((frame) => frame.type === 'message.created' && frame.message?.conversationId === conversationId);

describe.concurrent('Redis killed (SIGKILL) under a stream of sends, then restarted on its append-only file', () => {
  it('appendfsync always: 503 during the outage, nothing acknowledged lost, the follower resumes without a gap', async () => {
    const run = await crashRun('always');
    try {
      expect(run.lost, 'acknowledged messages missing from the history').toEqual([]);
      const lastSeq = run.items.length;
      await until(`the follower to have ${lastSeq} messages`, () => createdFrames(run.follower, run.conversationId).length >= lastSeq, 10_000).catch(() => undefined);
      await sleep(200);
      const frames = createdFrames(run.follower, run.conversationId);
      expect(frames.map((frame) => frame.message.seq)).toEqual(range(1, lastSeq));
      expect(frames.map((frame) => frame.message.id)).toEqual(run.items.map((message) => message.id));
      // It did lose its socket and come back on a new one (1012: resume with your cursor).
      expect(run.follower.closeCodes[0]).toBe(1012);
      const resumed = run.follower.connections.filter((client) => client.frames.some((frame) => frame.type === 'ready')).length;
      expect(resumed).toBeGreaterThanOrEqual(2);
      console.info('redis-crash figures', JSON.stringify(run.figures));
    } finally {
      await run.follower.stop();
    }
  }, 30_000);

  it('appendfsync everysec: a killed Redis process keeps what it had written; nothing acknowledged over a second before the kill is lost', async () => {
    const run = await crashRun('everysec');
    try {
      // Redis writes the AOF before it replies, and a killed process leaves the kernel's copy:
      // only a power loss or a kernel crash can cost the last second. Assert only the guarantee.
      expect(run.lost.filter(([, message]) => message.at < run.killedAt - 1000)).toEqual([]);
      console.info('redis-crash figures', JSON.stringify(run.figures));
    } finally {
      await run.follower.stop();
    }
  }, 30_000);

  it('appendfsync everysec with a power loss (the AOF cut back to a second before the kill): the loss is seen and bounded', async () => {
    const run = await crashRun('everysec, power loss emulated');
    try {
      const cutAt = run.aofSizes.filter((sample) => sample.at <= run.killedAt - 1000).at(-1)!.at;
      // Acknowledged before the cut: written to the file by then, so kept.
      expect(run.lost.filter(([, message]) => message.at < cutAt)).toEqual([]);
      // Sends went on for a second after the cut: those acknowledged are exactly what is missing.
      const ackedAfterCut = [...run.traffic.acked].filter(([, message]) => message.at > cutAt && message.at < run.killedAt);
      expect(ackedAfterCut.length).toBeGreaterThan(0);
      const lostIds = new Set(run.lost.map(([clientMessageId]) => clientMessageId));
      // Each lost message was acknowledged between the cut and the kill.
      for (const [, message] of run.lost) expect(message.at).toBeGreaterThan(cutAt);
      expect(lostIds.size).toBeGreaterThan(0);
      console.info('redis-crash figures', JSON.stringify({ ...run.figures, ackedInLastSecond: ackedAfterCut.length }));
    } finally {
      await run.follower.stop();
    }
  }, 30_000);
});
