/**
 * Argument checks and cursors of the memory engine. Cursors are base64url JSON tagged with their
 * kind, so a cursor from one listing is refused by another instead of silently misreading it.
 */
import { EngineError } from '../errors.js';

/** Throws invalid_argument unless `limit` is an integer in 1..max. */
export function requireLimit(limit: number, max: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > max) {
    throw new EngineError('invalid_argument', `limit must be an integer in 1..${max}, got ${limit}`);
  }
}

/** Throws invalid_argument unless `value` is an integer >= 0. */
export function requireNonNegativeInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new EngineError('invalid_argument', `${name} must be an integer >= 0, got ${value}`);
  }
}

export function encodeCursor(kind: string, position: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify({ kind, ...position }), 'utf8').toString('base64url');
}

/**
 * Decodes a cursor made by encodeCursor with the same kind. `fields` names each expected field
 * and its type; anything else is invalid_cursor.
 */
export function decodeCursor<F extends Record<string, 'string' | 'number'>>(
  kind: string,
  cursor: string,
  fields: F,
): { [K in keyof F]: F[K] extends 'string' ? string : number } {
  const invalid = () => new EngineError('invalid_cursor', 'the cursor is not one this listing produced');
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (typeof decoded !== 'object' || decoded === null) throw invalid();
  const record = decoded as Record<string, unknown>;
  if (record.kind !== kind) throw invalid();
  for (const [name, type] of Object.entries(fields)) {
    const value = record[name];
    if (typeof value !== type || (type === 'number' && !Number.isFinite(value))) throw invalid();
  }
  return record as { [K in keyof F]: F[K] extends 'string' ? string : number };
}
