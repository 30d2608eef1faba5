/** Percentiles of one measurement and the median/min–max across runs. */

/** A growable list of numbers kept in a typed array, so a few million samples stay cheap. */
export class Samples {
  private values: Float64Array;
  private size = 0;

  constructor(initialCapacity = 1024) {
    this.values = new Float64Array(Math.max(16, initialCapacity));
  }

  get length(): number {
    return this.size;
  }

  push(value: number): void {
    if (this.size === this.values.length) {
      const bigger = new Float64Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.size++] = value;
  }

  /** A copy trimmed to the recorded samples (transferable to another thread). */
  toArray(): Float64Array {
    return this.values.slice(0, this.size);
  }
}

/** Percentile by the nearest-rank method on a sorted array; NaN when empty. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Concatenates sample arrays and sorts them (typed-array sort is numeric). */
export function sortedUnion(parts: readonly Float64Array[]): Float64Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const all = new Float64Array(total);
  let offset = 0;
  for (const part of parts) {
    all.set(part, offset);
    offset += part.length;
  }
  return all.sort();
}

export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

/** Median with min–max across runs; non-finite values (a metric a run could not measure) are left out. */
export function spread(values: readonly number[]): Spread | null {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length === 0) return null;
  const middle = Math.floor(finite.length / 2);
  const median = finite.length % 2 === 1 ? finite[middle]! : (finite[middle - 1]! + finite[middle]!) / 2;
  return { median: round(median), min: round(finite[0]!), max: round(finite[finite.length - 1]!), n: finite.length };
}

/** Three significant decimals at most: enough for ms and ratios, short in JSON. */
export function round(value: number): number {
  if (!Number.isFinite(value)) return value;
  const magnitude = Math.abs(value);
  const digits = magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : magnitude >= 1 ? 2 : 3;
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
