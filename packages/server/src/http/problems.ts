import { STATUS_CODES as HTTP_STATUS_TEXT } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CODES, type ErrorCode } from '@parley/protocol';
import { EngineError } from '../engine/errors.js';
import { ServiceError } from '../services/service-error.js';
import { BASELINE_HEADERS } from './security-headers.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

interface ProblemExtras {
  detail?: string;
  /** False for a URL that must not be echoed (it could not even be parsed). */
  instance?: boolean;
  errors?: { path: string; message: string }[];
  headers?: Record<string, string>;
}

/** Writes an RFC 9457 problem with the code's status and title; the body never carries internals. */
export function sendProblem(request: FastifyRequest, reply: FastifyReply, code: ErrorCode, extras: ProblemExtras = {}) {
  const { status, title } = ERROR_CODES[code];
  for (const [name, value] of Object.entries(extras.headers ?? {})) reply.header(name, value);
  return reply
    .code(status)
    .type(PROBLEM_CONTENT_TYPE)
    .send({
      type: `urn:parley:problem:${code}`,
      title,
      status,
      detail: extras.detail ?? title,
      code,
      ...(extras.instance === false ? {} : { instance: request.url.split('?')[0] }),
      ...(extras.errors ? { errors: extras.errors } : {}),
    });
}

/** Fastify's own client errors, by their code, mapped to ours. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'malformed_json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_json',
};

const STATUS_CODES: Record<number, ErrorCode> = {
  400: 'validation_failed',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
};

/**
 * ioredis reports an unreachable, stalled or dropped server with these; anything of the sort is a
 * 503, not a 500. Store operations already answer storage_unavailable (redis-guard.ts); this
 * catches a raw client call outside the guard: a command lost with its connection ("Connection is
 * closed."), one left without a reply ("Command timed out"), a pipeline or transaction cut short
 * (AbortError, "Command aborted due to connection close").
 */
export const isStorageOutage = (error: Error) =>
  (error instanceof EngineError && error.code === 'storage_unavailable') ||
  error.name === 'MaxRetriesPerRequestError' ||
  error.name === 'AbortError' ||
  /Connection is closed|ECONNREFUSED|Stream isn't writeable|CLUSTERDOWN|Command timed out|Command aborted/.test(error.message);

/**
 * Fastify's `frameworkErrors`: errors raised while routing, before any route (and so before the
 * error handler) is chosen. A URL that does not decode or a path parameter beyond the router's
 * limit is a problem+json like any other 400, and the URL is never echoed back.
 */
export function answerFrameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  // No hook runs for these replies: the headers every response carries are set here.
  reply.headers({ ...BASELINE_HEADERS, 'x-request-id': request.id });
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    return sendProblem(request, reply, 'bad_url', { instance: false, detail: 'A path segment is too long' });
  }
  if (error.code === 'FST_ERR_BAD_URL') {
    return sendProblem(request, reply, 'bad_url', { instance: false, detail: 'The URL is not validly percent-encoded' });
  }
  request.log.error({ err: error }, 'routing error');
  return sendProblem(request, reply, 'internal_error', { instance: false });
}

/**
 * Fastify's `clientErrorHandler`: errors Node's HTTP parser reports before a request exists
 * (headers or URL past the 16 kB limit, a request that trickled in past the timeout, bytes that
 * are not HTTP). Answered as a problem like every other refusal (Fastify's default is a bare JSON
 * body), then the socket is closed: its framing can no longer be trusted.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  // A reset connection has nobody to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const code: ErrorCode =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'request_timeout' : error.code === 'HPE_HEADER_OVERFLOW' ? 'headers_too_large' : 'malformed_request';
  const { status, title } = ERROR_CODES[code];
  const body = JSON.stringify({ type: `urn:parley:problem:${code}`, title, status, detail: title, code });
  if (socket.writable) {
    const headers = { ...BASELINE_HEADERS, 'content-type': PROBLEM_CONTENT_TYPE, 'content-length': String(Buffer.byteLength(body)), connection: 'close' };
    const head = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
    socket.write(`HTTP/1.1 ${status} ${HTTP_STATUS_TEXT[status]}\r\n${head}\r\n${body}`);
  }
  socket.destroy(error);
}

/**
 * One error handler for every route: service errors keep their code, schema violations become
 * validation_failed with one entry per field, Fastify's parser errors keep their 4xx meaning,
 * and anything unexpected is logged and answered as a bare 500 without details.
 */
export function registerProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof ServiceError) {
      return sendProblem(request, reply, error.code, { detail: error.detail, headers: error.headers });
    }
    if (error.validation) {
      const errors = error.validation.map((issue) => ({
        path: `${error.validationContext ?? 'body'}${issue.instancePath.replaceAll('/', '.')}` || 'body',
        message: issue.message ?? 'is invalid',
      }));
      const detail = errors.map((issue) => `${issue.path} ${issue.message}`).join('; ');
      return sendProblem(request, reply, 'validation_failed', { detail, errors });
    }
    const fastifyCode = error.code ? FASTIFY_CODES[error.code] : undefined;
    if (fastifyCode) return sendProblem(request, reply, fastifyCode);
    if (error instanceof SyntaxError && error.statusCode === 400) return sendProblem(request, reply, 'malformed_json');
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      return sendProblem(request, reply, STATUS_CODES[error.statusCode] ?? 'validation_failed');
    }
    if (isStorageOutage(error)) {
      request.log.error({ err: error }, 'storage unavailable');
      return sendProblem(request, reply, 'storage_unavailable', { headers: { 'retry-after': '1' } });
    }
    request.log.error({ err: error }, 'unhandled error');
    return sendProblem(request, reply, 'internal_error');
  });

  app.setNotFoundHandler((request, reply) =>
    sendProblem(request, reply, 'not_found', { detail: `No route ${request.method} ${request.url.split('?')[0]}` }),
  );
}
