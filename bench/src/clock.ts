/**
 * One monotonic clock for the whole harness. `process.hrtime` reads CLOCK_MONOTONIC, which is
 * shared by every thread of the process, so a send time stamped on the main thread and an arrival
 * time stamped in a receiver worker are directly comparable (`performance.now()` is not: each
 * worker thread has its own time origin).
 */
export function monoMs(): number {
  const [seconds, nanoseconds] = process.hrtime();
  return seconds * 1000 + nanoseconds / 1e6;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
