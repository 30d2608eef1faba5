/**
 * The baseline of the `webhooks` workload, its own process: it makes the HTTP calls a webhook
 * dispatcher makes and nothing else — no storage, no queue in Redis, no lease, no signature. Events
 * "happen" at the step's fixed rate (open loop: event i is due i/rate s after the start); each is
 * queued in memory and POSTed to the receiver with Node's http over kept-alive connections (a
 * keep-alive agent, as Parley's webhook client has), at most `concurrency` requests at once, in
 * queue order. Its CPU per delivery is the floor of making those calls at all. The harness drives
 * it over IPC (protocol.ts); nothing here stops a step early: what was queued is sent.
 */
import { Agent, request as httpRequest } from 'node:http';
import { monoMs, sleep } from '../clock.js';
import { percentile, Samples, sortedUnion } from '../stats.js';
import { baselineBody, baselineHeaders, webhookText, type SenderRequest, type SenderStats, type SenderStepReply } from './protocol.js';
import { serveIpc } from '../ipc-process.js';

/** Parley's default attempt deadline (WEBHOOK_TIMEOUT_MS). */
const TIMEOUT_MS = 10_000;

interface Queued {
  step: number;
  index: number;
  url: URL;
  textBytes: number;
}

interface StepCounters {
  answered: number;
  failed: number;
  latencies: Samples;
}

/** Events in order; sent ones are cleared (undefined) until the queue empties and is reset. */
const queue: (Queued | undefined)[] = [];
let head = 0;
let running = 0;
let concurrency = 1;
const counters = new Map<number, StepCounters>();
let drained: (() => void)[] = [];

const agent = new Agent({ keepAlive: true, maxFreeSockets: 64 });

function post(item: Queued): Promise<boolean> {
  const body = baselineBody(item.index, webhookText(item.step, item.index, item.textBytes));
  return new Promise((resolve) => {
    const outgoing = httpRequest(
      {
        agent,
        host: item.url.hostname,
        port: Number(item.url.port),
        path: item.url.pathname,
        method: 'POST',
        headers: { ...baselineHeaders(item.index), 'content-length': Buffer.byteLength(body) },
        timeout: TIMEOUT_MS,
      },
      (response) => {
        response.resume();
        response.once('end', () => resolve((response.statusCode ?? 0) >= 200 && (response.statusCode ?? 0) < 300));
        response.once('error', () => resolve(false));
      },
    );
    outgoing.once('timeout', () => outgoing.destroy(new Error('timeout')));
    outgoing.once('error', () => resolve(false));
    outgoing.end(body);
  });
}

/** Starts queued requests while there is room. */
function pump(): void {
  while (running < concurrency && head < queue.length) {
    const item = queue[head]!;
    // Release the reference: a long step must not keep every sent item.
    queue[head] = undefined;
    head += 1;
    running += 1;
    const began = monoMs();
    const stats = counters.get(item.step)!;
    const finish = (ok: boolean) => {
      running -= 1;
      stats.answered += 1;
      if (ok) stats.latencies.push(monoMs() - began);
      else stats.failed += 1;
      pump();
      if (running === 0 && head === queue.length) {
        queue.length = 0;
        head = 0;
        for (const resolve of drained) resolve();
        drained = [];
      }
    };
    post(item).then(finish, () => finish(false));
  }
}

async function step(request: Extract<SenderRequest, { op: 'step' }>): Promise<SenderStepReply> {
  concurrency = request.concurrency;
  counters.set(request.step, { answered: 0, failed: 0, latencies: new Samples(request.total) });
  const url = new URL(request.url);
  const starts = new Array<number>(request.total);
  const intervalMs = 1000 / request.rate;
  const started = monoMs();
  let maxLagMs = 0;
  let queued = 0;
  while (queued < request.total) {
    const now = monoMs();
    const due = Math.min(request.total, Math.floor((now - started) / intervalMs) + 1);
    for (; queued < due; queued += 1) {
      const at = monoMs();
      starts[queued] = at;
      maxLagMs = Math.max(maxLagMs, at - (started + queued * intervalMs));
      queue.push({ step: request.step, index: queued, url, textBytes: request.textBytes });
    }
    pump();
    const wait = started + queued * intervalMs - monoMs();
    if (queued < request.total && wait > 0) await sleep(wait);
  }
  return { starts, maxLagMs };
}

function stats(id: number): SenderStats {
  const step = counters.get(id);
  if (step === undefined) throw new Error(`step ${id} was never run`);
  const latencies = sortedUnion([step.latencies.toArray()]);
  const finite = (value: number) => (Number.isFinite(value) ? value : null);
  return { answered: step.answered, failed: step.failed, p50Ms: finite(percentile(latencies, 50)), p99Ms: finite(percentile(latencies, 99)) };
}

function drain(): Promise<void> {
  if (running === 0 && head === queue.length) return Promise.resolve();
  return new Promise((resolve) => drained.push(resolve));
}

serveIpc<SenderRequest>(async (request) => {
  switch (request.op) {
    case 'step':
      return step(request);
    case 'stats':
      return stats(request.step);
    case 'drain':
      await drain();
      return {};
  }
});
