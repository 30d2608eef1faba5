/**
 * Workload `send` (bench/README.md): REST sends into 500 direct conversations of 1,000 users on the
 * Redis engine, from 64 keep-alive connections, 64-byte texts; accepted msgs/s and latency
 * p50/p99 — beside a bare Fastify route that parses the same JSON and answers 201, measured in
 * the same run (the order alternates between runs so that drift does not favour either side).
 */
import { startBaseline } from '../baselines/start-baseline.js';
import { runClosedLoop } from '../load/closed-loop.js';
import type { RequestSpec } from '../load/http-send.js';
import type { BenchOptions, SendSettings } from '../options.js';
import { createUsers, newAdminKey, openDirectPairs } from '../parley-api.js';
import { startParley } from '../parley-server.js';
import { startCpuMeter } from '../proc-cpu.js';
import { startRedis, type BenchRedis } from '../redis-server.js';
import { progress, result } from '../report.js';
import { percentile, spread } from '../stats.js';

type Target = 'parley' | 'bare-fastify';

interface Measurement {
  acceptedPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  accepted: number;
  failed: number;
  statuses: Record<string, number>;
  seconds: number;
  /** CPU time of the server process per accepted message. */
  serverCpuUsPerMsg: number;
  /** CPU time of redis-server per accepted message (Parley only). */
  redisCpuUsPerMsg: number | null;
  /** CPU time of the load generator per accepted message. */
  harnessCpuUsPerMsg: number;
  /** Cores used meanwhile by processes the harness did not start: noise on a shared machine. */
  otherCpuCores: number;
}

/** 64 bytes of plain ASCII, as JSON-escaping-free as a typical short chat message. */
function textOf(bytes: number): string {
  const sentence = 'The quick brown fox jumps over the lazy dog; pack my box with five dozen jugs. ';
  return sentence.repeat(Math.ceil(bytes / sentence.length)).slice(0, bytes);
}

/** Length of a Parley access token as minted for these users: the baseline sends a header as long. */
const TOKEN_LENGTH = 356;

async function measure(
  label: string,
  baseUrl: string,
  settings: SendSettings,
  request: (index: number) => RequestSpec,
  serverPids: number[],
  redisPid: number | null,
): Promise<Measurement> {
  const common = { baseUrl, connections: settings.connections, request, acceptedStatus: 201 };
  // Warm-up: JIT, connection pools and Redis scripts are loaded before anything is measured.
  await runClosedLoop({ ...common, durationMs: settings.warmupMs, maxRequests: 1_000_000, label: null });
  const readCpu = startCpuMeter({ server: serverPids, redis: redisPid === null ? [] : [redisPid] });
  const run = await runClosedLoop({ ...common, durationMs: settings.durationMs, maxRequests: (settings.durationMs / 1000) * 200_000, label });
  const cpu = readCpu();
  const seconds = run.elapsedMs / 1000;
  return {
    acceptedPerSec: run.accepted / seconds,
    p50Ms: percentile(run.latencies, 50),
    p99Ms: percentile(run.latencies, 99),
    maxMs: percentile(run.latencies, 100),
    accepted: run.accepted,
    failed: run.failed,
    statuses: run.statuses,
    seconds,
    serverCpuUsPerMsg: run.accepted > 0 ? cpu.groups.server! / run.accepted : Number.NaN,
    redisCpuUsPerMsg: redisPid === null || run.accepted === 0 ? null : cpu.groups.redis! / run.accepted,
    harnessCpuUsPerMsg: run.accepted > 0 ? cpu.harnessUs / run.accepted : Number.NaN,
    otherCpuCores: cpu.otherCores,
  };
}

