/**
 * Workload `webhooks` (bench/README.md): one Parley node on the private Redis, a tenant of 400
 * users in 200 direct conversations, one webhook on `message.created` pointing at a fast local
 * receiver (receiver.ts, its own process: answers 204, stamps each event's arrival). The harness
 * sends over REST at stepped fixed rates, open loop, until the first saturated step (p99 > 1 s, or
 * < 99% delivered within 5 s). Measured per step: deliveries/s, delivery latency (send start →
 * arrival at the receiver) p50/p99, duplicates, server CPU µs per delivery; after the last step,
 * a drain wait, then the deliveries lost (must be 0). Once per WEBHOOK_CONCURRENCY value (4 and 16).
 * Baseline, same run: the bare sender (bare-sender.ts) POSTs bodies of the same shape to the same
 * receiver over kept-alive connections, at the same concurrency and rates — the floor of making
 * the HTTP calls at all. The two alternate which goes first from run to run.
 */
import { fileURLToPath } from 'node:url';
import { monoMs, sleep } from '../clock.js';
import { IpcProcess } from '../ipc-process.js';
import type { BenchOptions, WebhooksSettings } from '../options.js';
import { startCpuMeter } from '../proc-cpu.js';
import { startHttpProcess } from '../processes.js';
import { startRedis, type BenchRedis } from '../redis-server.js';
import { progress, result } from '../report.js';
import { percentile, spread } from '../stats.js';
import type { ReceiverCount, ReceiverReport, ReceiverRequest } from '../webhooks/protocol.js';
import { startBareWebhookTarget, startParleyWebhookTarget, type WebhookTarget, type WebhookTargetName } from '../webhooks/targets.js';

const RECEIVER_SCRIPT = fileURLToPath(new URL('../webhooks/receiver.js', import.meta.url));
const TARGETS: readonly WebhookTargetName[] = ['parley', 'bare-http'];

interface Receiver {
  url: string;
  pid: number;
  rpc: IpcProcess<ReceiverRequest>;
}

interface StepResult {
  rate: number;
  /** Events the step called for; started; accepted (Parley: 201; bare: queued). */
  scheduled: number;
  sent: number;
  accepted: number;
  /** Distinct events the receiver got per second, from the first send until all arrived or the window of the last closed. */
  deliveredPerSec: number;
  /** Percentage of the scheduled events received within the delivery window of their send start. */
  deliveredPct: number;
  /** Delivery latency: send start → arrival at the receiver. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Accepted events not received when the step's window closed (they may still come: see the run line). */
  pendingAtEnd: number;
  /** Events received a second time during the step. */
  duplicates: number;
  /** CPU of the target's server process (Parley, REST sends included; or the bare sender) per delivery. */
  serverCpuUsPerDelivery: number;
  /** Redis (Parley only; null for the baseline). */
  redisCpuUsPerDelivery: number | null;
  receiverCpuUsPerDelivery: number;
  harnessCpuUsPerDelivery: number;
  otherCpuCores: number;
  /** The sender's view (Parley: send → 201; bare: POST → the receiver's answer). */
  sendP50Ms: number;
  sendP99Ms: number;
  senderMaxLagMs: number;
  /** Delivery attempts that got no 2xx (Parley retries them). */
  attemptsFailed: number;
  /** Mean request body size the receiver saw: both targets send bodies of the same shape. */
  meanBodyBytes: number | null;
  saturated: boolean;
}

interface RunResult {
  steps: StepResult[];
  /** Events accepted over the run (warm-up included), received in the end, never received, received twice. */
  accepted: number;
  delivered: number;
  lost: number;
  duplicates: number;
  /** Time from the end of the last step until every accepted event had arrived (or the drain timed out). */
  drainMs: number;
}

/** Step ids are unique across the whole process, so a late event is never counted in another step. */
let nextStepId = 1;

async function startReceiver(): Promise<Receiver> {
  const { url, process: managed } = await startHttpProcess('webhook-receiver', RECEIVER_SCRIPT, {}, { ipc: true });
  return { url, pid: managed.pid, rpc: new IpcProcess<ReceiverRequest>(managed) };
}

