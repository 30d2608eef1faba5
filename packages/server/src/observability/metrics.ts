/**
 * Parley's Prometheus metrics: one registry per node with prom-client's default process metrics
 * and Parley's own, all prefixed `parley_` (`parley_process_*`, `parley_nodejs_*` including the
 * event-loop lag `parley_nodejs_eventloop_lag_*`), so that rules and dashboards select Parley's
 * processes by name, never another Node.js service's. Labels are bounded sets (route templates, store and method
 * names, transports, error codes): never a tenant, user, conversation or message id.
 * docs/operations.md lists every metric; deploy/prometheus and deploy/grafana query them by name.
 */
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { TopicMessage } from '../domain/events.js';
import type { TenantId } from '../domain/types.js';
import type { WebhookId } from '../domain/webhooks.js';
import type { Engine, WebhookStore } from '../engine/engine.js';
import type { AttemptOutcome, WebhookObserver } from '../services/webhook-dispatcher.js';
import type { RealtimeObserver, TransportKind } from '../gateway/realtime-observer.js';

export interface Metrics {
  readonly registry: Registry;
  readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>;
  readonly messagesAccepted: Counter;
  readonly authenticationFailures: Counter<'reason'>;
  readonly engineCallDuration: Histogram<'store' | 'method'>;
  readonly engineCallErrors: Counter<'store' | 'method'>;
  /** The last readiness answer: 1 ready, 0 not (draining or storage unreachable). */
  readonly ready: Gauge;
  /** Counts the gateway's work (deliveries, resumes, slow consumers). */
  readonly realtime: RealtimeObserver;
  /** Counts webhook attempts by outcome and endpoints disabled. */
  readonly webhooks: WebhookObserver;
}

const TRANSPORTS: readonly TransportKind[] = ['websocket', 'sse'];
const TOPIC_KINDS: readonly TopicMessage['kind'][] = ['event', 'inbox', 'ephemeral'];

/**
 * A registry per server instance (not prom-client's global one), so tests can run several servers
 * in one process and each /metrics shows its own numbers.
 */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'parley_' });
  const registers = [registry];
  const httpDuration = new Histogram({
    name: 'parley_http_request_duration_seconds',
    help: 'HTTP request duration by method, route template and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const messagesAccepted = new Counter({
    name: 'parley_messages_accepted_total',
    help: 'Messages stored by this node (an idempotent repeat is not counted)',
    registers,
  });
  messagesAccepted.inc(0);
  const authenticationFailures = new Counter({
    name: 'parley_authentication_failures_total',
    help: 'Credentials refused (REST, SSE and WebSocket upgrades) by reason: the problem code answered',
    labelNames: ['reason'] as const,
    registers,
  });
  const engineCallDuration = new Histogram({
    name: 'parley_engine_call_duration_seconds',
    help: 'Storage (engine) call duration by store and method, failures included',
    labelNames: ['store', 'method'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 3, 5],
    registers,
  });
  const engineCallErrors = new Counter({
    name: 'parley_engine_call_errors_total',
    help: 'Storage (engine) calls that rejected, by store and method',
    labelNames: ['store', 'method'] as const,
    registers,
  });
  const ready = new Gauge({
    name: 'parley_ready',
    help: 'The last answer of /health/ready: 1 ready, 0 not ready (draining or storage unreachable); absent until first probed',
    registers,
  });
  return {
    registry,
    ready,
    httpDuration,
    messagesAccepted,
    authenticationFailures,
    engineCallDuration,
    engineCallErrors,
    realtime: createRealtimeObserver(registry),
    webhooks: createWebhookObserver(registry),
  };
}

const ATTEMPT_OUTCOMES: readonly AttemptOutcome[] = ['delivered', 'retry', 'failed'];

