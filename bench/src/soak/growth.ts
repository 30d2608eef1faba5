/**
 * Growth of a resource over the soak, as the issue asks for it: a least-squares line through the
 * samples after the warm-up, its slope per hour as a percentage of the line's value at the start
 * of that window. A leak shows as a steady positive slope; garbage-collection sawtooth averages out.
 */

export interface Growth {
  /** Percent per hour of the fitted value at the window's start; NaN with fewer than 2 samples. */
  pctPerHour: number;
  /** Bytes (or units) per hour. */
  perHour: number;
  /** The fitted value at the window's start and end. */
  fittedStart: number;
  fittedEnd: number;
  samples: number;
}

/** Fits `value` over `atMs` (ms since the load started) for the samples at or after `fromMs`. */
export function linearGrowth(points: readonly { atMs: number; value: number }[], fromMs: number): Growth {
  const used = points.filter((point) => point.atMs >= fromMs && Number.isFinite(point.value));
  const n = used.length;
  if (n < 2) return { pctPerHour: Number.NaN, perHour: Number.NaN, fittedStart: Number.NaN, fittedEnd: Number.NaN, samples: n };
  const meanX = used.reduce((sum, point) => sum + point.atMs, 0) / n;
  const meanY = used.reduce((sum, point) => sum + point.value, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (const point of used) {
    sxx += (point.atMs - meanX) ** 2;
    sxy += (point.atMs - meanX) * (point.value - meanY);
  }
  const slopePerMs = sxx === 0 ? 0 : sxy / sxx;
  const at = (ms: number) => meanY + slopePerMs * (ms - meanX);
  const fittedStart = at(used[0]!.atMs);
  const perHour = slopePerMs * 3_600_000;
  return { pctPerHour: (perHour / fittedStart) * 100, perHour, fittedStart, fittedEnd: at(used[n - 1]!.atMs), samples: n };
}