async function measureParley(redis: BenchRedis, settings: SendSettings, logLevel: string, label: string): Promise<Measurement> {
  await redis.flush();
  const adminKey = newAdminKey();
  const node = await startParley('parley', { redisUrl: redis.url, adminKey, logLevel });
  try {
    progress(`${label}: creating ${settings.users} users and ${settings.conversations} direct conversations`);
    const users = await createUsers(node.url, adminKey, settings.users);
    const conversations = (await openDirectPairs(node.url, users)).slice(0, settings.conversations);
    const body = Buffer.from(JSON.stringify({ text: textOf(settings.textBytes) }));
    // Conversation i mod 500, its two members taking turns: every conversation and user is busy.
    const specs = conversations.flatMap((conversation) =>
      conversation.members.map((member) => ({
        method: 'POST',
        path: `/v1/conversations/${conversation.id}/messages`,
        headers: { authorization: `Bearer ${member.token}`, 'content-type': 'application/json' },
        body,
      })),
    );
    const request = (index: number) => {
      const conversation = index % conversations.length;
      const turn = Math.floor(index / conversations.length) % 2;
      return specs[conversation * 2 + turn]!;
    };
    return await measure(label, node.url, settings, request, [node.pid], redis.pid);
  } finally {
    await node.stop();
  }
}

async function measureBaseline(settings: SendSettings, label: string): Promise<Measurement> {
  const server = await startBaseline('bare-fastify', 'bare-fastify');
  try {
    const body = Buffer.from(JSON.stringify({ text: textOf(settings.textBytes) }));
    const headers = { authorization: `Bearer ${'x'.repeat(TOKEN_LENGTH)}`, 'content-type': 'application/json' };
    const specs = Array.from({ length: settings.conversations }, (_, i) => ({
      method: 'POST',
      path: `/v1/conversations/01BASELINECONV${String(i).padStart(12, '0')}/messages`,
      headers,
      body,
    }));
    return await measure(label, server.url, settings, (index) => specs[index % specs.length]!, [server.process.pid], null);
  } finally {
    await server.process.stop();
  }
}

export async function runSendWorkload(options: BenchOptions): Promise<void> {
  const settings = options.send;
  const redis = await startRedis();
  const runs: Record<Target, Measurement>[] = [];
  try {
    for (let run = 1; run <= options.runs; run += 1) {
      const order: Target[] = run % 2 === 1 ? ['parley', 'bare-fastify'] : ['bare-fastify', 'parley'];
      const measured = {} as Record<Target, Measurement>;
      for (const target of order) {
        const label = `send ${target} run ${run}/${options.runs}`;
        measured[target] =
          target === 'parley' ? await measureParley(redis, settings, options.logLevel, label) : await measureBaseline(settings, label);
        const m = measured[target];
        progress(
          `${label}: ${Math.round(m.acceptedPerSec)} msgs/s, p50 ${m.p50Ms.toFixed(2)} ms, p99 ${m.p99Ms.toFixed(2)} ms, ` +
            `server ${Math.round(m.serverCpuUsPerMsg)} µs CPU/msg (other processes used ${m.otherCpuCores.toFixed(2)} cores)`,
        );
        result({ workload: 'send', kind: 'run', target, run, ...m });
      }
      runs.push(measured);
    }
  } finally {
    await redis.stop();
  }
  const of = (target: Target, pick: (m: Measurement) => number) => spread(runs.map((r) => pick(r[target])));
  const summary = (target: Target) => ({
    acceptedPerSec: of(target, (m) => m.acceptedPerSec),
    p50Ms: of(target, (m) => m.p50Ms),
    p99Ms: of(target, (m) => m.p99Ms),
    serverCpuUsPerMsg: of(target, (m) => m.serverCpuUsPerMsg),
    otherCpuCores: of(target, (m) => m.otherCpuCores),
  });
  result({
    workload: 'send',
    kind: 'summary',
    runs: runs.length,
    settings,
    parley: { ...summary('parley'), redisCpuUsPerMsg: of('parley', (m) => m.redisCpuUsPerMsg ?? Number.NaN) },
    baseline: { target: 'bare-fastify', ...summary('bare-fastify') },
    // Each run's Parley figure divided by its own baseline, then median and min–max of those.
    ratio: {
      acceptedPerSec: spread(runs.map((r) => r.parley.acceptedPerSec / r['bare-fastify'].acceptedPerSec)),
      p50Ms: spread(runs.map((r) => r.parley.p50Ms / r['bare-fastify'].p50Ms)),
      p99Ms: spread(runs.map((r) => r.parley.p99Ms / r['bare-fastify'].p99Ms)),
      serverCpuUsPerMsg: spread(runs.map((r) => r.parley.serverCpuUsPerMsg / r['bare-fastify'].serverCpuUsPerMsg)),
    },
  });
}
