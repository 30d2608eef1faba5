/**
 * The one error type the SDK throws for a failed call, so an application needs a single `catch`
 * and a `switch (error.code)`. The server answers every failure with an RFC 9457
 * `application/problem+json` body carrying a stable `code`; failures that never reached the server
 * (offline, DNS, connection refused) are a {@link ParleyNetworkError}, a subclass, so they can be
 * told apart (retry later) from refusals (do not retry as is).
 */

/** An RFC 9457 problem document as the server writes it, with Parley's stable `code`. */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  /** Stable machine-readable reason, e.g. `conversation_not_found`, `validation_failed`, `rate_limited`. */
  code?: string;
  [extension: string]: unknown;
}

/** Codes the SDK itself assigns (the server's codes are listed in its OpenAPI document and docs). */
export const CLIENT_ERROR_CODES = {
  /** The request never got an answer: offline, DNS failure, connection refused or reset. */
  network: 'network_error',
  /** The answer was not a problem document (a proxy's HTML error page, an empty body). */
  unexpectedResponse: 'unexpected_response',
  /** A user call was made on a client with no session: sign in (register/login) first. */
  notSignedIn: 'not_signed_in',
} as const;

/**
 * A call that failed. `status` is the HTTP status (0 when no answer arrived), `code` the problem's
 * stable code (or one of {@link CLIENT_ERROR_CODES}), `problem` the whole document as received.
 */
export class ParleyError extends Error {
  override readonly name: string = 'ParleyError';
  /** HTTP status of the answer; 0 when there was none (see {@link ParleyNetworkError}). */
  readonly status: number;
  /** Stable machine-readable reason: switch on this, never on `message`. */
  readonly code: string;
  /** Short human-readable summary of the problem type. */
  readonly title: string;
  /** Human-readable explanation of this occurrence, when the server gave one. */
  readonly detail: string | undefined;
  /** The problem document exactly as received (extension members included); `{}` when there was none. */
  readonly problem: Problem;
  /** The server's `X-Request-Id` of the failed request, for support and logs; null when unknown. */
  readonly requestId: string | null;
  /** Seconds the server asked to wait before retrying (`Retry-After` of a 429 or 503); null when absent. */
  readonly retryAfterSeconds: number | null;

  constructor(init: {
    status: number;
    code: string;
    title: string;
    detail?: string | undefined;
    problem?: Problem;
    requestId?: string | null;
    retryAfterSeconds?: number | null;
    cause?: unknown;
  }) {
    super(init.detail ? `${init.title}: ${init.detail}` : init.title, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.code = init.code;
    this.title = init.title;
    this.detail = init.detail;
    this.problem = init.problem ?? {};
    this.requestId = init.requestId ?? null;
    this.retryAfterSeconds = init.retryAfterSeconds ?? null;
  }

  /** True when no answer arrived (the request may or may not have reached the server). */
  get isNetworkError(): boolean {
    return this.status === 0;
  }

  /**
   * The error for a non-2xx `response` whose body was already read as `body` (parsed JSON, or
   * text when it was not JSON).
   */
  static fromResponse(response: Response, body: unknown): ParleyError {
    const problem: Problem = isProblem(body) ? body : {};
    const retryAfter = Number(response.headers.get('retry-after'));
    return new ParleyError({
      status: response.status,
      code: typeof problem.code === 'string' ? problem.code : CLIENT_ERROR_CODES.unexpectedResponse,
      title: typeof problem.title === 'string' ? problem.title : response.statusText || `HTTP ${response.status}`,
      detail: typeof problem.detail === 'string' ? problem.detail : undefined,
      problem,
      requestId: response.headers.get('x-request-id'),
      retryAfterSeconds: response.headers.has('retry-after') && Number.isFinite(retryAfter) ? retryAfter : null,
    });
  }
}

/**
 * No answer arrived: the network failed or the server was unreachable. Whether the server acted on
 * the request is unknown, so only idempotent requests (or sends with a `clientMessageId`) are safe
 * to repeat.
 */
export class ParleyNetworkError extends ParleyError {
  override readonly name: string = 'ParleyNetworkError';

  constructor(cause: unknown, what: string) {
    super({
      status: 0,
      code: CLIENT_ERROR_CODES.network,
      title: 'Network error',
      detail: `${what}: ${cause instanceof Error ? cause.message : String(cause)}`,
      cause,
    });
  }
}

function isProblem(body: unknown): body is Problem {
  return typeof body === 'object' && body !== null && !Array.isArray(body);
}
