/**
 * Workload `mix` (bench/README.md): 10,000 users online over WebSocket on 2 Parley nodes sharing
 * one Redis (user i on node i mod 2), 5,000 direct conversations (u2k, u2k+1) and 100 groups of 50
 * (users 0…4999). The harness sends over REST, open loop at each step's rate, the users taking
 * turns (at 1,000 msgs/s each sends every 10 s), each user's messages going to its direct
 * conversation and its group alternately; before ~10% of sends the sender's socket sends a
 * `typing` frame, and ~10% of messages get a read receipt (REST) from one recipient once it
 * received them. Measured per step: deliveries/s, end-to-end latency per delivery (send start →
 * frame received by a member, the sender's own socket included) p50/p99, server and Redis CPU
 * seconds per 1,000 messages; the rate steps up from 1,000 msgs/s until the first saturated step
 * (p99 > 100 ms or < 99% delivered within 2 s). No baseline.
 */
import { Agent } from 'node:http';
import { monoMs, sleep } from '../clock.js';
import { runPaced, type PacedResult } from '../fanout/paced-sender.js';
import { loopbackEndpoint, sendRequest } from '../load/http-send.js';
import { MixClients } from '../mix/clients.js';
import { startParleyMixTarget, type MixConversation, type MixTarget } from '../mix/parley-mix-target.js';
import { mixText, type MixCounters } from '../mix/protocol.js';
import type { BenchOptions, MixSettings } from '../options.js';
import { startCpuMeter } from '../proc-cpu.js';
import { startRedis, type BenchRedis } from '../redis-server.js';
import { progress, result } from '../report.js';
import { percentile, sortedUnion, spread } from '../stats.js';

interface StepResult extends MixCounters {
  rate: number;
  scheduled: number;
  sent: number;
  accepted: number;
  /** Member frames the accepted messages call for (2 per direct message, 50 per group message). */
  expectedDeliveries: number;
  /** Frames received by members per second, over the step (sending plus delivery tail). */
  deliveredPerSec: number;
  /** Percentage of the scheduled messages' deliveries received within the delivery window. */
  deliveredPct: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** CPU seconds of both server processes (and of Redis) per 1,000 accepted messages. */
  serverCpuSecPer1000Msgs: number;
  redisCpuSecPer1000Msgs: number;
  serverCpuUsPerDelivery: number;
  /** The harness's own CPU (sender, clients) per 1,000 messages: it shares the 2 cores with the servers. */
  harnessCpuSecPer1000Msgs: number;
  otherCpuCores: number;
  sendP50Ms: number;
  sendP99Ms: number;
  senderMaxLagMs: number;
  groupMessages: number;
  closes: Record<string, number>;
  saturated: boolean;
}

/** Step ids are unique across the whole process, so a late frame is never counted in another step. */
let nextStepId = 1;

/** A prime: turn t is user (t × STRIDE) mod N, so any few consecutive sends come from users all over the range. */
const STRIDE = 7919;
const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
/**
 * Which messages get a typing frame or a read receipt: the fractional part of index × the golden
 * ratio is spread evenly over [0, 1) for any run of indexes and unrelated to the users' turns (a
 * plain `index % 10` would pick users of one parity, hence only direct or only group messages).
 */
const golden = (index: number) => (index * 0.6180339887498949) % 1;

/**
 * The sending side of a run: the users take turns, in an order that spreads consecutive sends over
 * the whole range (grouped users 0…4999 and the others alike: a step of a few seconds is not all
 * direct messages), each to its direct conversation and its group alternately.
 */
