import type { FastifyInstance } from 'fastify';
import { Problem } from '@parley/protocol';
import { ERROR_CODES } from '@parley/protocol';

/** Documents the problem responses a route may give; the same Problem schema for each status. */
export function problems(...statuses: number[]): Record<number, typeof Problem> {
  const known = new Set<number>(Object.values(ERROR_CODES).map((code) => code.status));
  return Object.fromEntries(statuses.filter((status) => known.has(status)).map((status) => [status, Problem]));
}

/** Every authenticated route: bad or missing token (401), storage down (503). */
export const AUTHENTICATED = { security: [{ bearerAuth: [] }] } as const;

/** Methods whose requests Fastify reads a body for, whether or not the route takes one. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Documents on every route the refusals given before any handler runs: 431 headers_too_large
 * for a URL and headers past Node's header limit (any route: a long query does it), and on routes
 * of a body method 413 payload_too_large beyond the body limit and 415 unsupported_media_type for
 * a body that is not UTF-8 JSON — also where the route takes no body, since a client may still
 * send one. Register before the OpenAPI plugin so the document sees them.
 */
export function documentFrameworkRefusals(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const response = route.schema?.response as Record<string, unknown> | undefined;
    if (!response) return;
    const statuses = methods.some((method) => BODY_METHODS.has(method)) ? [413, 415, 431] : [431];
    for (const [status, schema] of Object.entries(problems(...statuses))) response[status] ??= schema;
  });
}
