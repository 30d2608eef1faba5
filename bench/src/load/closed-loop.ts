/**
 * A small closed-loop HTTP load generator: `connections` lanes, each with its own keep-alive
 * socket, send a request, wait for the whole answer, and send the next — like 64 busy clients.
 * Bounded by time and by count, whichever comes first. Node's own `http.Agent`, so the harness
 * adds no dependency and measures the same client stack in the Parley run and in its baseline.
 */
import { Agent } from 'node:http';
import { monoMs } from '../clock.js';
import { progress } from '../report.js';
import { Samples, sortedUnion } from '../stats.js';
import { loopbackEndpoint, sendRequest, type RequestSpec } from './http-send.js';

export interface ClosedLoopOptions {
  baseUrl: string;
  connections: number;
  durationMs: number;
  /** A hard cap on requests, so a runaway fast target still stops by itself. */
  maxRequests: number;
  /** Builds the i-th request (0-based, in issue order). */
  request(index: number): RequestSpec;
  /** The status counted as accepted (e.g. 201). */
  acceptedStatus: number;
  /** Prefix of progress lines; none when null. */
  label: string | null;
  progressEveryMs?: number;
}

export interface ClosedLoopResult {
  accepted: number;
  failed: number;
  /** Count of each status (and of transport errors, as "error"). */
  statuses: Record<string, number>;
  /** Latencies (ms) of accepted requests, sorted. */
  latencies: Float64Array;
  elapsedMs: number;
}

export async function runClosedLoop(options: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const endpoint = loopbackEndpoint(options.baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections, maxFreeSockets: options.connections });
  const statuses: Record<string, number> = {};
  const laneSamples: Samples[] = [];
  let issued = 0;
  let accepted = 0;
  let failed = 0;
  const started = monoMs();
  const deadline = started + options.durationMs;

  let lastCount = 0;
  let lastAt = started;
  const ticker =
    options.label === null
      ? null
      : setInterval(() => {
          const now = monoMs();
          const rate = ((accepted - lastCount) * 1000) / (now - lastAt);
          progress(`${options.label}: ${((now - started) / 1000).toFixed(1)} s, ${accepted} accepted, ${Math.round(rate)}/s, ${failed} failed`);
          lastCount = accepted;
          lastAt = now;
        }, options.progressEveryMs ?? 2000);

  const lane = async () => {
    const samples = new Samples(4096);
    laneSamples.push(samples);
    while (issued < options.maxRequests && monoMs() < deadline) {
      const spec = options.request(issued++);
      const begin = monoMs();
      let key: string;
      try {
        const status = await sendRequest(agent, endpoint, spec);
        key = String(status);
        if (status === options.acceptedStatus) {
          samples.push(monoMs() - begin);
          accepted += 1;
        } else {
          failed += 1;
        }
      } catch {
        key = 'error';
        failed += 1;
      }
      statuses[key] = (statuses[key] ?? 0) + 1;
    }
  };
  try {
    await Promise.all(Array.from({ length: options.connections }, lane));
  } finally {
    if (ticker) clearInterval(ticker);
    agent.destroy();
  }
  return {
    accepted,
    failed,
    statuses,
    latencies: sortedUnion(laneSamples.map((s) => s.toArray())),
    elapsedMs: monoMs() - started,
  };
}
