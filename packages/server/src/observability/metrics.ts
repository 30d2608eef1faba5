import type { FastifyInstance } from 'fastify';
import { Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  readonly registry: Registry;
  readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>;
}

/**
 * A registry per server instance (not prom-client's global one), so tests can run several servers
 * in one process and each /metrics shows its own numbers.
 */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const httpDuration = new Histogram({
    name: 'parley_http_request_duration_seconds',
    help: 'HTTP request duration by method, route template and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  return { registry, httpDuration };
}

/** Times every response. Labels use the route template, never the raw URL, so cardinality stays bounded. */
export function recordHttpMetrics(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', async (request, reply) => {
    metrics.httpDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
}

/** Realtime gauges, read when Prometheus scrapes (nothing is counted on the delivery path). */
export function recordRealtimeMetrics(metrics: Metrics, source: { connectionCount: number; followedConversations: number }): void {
  new Gauge({
    name: 'parley_realtime_connections',
    help: 'Open realtime connections (WebSocket and SSE) on this node',
    registers: [metrics.registry],
    collect() {
      this.set(source.connectionCount);
    },
  });
  new Gauge({
    name: 'parley_realtime_followed_conversations',
    help: 'Conversations this node subscribes to for its connected users',
    registers: [metrics.registry],
    collect() {
      this.set(source.followedConversations);
    },
  });
}