function createWebhookObserver(registry: Registry): WebhookObserver {
  const registers = [registry];
  const deliveries = new Counter({
    name: 'parley_webhook_deliveries_total',
    help: 'Webhook delivery attempts made by this node, by outcome: delivered (2xx), retry (scheduled again) or failed (given up: dead letter)',
    labelNames: ['outcome'] as const,
    registers,
  });
  const latency = new Histogram({
    name: 'parley_webhook_attempt_seconds',
    help: 'Duration of webhook delivery attempts (request sent to answer, timeout or error)',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const disabled = new Counter({
    name: 'parley_webhook_endpoints_disabled_total',
    help: 'Webhooks this node disabled because every attempt failed for WEBHOOK_DISABLE_AFTER_SECONDS',
    registers,
  });
  const by = Object.fromEntries(ATTEMPT_OUTCOMES.map((outcome) => [outcome, deliveries.labels(outcome)])) as Record<AttemptOutcome, Counter.Internal>;
  for (const counter of Object.values(by)) counter.inc(0);
  disabled.inc(0);
  return {
    attempted(outcome, seconds) {
      by[outcome].inc();
      latency.observe(seconds);
    },
    disabled: () => disabled.inc(),
  };
}

/**
 * Webhook queue gauges over the webhooks this node delivers (each webhook is delivered by one
 * node at a time, so `sum` across nodes is the deployment's depth and `max` its oldest), read from
 * the store when Prometheus scrapes.
 */
export function recordWebhookMetrics(
  metrics: Metrics,
  source: { held(): { tenantId: TenantId; id: WebhookId; enabled: boolean }[] },
  store: Pick<WebhookStore, 'backlog'>,
  clock: () => number,
): void {
  // One read of the store serves the three gauges of a scrape (prom-client collects them concurrently).
  let last: { at: number; reading: Promise<{ depth: number; oldestSeconds: number; disabled: number; dropped: number }> } | null = null;
  const read = () => {
    const now = clock();
    if (last === null || now - last.at > 1000) {
      const held = source.held();
      const reading = Promise.all(held.map((webhook) => store.backlog(webhook.tenantId, webhook.id).catch(() => ({ depth: 0, oldestAt: null, dropped: 0 })))).then(
        (backlogs) => {
          const oldestAt = backlogs.reduce((oldest, backlog) => Math.min(oldest, backlog.oldestAt ?? Infinity), Infinity);
          return {
            depth: backlogs.reduce((sum, backlog) => sum + backlog.depth, 0),
            oldestSeconds: Number.isFinite(oldestAt) ? Math.max(0, clock() - oldestAt) / 1000 : 0,
            disabled: held.filter((webhook) => !webhook.enabled).length,
            dropped: backlogs.reduce((sum, backlog) => sum + backlog.dropped, 0),
          };
        },
      );
      last = { at: now, reading };
    }
    return last.reading;
  };
  const registers = [metrics.registry];
  new Gauge({
    name: 'parley_webhook_queue_depth',
    help: 'Webhook deliveries not yet delivered or failed (queued, in flight, awaiting a retry), on the webhooks this node delivers',
    registers,
    async collect() {
      this.set((await read()).depth);
    },
  });
  new Gauge({
    name: 'parley_webhook_oldest_pending_seconds',
    help: 'Age of the oldest webhook delivery not yet delivered or failed, on the webhooks this node delivers (0 when none)',
    registers,
    async collect() {
      this.set((await read()).oldestSeconds);
    },
  });
  new Gauge({
    name: 'parley_webhook_queue_dropped',
    help: 'Events dropped, never attempted, because a webhook queue was full (100,000 entries), since each webhook was created, on the webhooks this node delivers',
    registers,
    async collect() {
      this.set((await read()).dropped);
    },
  });
  new Gauge({
    name: 'parley_webhook_disabled_endpoints',
    help: 'Disabled webhooks among those this node holds',
    registers,
    async collect() {
      this.set((await read()).disabled);
    },
  });
}


/**
 * The gateway's counters. Label children are resolved once here, so the delivery path does a
 * clock read, an increment and an observation per event: no label lookup, no allocation.
 */
function createRealtimeObserver(registry: Registry): RealtimeObserver {
  const registers = [registry];
  const received = new Counter({
    name: 'parley_realtime_events_received_total',
    help: 'Messages heard on the topics this node follows (published by any node), by kind: event, inbox or ephemeral',
    labelNames: ['kind'] as const,
    registers,
  });
  // Deliveries are counted in plain numbers (a label child's inc hashes its labels on every call)
  // and added to the counter whenever it is read.
  const deliveredSinceRead = Object.fromEntries(TRANSPORTS.map((transport) => [transport, { live: 0, replay: 0 }])) as Record<TransportKind, { live: number; replay: number }>;
  const delivered = new Counter({
    name: 'parley_realtime_events_delivered_total',
    help: 'Durable event frames written to client connections, by transport and mode (live or replay)',
    labelNames: ['transport', 'mode'] as const,
    registers,
    collect() {
      for (const transport of TRANSPORTS) {
        const since = deliveredSinceRead[transport];
        deliveredBy[transport].live.inc(since.live);
        deliveredBy[transport].replay.inc(since.replay);
        since.live = 0;
        since.replay = 0;
      }
    },
  });
  const latency = new Histogram({
    name: 'parley_realtime_delivery_latency_seconds',
    help: "Time from an event's commit (its id's timestamp) to the write of its frame to a client, live deliveries only",
    labelNames: ['transport'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const resumes = new Counter({
    name: 'parley_realtime_resumes_total',
    help: 'Connections opened with a cursor, by outcome: replayed (gapless) or resync',
    labelNames: ['outcome'] as const,
    registers,
  });
  const resyncs = new Counter({
    name: 'parley_realtime_resync_required_total',
    help: 'resync.required frames sent (cursor too old or unknown, replay over budget, log trimmed)',
    registers,
  });
  const slow = new Counter({
    name: 'parley_realtime_slow_consumer_closes_total',
    help: 'Connections closed with 4008 because the client did not read fast enough, by transport',
    labelNames: ['transport'] as const,
    registers,
  });
  const receivedBy = Object.fromEntries(TOPIC_KINDS.map((kind) => [kind, received.labels(kind)])) as Record<TopicMessage['kind'], Counter.Internal>;
  const deliveredBy = Object.fromEntries(
    TRANSPORTS.map((transport) => [transport, { live: delivered.labels(transport, 'live'), replay: delivered.labels(transport, 'replay') }]),
  ) as Record<TransportKind, { live: Counter.Internal; replay: Counter.Internal }>;
  const latencyBy = Object.fromEntries(TRANSPORTS.map((transport) => [transport, latency.labels(transport)])) as Record<TransportKind, Histogram.Internal<'transport'>>;
  const slowBy = Object.fromEntries(TRANSPORTS.map((transport) => [transport, slow.labels(transport)])) as Record<TransportKind, Counter.Internal>;
  const resumed = { replayed: resumes.labels('replayed'), resync: resumes.labels('resync') };
  // Every series shows from the start (at 0), so rates, alerts and dashboards have one before the first event.
  for (const counter of [...Object.values(receivedBy), ...Object.values(slowBy), resumed.replayed, resumed.resync]) counter.inc(0);
  for (const { live, replay } of Object.values(deliveredBy)) {
    live.inc(0);
    replay.inc(0);
  }
  resyncs.inc(0);
  return {
    received: (kind) => receivedBy[kind].inc(),
    delivered(transport, replayed, committedAt) {
      if (replayed) {
        deliveredSinceRead[transport].replay += 1;
        return;
      }
      deliveredSinceRead[transport].live += 1;
      // Clocks of different nodes disagree a little: a negative age counts as zero.
      latencyBy[transport].observe(Math.max(0, Date.now() - committedAt) / 1000);
    },
    resumed: (outcome) => resumed[outcome].inc(),
    resyncRequired: () => resyncs.inc(),
    slowConsumerClosed: (transport) => slowBy[transport].inc(),
  };
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
export function recordRealtimeMetrics(
  metrics: Metrics,
  source: { connectionsOver(kind: TransportKind): number; followedConversations: number },
): void {
  new Gauge({
    name: 'parley_realtime_connections',
    help: 'Open realtime connections on this node, by transport (websocket, sse)',
    labelNames: ['transport'] as const,
    registers: [metrics.registry],
    collect() {
      for (const transport of TRANSPORTS) this.set({ transport }, source.connectionsOver(transport));
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

/**
 * Storage connection state, read when Prometheus scrapes: 1 when every connection of the role is
 * up, 0 when any is down. A role with no connection (the memory engine has none) is not reported.
 */
export function recordStorageConnectionMetrics(metrics: Metrics, engine: Pick<Engine, 'connectionStates'>): void {
  new Gauge({
    name: 'parley_redis_connection_up',
    help: 'Redis connections by role (commands, subscriber): 1 when all of the role are ready, 0 when any is not',
    labelNames: ['role'] as const,
    registers: [metrics.registry],
    collect() {
      this.reset();
      const up = new Map<string, boolean>();
      for (const state of engine.connectionStates()) up.set(state.role, (up.get(state.role) ?? true) && state.up);
      for (const [role, value] of up) this.set({ role }, value ? 1 : 0);
    },
  });
}
