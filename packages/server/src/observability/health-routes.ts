import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Engine } from '../engine/engine.js';
import type { Metrics } from './metrics.js';

export interface HealthDeps {
  engine: Engine;
  metrics: Metrics;
  version: string;
  startedAt: number;
  /** True once shutdown began: readiness fails so load balancers stop sending traffic. */
  isDraining: () => boolean;
  readinessTimeoutMs?: number;
}

const Status = Type.Object({ status: Type.String(), reason: Type.Optional(Type.String()) });
const tags = ['Operations'];

/** Liveness, readiness, build information and Prometheus metrics; no authentication. */
export const healthRoutes =
  ({ engine, metrics, version, startedAt, isDraining, readinessTimeoutMs = 1000 }: HealthDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get('/health/live', { schema: { tags, response: { 200: Status } } }, async () => ({ status: 'ok' }));

    app.get('/health/ready', { schema: { tags, response: { 200: Status, 503: Status } } }, async (_request, reply) => {
      // Recorded on every answer, so a readiness that flaps shows as changes of parley_ready.
      if (isDraining()) {
        metrics.ready.set(0);
        return reply.code(503).send({ status: 'unavailable', reason: 'shutting down' });
      }
      try {
        await withTimeout(engine.ping(), readinessTimeoutMs);
        metrics.ready.set(1);
        return { status: 'ok' };
      } catch {
        metrics.ready.set(0);
        return reply.code(503).send({ status: 'unavailable', reason: 'storage unreachable' });
      }
    });

    app.get(
      '/info',
      {
        schema: {
          tags,
          response: {
            200: Type.Object({
              name: Type.String(),
              version: Type.String(),
              engine: Type.String(),
              apiVersions: Type.Array(Type.String()),
              startedAt: Type.String(),
              uptimeSeconds: Type.Number(),
            }),
          },
        },
      },
      async () => ({
        name: 'parley',
        version,
        engine: engine.kind,
        apiVersions: ['v1'],
        startedAt: new Date(startedAt).toISOString(),
        uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
      }),
    );

    const exposition = { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: Type.String() } } };
    app.get('/metrics', { schema: { tags, response: { 200: exposition } } }, async (_request, reply) =>
      reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
    );
  };

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