class MixSender {
  private turn = 0;
  private readonly stride: number;
  private readonly sentBy: Uint32Array;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 128 });

  constructor(
    private readonly target: MixTarget,
    private readonly clients: MixClients,
    private readonly settings: MixSettings,
  ) {
    this.sentBy = new Uint32Array(target.users.length);
    this.stride = gcd(STRIDE, target.users.length) === 1 ? STRIDE : 1;
  }

  /**
   * Runs one step at `rate` for `durationMs`; `readers[i]` (shared with the clients) gets the
   * recipient who posts a read receipt for message i. Returns the paced result and the deliveries due.
   */
  async step(stepId: number, rate: number, durationMs: number, starts: Float64Array, readers: Int32Array): Promise<{ paced: PacedResult; expected: number; groupMessages: number }> {
    const { settings, target } = this;
    let expected = 0;
    let groupMessages = 0;
    const total = starts.length;
    const paced = await runPaced({
      rate,
      total,
      starts,
      maxInFlight: settings.maxInFlight,
      hardStopMs: durationMs + 2000,
      label: `mix ${rate} msgs/s`,
      send: async (index) => {
        const user = (this.turn * this.stride) % target.users.length;
        this.turn = (this.turn + 1) % target.users.length;
        const group = target.group[user] ?? null;
        // Alternate per user, starting with the group for odd users: every pass over the users then
        // sends half of the grouped users' messages to their groups (not a pass of direct messages
        // followed by a pass of group messages).
        const conversation: MixConversation = group !== null && (this.sentBy[user]! + user) % 2 === 1 ? group : target.direct[user]!;
        this.sentBy[user] = this.sentBy[user]! + 1;
        if (conversation === group) groupMessages += 1;
        if (golden(index) < settings.typingFraction) this.clients.typing(user, conversation.id);
        if (golden(index) >= 0.5 && golden(index) < 0.5 + settings.readFraction) {
          const position = conversation.members.indexOf(user);
          readers[index] = conversation.members[(position + 1) % conversation.members.length]!;
        }
        const status = await sendRequest(this.agent, loopbackEndpoint(target.urlOf(user)), {
          method: 'POST',
          path: `/v1/conversations/${encodeURIComponent(conversation.id)}/messages`,
          headers: { authorization: `Bearer ${target.users[user]!.token}`, 'content-type': 'application/json' },
          body: Buffer.from(JSON.stringify({ text: mixText(stepId, index, settings.textBytes) })),
        });
        if (status !== 201) return false;
        expected += conversation.members.length;
        return true;
      },
    });
    return { paced, expected, groupMessages };
  }

  close(): void {
    this.agent.destroy();
  }
}

async function runStep(rate: number, durationMs: number, measured: boolean, sender: MixSender, clients: MixClients, pids: { servers: number[]; redis: number }, settings: MixSettings): Promise<StepResult> {
  const stepId = nextStepId++;
  const total = Math.max(1, Math.round((rate * durationMs) / 1000));
  const startsBuffer = new SharedArrayBuffer(total * Float64Array.BYTES_PER_ELEMENT);
  const readersBuffer = new SharedArrayBuffer(total * Int32Array.BYTES_PER_ELEMENT);
  const starts = new Float64Array(startsBuffer).fill(Number.NaN);
  const readers = new Int32Array(readersBuffer).fill(-1);
  await clients.begin(stepId, total, startsBuffer, readersBuffer, settings.deliveryWindowMs);
  const readCpu = startCpuMeter({ servers: pids.servers, redis: [pids.redis] });
  const started = monoMs();
  const { paced, expected, groupMessages } = await sender.step(stepId, rate, durationMs, starts, readers);
  // Deliveries may arrive up to the window after the last send started.
  await sleep(Math.max(0, paced.lastStartAt + settings.deliveryWindowMs + 100 - monoMs()));
  const seconds = (monoMs() - started) / 1000;
  const cpu = readCpu();
  const deliveries = await clients.end();
  const latencies = sortedUnion(deliveries.latencies);
  // Messages scheduled but never sent or refused count as undelivered at the average fan-out of the accepted ones.
  const perMessage = paced.accepted > 0 ? expected / paced.accepted : 2;
  const due = expected + (total - paced.accepted) * perMessage;
  const thousands = paced.accepted / 1000;
  const step: StepResult = {
    rate,
    scheduled: total,
    sent: paced.sent,
    accepted: paced.accepted,
    expectedDeliveries: expected,
    deliveredPerSec: deliveries.received / seconds,
    deliveredPct: due > 0 ? (100 * deliveries.withinWindow) / due : 0,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.length > 0 ? latencies[latencies.length - 1]! : Number.NaN,
    serverCpuSecPer1000Msgs: thousands > 0 ? cpu.groups.servers! / 1e6 / thousands : Number.NaN,
    redisCpuSecPer1000Msgs: thousands > 0 ? cpu.groups.redis! / 1e6 / thousands : Number.NaN,
    serverCpuUsPerDelivery: deliveries.received > 0 ? cpu.groups.servers! / deliveries.received : Number.NaN,
    harnessCpuSecPer1000Msgs: thousands > 0 ? cpu.harnessUs / 1e6 / thousands : Number.NaN,
    otherCpuCores: cpu.otherCores,
    sendP50Ms: percentile(paced.sendLatencies, 50),
    sendP99Ms: percentile(paced.sendLatencies, 99),
    senderMaxLagMs: paced.maxLagMs,
    groupMessages,
    typingSent: deliveries.typingSent,
    typingReceived: deliveries.typingReceived,
    readsPosted: deliveries.readsPosted,
    readsFailed: deliveries.readsFailed,
    readsSkipped: deliveries.readsSkipped,
    closes: deliveries.closes,
    saturated: false,
  };
  step.saturated = !(step.p99Ms <= settings.maxP99Ms) || step.deliveredPct < 100 * settings.minDeliveredFraction;
  if (measured) {
    progress(
      `mix ${rate} msgs/s: ${Math.round(step.deliveredPerSec)} deliveries/s, p50 ${step.p50Ms.toFixed(1)} ms, p99 ${step.p99Ms.toFixed(1)} ms, ` +
        `${step.deliveredPct.toFixed(2)}% within ${settings.deliveryWindowMs} ms, server CPU ${step.serverCpuSecPer1000Msgs.toFixed(3)} s/1000 msgs ` +
        `(other processes ${step.otherCpuCores.toFixed(2)} cores)${step.saturated ? ' — SATURATED' : ''}`,
    );
  }
  return step;
}

