import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';

/** What browsers may send: the bearer token, JSON bodies, a request id, an SSE resume position. */
const ALLOWED_HEADERS = ['Authorization', 'Content-Type', 'X-Request-Id', 'Last-Event-ID'];
/** What browser code may read beyond the CORS-safelisted headers. */
const EXPOSED_HEADERS = ['X-Request-Id', 'Retry-After', 'RateLimit', 'RateLimit-Policy', 'Location', 'Deprecation', 'Sunset'];
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
/** Browsers cache a preflight this long (seconds); they cap it themselves (Chrome: 2 h). */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/**
 * CORS for an explicit allow-list of origins (CORS_ORIGINS). An empty list registers nothing, so
 * no response carries CORS headers and browsers on other origins cannot read the API. A request
 * from an origin not on the list gets no CORS headers either, and its preflight is a plain 404.
 * Credentials (cookies) are never allowed: the API authenticates with bearer tokens.
 */
export async function registerCors(app: FastifyInstance, origins: readonly string[]): Promise<void> {
  if (origins.length === 0) return;
  const allowed = new Set(origins);
  await app.register(cors, {
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin) ? origin : false),
    methods: METHODS,
    allowedHeaders: ALLOWED_HEADERS,
    exposedHeaders: EXPOSED_HEADERS,
    credentials: false,
    maxAge: PREFLIGHT_MAX_AGE_SECONDS,
  });
}
