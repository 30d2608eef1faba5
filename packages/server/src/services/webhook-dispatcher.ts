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
/** Longest wait between tries to store an outcome while the storage is down. */
const MAX_RECORD_RETRY_MS = 30_000;
/** Entries one `reclaim` call hands over (the store pages them). */
const RECLAIM_PAGE = 1000;
/** How much sooner than its expiry a lease is treated as over (node clocks differ a little): 1 s, or a quarter of a short lease. */
const leaseMargin = (leaseMs: number) => Math.min(1000, Math.floor(leaseMs / 4));

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
  /** Delivery ids waiting or under way here: an entry handed out again (reclaimed) is not run twice. */
  held: Set<string>;
  pumping: boolean;
  /** Another pump was asked for while one ran. */
  again: boolean;
  /** The webhook as last read; null until read. */
  webhook: Webhook | null;
  /** Earliest time a retry may be due here (a hint for the due check). */
  nextDueAt: EpochMs;
  /** A timer for a retry due before the next due check, and when it fires. */
  dueTimer: { at: EpochMs; timer: NodeJS.Timeout } | null;
  /**
   * Until when this node's lease surely holds (its expiry less a margin for clock differences):
   * past it, nothing new starts here, since another node may have taken the webhook over.
   */
  leaseUntil: EpochMs;
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
  /** Attempts, pumps and lease tries under way: stop() waits for them. */
  private readonly work = new Set<Promise<unknown>>();
  private scanning: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;

  constructor(private readonly deps: WebhookDispatcherDeps) {
    this.random = deps.random ?? Math.random;
  }

  /** Starts delivering: listens for queued work, scans for webhooks to hold, checks due retries. */
  async start(): Promise<void> {
    this.watcher = await this.deps.store.watch((tenantId, id) => this.onWork(tenantId, id));
    const scanEvery = Math.max(100, Math.floor(this.deps.settings.leaseMs / 3));
    this.timers.push(setInterval(() => this.track(() => this.scan()), scanEvery), setInterval(() => this.checkDue(), DUE_CHECK_MS));
    for (const timer of this.timers) timer.unref();
    await this.scan();
  }

  /**
   * Stops taking work, waits for the attempts under way (each ends by its deadline) and gives up
   * every lease, so another node takes over at once rather than after the lease runs out.
   */
  stop(): Promise<void> {
    this.stopping ??= this.stopNow();
    return this.stopping;
  }

  private async stopNow(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    await this.watcher?.close();
    await this.scanning;
    // Attempts end by their deadline; pumps and lease tries check `stopped` after each await.
    while (this.work.size > 0) await Promise.allSettled([...this.work]);
    await Promise.allSettled([...this.lanes.values()].map((lane) => this.deps.store.release(lane.tenantId, lane.id, this.nodeId)));
    for (const lane of this.lanes.values()) this.drop(lane);
  }

  /** For metrics: the webhooks this node delivers. */
  held(): { tenantId: TenantId; id: WebhookId; enabled: boolean }[] {
    return [...this.lanes.values()].map((lane) => ({ tenantId: lane.tenantId, id: lane.id, enabled: lane.webhook?.enabled ?? true }));
  }

  /** Runs background work that stop() waits for; never rejects. */
  private track(run: () => Promise<unknown>): void {
    const promise = run().catch((error: unknown) => this.deps.log.warn({ err: error }, 'webhooks: background step failed'));
    this.work.add(promise);
    promise.then(
      () => this.work.delete(promise),
      () => this.work.delete(promise),
    );
  }

  private onWork(tenantId: TenantId, id: WebhookId): void {
    const lane = this.lanes.get(key(tenantId, id));
    if (lane) {
      this.pump(lane);
      return;
    }
    const until = this.heldElsewhere.get(key(tenantId, id));
    if (until === undefined || until <= this.deps.clock()) this.track(() => this.tryLease(tenantId, id));
  }

  /** Renews the leases held, and tries to take the webhooks nobody holds. */
  private scan(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.scanning ??= (async () => {
      try {
        // The leases held come first, and do not depend on reading the registry.
        await Promise.all([...this.lanes.values()].map((lane) => this.renew(lane).catch((error: unknown) => this.deps.log.warn({ err: error, webhookId: lane.id }, 'webhooks: renewing a lease failed'))));
        const all = await this.deps.store.listAll();
        const present = new Set(all.map(({ tenantId, id }) => key(tenantId, id)));
        for (const [name, lane] of this.lanes) {
          if (!present.has(name)) this.drop(lane);
        }
        const now = this.deps.clock();
        for (const name of this.heldElsewhere.keys()) if (!present.has(name)) this.heldElsewhere.delete(name);
        await Promise.all(
          all.map(async ({ tenantId, id }) => {
            if (this.lanes.has(key(tenantId, id))) return;
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
    const asked = clock();
    const status = await store.lease(lane.tenantId, lane.id, this.nodeId, settings.leaseMs, asked);
    if (status === 'renewed' || status === 'acquired') lane.leaseUntil = asked + settings.leaseMs - leaseMargin(settings.leaseMs);
    if (status === 'acquired') {
      // The lease lapsed (this node stalled): another node may have held it meanwhile and left
      // entries in flight. Take them as a new holder does.
      await this.reclaim(lane);
    }
    if (status === 'renewed' || status === 'acquired') {
      this.pump(lane);
      return;
    }
    this.drop(lane);
  }

  /** Hands this lane what earlier holders took and never settled, in queue order, before new work. */
  private async reclaim(lane: Lane): Promise<void> {
    const entries: QueuedWebhookEvent[] = [];
    for (let page = RECLAIM_PAGE; page === RECLAIM_PAGE; ) {
      const reclaimed = await this.deps.store.reclaim(lane.tenantId, lane.id, this.nodeId, RECLAIM_PAGE);
      entries.push(...reclaimed);
      page = reclaimed.length;
    }
    if (this.stopped || lane.lost) return;
    this.admit(lane, entries.map((entry) => ({ entry, delivery: null })), true);
  }

  /** Queues taken entries on the lane (at the front for reclaimed ones), skipping any already held here. */
  private admit(lane: Lane, items: Lane['waiting'], first: boolean): void {
    const fresh = items.filter((item) => !lane.held.has(item.entry.deliveryId));
    for (const item of fresh) lane.held.add(item.entry.deliveryId);
    if (first) lane.waiting.unshift(...fresh);
    else lane.waiting.push(...fresh);
  }

  private async tryLease(tenantId: TenantId, id: WebhookId): Promise<void> {
    if (this.stopped) return;
    const { store, clock, settings } = this.deps;
    const name = key(tenantId, id);
    try {
      const asked = clock();
      const status = await store.lease(tenantId, id, this.nodeId, settings.leaseMs, asked);
      if (status !== 'acquired' || this.lanes.has(name)) {
        if (status === 'held') this.heldElsewhere.set(name, clock() + Math.floor(settings.leaseMs / 3));
        return;
      }
      this.heldElsewhere.delete(name);
      const lane: Lane = {
        tenantId,
        id,
        running: 0,
        waiting: [],
        busy: new Set(),
        held: new Set(),
        pumping: false,
        again: false,
        webhook: null,
        nextDueAt: 0,
        dueTimer: null,
        leaseUntil: asked + settings.leaseMs - leaseMargin(settings.leaseMs),
        lost: false,
      };
      this.lanes.set(name, lane);
      // What an earlier holder took and never settled goes first, in queue order.
      await this.reclaim(lane);
      this.pump(lane);
    } catch (error) {
      this.deps.log.warn({ err: error, webhookId: id }, 'webhooks: taking a lease failed; the next scan retries');
    }
  }

  private drop(lane: Lane): void {
    lane.lost = true;
    if (lane.dueTimer !== null) clearTimeout(lane.dueTimer.timer);
    for (const item of lane.waiting) lane.held.delete(item.entry.deliveryId);
    lane.waiting = [];
    this.lanes.delete(key(lane.tenantId, lane.id));
  }

  /** Looks at the lane at `at` (a retry due then): at once on the next due check, or by a timer when sooner. */
  private dueAt(lane: Lane, at: EpochMs): void {
    lane.nextDueAt = Math.min(lane.nextDueAt, at);
    const delay = at - this.deps.clock();
    if (delay >= DUE_CHECK_MS || (lane.dueTimer !== null && lane.dueTimer.at <= at)) return;
    if (lane.dueTimer !== null) clearTimeout(lane.dueTimer.timer);
    const timer = setTimeout(() => {
      lane.dueTimer = null;
      this.pump(lane);
    }, Math.max(0, delay));
    timer.unref();
    lane.dueTimer = { at, timer };
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
    this.track(async () => {
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
    });
  }

  private async fill(lane: Lane): Promise<void> {
    const { store, clock, settings } = this.deps;
    const webhook = await store.get(lane.tenantId, lane.id);
    if (webhook === null) {
      this.drop(lane);
      return;
    }
    lane.webhook = webhook;
    if (!webhook.enabled || this.stopped) return;
    this.startWaiting(lane);
    const room = settings.concurrency - lane.running - lane.waiting.length;
    if (room <= 0) return;
    const now = clock();
    const taken = await store.take(lane.tenantId, lane.id, this.nodeId, room, now);
    // Nothing due now: look again at the next due check (a retry scheduled here sets the hint lower).
    lane.nextDueAt = taken.length === room ? now : now + DUE_CHECK_MS;
    // Taken and then lost (the lease went elsewhere, or stopping): they stay in flight for this
    // node, and the store hands them out again once in flight too long.
    if (lane.lost || this.stopped) return;
    this.admit(lane, taken, false);
    this.startWaiting(lane);
  }

  /** Starts waiting entries whose conversation is free, in queue order, within the concurrency. */
  private startWaiting(lane: Lane): void {
    const blocked = new Set<string>();
    const rest: Lane['waiting'] = [];
    for (const item of lane.waiting) {
      const conversation = item.entry.conversationId ?? `\u0000${item.entry.deliveryId}`;
      if (
        this.stopped ||
        this.deps.clock() >= lane.leaseUntil ||
        lane.running >= this.deps.settings.concurrency ||
        lane.busy.has(conversation) ||
        blocked.has(conversation) ||
        lane.webhook === null
      ) {
        // An entry that waits keeps the later entries of its conversation behind it.
        blocked.add(conversation);
        rest.push(item);
        continue;
      }
      lane.busy.add(conversation);
      lane.running += 1;
      this.track(async () => {
        try {
          await this.deliver(lane, item);
        } finally {
          lane.busy.delete(conversation);
          lane.held.delete(item.entry.deliveryId);
          lane.running -= 1;
          this.pump(lane);
        }
      });
    }
    lane.waiting = rest;
  }

  /**
   * Attempts until the outcome is recorded. While it cannot be (storage unreachable), the entry is
   * attempted again a little later, its conversation kept busy so later entries do not overtake it.
   * Stops when the lane is lost or the node stops: the store hands the entry out again.
   */
  private async deliver(lane: Lane, item: Lane['waiting'][number]): Promise<void> {
    let previous = item.delivery;
    for (;;) {
      const webhook = lane.webhook;
      if (webhook === null) return;
      const result = await this.attempt(lane, webhook, item.entry, previous);
      if (result.kind === 'recorded' || lane.lost || this.stopped) return;
      if (result.kind === 'unrecorded') {
        // The receiver answered: store that outcome (not the request) again, backing off.
        await this.recordUntilStored(lane, result);
        return;
      }
      previous = result.previous;
      await new Promise((resolve) => setTimeout(resolve, DUE_CHECK_MS));
      if (lane.lost || this.stopped) return;
    }
  }

  /** Stores an attempt's outcome until it is stored, or the lane is lost, or the node stops (then the store hands the entry out again). */
  private async recordUntilStored(lane: Lane, unrecorded: { delivery: WebhookDelivery; outcome: AttemptOutcome; now: EpochMs }): Promise<void> {
    for (let wait = DUE_CHECK_MS; ; wait = Math.min(wait * 2, MAX_RECORD_RETRY_MS)) {
      await new Promise((resolve) => setTimeout(resolve, wait));
      if (lane.lost || this.stopped) return;
      if (await this.record(lane, unrecorded.delivery, unrecorded.outcome, unrecorded.now)) return;
    }
  }

  /** Stores an attempt's outcome (see WebhookStore.settle); false when the storage failed. */
  private async record(lane: Lane, delivery: WebhookDelivery, outcome: AttemptOutcome, now: EpochMs): Promise<boolean> {
    const { store, settings, observer } = this.deps;
    try {
      const { disabled } = await store.settle(lane.tenantId, lane.id, delivery, outcome, now, now - settings.disableAfterMs);
      if (disabled) {
        observer?.disabled();
        this.deps.log.warn({ webhookId: lane.id, tenantId: lane.tenantId }, 'webhooks: endpoint disabled after failing for too long');
      }
      if (delivery.nextAttemptAt !== null) this.dueAt(lane, delivery.nextAttemptAt);
      return true;
    } catch (failure) {
      this.deps.log.warn({ err: failure, webhookId: lane.id }, 'webhooks: recording an attempt failed; trying again');
      return false;
    }
  }

  /**
   * One attempt and the record of its outcome; never rejects. `recorded`: done. `unpresented`: the
   * event could not be presented (storage unreachable): nothing was sent and nothing counts
   * against the receiver; try again. `unrecorded`: the receiver's answer could not be stored;
   * store it again (never send again for that).
   */
  private async attempt(
    lane: Lane,
    webhook: Webhook,
    entry: QueuedWebhookEvent,
    previous: WebhookDelivery | null,
  ): Promise<
    | { kind: 'recorded' }
    | { kind: 'unpresented'; previous: WebhookDelivery | null }
    | { kind: 'unrecorded'; delivery: WebhookDelivery; outcome: AttemptOutcome; now: EpochMs }
  > {
    const { fetch, clock, settings, observer } = this.deps;
    let body: string;
    try {
      body = webhookBody(webhook.tenantId, entry, await this.deps.present(webhook.tenantId, entry));
    } catch (failure) {
      this.deps.log.warn({ err: failure, webhookId: lane.id }, 'webhooks: presenting an event failed; it will be attempted again');
      return { kind: 'unpresented', previous };
    }
    let statusCode: number | null = null;
    let error: string | null = null;
    const startedAt = clock();
    try {
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
      error = failure instanceof OutboundError ? failure.kind : 'network';
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
    return (await this.record(lane, delivery, outcome, now)) ? { kind: 'recorded' } : { kind: 'unrecorded', delivery, outcome, now };
  }
}
