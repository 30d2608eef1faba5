/**
 * Delivers webhook queues: every node runs one dispatcher, and each webhook's queue is delivered by
 * the one node holding its lease (engine WebhookStore). Guarantees, on top of the store's:
 *   - At least once: an entry is settled only after its attempt's outcome is known; a node that
 *     dies leaves its entries in flight, and the next lease holder reclaims and sends them again.
 *   - Per-conversation order while the receiver keeps up: entries of one conversation are attempted
 *     one at a time, in queue order. A failed attempt is scheduled as a retry and later entries go
 *     on (a failing receiver cannot stall its queue; order across a failure is not kept).
 *   - Isolation: at most `concurrency` attempts at once per webhook, and every attempt has a deadline
 *     (`timeoutMs`), so a slow or hanging receiver holds only its own webhook's slots; other webhooks
 *     and tenants go on.
 *   - Retries: exponential backoff from `retryBaseMs` (doubling, full jitter between half and the
 *     whole delay, at most MAX_RETRY_DELAY_MS), for `retryWindowMs` after the first attempt; then the
 *     delivery is failed (its record is the dead letter). A webhook whose every attempt has failed
 *     for `disableAfterMs` is disabled by the store in the step that settles the attempt.
 *   - Bounded: the response body is read up to RESPONSE_BYTES and discarded; redirects are not
 *     followed (a 3xx is not a 2xx); URLs go through the outbound policy on every attempt.
 */
import { randomUUID } from 'node:crypto';
import type { EpochMs, TenantId } from '../domain/types.js';
import { webhookBody, type QueuedWebhookEvent, type Webhook, type WebhookDelivery, type WebhookId } from '../domain/webhooks.js';
import type { WebhookStore } from '../engine/engine.js';
import { OutboundError, type OutboundFetch } from '../outbound/index.js';
import type { Clock } from './ids.js';
import { signatureHeader, signingSecrets } from './webhook-signature.js';

export interface WebhookDispatchSettings {
  /** Attempts at once per webhook. */
  concurrency: number;
  /** Deadline of one attempt (connect, send, answer). */
  timeoutMs: number;
  retryBaseMs: number;
  retryWindowMs: number;
  disableAfterMs: number;
  /** How long a lease lasts without renewal: how soon another node takes over a dead node's webhooks. */
  leaseMs: number;
}

export const DEFAULT_WEBHOOK_DISPATCH: WebhookDispatchSettings = {
  concurrency: 4,
  timeoutMs: 10_000,
  retryBaseMs: 1000,
  retryWindowMs: 86_400_000,
  disableAfterMs: 86_400_000,
  leaseMs: 15_000,
};

export const MAX_RETRY_DELAY_MS = 3_600_000;
const RESPONSE_BYTES = 4096;
/** How often due retries are looked for on the webhooks this node holds. */
const DUE_CHECK_MS = 1000;
/** Entries one `reclaim` call hands over (the store pages them). */
const RECLAIM_PAGE = 1000;

export type AttemptOutcome = 'delivered' | 'retry' | 'failed';

/** What the dispatcher reports (observability/metrics.ts implements it). */
export interface WebhookObserver {
  attempted(outcome: AttemptOutcome, seconds: number): void;
  disabled(): void;
}

export interface WebhookDispatcherDeps {
  store: WebhookStore;
  fetch: OutboundFetch;
  clock: Clock;
  settings: WebhookDispatchSettings;
  version: string;
  observer?: WebhookObserver;
  /**
   * An entry's `data` as receivers get it: the realtime event's wire form without `type` and
   * `cursor` (parley.ts wires gateway/wire-events.ts `webhookData`).
   */
  present: (tenantId: TenantId, entry: QueuedWebhookEvent) => Promise<Record<string, unknown>>;
  log: { warn(object: object, message: string): void };
  /** Jitter source in [0, 1); tests pin it. */
  random?: () => number;
}

/** The delay before retry number `attempts` (1: after the first failed attempt), jittered. */
export function retryDelay(attempts: number, baseMs: number, random: () => number): number {
  const full = Math.min(MAX_RETRY_DELAY_MS, baseMs * 2 ** Math.min(attempts - 1, 32));
  return Math.round(full / 2 + (full / 2) * random());
}

