/**
 * Output discipline: results are JSON lines on stdout (one object per line, so runs can be piped
 * to a file and compared by tools); progress is human text on stderr, so it never mixes with them.
 */
import { round } from './stats.js';

const startedAt = Date.now();

export function progress(message: string): void {
  const elapsed = ((Date.now() - startedAt) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[bench ${elapsed}s] ${message}\n`);
}

/** Writes one result object as a JSON line, numbers rounded for readability. */
export function result(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line, (_key, value: unknown) => (typeof value === 'number' ? round(value) : value))}\n`);
}
