/**
 * Workload `connections` (bench/README.md): idle authenticated WebSocket connections to one node,
 * opened in steps up to each count of `--connections` (default 10,000 then 19,000: a process may
 * hold at most 20,000 open files here), by client processes spread over loopback source
 * addresses. Per step: connection rate (each client its own user's token, so every handshake
 * is verified), RSS and heap per connection — as is after a settle period, and after a full GC
 * triggered through the inspector — and the server's CPU while everything sits idle for whole
 * heartbeat intervals. Baseline in the same run: a bare `ws` server (bare-ws-idle.ts). The
 * order of the two rotates from run to run.
 */
import { sleep } from '../clock.js';
import { ClientFleet } from '../connections/client-fleet.js';
import { startBareWsIdleTarget, startParleyIdleTarget, type IdleTarget } from '../connections/targets.js';
import { collectGarbage, memoryUsage, type MemoryUsage } from '../inspector.js';
import type { BenchOptions, ConnectionsSettings } from '../options.js';
import { startCpuMeter } from '../proc-cpu.js';
import { startRedis, type BenchRedis } from '../redis-server.js';
import { progress, result } from '../report.js';
import { spread } from '../stats.js';

type TargetName = IdleTarget['name'];
const TARGETS: TargetName[] = ['parley', 'bare-ws'];

interface StepResult {
  connections: number;
  added: number;
  connectMs: number;
  connectsPerSec: number;
  /** (RSS now − RSS before the first connection) ÷ connections, after the settle period, no GC forced. */
  rssBytesPerConn: number;
  heapBytesPerConn: number;
  /** The same after a full GC of both readings (through the inspector). */
  rssBytesPerConnAfterGc: number;
  heapBytesPerConnAfterGc: number;
  processRssBytes: number;
  /** Server CPU while idle, in % of one core, over `idleMs` (whole heartbeat intervals). */
  idleCpuPct: number;
  idleRedisCpuPct: number;
  /** Cores used meanwhile by processes the harness did not start. */
  otherCpuCores: number;
  /** Frames the clients received while connecting and settling (ready, presence…). */
  frames: number;
}

/**
 * The reference before any connection: the setup's garbage collected first (every later as-is
 * reading follows a GC too, the previous step's), then the memory as it is after the settle
 * period, then after another full GC.
 */
async function memoryBefore(target: IdleTarget, settleMs: number): Promise<{ asIs: MemoryUsage; afterGc: MemoryUsage }> {
  await collectGarbage(target.inspectorPort);
  await sleep(settleMs);
  const asIs = await memoryUsage(target.inspectorPort);
  await collectGarbage(target.inspectorPort);
  return { asIs, afterGc: await memoryUsage(target.inspectorPort) };
}

/** Until no client received a frame for `quietMs` (presence has settled), at most `limitMs`. */
async function waitQuiet(fleet: ClientFleet, quietMs: number, limitMs: number): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline && (await fleet.stats()).quietMs < quietMs) await sleep(Math.min(200, quietMs / 2));
}