/** One webhook this node holds the lease of. */
interface Lane {
  tenantId: TenantId;
  id: WebhookId;
  /** Attempts under way. */
  running: number;
  /** Taken entries waiting for their conversation's earlier entry to finish, in queue order. */
  waiting: { entry: QueuedWebhookEvent; delivery: WebhookDelivery | null }[];
  /** Conversations with an attempt under way. */
  busy: Set<string>;
  pumping: boolean;
  /** Another pump was asked for while one ran. */
  again: boolean;
  /** The webhook as last read; null until read. */
  webhook: Webhook | null;
  /** Earliest time a retry may be due here (a hint for the due check). */
  nextDueAt: EpochMs;
  lost: boolean;
}

const key = (tenantId: TenantId, id: WebhookId) => JSON.stringify([tenantId, id]);

export class WebhookDispatcher {
  readonly nodeId = randomUUID();
  private readonly lanes = new Map<string, Lane>();
  /** Webhooks another node holds, with when to ask again. */
  private readonly heldElsewhere = new Map<string, EpochMs>();
  private readonly random: () => number;
  private watcher: { close(): Promise<void> } | null = null;
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private readonly attempts = new Set<Promise<void>>();
  private scanning: Promise<void> | null = null;

  constructor(private readonly deps: WebhookDispatcherDeps) {
    this.random = deps.random ?? Math.random;
  }

  /** Starts delivering: listens for queued work, scans for webhooks to hold, checks due retries. */
  async start(): Promise<void> {
    this.watcher = await this.deps.store.watch((tenantId, id) => this.onWork(tenantId, id));
    const scanEvery = Math.max(100, Math.floor(this.deps.settings.leaseMs / 3));
    this.timers.push(setInterval(() => void this.scan(), scanEvery), setInterval(() => this.checkDue(), DUE_CHECK_MS));
    for (const timer of this.timers) timer.unref();
    await this.scan();
  }

  /**
   * Stops taking work, waits for the attempts under way (each ends by its deadline) and gives up
   * every lease, so another node takes over at once rather than after the lease runs out.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    await this.watcher?.close();
    await this.scanning;
    await Promise.allSettled([...this.attempts]);
    await Promise.allSettled([...this.lanes.values()].map((lane) => this.deps.store.release(lane.tenantId, lane.id, this.nodeId)));
    this.lanes.clear();
  }

  /** For metrics: the webhooks this node delivers. */
  held(): { tenantId: TenantId; id: WebhookId; enabled: boolean }[] {
    return [...this.lanes.values()].map((lane) => ({ tenantId: lane.tenantId, id: lane.id, enabled: lane.webhook?.enabled ?? true }));
  }

  private onWork(tenantId: TenantId, id: WebhookId): void {
    const lane = this.lanes.get(key(tenantId, id));
    if (lane) {
      this.pump(lane);
      return;
    }
    const until = this.heldElsewhere.get(key(tenantId, id));
    if (until === undefined || until <= this.deps.clock()) void this.tryLease(tenantId, id);
  }

  /** Renews the leases held, and tries to take the webhooks nobody holds. */
  private scan(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.scanning ??= (async () => {
      try {
        const all = await this.deps.store.listAll();
        const present = new Set(all.map(({ tenantId, id }) => key(tenantId, id)));
        for (const [name, lane] of this.lanes) {
          if (!present.has(name)) this.drop(lane);
        }
        const now = this.deps.clock();
        for (const name of this.heldElsewhere.keys()) if (!present.has(name)) this.heldElsewhere.delete(name);
        await Promise.all(
          all.map(async ({ tenantId, id }) => {
            const lane = this.lanes.get(key(tenantId, id));
            if (lane) {
              await this.renew(lane);
              return;
            }
            const until = this.heldElsewhere.get(key(tenantId, id));
            if (until === undefined || until <= now) await this.tryLease(tenantId, id);
          }),
        );
      } catch (error) {
        this.deps.log.warn({ err: error }, 'webhooks: scan failed; the next one retries');
      } finally {
        this.scanning = null;
      }
    })();
    return this.scanning;
  }

