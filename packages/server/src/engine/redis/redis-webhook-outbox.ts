/**
 * Webhook queueing on Redis Cluster. A conversation's logging script runs in the conversation's
 * slot and cannot reach the tenant's webhook slot, so it appends each event, in the same atomic
 * step, to the outbox of its own slot (a stream whose key lands in that slot: slot-tags.ts). This
 * relay moves outbox entries to the tenant's webhook queues:
 *   - right after this node's logging scripts: logArgs notes the slot (`touched`) as it builds the
 *     script's arguments, and the relay reads that outbox on the next turn — after the script on
 *     the same connection to the same node, so it finds the entry (and once more shortly after, in
 *     case the script was delayed, e.g. resent after NOSCRIPT or a redirection);
 *   - and, for entries a node left behind when it died between its script and its relay, by one
 *     node at a time (a lease) sweeping every slot's outbox every SWEEP_INTERVAL_MS.
 * Per slot, one relay at a time (a lock with an expiry), in outbox order, so the events of one
 * conversation reach the queues in log order. Each batch is queued (webhook-route.lua: the tenant's
 * routes are read at that moment) and then deleted from the outbox; a crash between the two
 * queues the batch again on the next relay: at least once, with the same event ids, which
 * receivers de-duplicate. An outbox holds at most MAX_WEBHOOK_QUEUE entries (oldest dropped).
 */
import { randomUUID } from 'node:crypto';
import type { Cluster } from 'ioredis';
import type { TenantId } from '../../domain/types.js';
import { MAX_WEBHOOK_QUEUE } from '../engine.js';
import type { RedisContext } from './redis-context.js';
import { asArray, asString } from './redis-replies.js';
import type { Reply } from './scripts.js';
import { CLUSTER_SLOTS } from './slot-tags.js';

const BATCH = 200;
const LOCK_MS = 10_000;
/** After a relay of a touched slot, how much later to look once more (a delayed script). */
const SECOND_LOOK_MS = 100;
/** While another node relays a slot, how often to try again (a few times; then the sweep). */
const LOCKED_RETRY_MS = 20;
const LOCKED_RETRIES = 25;
export const SWEEP_INTERVAL_MS = 10_000;

interface OutboxEntry {
  id: string;
  tenantId: TenantId;
  conversationId: string;
  logId: string;
  at: string;
  event: string;
}

function parseEntries(reply: Reply): OutboxEntry[] {
  return asArray(reply, 'outbox entries').map((raw) => {
    const [idReply, fieldsReply] = asArray(raw, 'outbox entry');
    const flat = asArray(fieldsReply, 'outbox entry fields');
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) fields[asString(flat[i], 'outbox field')] = asString(flat[i + 1], 'outbox value');
    return {
      id: asString(idReply, 'outbox entry id'),
      tenantId: (fields.tenantId ?? '') as TenantId,
      conversationId: fields.conversationId ?? '',
      logId: fields.id ?? '',
      at: fields.at ?? '',
      event: fields.event ?? '',
    };
  });
}

