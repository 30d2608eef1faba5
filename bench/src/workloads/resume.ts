/**
 * Workload `resume` (bench/README.md): N clients, each a user in one group, online on node A;
 * `kill -9` of A; every group gets `missed` messages through node B while its members are away;
 * then all N reconnect at once to B with their last cursors. Measured: the time from the
 * reconnect's start until every client had every message of its group (caught up), messages
 * lost or received twice per client (must be 0, against the seqs the sends returned),
 * resync.required frames (must be 0: every cursor is seconds old), connect errors, and the
 * survivor's CPU. Baseline in the same run: the same N sockets reconnecting at once from a killed
 * bare `ws` server to a second one, caught up once open (nothing to replay). The order of the two
 * targets alternates from run to run.
 */
import { monoMs, sleep } from '../clock.js';
import type { BenchOptions, ResumeSettings } from '../options.js';
import { startCpuMeter } from '../proc-cpu.js';
import { startRedis, type BenchRedis } from '../redis-server.js';
import { progress, result } from '../report.js';
import { startBareResumeTarget } from '../resume/bare-resume-target.js';
import { ResumeClients } from '../resume/clients.js';
import { startParleyResumeTarget } from '../resume/parley-resume-target.js';
import type { ResumeReport } from '../resume/protocol.js';
import type { ResumeTarget } from '../resume/target.js';
import { spread } from '../stats.js';

type TargetName = ResumeTarget['name'];

/** A run of one target: the clients' report (lost, duplicates, resyncs…) and the storm's times and CPU. */
interface RunResult extends Omit<ResumeReport, 'clients'> {
  /** Reconnect start → every client open again (its `ready` received). */
  reconnectMs: number;
  /** Reconnect start → every client holding every message of its group (NaN if some never did). */
  caughtUpMs: number;
  caughtUp: number;
  connectFailed: number;
  connectErrors: number;
  serverCpuMs: number;
  serverCpuUsPerClient: number;
  redisCpuMs: number;
  harnessCpuMs: number;
  otherCpuCores: number;
}

/** Frames have stopped arriving for `quietMs` (presence after a storm of connects), at most `timeoutMs`. */
async function quiet(clients: ResumeClients, quietMs: number, timeoutMs: number): Promise<void> {
  const deadline = monoMs() + timeoutMs;
  while (monoMs() < deadline && monoMs() - (await clients.stats()).lastFrameAt < quietMs) await sleep(50);
}

/** Polls until every client caught up or the deadline passed. */
async function caughtUp(clients: ResumeClients, total: number, deadline: number): Promise<void> {
  while ((await clients.stats()).caughtUp < total && monoMs() < deadline) await sleep(10);
}

function merge(into: Record<string, number[]>, more: Record<string, number[]>): void {
  for (const [conversationId, seqs] of Object.entries(more)) (into[conversationId] ??= []).push(...seqs);
}