  private async renew(lane: Lane): Promise<void> {
    const { store, clock, settings } = this.deps;
    const status = await store.lease(lane.tenantId, lane.id, this.nodeId, settings.leaseMs, clock());
    if (status === 'renewed' || status === 'acquired') {
      // 'acquired': the lease lapsed (this node stalled) and nobody took it; entries are still ours.
      this.pump(lane);
      return;
    }
    this.drop(lane);
  }

  private async tryLease(tenantId: TenantId, id: WebhookId): Promise<void> {
    if (this.stopped) return;
    const { store, clock, settings } = this.deps;
    const name = key(tenantId, id);
    try {
      const status = await store.lease(tenantId, id, this.nodeId, settings.leaseMs, clock());
      if (status !== 'acquired' || this.lanes.has(name)) {
        if (status === 'held') this.heldElsewhere.set(name, clock() + Math.floor(settings.leaseMs / 3));
        return;
      }
      this.heldElsewhere.delete(name);
      const lane: Lane = { tenantId, id, running: 0, waiting: [], busy: new Set(), pumping: false, again: false, webhook: null, nextDueAt: 0, lost: false };
      this.lanes.set(name, lane);
      // What an earlier holder took and never settled goes first, in queue order.
      for (let page = RECLAIM_PAGE; page === RECLAIM_PAGE; ) {
        const reclaimed = await store.reclaim(tenantId, id, this.nodeId, RECLAIM_PAGE);
        lane.waiting.push(...reclaimed.map((entry) => ({ entry, delivery: null })));
        page = reclaimed.length;
      }
      this.pump(lane);
    } catch (error) {
      this.deps.log.warn({ err: error, webhookId: id }, 'webhooks: taking a lease failed; the next scan retries');
    }
  }

  private drop(lane: Lane): void {
    lane.lost = true;
    lane.waiting = [];
    this.lanes.delete(key(lane.tenantId, lane.id));
  }

  private checkDue(): void {
    const now = this.deps.clock();
    for (const lane of this.lanes.values()) if (lane.nextDueAt <= now) this.pump(lane);
  }

  /** Takes as much as the lane has room for and starts what may start; coalesces concurrent calls. */
  private pump(lane: Lane): void {
    if (this.stopped || lane.lost) return;
    if (lane.pumping) {
      lane.again = true;
      return;
    }
    lane.pumping = true;
    void (async () => {
      try {
        do {
          lane.again = false;
          await this.fill(lane);
        } while (lane.again && !this.stopped && !lane.lost);
      } catch (error) {
        this.deps.log.warn({ err: error, webhookId: lane.id }, 'webhooks: reading the queue failed; retrying shortly');
        lane.nextDueAt = this.deps.clock() + DUE_CHECK_MS;
      } finally {
        lane.pumping = false;
      }
    })();
  }

  private async fill(lane: Lane): Promise<void> {
    const { store, clock, settings } = this.deps;
    const webhook = await store.get(lane.tenantId, lane.id);
    if (webhook === null) {
      this.drop(lane);
      return;
    }
    lane.webhook = webhook;
    if (!webhook.enabled) return;
    this.startWaiting(lane);
    const room = settings.concurrency - lane.running - lane.waiting.length;
    if (room <= 0) return;
    const now = clock();
    const taken = await store.take(lane.tenantId, lane.id, this.nodeId, room, now);
    // Nothing due now: look again at the next due check (a retry scheduled here sets the hint lower).
    lane.nextDueAt = taken.length === room ? now : now + DUE_CHECK_MS;
    if (lane.lost) return;
    lane.waiting.push(...taken);
    this.startWaiting(lane);
  }

