import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { IncomingMessage } from 'node:http';

/** A client-sent id is echoed only when it is short and printable, so logs cannot be forged with it. */
const ACCEPTABLE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Uses the client's X-Request-Id when acceptable, a new UUID otherwise. */
export function createRequestIdGenerator(): (request: IncomingMessage) => string {
  return (request) => {
    const sent = request.headers['x-request-id'];
    return typeof sent === 'string' && ACCEPTABLE_ID.test(sent) ? sent : randomUUID();
  };
}

/** Every response, errors and 404s included, carries the request's id. */
export function echoRequestId(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
}
