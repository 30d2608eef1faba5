/**
 * The single sender of the fan-out workload, open loop: message i is due at i/rate seconds after
 * the start, whether or not earlier sends have been answered (a closed loop would slow down with
 * the server and hide its saturation). In-flight sends are capped, and the loop stops by itself
 * after `hardStopMs` even if it fell behind; any message not sent counts as not delivered.
 */
import { monoMs, sleep } from '../clock.js';
import { progress } from '../report.js';
import { Samples, sortedUnion } from '../stats.js';

export interface PacedOptions {
  rate: number;
  total: number;
  /** Shared with the receivers: each send time is written here before the send starts. */
  starts: Float64Array;
  maxInFlight: number;
  hardStopMs: number;
  /** Sends message `index`; resolves true when the server accepted it. */
  send(index: number): Promise<boolean>;
  label: string;
}

export interface PacedResult {
  /** Sends started. */
  sent: number;
  accepted: number;
  failed: number;
  /** Seconds from the first to the last send start. */
  sendSeconds: number;
  /** How far the latest send started after its due time (ms): the sender's own lag. */
  maxLagMs: number;
  /** Time from send start to the server's answer (ms), sorted. */
  sendLatencies: Float64Array;
  /** monoMs of the last send start. */
  lastStartAt: number;
}

export async function runPaced(options: PacedOptions): Promise<PacedResult> {
  const intervalMs = 1000 / options.rate;
  const sendLatencies = new Samples(options.total);
  const inFlight = new Set<Promise<void>>();
  let sent = 0;
  let accepted = 0;
  let failed = 0;
  let maxLagMs = 0;
  let lastStartAt = 0;
  const started = monoMs();
  let nextProgress = started + 2000;

  const fire = (index: number) => {
    const begin = monoMs();
    options.starts[index] = begin;
    lastStartAt = begin;
    maxLagMs = Math.max(maxLagMs, begin - (started + index * intervalMs));
    sent += 1;
    const pending = options
      .send(index)
      .then(
        (ok) => {
          if (ok) {
            accepted += 1;
            sendLatencies.push(monoMs() - begin);
          } else {
            failed += 1;
          }
        },
        () => {
          failed += 1;
        },
      )
      .finally(() => inFlight.delete(pending));
    inFlight.add(pending);
  };

  while (sent < options.total) {
    const now = monoMs();
    if (now - started > options.hardStopMs) break;
    const due = Math.min(options.total, Math.floor((now - started) / intervalMs) + 1);
    while (sent < due && inFlight.size < options.maxInFlight) fire(sent);
    if (now >= nextProgress) {
      progress(`${options.label}: ${sent}/${options.total} sent, ${inFlight.size} in flight, lag ${maxLagMs.toFixed(1)} ms`);
      nextProgress += 2000;
    }
    // Sleep until the next message is due (timers have ~1 ms granularity: a late wake sends a
    // small burst, and the lag is reported).
    const wait = started + sent * intervalMs - monoMs();
    if (inFlight.size >= options.maxInFlight) await Promise.race(inFlight);
    else if (wait > 0) await sleep(wait);
  }
  await Promise.all(inFlight);
  return {
    sent,
    accepted,
    failed,
    sendSeconds: sent > 1 ? (lastStartAt - started) / 1000 : 0,
    maxLagMs,
    sendLatencies: sortedUnion([sendLatencies.toArray()]),
    lastStartAt,
  };
}