export class WebhookOutboxRelay {
  private readonly owner = randomUUID();
  /** Slots to relay on the next turn. */
  private readonly dirty = new Set<number>();
  /** Relays under way, by slot (one at a time per slot on this node). */
  private readonly running = new Map<number, Promise<void>>();
  private flushScheduled = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private sweeper: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly context: RedisContext,
    private readonly client: Cluster,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  /** A logging script of this slot is being sent now: relay its outbox next turn, and again a little later. */
  touched(slot: number): void {
    if (this.closed) return;
    this.dirty.add(slot);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        const slots = [...this.dirty];
        this.dirty.clear();
        for (const touched of slots) {
          void this.relay(touched).catch(this.onError);
          this.later(SECOND_LOOK_MS, () => void this.relay(touched).catch(this.onError));
        }
      });
    }
  }

  /** Resolves once every slot touched before the call has been relayed (tests; shutdown). */
  async drained(): Promise<void> {
    const slots = [...this.dirty];
    this.dirty.clear();
    await Promise.all(slots.map((slot) => this.relay(slot)));
    await Promise.all([...this.running.values()].map((relay) => relay.catch(() => undefined)));
  }

  /** Starts the periodic sweep (on one node at a time, by lease). */
  startSweeping(): void {
    if (this.sweeper !== null || this.closed) return;
    this.sweeper = setInterval(() => void this.sweep().catch(this.onError), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  /** Relays what is pending, then stops. */
  async close(): Promise<void> {
    if (this.sweeper !== null) clearInterval(this.sweeper);
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await this.drained().catch(this.onError);
    this.closed = true;
  }

  /**
   * When this node holds the sweeper lease: every slot's outbox length, and a relay of those that
   * hold anything. 16,384 XLENs spread over the masters, every SWEEP_INTERVAL_MS, on one node.
   */
  async sweep(): Promise<void> {
    const { redis, keys } = this.context;
    const holder = await redis.set(keys.webhookOutboxSweeper(), this.owner, 'PX', SWEEP_INTERVAL_MS * 2, 'NX');
    const mine = holder === 'OK' || (await redis.get(keys.webhookOutboxSweeper())) === this.owner;
    if (!mine) return;
    await redis.pexpire(keys.webhookOutboxSweeper(), SWEEP_INTERVAL_MS * 2);
    const slots = Array.from({ length: CLUSTER_SLOTS }, (_, slot) => slot);
    const lengths = await Promise.all(slots.map((slot) => this.client.xlen(keys.webhookOutbox(slot))));
    await Promise.all(slots.filter((slot) => (lengths[slot] ?? 0) > 0).map((slot) => this.relay(slot)));
  }

  /** Relays one slot's outbox until empty; one relay per slot at a time on this node. */
  private relay(slot: number): Promise<void> {
    const previous = this.running.get(slot) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.relayLocked(slot));
    this.running.set(slot, next);
    void next.finally(() => {
      if (this.running.get(slot) === next) this.running.delete(slot);
    }).catch(() => undefined);
    return next;
  }

  /**
   * Relays under the slot's lock. While another node holds it (it may have read the outbox before
   * our entry arrived), tries again a few times, then leaves the rest to the sweep. One pass stays
   * well within the lock's expiry (LOCK_MS / 2), so no other node relays the same entries meanwhile;
   * what is left goes in the next pass.
   */
  private async relayLocked(slot: number): Promise<void> {
    const { redis, keys, scripts } = this.context;
    const lock = keys.webhookOutboxLock(slot);
    for (let attempt = 0; (await redis.set(lock, this.owner, 'PX', LOCK_MS, 'NX')) !== 'OK'; attempt++) {
      if (attempt >= LOCKED_RETRIES || this.closed) return;
      await new Promise((resolve) => setTimeout(resolve, LOCKED_RETRY_MS));
    }
    const started = Date.now();
    let more = false;
    try {
      const outbox = keys.webhookOutbox(slot);
      for (let batch = 0; ; batch++) {
        // Still ours? (A pass slower than the lock's expiry must not relay what another node relays.)
        if (batch > 0 && (await scripts.run('webhook-outbox-lock', [lock], [this.owner, 'renew', LOCK_MS])) !== 1) return;
        const entries = parseEntries((await this.client.xrange(outbox, '-', '+', 'COUNT', BATCH)) as Reply);
        if (entries.length === 0) return;
        await this.route(entries);
        await scripts.run('webhook-outbox-ack', [outbox], entries.map((entry) => entry.id));
        if (entries.length < BATCH) return;
        if (Date.now() - started > LOCK_MS / 2) {
          more = true;
          return;
        }
      }
    } finally {
      await scripts.run('webhook-outbox-lock', [lock], [this.owner, 'release']);
      if (more) this.touched(slot);
    }
  }

  /** Queues entries tenant by tenant, each tenant's in outbox order. */
  private async route(entries: OutboxEntry[]): Promise<void> {
    const { keys, scripts } = this.context;
    const byTenant = new Map<TenantId, OutboxEntry[]>();
    for (const entry of entries) {
      const list = byTenant.get(entry.tenantId) ?? [];
      list.push(entry);
      byTenant.set(entry.tenantId, list);
    }
    await Promise.all(
      [...byTenant].map(([tenantId, list]) =>
        scripts.run(
          'webhook-route',
          [keys.webhookRoutes(tenantId)],
          [
            keys.webhookQueuePrefix(tenantId),
            keys.webhookWakeTopic(),
            keys.webhookMemberPrefix(tenantId),
            MAX_WEBHOOK_QUEUE,
            keys.webhookHashPrefix(tenantId),
            ...list.flatMap((entry) => [entry.conversationId, entry.logId, entry.at, entry.event]),
          ],
        ),
      ),
    );
  }

  private later(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.closed) run();
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }
}