  /** Starts waiting entries whose conversation is free, in queue order, within the concurrency. */
  private startWaiting(lane: Lane): void {
    const blocked = new Set<string>();
    const rest: Lane['waiting'] = [];
    for (const item of lane.waiting) {
      const conversation = item.entry.conversationId ?? `\u0000${item.entry.deliveryId}`;
      if (lane.running >= this.deps.settings.concurrency || lane.busy.has(conversation) || blocked.has(conversation) || lane.webhook === null) {
        // An entry that waits keeps the later entries of its conversation behind it.
        blocked.add(conversation);
        rest.push(item);
        continue;
      }
      lane.busy.add(conversation);
      lane.running += 1;
      const attempt = this.attempt(lane, lane.webhook, item.entry, item.delivery).finally(() => {
        lane.busy.delete(conversation);
        lane.running -= 1;
        this.attempts.delete(attempt);
        this.pump(lane);
      });
      this.attempts.add(attempt);
    }
    lane.waiting = rest;
  }

  /** One attempt and its settlement; never rejects. */
  private async attempt(lane: Lane, webhook: Webhook, entry: QueuedWebhookEvent, previous: WebhookDelivery | null): Promise<void> {
    const { fetch, clock, settings, store, observer } = this.deps;
    let statusCode: number | null = null;
    let error: string | null = null;
    let startedAt = clock();
    try {
      const body = webhookBody(webhook.tenantId, entry, await this.deps.present(webhook.tenantId, entry));
      startedAt = clock();
      const response = await fetch(webhook.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': `Parley-Webhooks/${this.deps.version}`,
          'parley-event-id': entry.eventId,
          'parley-event-type': entry.type,
          'parley-delivery-id': entry.deliveryId,
          'parley-signature': signatureHeader(signingSecrets(webhook.secrets, startedAt), startedAt, body),
        },
        body,
        timeoutMs: settings.timeoutMs,
        maxBytes: RESPONSE_BYTES,
        truncate: true,
        maxRedirects: 0,
      });
      statusCode = response.status;
      if (statusCode < 200 || statusCode > 299) error = `http_${statusCode}`;
    } catch (failure) {
      // Not an outbound failure: the event could not be presented (storage unreachable).
      error = failure instanceof OutboundError ? failure.kind : 'internal';
    }
    const now = clock();
    const attempts = (previous?.attempts ?? 0) + 1;
    const firstAttemptAt = previous?.firstAttemptAt ?? startedAt;
    let outcome: AttemptOutcome = 'delivered';
    let nextAttemptAt: EpochMs | null = null;
    if (error !== null) {
      nextAttemptAt = now + retryDelay(attempts, settings.retryBaseMs, this.random);
      outcome = nextAttemptAt - firstAttemptAt > settings.retryWindowMs ? 'failed' : 'retry';
      if (outcome === 'failed') nextAttemptAt = null;
    }
    const delivery: WebhookDelivery = {
      id: entry.deliveryId,
      eventId: entry.eventId,
      eventType: entry.type,
      status: outcome === 'delivered' ? 'delivered' : outcome === 'retry' ? 'pending' : 'failed',
      attempts,
      lastStatusCode: statusCode,
      lastError: error,
      lastAttemptAt: startedAt,
      firstAttemptAt,
      nextAttemptAt,
    };
    observer?.attempted(outcome, (now - startedAt) / 1000);
    try {
      const { disabled } = await store.settle(lane.tenantId, lane.id, delivery, outcome, now, now - settings.disableAfterMs);
      if (disabled) {
        observer?.disabled();
        this.deps.log.warn({ webhookId: lane.id, tenantId: lane.tenantId }, 'webhooks: endpoint disabled after failing for too long');
      }
      if (nextAttemptAt !== null) lane.nextDueAt = Math.min(lane.nextDueAt, nextAttemptAt);
    } catch (failure) {
      // Unsettled, the entry is still in flight for this node: attempt it again a little later (at
      // least once). Should this node lose the lease meanwhile, the next holder reclaims it.
      this.deps.log.warn({ err: failure, webhookId: lane.id }, 'webhooks: recording an attempt failed; it will be attempted again');
      setTimeout(() => {
        if (lane.lost || this.stopped) return;
        lane.waiting.unshift({ entry, delivery: { ...delivery, status: 'pending' } });
        this.pump(lane);
      }, DUE_CHECK_MS).unref();
    }
  }
}