async function runTarget(name: TargetName, redis: BenchRedis, options: BenchOptions, run: number): Promise<RunResult> {
  const settings: ResumeSettings = options.resume;
  const label = `resume ${settings.clients} ${name} run ${run}/${options.runs}`;
  await redis.flush();
  const setupStarted = monoMs();
  progress(`${label}: starting 2 nodes${name === 'parley' ? `, ${settings.clients} users in groups of ${settings.groupSize}` : ''}`);
  const target =
    name === 'parley'
      ? await startParleyResumeTarget(redis.url, settings.clients, settings.groupSize, options.logLevel)
      : await startBareResumeTarget(redis.url, settings.clients);
  const clients = new ResumeClients(target.clients, settings.threads);
  try {
    progress(`${label}: set up in ${Math.round(monoMs() - setupStarted)} ms; connecting ${settings.clients} clients to the first node`);
    const first = await clients.connect(target.firstUrl, false, settings.firstConnectConcurrency, 60_000);
    if (first.failed > 0) throw new Error(`${label}: ${first.failed} clients could not connect to the first node: ${first.firstError}`);
    await quiet(clients, 500, 60_000);
    // One message per group before the kill: every client's cursor then names its conversation.
    const expected: Record<string, number[]> = {};
    merge(expected, await target.send(1, 'first'));
    await clients.expect(expected);
    await caughtUp(clients, settings.clients, monoMs() + 60_000);
    await quiet(clients, 300, 10_000);

    await target.killFirst();
    const after = await clients.awaitClosed(30_000);
    if (after.open > 0) throw new Error(`${label}: ${after.open} sockets still open after the kill`);
    merge(expected, await target.send(settings.missed, 'survivor'));
    await clients.expect(expected);
    const missed = name === 'parley' ? `${settings.missed} messages per group sent through the survivor` : 'nothing to miss';
    progress(`${label}: first node killed, ${missed}; all ${settings.clients} reconnect at once`);

    const readCpu = startCpuMeter({ server: [target.survivorPid], redis: [redis.pid] });
    const started = monoMs();
    const reconnect = await clients.connect(target.survivorUrl, true, settings.clients, 60_000);
    const reconnectMs = monoMs() - started;
    await caughtUp(clients, settings.clients, started + settings.catchUpTimeoutMs);
    const stats = await clients.stats();
    const cpu = readCpu();
    // Late frames (a duplicate after catching up) still count: wait for the survivor to go quiet.
    await quiet(clients, 500, 10_000);
    const report = await clients.report();
    const outcome: RunResult = {
      reconnectMs,
      caughtUpMs: stats.caughtUp === settings.clients && stats.lastCaughtUpAt !== null ? stats.lastCaughtUpAt - started : Number.NaN,
      caughtUp: stats.caughtUp,
      connectFailed: reconnect.failed,
      connectErrors: reconnect.errors,
      lost: report.lost,
      clientsWithLoss: report.clientsWithLoss,
      duplicates: report.duplicates,
      unexpected: report.unexpected,
      resyncs: report.resyncs,
      closes: report.closes,
      serverCpuMs: cpu.groups.server! / 1000,
      serverCpuUsPerClient: cpu.groups.server! / settings.clients,
      redisCpuMs: cpu.groups.redis! / 1000,
      harnessCpuMs: cpu.harnessUs / 1000,
      otherCpuCores: cpu.otherCores,
    };
    progress(
      `${label}: all open in ${Math.round(reconnectMs)} ms, caught up in ${Math.round(outcome.caughtUpMs)} ms (${stats.caughtUp}/${settings.clients}); ` +
        `lost ${report.lost}, duplicates ${report.duplicates}, resync.required ${report.resyncs}, connect errors ${reconnect.errors}${reconnect.firstError ? ` (${reconnect.firstError})` : ''}; ` +
        `survivor CPU ${Math.round(outcome.serverCpuMs)} ms (other processes ${outcome.otherCpuCores.toFixed(2)} cores)`,
    );
    result({
      workload: 'resume', kind: 'run', target: name, run, clients: settings.clients, groupSize: settings.groupSize,
      missedPerClient: name === 'parley' ? settings.missed : 0, ...outcome,
    });
    return outcome;
  } finally {
    await clients.close();
    await target.stop();
  }
}

export async function runResumeWorkload(options: BenchOptions): Promise<void> {
  const targets: TargetName[] = ['parley', 'bare-ws'];
  const redis = await startRedis();
  const runs: Record<TargetName, RunResult>[] = [];
  try {
    for (let run = 1; run <= options.runs; run += 1) {
      const order = run % 2 === 1 ? targets : [...targets].reverse();
      const measured: Partial<Record<TargetName, RunResult>> = {};
      for (const name of order) measured[name] = await runTarget(name, redis, options, run);
      runs.push(measured as Record<TargetName, RunResult>);
    }
  } finally {
    await redis.stop();
  }
  const side = (name: TargetName) => {
    const of = (pick: (r: RunResult) => number) => spread(runs.map((run) => pick(run[name])));
    return {
      reconnectMs: of((r) => r.reconnectMs),
      caughtUpMs: of((r) => r.caughtUpMs),
      serverCpuMs: of((r) => r.serverCpuMs),
      connectErrors: of((r) => r.connectErrors),
    };
  };
  // Parley's time to all caught up over the bare reconnect of the same run (the goal: at most 2).
  const ratios = runs.map((run) => run.parley.caughtUpMs / run['bare-ws'].caughtUpMs);
  result({
    workload: 'resume', kind: 'summary', clients: options.resume.clients, groupSize: options.resume.groupSize, missedPerClient: options.resume.missed, runs: runs.length,
    parley: { ...side('parley'), lost: runs.map((r) => r.parley.lost), duplicates: runs.map((r) => r.parley.duplicates), resyncs: runs.map((r) => r.parley.resyncs) },
    'bare-ws': side('bare-ws'),
    ratio: { caughtUpMs: spread(ratios), byRun: ratios, goal: 2 },
  });
}
