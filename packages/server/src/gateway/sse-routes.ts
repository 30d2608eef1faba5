/**
 * `GET /v1/events`: the realtime stream as Server-Sent Events, for clients that cannot hold a
 * WebSocket. Durable events carry their cursor as the SSE id, so a browser's EventSource
 * resumes by itself (Last-Event-ID); `?cursor=` works too. The token may come as
 * `access_token` because EventSource cannot set headers.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Authenticator } from '../auth/authenticator.js';
import { quotasOf, rateLimitHeadersOf } from '../http/rate-limit-headers.js';
import { problems } from '../http/route-schemas.js';
import { requireAllowedOrigin } from './origins.js';
import type { RateLimiter } from '../services/rate-limiter.js';
import { admitRealtimeConnection } from './realtime-admission.js';
import type { RealtimeGateway } from './realtime-gateway.js';
import type { Transport } from './transport.js';

export interface SseOptions {
  authenticator: Authenticator;
  /** Counts REALTIME_CONNECT per user before the stream starts. */
  rateLimiter: RateLimiter;
  /** Comment lines that keep proxies from closing an idle stream. */
  keepAliveMs: number;
  /** Browser origins allowed to connect (see origins.ts); null: any. */
  allowedOrigins: readonly string[] | null;
}

export const sseRoutes =
  (gateway: RealtimeGateway, { authenticator, rateLimiter, keepAliveMs, allowedOrigins }: SseOptions): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get(
      '/events',
      {
        schema: {
          tags: ['Realtime'],
          summary: 'The realtime event stream as Server-Sent Events (text/event-stream)',
          security: [{ bearerAuth: [] }],
          querystring: Type.Object({
            cursor: Type.Optional(Type.String({ maxLength: 65_536 })),
            access_token: Type.Optional(Type.String({ maxLength: 8192 })),
          }),
          response: {
            // Hijacked: Fastify never serialises it; documented so clients know what a success is.
            200: {
              description: 'The stream: `id:` lines carry the cursor; `event:` names the event; `data:` is its JSON.',
              content: { 'text/event-stream': { schema: Type.String() } },
            },
            ...problems(400, 401, 403, 429),
          },
        },
      },
      async (request, reply) => {
        requireAllowedOrigin(allowedOrigins, request.headers.origin);
        const principal = await admitRealtimeConnection(
          authenticator,
          rateLimiter,
          request.headers.authorization ?? request.query.access_token,
          quotasOf(request),
        );
        const lastEventId = request.headers['last-event-id'];
        const cursor = (typeof lastEventId === 'string' && lastEventId !== '' ? lastEventId : request.query.cursor) ?? null;

        reply.hijack();
        const raw = reply.raw;
        // Hijacked replies skip Fastify's header handling: carry over what the hooks set (security
        // headers, CORS for a browser's EventSource).
        for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) raw.setHeader(name, value);
        raw.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-store',
          connection: 'keep-alive',
          'x-accel-buffering': 'no',
          'x-request-id': request.id,
          ...rateLimitHeadersOf(request),
        });
        raw.write(': parley\n\n');
        let ended = false;
        const transport: Transport = {
          kind: 'sse',
          sendEvent: (frame, eventCursor) => raw.write(`id: ${eventCursor}\ndata: ${frame}\n\n`),
          sendControl: (frame) => raw.write(`data: ${frame}\n\n`),
          bufferedBytes: () => raw.writableLength,
          close(code, reason) {
            if (ended) return;
            ended = true;
            raw.end(`event: close\ndata: ${JSON.stringify({ code, reason })}\n\n`);
          },
        };
        // Not after the end: a write after end is an 'error' event on the response.
        const keepAlive = setInterval(() => ended || raw.write(': keep-alive\n\n'), keepAliveMs);
        keepAlive.unref();
        const connection = await gateway.open(principal, transport, cursor);
        const finish = () => {
          ended = true;
          clearInterval(keepAlive);
          if (connection) gateway.closed(connection).catch((error: unknown) => request.log.error({ err: error }, 'realtime close failed'));
        };
        if (raw.destroyed || raw.writableEnded) finish();
        else raw.on('close', finish);
      },
    );
  };