async function runOnce(redis: BenchRedis, options: BenchOptions, run: number): Promise<StepResult[]> {
  const settings = options.mix;
  const label = `mix run ${run}/${options.runs}`;
  await redis.flush();
  const setupStarted = monoMs();
  progress(`${label}: starting 2 nodes, ${settings.users} users, ${settings.users / 2} direct conversations, groups of ${settings.groupSize} for ${settings.groupedUsers}`);
  const target = await startParleyMixTarget(redis.url, settings.users, settings.groupedUsers, settings.groupSize, options.logLevel);
  const clients = new MixClients(target.clientsByNode, settings.connectConcurrency, settings.readConcurrency);
  const sender = new MixSender(target, clients, settings);
  try {
    progress(`${label}: set up in ${Math.round(monoMs() - setupStarted)} ms; connecting ${settings.users} clients`);
    const connectStarted = monoMs();
    const connected = await clients.connect(60_000);
    if (connected.failed > 0) throw new Error(`${label}: ${connected.failed} clients could not connect: ${connected.firstError}`);
    const settled = await clients.settle(settings.settleQuietMs, 60_000);
    const connectMs = monoMs() - connectStarted;
    const pids = { servers: target.serverPids, redis: redis.pid };
    // What 10,000 idle connections cost (heartbeats, presence refreshes): part of every step's CPU.
    const readIdleCpu = startCpuMeter({ servers: pids.servers, redis: [pids.redis] });
    await sleep(settings.idleMs);
    const idle = readIdleCpu();
    result({
      workload: 'mix', kind: 'connect', run, users: settings.users, connected: connected.connected, connectMs, settled,
      idleServerCpuCores: idle.groups.servers! / 1000 / settings.idleMs, idleRedisCpuCores: idle.groups.redis! / 1000 / settings.idleMs,
    });
    await runStep(settings.rates[0]!, settings.warmupMs, false, sender, clients, pids, settings);
    const steps: StepResult[] = [];
    for (const rate of settings.rates) {
      const step = await runStep(rate, settings.stepMs, true, sender, clients, pids, settings);
      steps.push(step);
      result({ workload: 'mix', kind: 'step', target: 'parley', run, users: settings.users, groupSize: settings.groupSize, ...step });
      if (step.saturated) break;
    }
    return steps;
  } finally {
    sender.close();
    await clients.close();
    await target.stop();
  }
}

/** The highest rate before the first saturated step (0 if the first one saturated). */
function maxSustainable(steps: readonly StepResult[]): number {
  let best = 0;
  for (const step of steps) {
    if (step.saturated) break;
    best = step.rate;
  }
  return best;
}

export async function runMixWorkload(options: BenchOptions): Promise<void> {
  const redis = await startRedis();
  const runs: StepResult[][] = [];
  try {
    for (let run = 1; run <= options.runs; run += 1) runs.push(await runOnce(redis, options, run));
  } finally {
    await redis.stop();
  }
  const rates = options.mix.rates.filter((rate) => runs.some((steps) => steps.some((step) => step.rate === rate)));
  const steps = rates.map((rate) => {
    const at = runs.flatMap((run) => run.filter((step) => step.rate === rate));
    const of = (pick: (step: StepResult) => number) => spread(at.map(pick));
    return {
      rate,
      runs: at.length,
      deliveredPerSec: of((s) => s.deliveredPerSec),
      deliveredPct: of((s) => s.deliveredPct),
      p50Ms: of((s) => s.p50Ms),
      p99Ms: of((s) => s.p99Ms),
      serverCpuSecPer1000Msgs: of((s) => s.serverCpuSecPer1000Msgs),
      redisCpuSecPer1000Msgs: of((s) => s.redisCpuSecPer1000Msgs),
      otherCpuCores: of((s) => s.otherCpuCores),
      saturated: at.filter((s) => s.saturated).length,
    };
  });
  result({
    workload: 'mix', kind: 'summary', users: options.mix.users, groupSize: options.mix.groupSize, runs: runs.length,
    maxSustainableRate: spread(runs.map(maxSustainable)),
    steps,
  });
}
