/**
 * Exponential backoff with full jitter: attempt n waits a uniform random time in
 * [0, min(capMs, baseMs * 2^n)). Spreading reconnects over the whole window keeps a fleet of
 * clients from reconnecting in lockstep after a server restart.
 */
export interface BackoffOptions {
  /** The first window (ms). Default 500. */
  baseMs?: number;
  /** The largest window (ms). Default 30 000. */
  capMs?: number;
  /** Uniform in [0, 1); default Math.random. */
  random?: () => number;
}

export interface Backoff {
  /** The delay before the next attempt; each call widens the window, up to the cap. */
  next(): number;
  /** Back to the first window (after a connection that proved stable). */
  reset(): void;
  /** Attempts since the last reset. */
  readonly attempts: number;
}

export function createBackoff(options: BackoffOptions = {}): Backoff {
  const baseMs = options.baseMs ?? 500;
  const capMs = options.capMs ?? 30_000;
  const random = options.random ?? Math.random;
  let attempts = 0;
  return {
    next() {
      // 2^attempts overflows to Infinity long after the cap is reached; min keeps it finite.
      const window = Math.min(capMs, baseMs * 2 ** Math.min(attempts, 52));
      attempts += 1;
      return Math.floor(random() * window);
    },
    reset() {
      attempts = 0;
    },
    get attempts() {
      return attempts;
    },
  };
}
