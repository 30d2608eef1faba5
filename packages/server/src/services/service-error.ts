import { ERROR_CODES, type ErrorCode } from '@parley/protocol';

/**
 * An expected failure of a use case, carrying the stable API error code. The HTTP layer turns it
 * into application/problem+json with the code's status; the realtime gateway into an error frame.
 */
export class ServiceError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    readonly detail: string = ERROR_CODES[code].title,
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = 'ServiceError';
    this.status = ERROR_CODES[code].status;
  }
}

/** Throws validation_failed naming the field when a domain rule reported a violation ("must …"). */
export function refuseViolation(field: string, violation: string | null): void {
  if (violation !== null) throw new ServiceError('validation_failed', `${field} ${violation}`);
}