async function runTarget(name: TargetName, redis: BenchRedis, options: BenchOptions, run: number): Promise<StepResult[]> {
  const settings = options.connections;
  const label = `connections ${name} run ${run}/${options.runs}`;
  const most = settings.counts[settings.counts.length - 1]!;
  await redis.flush();
  progress(`${label}: starting${name === 'parley' ? `, ${most} users` : ''}`);
  const target =
    name === 'parley'
      ? await startParleyIdleTarget(redis.url, most, settings.heartbeatMs, options.logLevel)
      : await startBareWsIdleTarget(settings.heartbeatMs);
  const fleet = ClientFleet.start(most);
  const steps: StepResult[] = [];
  try {
    const before = await memoryBefore(target, settings.settleMs);
    let open = 0;
    for (const count of settings.counts) {
      const headers = Array.from({ length: count - open }, (_, i) => target.headers(open + i));
      const connected = await fleet.connect(target.wsUrl, headers);
      if (connected.failed > 0) throw new Error(`${label}: ${connected.failed} of ${headers.length} clients could not connect: ${connected.firstError}`);
      open = count;
      await waitQuiet(fleet, settings.quietMs, 120_000);
      await sleep(settings.settleMs);
      const asIs = await memoryUsage(target.inspectorPort);
      const readCpu = startCpuMeter({ server: [target.pid], redis: [redis.pid], clients: fleet.pids });
      await sleep(settings.idleMs);
      const cpu = readCpu();
      await collectGarbage(target.inspectorPort);
      const afterGc = await memoryUsage(target.inspectorPort);
      const stats = await fleet.stats();
      if (stats.open !== count || stats.closedByServer > 0) throw new Error(`${label}: ${stats.open} of ${count} sockets open, ${stats.closedByServer} closed by the server`);
      const step: StepResult = {
        connections: count,
        added: headers.length,
        connectMs: connected.ms,
        connectsPerSec: headers.length / (connected.ms / 1000),
        rssBytesPerConn: (asIs.rss - before.asIs.rss) / count,
        heapBytesPerConn: (asIs.heapUsed - before.asIs.heapUsed) / count,
        rssBytesPerConnAfterGc: (afterGc.rss - before.afterGc.rss) / count,
        heapBytesPerConnAfterGc: (afterGc.heapUsed - before.afterGc.heapUsed) / count,
        processRssBytes: asIs.rss,
        idleCpuPct: (cpu.groups.server! / (settings.idleMs * 1000)) * 100,
        idleRedisCpuPct: (cpu.groups.redis! / (settings.idleMs * 1000)) * 100,
        otherCpuCores: cpu.otherCores,
        frames: stats.frames,
      };
      steps.push(step);
      progress(
        `${label} @ ${count}: ${Math.round(step.connectsPerSec)} connects/s, RSS ${(step.rssBytesPerConn / 1024).toFixed(2)} KB/conn ` +
          `(${(step.rssBytesPerConnAfterGc / 1024).toFixed(2)} after GC), heap ${(step.heapBytesPerConn / 1024).toFixed(2)} KB/conn, ` +
          `idle CPU ${step.idleCpuPct.toFixed(2)}% (other processes ${step.otherCpuCores.toFixed(2)} cores)`,
      );
      result({ workload: 'connections', kind: 'step', target: name, run, heartbeatMs: settings.heartbeatMs, idleMs: settings.idleMs, ...step });
    }
  } finally {
    await fleet.stop();
    await target.stop();
  }
  return steps;
}

type Runs = Partial<Record<TargetName, StepResult[]>>[];
const FIGURES = ['connectsPerSec', 'rssBytesPerConn', 'rssBytesPerConnAfterGc', 'heapBytesPerConn', 'heapBytesPerConnAfterGc', 'idleCpuPct'] as const;

/** Per count: each target's median and min–max, and Parley over bare ws, run by run. */
function summarize(runs: Runs, settings: ConnectionsSettings): void {
  for (const count of settings.counts) {
    const stepOf = (run: Runs[number], name: TargetName) => run[name]?.find((step) => step.connections === count);
    const side = (name: TargetName) => {
      const steps = runs.flatMap((run) => stepOf(run, name) ?? []);
      return Object.fromEntries(FIGURES.map((figure) => [figure, spread(steps.map((step) => step[figure]))]));
    };
    const ratio = Object.fromEntries(
      FIGURES.map((figure) => [
        figure,
        spread(
          runs.flatMap((run) => {
            const mine = stepOf(run, 'parley');
            const theirs = stepOf(run, 'bare-ws');
            return mine && theirs ? [mine[figure] / theirs[figure]] : [];
          }),
        ),
      ]),
    );
    result({
      workload: 'connections', kind: 'summary', connections: count, runs: runs.length, heartbeatMs: settings.heartbeatMs, idleMs: settings.idleMs,
      ...Object.fromEntries(TARGETS.map((name) => [name, side(name)])),
      ratio: { 'parley/bare-ws': ratio },
    });
  }
}

export async function runConnectionsWorkload(options: BenchOptions): Promise<void> {
  const redis = await startRedis();
  try {
    const runs: Runs = [];
    for (let run = 1; run <= options.runs; run += 1) {
      const order = run % 2 === 1 ? TARGETS : [...TARGETS].reverse();
      const measured: Runs[number] = {};
      for (const name of order) measured[name] = await runTarget(name, redis, options, run);
      runs.push(measured);
    }
    summarize(runs, options.connections);
  } finally {
    await redis.stop();
  }
}
