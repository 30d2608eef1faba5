import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The web client's pages and assets may load scripts, styles, images and connections (fetch,
 * WebSocket, SSE: CSP Level 3 matches ws: and wss: of this host to 'self') from this origin only.
 * No inline scripts or style elements: the build emits files.
 */
export const WEB_APP_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Hashed build outputs never change under one name; the page that names them is revalidated each time. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';

/** True when `folder` holds a built web client (its index.html). */
export const isWebAppBuild = (folder: string | null): folder is string => folder !== null && existsSync(join(folder, 'index.html'));

/**
 * Serves the built web client from `root` at `/` (index.html) and its files beside it; the API
 * keeps /v1, /docs, /health and the rest, which the build never names. The files are listed once
 * at startup (a route each, no wildcard), so an unknown path still gets the API's 404 problem.
 * Its responses replace the API's "nothing may load" CSP and no-store caching with the page's own.
 */
export async function registerWebApp(app: FastifyInstance, root: string): Promise<void> {
  await app.register(async (web) => {
    web.addHook('onSend', async (request, reply) => {
      reply.header('content-security-policy', WEB_APP_CSP);
      reply.header('cache-control', request.url.startsWith('/assets/') ? IMMUTABLE : REVALIDATE);
    });
    await web.register(fastifyStatic, { root, prefix: '/', wildcard: false, index: ['index.html'], decorateReply: false, cacheControl: false });
  });
}