/** Accepted events of `owed` without an arrival in `report`. */
function missing(owed: Uint8Array, report: ReceiverReport): number {
  let count = 0;
  for (let index = 0; index < owed.length; index += 1) if (owed[index] === 1 && report.arrivals[index] === null) count += 1;
  return count;
}

interface StepRecord {
  id: number;
  owed: Uint8Array;
}

async function runStep(
  target: WebhookTarget,
  receiver: Receiver,
  settings: WebhooksSettings,
  rate: number,
  durationMs: number,
  label: string,
  record: StepRecord[],
): Promise<StepResult> {
  const step = nextStepId++;
  const total = Math.max(1, Math.round((rate * durationMs) / 1000));
  const starts = new Float64Array(total).fill(Number.NaN);
  const owed = new Uint8Array(total);
  record.push({ id: step, owed });
  await receiver.rpc.call({ op: 'begin', step, total });
  const readCpu = startCpuMeter({ server: target.pids.server, redis: target.pids.redis, receiver: [receiver.pid] });
  const began = monoMs();
  const sent = await target.send({ step, rate, total, starts, accepted: owed, hardStopMs: durationMs * 2, label });

  // Until every accepted event arrived, or the delivery window of the last send closed.
  const deadline = sent.lastStartAt + settings.deliveryWindowMs + 100;
  while (monoMs() < deadline && (await receiver.rpc.call<ReceiverCount>({ op: 'count', steps: [step] })).received < sent.accepted) await sleep(20);
  const ended = monoMs();
  const cpu = readCpu();
  const report = await receiver.rpc.call<ReceiverReport>({ op: 'report', step });
  const view = await target.view(step);

  const latencies = new Float64Array(report.received);
  let filled = 0;
  report.arrivals.forEach((at, index) => {
    if (at !== null && !Number.isNaN(starts[index]!)) latencies[filled++] = at - starts[index]!;
  });
  const sorted = latencies.subarray(0, filled).sort();
  let withinWindow = sorted.length;
  while (withinWindow > 0 && sorted[withinWindow - 1]! > settings.deliveryWindowMs) withinWindow -= 1;
  const deliveredFraction = withinWindow / total;
  const p99Ms = percentile(sorted, 99);
  const perDelivery = (us: number) => (report.received > 0 ? us / report.received : Number.NaN);
  return {
    rate,
    scheduled: total,
    sent: sent.sent,
    accepted: sent.accepted,
    deliveredPerSec: report.received / ((ended - began) / 1000),
    deliveredPct: deliveredFraction * 100,
    p50Ms: percentile(sorted, 50),
    p99Ms,
    maxMs: percentile(sorted, 100),
    pendingAtEnd: missing(owed, report),
    duplicates: report.duplicates,
    serverCpuUsPerDelivery: perDelivery(cpu.groups.server!),
    redisCpuUsPerDelivery: target.pids.redis.length > 0 ? perDelivery(cpu.groups.redis!) : null,
    receiverCpuUsPerDelivery: perDelivery(cpu.groups.receiver!),
    harnessCpuUsPerDelivery: perDelivery(cpu.harnessUs),
    otherCpuCores: cpu.otherCores,
    sendP50Ms: view.sendP50Ms,
    sendP99Ms: view.sendP99Ms,
    senderMaxLagMs: sent.maxLagMs,
    attemptsFailed: view.attemptsFailed,
    meanBodyBytes: report.meanBodyBytes,
    // A missing p99 (nothing delivered) is saturation too.
    saturated: !(p99Ms <= settings.maxP99Ms) || deliveredFraction < settings.minDeliveredFraction,
  };
}

/**
 * After the last step: waits until every accepted event of the run arrived (or the drain timed
 * out), then counts what never did and what came twice, warm-up included.
 */
