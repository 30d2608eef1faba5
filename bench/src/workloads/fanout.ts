/**
 * Workload `fanout` (bench/README.md): one group of N members, all online over WebSocket, split
 * evenly over 2 server processes sharing one Redis; one sender at stepped fixed rates, each step
 * until the first saturated one (p99 > 100 ms, or < 99% delivered within 2 s). Measured per step:
 * deliveries/s, end-to-end latency (send start → frame received) p50/p99, server CPU µs per
 * delivery. In the same run: bare `ws` servers ×2 broadcasting a Redis PUBLISH (the baseline, the
 * limit) and Socket.IO ×2 with its Redis adapter (the peer). The order of the targets rotates from
 * run to run, so that drift on a shared machine does not always favour the same one.
 */
import { monoMs, sleep } from '../clock.js';
import { startBareWsTarget } from '../fanout/bare-ws-target.js';
import { runPaced } from '../fanout/paced-sender.js';
import { startParleyTarget } from '../fanout/parley-target.js';
import { startSocketIoTarget } from '../fanout/socketio-target.js';
import { messageText } from '../fanout/receiver-protocol.js';
import { ReceiverPool } from '../fanout/receivers.js';
import type { FanoutTarget } from '../fanout/target.js';
import type { BenchOptions, FanoutSettings } from '../options.js';
import { startCpuMeter } from '../proc-cpu.js';
import { startRedis, type BenchRedis } from '../redis-server.js';
import { progress, result } from '../report.js';
import { percentile, sortedUnion, spread } from '../stats.js';

type TargetName = FanoutTarget['name'];

interface StepResult {
  rate: number;
  /** Messages the schedule called for, and how many were sent / accepted. */
  scheduled: number;
  sent: number;
  accepted: number;
  /** Frames received by members per second, over the step (sending plus delivery tail). */
  deliveredPerSec: number;
  /** Percentage of scheduled messages × members received within the delivery window. */
  deliveredPct: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Server processes' CPU time per delivered frame. */
  serverCpuUsPerDelivery: number;
  redisCpuUsPerDelivery: number;
  /**
   * The harness's own CPU time (sender and receiver threads) per delivery: on a 2-core machine it
   * competes with the servers, so a high figure here means the machine, not the server, is the limit.
   */
  harnessCpuUsPerDelivery: number;
  /** Cores used meanwhile by processes the harness did not start: noise on a shared machine. */
  otherCpuCores: number;
  /** The sender's own view: time until the server accepted the message. */
  sendP50Ms: number;
  sendP99Ms: number;
  senderMaxLagMs: number;
  duplicates: number;
  closes: Record<string, number>;
  saturated: boolean;
}

/** Step ids are unique across the whole process, so a late frame is never counted twice. */
let nextStepId = 1;

async function runStep(
  target: FanoutTarget,
  pool: ReceiverPool,
  redis: BenchRedis,
  settings: FanoutSettings,
  members: number,
  rate: number,
  durationMs: number,
  label: string,
): Promise<StepResult> {
  const step = nextStepId++;
  const scheduled = Math.round((rate * durationMs) / 1000);
  const shared = new SharedArrayBuffer(scheduled * Float64Array.BYTES_PER_ELEMENT);
  const starts = new Float64Array(shared);
  await pool.begin(step, scheduled, shared);
  const readCpu = startCpuMeter({ servers: target.serverPids, redis: [redis.pid] });
  const began = monoMs();

  const sender = await runPaced({
    rate,
    total: scheduled,
    starts,
    maxInFlight: 256,
    hardStopMs: durationMs * 2,
    send: (index) => target.send(index, messageText(step, index, settings.textBytes)),
    label,
  });

  // Until every accepted message reached every member, or the delivery window of the last send closed.
  const expected = sender.accepted * members;
  const deadline = sender.lastStartAt + settings.deliveryWindowMs + 100;
  while (monoMs() < deadline && (await pool.stats()).received < expected) await sleep(20);
  const ended = monoMs();
  const cpu = readCpu();
  const deliveries = await pool.end();

  const latencies = sortedUnion(deliveries.latencies);
  let withinWindow = latencies.length;
  while (withinWindow > 0 && latencies[withinWindow - 1]! > settings.deliveryWindowMs) withinWindow -= 1;
  const deliveredFraction = withinWindow / (scheduled * members);
  const p99Ms = percentile(latencies, 99);
  return {
    rate,
    scheduled,
    sent: sender.sent,
    accepted: sender.accepted,
    deliveredPerSec: deliveries.received / ((ended - began) / 1000),
    deliveredPct: deliveredFraction * 100,
    p50Ms: percentile(latencies, 50),
    p99Ms,
    maxMs: percentile(latencies, 100),
    serverCpuUsPerDelivery: deliveries.received > 0 ? cpu.groups.servers! / deliveries.received : Number.NaN,
    redisCpuUsPerDelivery: deliveries.received > 0 ? cpu.groups.redis! / deliveries.received : Number.NaN,
    harnessCpuUsPerDelivery: deliveries.received > 0 ? cpu.harnessUs / deliveries.received : Number.NaN,
    otherCpuCores: cpu.otherCores,
    sendP50Ms: percentile(sender.sendLatencies, 50),
    sendP99Ms: percentile(sender.sendLatencies, 99),
    senderMaxLagMs: sender.maxLagMs,
    duplicates: deliveries.duplicates,
    closes: deliveries.closes,
    // A missing p99 (nothing delivered) is saturation too.
    saturated: !(p99Ms <= settings.maxP99Ms) || deliveredFraction < settings.minDeliveredFraction,
  };
}

