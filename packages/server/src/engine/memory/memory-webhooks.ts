/**
 * WebhookStore in memory, with the semantics of the Redis engine's streams and consumer group:
 *   - a webhook's queue is an array of entries numbered by `seq` (its delivery id), trimmed from
 *     the front beyond MAX_WEBHOOK_QUEUE (counted in `dropped`) and, by `settle`, of settled
 *     entries older than WEBHOOK_SETTLED_RETENTION_MS (an entry's queue time is its `at` here);
 *   - entries never handed out are the suffix after `handedOut` (the group's last-delivered id);
 *   - `pending` is the group's pending list: entries taken from the queue and not yet settled,
 *     each with the node holding it and when it was taken, in queue order;
 *   - `retries` maps entries awaiting a retry (or taken as retries: due again after
 *     WEBHOOK_IN_FLIGHT_MS) to their due time.
 * Queueing by the event log happens in `queueLogged`, which ConversationEvents.log calls in the
 * same synchronous section as the change, so no call observes the change without its entries.
 * `watch` listeners run asynchronously (setImmediate), never inside the step that queued, once per
 * webhook and turn of the event loop.
 */
import { createHash } from 'node:crypto';
import type { EventEnvelope } from '../../domain/events.js';
import type { ConversationId, EpochMs, TenantId } from '../../domain/types.js';
import { MAX_WEBHOOK_SECRETS, subscribes, type QueuedWebhookEvent, type Webhook, type WebhookDelivery, type WebhookId } from '../../domain/webhooks.js';
import {
  MAX_WEBHOOK_DELIVERY_RECORDS,
  MAX_WEBHOOK_QUEUE,
  WEBHOOK_IN_FLIGHT_MS,
  WEBHOOK_SETTLED_RETENTION_MS,
  type WebhookChanges,
  type WebhookStore,
} from '../engine.js';
import { requireLimit } from './arguments.js';
import { TenantScoped } from './tenant-scoped.js';

const MAX_TAKE = 1000;
const MAX_DELIVERIES_PAGE = 100;

/** Delivery ids: the entry's seq, zero-padded so that ids sort like seqs. */
function deliveryIdOf(seq: number): string {
  return String(seq).padStart(12, '0');
}

function seqOf(deliveryId: string): number | null {
  return /^\d{12,}$/.test(deliveryId) ? Number(deliveryId) : null;
}

/** `evt_` + the first 32 hex digits of SHA-1 of `<conversationId>\n<log id>` (see WebhookStore). */
export function webhookEventId(conversationId: ConversationId, logId: string): string {
  return `evt_${createHash('sha1').update(`${conversationId}\n${logId}`).digest('hex').slice(0, 32)}`;
}

interface WebhookState {
  webhook: Webhook;
  /** entries[i] has seq `base + i`. */
  entries: QueuedWebhookEvent[];
  base: number;
  /** The seq of the next entry queued. */
  nextSeq: number;
  /** Entries with seq < handedOut were handed out by `take` (or dropped before). */
  handedOut: number;
  pending: Map<number, { nodeId: string; takenAt: EpochMs }>;
  retries: Map<number, EpochMs>;
  records: Map<string, WebhookDelivery>;
  /** Ids of delivered and failed records, in the order they settled (a Set keeps insertion order). */
  settled: Set<string>;
  lease: { nodeId: string; expiresAt: EpochMs } | null;
  /** Entries the MAX_WEBHOOK_QUEUE bound dropped before they were handed out. */
  dropped: number;
}