async function drain(target: WebhookTarget, receiver: Receiver, record: readonly StepRecord[], timeoutMs: number) {
  const started = monoMs();
  const accepted = record.reduce((sum, step) => sum + step.owed.reduce((a, b) => a + b, 0), 0);
  const ids = record.map((step) => step.id);
  await Promise.race([target.drain(), sleep(timeoutMs)]);
  while (monoMs() - started < timeoutMs && (await receiver.rpc.call<ReceiverCount>({ op: 'count', steps: ids })).received < accepted) await sleep(100);
  const drainMs = monoMs() - started;
  let lost = 0;
  let duplicates = 0;
  let delivered = 0;
  for (const step of record) {
    const report = await receiver.rpc.call<ReceiverReport>({ op: 'report', step: step.id });
    lost += missing(step.owed, report);
    duplicates += report.duplicates;
    delivered += report.received;
  }
  return { accepted, delivered, lost, duplicates, drainMs };
}

/** One target at one concurrency, one run: start it, step the rate until saturation, drain, stop it. */
async function runTarget(name: WebhookTargetName, concurrency: number, redis: BenchRedis, receiver: Receiver, options: BenchOptions, run: number): Promise<RunResult> {
  const settings = options.webhooks;
  const label = `webhooks c${concurrency} ${name} run ${run}/${options.runs}`;
  const targetSettings = { users: settings.users, conversations: settings.conversations, textBytes: settings.textBytes, maxInFlight: settings.maxInFlight };
  let target: WebhookTarget;
  if (name === 'parley') {
    await redis.flush();
    progress(`${label}: starting a node, ${settings.users} users, ${settings.conversations} direct conversations and a webhook (WEBHOOK_CONCURRENCY=${concurrency})`);
    const parley = await startParleyWebhookTarget(redis, receiver.url, concurrency, targetSettings, options.logLevel);
    progress(`${label}: set up in ${parley.setupMs} ms`);
    target = parley;
  } else {
    target = startBareWebhookTarget(receiver.url, concurrency, targetSettings);
  }
  const record: StepRecord[] = [];
  const steps: StepResult[] = [];
  try {
    // Warm-up at the first rate, discarded: JIT, the webhook's lease, Redis scripts.
    const warm = await runStep(target, receiver, settings, settings.rates[0]!, settings.warmupMs, `${label} warm-up`, record);
    progress(`${label}: warm-up at ${settings.rates[0]} msgs/s for ${settings.warmupMs} ms (discarded): p99 ${warm.p99Ms.toFixed(1)} ms`);
    for (const rate of settings.rates) {
      const step = await runStep(target, receiver, settings, rate, settings.stepMs, `${label} @ ${rate} msgs/s`, record);
      steps.push(step);
      progress(
        `${label} @ ${rate} msgs/s: ${Math.round(step.deliveredPerSec)} deliveries/s, p50 ${step.p50Ms.toFixed(1)} ms, p99 ${step.p99Ms.toFixed(1)} ms, ` +
          `${step.deliveredPct.toFixed(2)}% within ${settings.deliveryWindowMs} ms, ${step.serverCpuUsPerDelivery.toFixed(0)} µs CPU/delivery ` +
          `(other processes ${step.otherCpuCores.toFixed(2)} cores)${step.saturated ? ' — SATURATED' : ''}`,
      );
      result({ workload: 'webhooks', kind: 'step', target: name, concurrency, run, ...step });
      if (step.saturated) break;
    }
    const drained = await drain(target, receiver, record, settings.drainTimeoutMs);
    const limit = sustained(steps);
    progress(
      `${label}: ${drained.delivered}/${drained.accepted} delivered after a ${Math.round(drained.drainMs)} ms drain, ${drained.lost} lost, ` +
        `${drained.duplicates} duplicates; sustained ${limit.maxSustainedRate} msgs/s, at most ${Math.round(limit.peakDeliveredPerSec)} deliveries/s`,
    );
    result({ workload: 'webhooks', kind: 'run', target: name, concurrency, run, ...drained, ...limit });
    return { steps, ...drained };
  } finally {
    await receiver.rpc.call({ op: 'forget', steps: record.map((step) => step.id) }).catch(() => undefined);
    await target.stop();
  }
}

/**
 * The highest rate before the first saturated step (0 if the first already saturated), and the
 * most deliveries per second of any step: at the saturated step, what the target sustains at most.
 */