/** One target, one run: start it, connect every member, step the rate until saturation, stop it. */
async function runTarget(
  name: TargetName,
  redis: BenchRedis,
  options: BenchOptions,
  members: number,
  run: number,
): Promise<StepResult[]> {
  const settings = options.fanout;
  const label = `fanout ${members} ${name} run ${run}/${options.runs}`;
  await redis.flush();
  progress(`${label}: starting 2 nodes${name === 'parley' ? `, ${members} users and their group` : ''}`);
  const target =
    name === 'parley'
      ? await startParleyTarget(redis.url, members, options.logLevel)
      : name === 'bare-ws'
        ? await startBareWsTarget(redis.url, members)
        : await startSocketIoTarget(redis.url, members);
  const pool = ReceiverPool.create(target.clientGroups);
  const steps: StepResult[] = [];
  try {
    const connected = await pool.connect();
    if (connected.failed > 0) throw new Error(`${label}: ${connected.failed} of ${members} members could not connect: ${connected.firstError}`);
    // Every connection announces its user's presence to the other members: wait for quiet.
    const settled = await pool.settle(settings.settleQuietMs, 120_000);
    const { frames } = await pool.stats();
    progress(`${label}: ${connected.connected} members online in ${Math.round(connected.ms)} ms; ${frames} frames (presence…) received until quiet`);
    result({
      workload: 'fanout', kind: 'connect', target: name, members, run,
      connectMs: connected.ms, framesBeforeSteps: frames, settled: settled.settled,
    });
    // Warm-up at the first rate, discarded: the first messages after a start pay for JIT
    // compilation and cold paths (on Parley they alone pushed the first step's p99 past 100 ms).
    const rates = settings.rates[members]!;
    const warm = await runStep(target, pool, redis, settings, members, rates[0]!, settings.warmupMs, `${label} warm-up`);
    progress(`${label}: warm-up at ${rates[0]} msgs/s for ${settings.warmupMs} ms (discarded): p99 ${warm.p99Ms.toFixed(1)} ms`);
    for (const rate of rates) {
      const step = await runStep(target, pool, redis, settings, members, rate, settings.stepMs, `${label} @ ${rate} msgs/s`);
      steps.push(step);
      progress(
        `${label} @ ${rate} msgs/s: ${Math.round(step.deliveredPerSec)} deliveries/s, p50 ${step.p50Ms.toFixed(1)} ms, p99 ${step.p99Ms.toFixed(1)} ms, ` +
          `${step.deliveredPct.toFixed(2)}% within ${settings.deliveryWindowMs} ms, ${step.serverCpuUsPerDelivery.toFixed(2)} µs CPU/delivery ` +
          `(other processes ${step.otherCpuCores.toFixed(2)} cores)${step.saturated ? ' — SATURATED' : ''}`,
      );
      result({ workload: 'fanout', kind: 'step', target: name, members, run, ...step });
      if (step.saturated) break;
    }
  } finally {
    await pool.close();
    await target.stop();
  }
  return steps;
}

