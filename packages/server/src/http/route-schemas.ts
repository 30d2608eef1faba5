import { Problem } from '@parley/protocol';
import { ERROR_CODES } from '@parley/protocol';

/** Documents the problem responses a route may give; the same Problem schema for each status. */
export function problems(...statuses: number[]): Record<number, typeof Problem> {
  const known = new Set<number>(Object.values(ERROR_CODES).map((code) => code.status));
  return Object.fromEntries(statuses.filter((status) => known.has(status)).map((status) => [status, Problem]));
}

/** Every authenticated route: bad or missing token (401), storage down (503). */
export const AUTHENTICATED = { security: [{ bearerAuth: [] }] } as const;
