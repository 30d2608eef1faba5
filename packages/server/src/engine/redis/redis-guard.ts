/**
 * What every Redis store does at its boundary: refuse arguments outside the documented ranges
 * before touching Redis, turn any failure of Redis itself into EngineError('storage_unavailable')
 * so callers see one error type from either engine, and give up on an operation that has not
 * finished within the command timeout.
 */
import { EngineError } from '../errors.js';
import { COMMAND_TIMEOUT_MS } from './redis-connection.js';

/**
 * Runs one store operation, mapping every non-EngineError failure to storage_unavailable, and
 * failing it with storage_unavailable once it has run for COMMAND_TIMEOUT_MS.
 *
 * Why a deadline here when every command has its own timeout: with auto-pipelining, ioredis runs
 * one pipeline at a time per connection, and commands issued while one waits (Redis down or
 * stalled) are held in the next pipeline without their timer started; they time out only 3 s
 * after that pipeline is finally sent, up to twice the timeout after the call (measured: 4.5 s
 * for a send while Redis was dead). The operation's own commands may still run after it gave up,
 * as with any timeout.
 */
export async function guard<T>(operation: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${COMMAND_TIMEOUT_MS} ms`)), COMMAND_TIMEOUT_MS);
  });
  try {
    return await Promise.race([operation(), deadline]);
  } catch (error) {
    if (error instanceof EngineError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new EngineError('storage_unavailable', `Redis failed: ${reason}`, { cause: error });
  } finally {
    clearTimeout(timer);
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