/** The highest rate before the first saturated step (0 if the first already saturated). */
function sustained(steps: StepResult[]): { maxSustainedRate: number; saturatedAt: number | null } {
  const first = steps.find((step) => step.saturated);
  const ok = steps.filter((step) => !step.saturated);
  return { maxSustainedRate: ok.length > 0 ? ok[ok.length - 1]!.rate : 0, saturatedAt: first?.rate ?? null };
}

type Runs = Partial<Record<TargetName, StepResult[]>>[];

/** Per step: each target's median and min–max, and Parley over each other target, run by run. */
function summarize(members: number, runs: Runs, targets: TargetName[], settings: FanoutSettings): void {
  const others = targets.filter((name) => name !== 'parley');
  const stepOf = (run: Runs[number], name: TargetName, rate: number) => run[name]?.find((step) => step.rate === rate);
  for (const rate of settings.rates[members]!) {
    const reached = (name: TargetName) => runs.flatMap((run) => stepOf(run, name, rate) ?? []);
    if (targets.every((name) => reached(name).length === 0)) continue;
    const side = (name: TargetName) => {
      const steps = reached(name);
      const of = (pick: (step: StepResult) => number) => spread(steps.map(pick));
      return {
        deliveredPerSec: of((s) => s.deliveredPerSec),
        deliveredPct: of((s) => s.deliveredPct),
        p50Ms: of((s) => s.p50Ms),
        p99Ms: of((s) => s.p99Ms),
        serverCpuUsPerDelivery: of((s) => s.serverCpuUsPerDelivery),
        redisCpuUsPerDelivery: of((s) => s.redisCpuUsPerDelivery),
        otherCpuCores: of((s) => s.otherCpuCores),
        saturatedRuns: steps.filter((s) => s.saturated).length,
      };
    };
    // Parley over the other target of the same run; only runs in which both reached this step.
    const ratio = (other: TargetName, pick: (step: StepResult) => number) =>
      spread(
        runs.flatMap((run) => {
          const mine = stepOf(run, 'parley', rate);
          const theirs = stepOf(run, other, rate);
          return mine && theirs ? [pick(mine) / pick(theirs)] : [];
        }),
      );
    result({
      workload: 'fanout', kind: 'step-summary', members, rate,
      ...Object.fromEntries(targets.map((name) => [name, side(name)])),
      ratio: Object.fromEntries(
        others.map((other) => [
          `parley/${other}`,
          {
            deliveredPerSec: ratio(other, (s) => s.deliveredPerSec),
            p50Ms: ratio(other, (s) => s.p50Ms),
            p99Ms: ratio(other, (s) => s.p99Ms),
            serverCpuUsPerDelivery: ratio(other, (s) => s.serverCpuUsPerDelivery),
          },
        ]),
      ),
    });
  }
  const saturation = (name: TargetName) => runs.map((run) => sustained(run[name] ?? []));
  result({
    workload: 'fanout', kind: 'summary', members, runs: runs.length, rates: settings.rates[members], stepMs: settings.stepMs,
    ...Object.fromEntries(
      targets.map((name) => [
        name,
        { maxSustainedRate: spread(saturation(name).map((s) => s.maxSustainedRate)), saturatedAt: saturation(name).map((s) => s.saturatedAt) },
      ]),
    ),
    // A target that never saturated makes its ratio a bound only (its limit lies beyond the last step).
    ratio: Object.fromEntries(
      others.map((other) => [
        `parley/${other}`,
        { maxSustainedRate: spread(runs.map((run) => sustained(run.parley ?? []).maxSustainedRate / sustained(run[other] ?? []).maxSustainedRate)) },
      ]),
    ),
  });
}

export async function runFanoutWorkload(options: BenchOptions): Promise<void> {
  const targets: TargetName[] = options.fanout.peer ? ['parley', 'bare-ws', 'socket.io'] : ['parley', 'bare-ws'];
  const redis = await startRedis();
  try {
    for (const members of options.fanout.members) {
      const runs: Runs = [];
      for (let run = 1; run <= options.runs; run += 1) {
        const shift = (run - 1) % targets.length;
        const order = [...targets.slice(shift), ...targets.slice(0, shift)];
        const measured: Runs[number] = {};
        for (const name of order) measured[name] = await runTarget(name, redis, options, members, run);
        runs.push(measured);
      }
      summarize(members, runs, targets, options.fanout);
    }
  } finally {
    await redis.stop();
  }
}