/** Newest attempt first, ties by delivery id (descending), as the Redis engine's sorted set orders them. */
function newestFirst(a: WebhookDelivery, b: WebhookDelivery): number {
  return (b.lastAttemptAt ?? 0) - (a.lastAttemptAt ?? 0) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

export class MemoryWebhookStore implements WebhookStore {

  /** The logging step queues in the same synchronous section: nothing is ever waiting. */
  async relayed(): Promise<void> {}
  private readonly tenants = new TenantScoped<Map<WebhookId, WebhookState>>(() => new Map());
  private readonly watchers = new Set<(tenantId: TenantId, id: WebhookId) => void>();
  /** Webhooks to wake on the next turn (see `wake`), by a key naming both. */
  private readonly woken = new Map<string, { tenantId: TenantId; id: WebhookId }>();
  private closed = false;

  async create(webhook: Webhook, maxPerTenant: number): Promise<'created' | 'too_many_webhooks' | 'id_taken'> {
    const webhooks = this.tenants.write(webhook.tenantId);
    if (webhooks.has(webhook.id)) return 'id_taken';
    if (webhooks.size >= maxPerTenant) return 'too_many_webhooks';
    webhooks.set(webhook.id, {
      webhook: structuredClone(webhook),
      entries: [],
      base: 0,
      nextSeq: 0,
      handedOut: 0,
      pending: new Map(),
      retries: new Map(),
      records: new Map(),
      settled: new Set(),
      lease: null,
      dropped: 0,
    });
    return 'created';
  }

  async get(tenantId: TenantId, id: WebhookId): Promise<Webhook | null> {
    const state = this.find(tenantId, id);
    return state ? structuredClone(state.webhook) : null;
  }

  async list(tenantId: TenantId): Promise<Webhook[]> {
    const states = [...(this.tenants.read(tenantId)?.values() ?? [])];
    return states
      .map((state) => structuredClone(state.webhook))
      .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async update(tenantId: TenantId, id: WebhookId, changes: WebhookChanges): Promise<Webhook | null> {
    const state = this.find(tenantId, id);
    if (!state) return null;
    const webhook = state.webhook;
    if (changes.url !== undefined) webhook.url = changes.url;
    if (changes.events !== undefined) webhook.events = [...changes.events];
    if (changes.description !== undefined) webhook.description = changes.description;
    if (changes.enabled === true && !webhook.enabled) {
      webhook.failingSince = null;
      webhook.disabledAt = null;
    }
    if (changes.enabled !== undefined) webhook.enabled = changes.enabled;
    return structuredClone(webhook);
  }

  async rotateSecret(tenantId: TenantId, id: WebhookId, secret: string, now: EpochMs, graceMs: number): Promise<Webhook | null> {
    const state = this.find(tenantId, id);
    if (!state) return null;
    const previous = state.webhook.secrets
      .map((old) => ({ secret: old.secret, expiresAt: old.expiresAt ?? now + graceMs }))
      .filter((old) => old.expiresAt > now);
    state.webhook.secrets = [{ secret, expiresAt: null }, ...previous].slice(0, MAX_WEBHOOK_SECRETS);
    return structuredClone(state.webhook);
  }

  async delete(tenantId: TenantId, id: WebhookId): Promise<boolean> {
    return this.tenants.read(tenantId)?.delete(id) ?? false;
  }

  async listAll(): Promise<{ tenantId: TenantId; id: WebhookId }[]> {
    return this.tenants.entries().flatMap(([tenantId, webhooks]) => [...webhooks.keys()].map((id) => ({ tenantId, id })));
  }

  async enqueue(
    tenantId: TenantId,
    id: WebhookId,
    entry: { eventId: string; type: string; at: EpochMs; event: Record<string, unknown> },
  ): Promise<QueuedWebhookEvent | null> {
    const state = this.find(tenantId, id);
    if (!state) return null;
    const queued = this.push(tenantId, state, { eventId: entry.eventId, type: entry.type, conversationId: null, at: entry.at, event: structuredClone(entry.event) });
    return structuredClone(queued);
  }

  /**
   * Queues a logged conversation event for every enabled webhook of the tenant subscribed to its
   * type. Called by ConversationEvents.log in the step that logged it; costs one map lookup for a
   * tenant without webhooks.
   */
  queueLogged(tenantId: TenantId, conversationId: ConversationId, envelope: EventEnvelope): void {
    const webhooks = this.tenants.read(tenantId);
    if (!webhooks || webhooks.size === 0) return;
    const type = envelope.event.type;
    let eventId: string | null = null;
    for (const state of webhooks.values()) {
      if (!state.webhook.enabled || !subscribes(state.webhook.events, type)) continue;
      eventId ??= webhookEventId(conversationId, envelope.id);
      this.push(tenantId, state, {
        eventId,
        type,
        conversationId,
        at: envelope.at,
        event: structuredClone(envelope.event) as unknown as Record<string, unknown>,
      });
    }
  }

  async lease(tenantId: TenantId, id: WebhookId, nodeId: string, ttlMs: number, now: EpochMs): Promise<'acquired' | 'renewed' | 'held' | 'absent'> {
    const state = this.find(tenantId, id);
    if (!state) return 'absent'; // nothing to forget: listAll reads the webhooks themselves
    const current = state.lease !== null && state.lease.expiresAt > now ? state.lease : null;
    if (current && current.nodeId !== nodeId) return 'held';
    state.lease = { nodeId, expiresAt: now + ttlMs };
    return current ? 'renewed' : 'acquired';
  }

  async release(tenantId: TenantId, id: WebhookId, nodeId: string): Promise<void> {
    const state = this.find(tenantId, id);
    if (state?.lease?.nodeId === nodeId) state.lease = null;
  }

  async reclaim(tenantId: TenantId, id: WebhookId, nodeId: string, limit: number): Promise<QueuedWebhookEvent[]> {
    requireLimit(limit, MAX_TAKE);
    const state = this.find(tenantId, id);
    if (!state) return [];
    // Without a clock of its own, a reclaim counts as made when the lease it follows ends.
    const takenAt = state.lease?.expiresAt ?? 0;
    const reclaimed: QueuedWebhookEvent[] = [];
    for (const [seq, held] of [...state.pending].sort(([a], [b]) => a - b)) {
      if (reclaimed.length >= limit) break;
      if (held.nodeId === nodeId) continue;
      const entry = this.entryAt(state, seq);
      if (!entry) {
        state.pending.delete(seq); // dropped from the queue: nothing left to deliver
        continue;
      }
      state.pending.set(seq, { nodeId, takenAt });
      reclaimed.push(structuredClone(entry));
    }
    return reclaimed;
  }

  async take(
    tenantId: TenantId,
    id: WebhookId,
    nodeId: string,
    limit: number,
    now: EpochMs,
  ): Promise<{ entry: QueuedWebhookEvent; delivery: WebhookDelivery | null }[]> {
    requireLimit(limit, MAX_TAKE);
    const state = this.find(tenantId, id);
    if (!state || state.lease === null || state.lease.nodeId !== nodeId || state.lease.expiresAt <= now) return [];
    const taken: { entry: QueuedWebhookEvent; delivery: WebhookDelivery | null }[] = [];
    const stale = [...state.pending].filter(([, held]) => held.takenAt <= now - WEBHOOK_IN_FLIGHT_MS).sort(([a], [b]) => a - b);
    for (const [seq] of stale) {
      if (taken.length >= limit) break;
      const entry = this.entryAt(state, seq);
      if (!entry) {
        state.pending.delete(seq); // dropped from the queue: nothing left to deliver
        continue;
      }
      state.pending.set(seq, { nodeId, takenAt: now });
      taken.push({ entry: structuredClone(entry), delivery: structuredClone(state.records.get(deliveryIdOf(seq)) ?? null) });
    }
    const due = [...state.retries].filter(([, at]) => at <= now).sort(([seqA, a], [seqB, b]) => a - b || seqA - seqB);
    for (const [seq] of due) {
      if (taken.length >= limit) break;
      const entry = this.entryAt(state, seq);
      const record = state.records.get(deliveryIdOf(seq)) ?? null;
      if (!entry) {
        this.drop(state, seq);
        continue;
      }
      state.retries.set(seq, now + WEBHOOK_IN_FLIGHT_MS);
      taken.push({ entry: structuredClone(entry), delivery: record ? structuredClone(record) : null });
    }
    state.handedOut = Math.max(state.handedOut, state.base);
    while (taken.length < limit && state.handedOut < state.nextSeq) {
      const seq = state.handedOut;
      state.handedOut += 1;
      const entry = this.entryAt(state, seq);
      if (!entry) continue;
      state.pending.set(seq, { nodeId, takenAt: now });
      taken.push({ entry: structuredClone(entry), delivery: null });
    }
    return taken;
  }

  async settle(
    tenantId: TenantId,
    id: WebhookId,
    delivery: WebhookDelivery,
    outcome: 'delivered' | 'retry' | 'failed',
    now: EpochMs,
    disableFailingSince: EpochMs,
  ): Promise<{ disabled: boolean }> {
    const state = this.find(tenantId, id);
    if (!state) return { disabled: false };
    const seq = seqOf(delivery.id);
    if (seq !== null) {
      state.pending.delete(seq);
      state.retries.delete(seq);
      if (outcome === 'retry') state.retries.set(seq, delivery.nextAttemptAt ?? now);
    }
    this.record(state, structuredClone(delivery));
    this.dropSettled(state, now);
    const webhook = state.webhook;
    if (outcome === 'delivered') {
      webhook.failingSince = null;
      return { disabled: false };
    }
    webhook.failingSince ??= now;
    if (webhook.enabled && webhook.failingSince <= disableFailingSince) {
      webhook.enabled = false;
      webhook.disabledAt = now;
      return { disabled: true };
    }
    return { disabled: false };
  }

  async deliveries(tenantId: TenantId, id: WebhookId, limit: number): Promise<WebhookDelivery[] | null> {
    requireLimit(limit, MAX_DELIVERIES_PAGE);
    const state = this.find(tenantId, id);
    if (!state) return null;
    return [...state.records.values()].sort(newestFirst).slice(0, limit).map((record) => structuredClone(record));
  }

  async retry(tenantId: TenantId, id: WebhookId, deliveryId: string, now: EpochMs): Promise<'queued' | 'pending' | 'dropped' | 'not_found'> {
    const state = this.find(tenantId, id);
    const record = state?.records.get(deliveryId);
    const seq = seqOf(deliveryId);
    if (!state || !record || seq === null) return 'not_found';
    if (record.status === 'pending') return 'pending';
    if (!this.entryAt(state, seq)) {
      record.status = 'failed';
      record.nextAttemptAt = null;
      state.settled.add(deliveryId);
      return 'dropped';
    }
    record.status = 'pending';
    record.nextAttemptAt = now;
    state.settled.delete(deliveryId);
    state.retries.set(seq, now);
    return 'queued';
  }

  async backlog(tenantId: TenantId, id: WebhookId): Promise<{ depth: number; oldestAt: EpochMs | null; dropped: number }> {
    const state = this.find(tenantId, id);
    if (!state) return { depth: 0, oldestAt: null, dropped: 0 };
    const firstUnread = Math.max(state.handedOut, state.base);
    const unread = state.nextSeq - firstUnread;
    // The oldest entry the queue still holds: pending entries and retries may name dropped ones.
    let oldest = unread > 0 ? firstUnread : Infinity;
    for (const seq of [...state.pending.keys(), ...state.retries.keys()]) {
      if (seq >= state.base) oldest = Math.min(oldest, seq);
    }
    const entry = Number.isFinite(oldest) ? this.entryAt(state, oldest) : null;
    return { depth: unread + state.pending.size + state.retries.size, oldestAt: entry?.at ?? null, dropped: state.dropped };
  }

  async watch(onWork: (tenantId: TenantId, id: WebhookId) => void): Promise<{ close(): Promise<void> }> {
    let open = true;
    const watcher = (tenantId: TenantId, id: WebhookId) => {
      if (open && !this.closed) onWork(tenantId, id);
    };
    this.watchers.add(watcher);
    return {
      close: async () => {
        open = false;
        this.watchers.delete(watcher);
      },
    };
  }

  /** Ends every watch (the engine is closing). */
  close(): void {
    this.closed = true;
    this.watchers.clear();
  }

  private find(tenantId: TenantId, id: WebhookId): WebhookState | undefined {
    return this.tenants.read(tenantId)?.get(id);
  }

  private entryAt(state: WebhookState, seq: number): QueuedWebhookEvent | undefined {
    return seq >= state.base ? state.entries[seq - state.base] : undefined;
  }

  /** Appends to the queue (which owns `entry` now), drops the oldest beyond the bound, wakes watchers. */
  private push(tenantId: TenantId, state: WebhookState, entry: Omit<QueuedWebhookEvent, 'deliveryId'>): QueuedWebhookEvent {
    const seq = state.nextSeq;
    state.nextSeq += 1;
    const queued: QueuedWebhookEvent = { deliveryId: deliveryIdOf(seq), ...entry };
    state.entries.push(queued);
    if (state.entries.length > MAX_WEBHOOK_QUEUE) {
      // Dropped entries stay in `pending` and `retries` until met: reclaim skips them, take ends them.
      const excess = state.entries.length - MAX_WEBHOOK_QUEUE;
      state.entries.splice(0, excess);
      // Counted: those never handed out (lost before any attempt), as the Redis engine counts them.
      state.dropped += Math.max(0, state.base + excess - Math.max(state.handedOut, state.base));
      state.base += excess;
    }
    this.wake(tenantId, state.webhook.id);
    return queued;
  }

  /**
   * Tells every watcher, on a later turn of the event loop, that the webhook has new entries. The
   * webhooks woken within one turn are told once each, however many entries they got.
   */
  private wake(tenantId: TenantId, id: WebhookId): void {
    if (this.watchers.size === 0) return;
    if (this.woken.size === 0) {
      setImmediate(() => {
        const woken = [...this.woken.values()];
        this.woken.clear();
        for (const watcher of this.watchers) for (const webhook of woken) watcher(webhook.tenantId, webhook.id);
      });
    }
    this.woken.set(JSON.stringify([tenantId, id]), { tenantId, id });
  }

  /** A retry whose entry left the queue ends as failed. */
  private drop(state: WebhookState, seq: number): void {
    state.retries.delete(seq);
    const record = state.records.get(deliveryIdOf(seq));
    if (record) {
      record.status = 'failed';
      record.nextAttemptAt = null;
      state.settled.add(record.id);
    }
  }

  /**
   * Stores a record; delivered and failed ones are kept in their own order, the oldest beyond the
   * bound going (pending records stay until they end: they are bounded by the queue).
   */
  private record(state: WebhookState, delivery: WebhookDelivery): void {
    state.records.set(delivery.id, delivery);
    state.settled.delete(delivery.id);
    if (delivery.status === 'pending') return;
    state.settled.add(delivery.id);
    for (const id of state.settled) {
      if (state.settled.size <= MAX_WEBHOOK_DELIVERY_RECORDS) break;
      state.settled.delete(id);
      state.records.delete(id);
    }
  }

  /**
   * Drops the entries before the oldest one still unsettled (never handed out, in flight, awaiting
   * a retry) that were queued more than WEBHOOK_SETTLED_RETENTION_MS before `now`.
   */
  private dropSettled(state: WebhookState, now: EpochMs): void {
    const cutoff = now - WEBHOOK_SETTLED_RETENTION_MS;
    const first = state.entries[0];
    if (!first || first.at >= cutoff) return;
    let keepFrom = Math.max(state.handedOut, state.base);
    for (const seq of [...state.pending.keys(), ...state.retries.keys()]) {
      if (seq >= state.base) keepFrom = Math.min(keepFrom, seq);
    }
    let count = 0;
    while (state.base + count < keepFrom && (state.entries[count]?.at ?? cutoff) < cutoff) count += 1;
    state.entries.splice(0, count);
    state.base += count;
  }
}