function sustained(steps: readonly StepResult[]): { maxSustainedRate: number; saturatedAt: number | null; peakDeliveredPerSec: number } {
  const peakDeliveredPerSec = Math.max(0, ...steps.map((step) => step.deliveredPerSec));
  let best = 0;
  for (const step of steps) {
    if (step.saturated) return { maxSustainedRate: best, saturatedAt: step.rate, peakDeliveredPerSec };
    best = step.rate;
  }
  return { maxSustainedRate: best, saturatedAt: null, peakDeliveredPerSec };
}

type Runs = Record<WebhookTargetName, RunResult>[];

/** Per rate: each target's median and min–max and Parley over the baseline, run by run; then the limits. */
function summarize(concurrency: number, runs: Runs, settings: WebhooksSettings): void {
  const stepOf = (run: Runs[number], name: WebhookTargetName, rate: number) => run[name].steps.find((step) => step.rate === rate);
  for (const rate of settings.rates) {
    const reached = (name: WebhookTargetName) => runs.flatMap((run) => stepOf(run, name, rate) ?? []);
    if (TARGETS.every((name) => reached(name).length === 0)) continue;
    const side = (name: WebhookTargetName) => {
      const steps = reached(name);
      const of = (pick: (step: StepResult) => number | null) => spread(steps.map((step) => pick(step) ?? Number.NaN));
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
    // Only runs in which both reached this rate.
    const ratio = (pick: (step: StepResult) => number) =>
      spread(
        runs.flatMap((run) => {
          const mine = stepOf(run, 'parley', rate);
          const theirs = stepOf(run, 'bare-http', rate);
          return mine && theirs ? [pick(mine) / pick(theirs)] : [];
        }),
      );
    result({
      workload: 'webhooks', kind: 'step-summary', concurrency, rate,
      parley: side('parley'),
      'bare-http': side('bare-http'),
      ratio: {
        'parley/bare-http': {
          deliveredPerSec: ratio((s) => s.deliveredPerSec),
          p50Ms: ratio((s) => s.p50Ms),
          p99Ms: ratio((s) => s.p99Ms),
          serverCpuUsPerDelivery: ratio((s) => s.serverCpuUsPerDelivery),
        },
      },
    });
  }
  const limits = (name: WebhookTargetName) => {
    const saturation = runs.map((run) => sustained(run[name].steps));
    return {
      maxSustainedRate: spread(saturation.map((s) => s.maxSustainedRate)),
      saturatedAt: saturation.map((s) => s.saturatedAt),
      peakDeliveredPerSec: spread(saturation.map((s) => s.peakDeliveredPerSec)),
      lost: runs.map((run) => run[name].lost),
      duplicates: runs.map((run) => run[name].duplicates),
    };
  };
  result({
    workload: 'webhooks', kind: 'summary', concurrency, runs: runs.length, rates: settings.rates, stepMs: settings.stepMs,
    parley: limits('parley'),
    'bare-http': limits('bare-http'),
    // A target that never saturated makes the ratio a bound only (its limit lies beyond the last step).
    ratio: {
      'parley/bare-http': {
        maxSustainedRate: spread(runs.map((run) => sustained(run.parley.steps).maxSustainedRate / sustained(run['bare-http'].steps).maxSustainedRate)),
        peakDeliveredPerSec: spread(runs.map((run) => sustained(run.parley.steps).peakDeliveredPerSec / sustained(run['bare-http'].steps).peakDeliveredPerSec)),
      },
    },
  });
}

export async function runWebhooksWorkload(options: BenchOptions): Promise<void> {
  const redis = await startRedis();
  const receiver = await startReceiver();
  try {
    for (const concurrency of options.webhooks.concurrencies) {
      const runs: Runs = [];
      for (let run = 1; run <= options.runs; run += 1) {
        const order: WebhookTargetName[] = run % 2 === 1 ? ['parley', 'bare-http'] : ['bare-http', 'parley'];
        const measured = {} as Runs[number];
        for (const name of order) measured[name] = await runTarget(name, concurrency, redis, receiver, options, run);
        runs.push(measured);
      }
      summarize(concurrency, runs, options.webhooks);
    }
  } finally {
    await receiver.rpc.managed.stop();
    await redis.stop();
  }
}
