/**
 * What every Redis store does at its boundary: refuse arguments outside the documented ranges
 * before touching Redis, and turn any failure of Redis itself into
 * EngineError('storage_unavailable') so callers see one error type from either engine.
 */
import { EngineError } from '../errors.js';

/** Runs one store operation, mapping every non-EngineError failure to storage_unavailable. */
export async function guard<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof EngineError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new EngineError('storage_unavailable', `Redis failed: ${reason}`, { cause: error });
  }
}

export function invalid(message: string): EngineError {
  return new EngineError('invalid_argument', message);
}

export function requireLimit(limit: number, max: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > max) throw invalid(`limit must be an integer in 1..${max}`);
}

/**
 * Times are stored as JSON numbers by Lua's cjson, which keeps 14 significant digits: every
 * epoch-ms integer below 10^14 (the year 5138) survives exactly, so that is the accepted range.
 */
export function requireTime(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0 || value >= 1e14) throw invalid(`${name} must be an epoch-ms integer`);
}

export function requireCount(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0) throw invalid(`${name} must be a non-negative integer`);
}

/** Ids travel into scripts as plain strings, where '' means "none": an id is never empty. */
export function requireId(value: string, name: string): void {
  if (typeof value !== 'string' || value.length === 0) throw invalid(`${name} must be a non-empty string`);
}
