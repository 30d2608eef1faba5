/**
 * Errors an engine throws. Expected outcomes (absent, duplicate, not a member...) are results,
 * not errors; an EngineError means the caller broke a documented limit or the storage failed.
 * Both implementations throw the same codes, so services map them once.
 */
export type EngineErrorCode =
  /** An argument is outside the range the interface documents (e.g. a limit of 0). */
  | 'invalid_argument'
  /** A cursor was not produced by this engine, or is corrupt. */
  | 'invalid_cursor'
  /** The storage did not answer or answered with something unexpected. */
  | 'storage_unavailable';

export class EngineError extends Error {
  constructor(
    readonly code: EngineErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'EngineError';
  }
}
