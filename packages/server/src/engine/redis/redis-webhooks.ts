/**
 * WebhookStore on Redis. Each tenant's webhook keys share the slot `{w:<tenant>}` (redis-keys.ts),
 * so every step on one webhook is one script (lua/webhook-*.lua, all taking the webhook's ten
 * keys); the deployment-wide registry that `listAll` reads is a set of its own (another slot),
 * added to before a create (and again after it) and removed from after a delete, so a crash in
 * between can leave a member naming an absent webhook, which the next `lease` (answering
 * `absent`) removes, but never a webhook that listAll misses.
 *
 * A queue is a stream read by the consumer group `dispatch` that every node shares (consumer =
 * node id): `take` reads new entries with XREADGROUP, `settle` acknowledges them, `reclaim` moves
 * other nodes' pending entries with XCLAIM. When each pending entry was taken is kept on the
 * callers' clock in an in-flight sorted set (the group's idle times are on Redis's clock, which
 * `now` does not drive), from which `take` claims entries in flight too long. Retries are a sorted
 * set by due time beside the stream, so a retry waits without holding the stream back. The
 * delivery id is the stream id. Updates are a compare-and-set of the settings JSON
 * (lua/webhook-update.lua), retried on conflict.
 *
 * Queueing by the event log: off Cluster, every conversation logging script also reads the
 * tenant's routes hash and appends to the subscribed queues (lua/lib/event-log.lua, fed by
 * redis-context.ts `logArgs`). On Cluster a conversation's script cannot reach the tenant's slot:
 * it appends the event to its own slot's outbox in the same step, and the relay
 * (redis-webhook-outbox.ts) queues it moments later; `relayed` waits for that.
 *
 * `watch` listens on one deployment-wide channel on a connection of its own; the queueing scripts
 * PUBLISH "<tenant>:<id>" there (plain PUBLISH, which Cluster broadcasts to every node).
 */
import type { EpochMs, TenantId } from '../../domain/types.js';
import { MAX_WEBHOOK_SECRETS, type QueuedWebhookEvent, type Webhook, type WebhookDelivery, type WebhookId, type WebhookSecret } from '../../domain/webhooks.js';
import {
  MAX_WEBHOOK_DELIVERY_RECORDS,
  MAX_WEBHOOK_QUEUE,
  WEBHOOK_IN_FLIGHT_MS,
  WEBHOOK_SETTLED_RETENTION_MS,
  type WebhookChanges,
  type WebhookStore,
} from '../engine.js';
import type { RedisClient, RedisContext } from './redis-context.js';
import { guard, invalid, requireId, requireLimit, requireTime } from './redis-guard.js';
import type { RedisKeys, WebhookKeys } from './redis-keys.js';
import { asArray, asInteger, asString, parseJsonText, unexpected } from './redis-replies.js';
import { subscribeChannel } from './redis-channel.js';
import type { WebhookOutboxRelay } from './redis-webhook-outbox.js';
import type { Reply, ScriptName } from './scripts.js';

const MAX_TAKE = 1000;
const MAX_DELIVERIES_PAGE = 100;
/** Compare-and-set attempts of one update before giving up (each conflict is another write that won). */
const MAX_UPDATE_ATTEMPTS = 20;

/** What the webhook hash keeps as JSON: everything but the identity, createdAt and the delivery state. */
interface WebhookData {
  url: string;
  events: string[];
  description: string | null;
  secrets: WebhookSecret[];
}

/** The routes hash value of a webhook: its types between newlines, so a script finds `\n<type>\n`. */
function routeTypes(events: readonly string[]): string {
  return `\n${events.join('\n')}\n`;
}

function optionalTime(text: string | undefined): EpochMs | null {
  return text === undefined || text === '' ? null : Number(text);
}

function parseWebhook(tenantId: TenantId, id: WebhookId, fields: Record<string, string>): Webhook | null {
  if (fields.data === undefined) return null;
  const data = parseJsonText(fields.data, 'webhook.data') as WebhookData;
  if (typeof data !== 'object' || data === null || typeof data.url !== 'string' || !Array.isArray(data.events) || !Array.isArray(data.secrets)) {
    throw unexpected('webhook.data');
  }
  return {
    tenantId,
    id,
    url: data.url,
    events: data.events,
    description: data.description,
    enabled: fields.enabled === '1',
    createdAt: Number(fields.createdAt),
    secrets: data.secrets,
    failingSince: optionalTime(fields.failingSince),
    disabledAt: optionalTime(fields.disabledAt),
  };
}

/** A queue entry as the scripts return it: [id, [field, value, ...]]. */
function parseEntry(reply: Reply | undefined): QueuedWebhookEvent {
  const [idReply, fieldsReply] = asArray(reply, 'webhook entry');
  const flat = asArray(fieldsReply, 'webhook entry fields');
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[asString(flat[i], 'webhook entry field')] = asString(flat[i + 1], 'webhook entry value');
  const { eventId, type, at, conversationId, event } = fields;
  if (eventId === undefined || type === undefined || at === undefined || conversationId === undefined || event === undefined) {
    throw unexpected('webhook entry fields');
  }
  return {
    deliveryId: asString(idReply, 'webhook entry id'),
    eventId,
    type,
    conversationId: conversationId === '' ? null : (conversationId as QueuedWebhookEvent['conversationId']),
    at: Number(at),
    event: parseJsonText(event, 'webhook entry event') as Record<string, unknown>,
  };
}

function parseDelivery(reply: Reply | undefined): WebhookDelivery {
  const value = parseJsonText(asString(reply, 'webhook delivery'), 'webhook delivery') as WebhookDelivery;
  if (typeof value !== 'object' || value === null || typeof value.id !== 'string') throw unexpected('webhook delivery');
  return value;
}

export class RedisWebhookStore implements WebhookStore {
  private readonly watchers = new Set<{ close(): Promise<void> }>();

  constructor(
    private readonly context: RedisContext,
    private readonly client: RedisClient,
    /** Cluster: the outbox relay (redis-webhook-outbox.ts); null elsewhere. */
    private readonly relay: WebhookOutboxRelay | null = null,
  ) {}

  async relayed(): Promise<void> {
    await this.relay?.drained();
  }

  /**
   * On Cluster, relays every slot's outbox now, as the periodic sweep does on the node holding its
   * lease (what a node that died between its logging script and its relay left behind); nothing
   * elsewhere. For tests and operators.
   */
  async sweep(): Promise<void> {
    await this.relay?.sweep();
  }

  create(webhook: Webhook, maxPerTenant: number): Promise<'created' | 'too_many_webhooks' | 'id_taken'> {
    return guard(async () => {
      this.requireWebhook(webhook);
      if (!Number.isSafeInteger(maxPerTenant) || maxPerTenant < 0) throw invalid('maxPerTenant must be a non-negative integer');
      const { keys, redis } = this.context;
      // Registered before the step, so that no crash leaves a webhook that listAll misses (a
      // member naming an absent webhook only costs a dispatcher an `absent` lease).
      const member = keys.webhookMember(webhook.tenantId, webhook.id);
      await redis.sadd(keys.webhookRegistry(), member);
      const result = asString(
        await this.run('webhook-create', webhook.tenantId, webhook.id, [
          webhook.id,
          webhook.createdAt,
          ...this.mutableFields(webhook),
          maxPerTenant,
          keys.webhookRoute(webhook.id),
          routeTypes(webhook.events),
        ]),
        'webhook-create',
      );
      if (result !== 'created' && result !== 'too_many_webhooks' && result !== 'id_taken') throw unexpected('webhook-create');
      // id_taken: the member names the webhook that holds the id. too_many_webhooks: there was no
      // such webhook at the step (the id is checked first), so the member named nothing.
      if (result === 'too_many_webhooks') await redis.srem(keys.webhookRegistry(), member);
      // Again, in case a lease that found no webhook yet forgot the member meanwhile.
      else await redis.sadd(keys.webhookRegistry(), member);
      return result;
    });
  }

  get(tenantId: TenantId, id: WebhookId): Promise<Webhook | null> {
    return guard(async () => {
      requireId(id, 'id');
      const fields = await this.context.redis.hgetall(this.keysOf(tenantId, id).webhook);
      return parseWebhook(tenantId, id, fields);
    });
  }

  list(tenantId: TenantId): Promise<Webhook[]> {
    return guard(async () => {
      const { keys, redis } = this.context;
      // Index order: createdAt, ties by id (a sorted set orders equal scores by member).
      const ids = (await redis.zrange(keys.webhookIndex(tenantId), '0', '-1')) as WebhookId[];
      const records = await Promise.all(ids.map((id) => redis.hgetall(this.keysOf(tenantId, id).webhook)));
      return ids.flatMap((id, i) => parseWebhook(tenantId, id, records[i] ?? {}) ?? []);
    });
  }

  update(tenantId: TenantId, id: WebhookId, changes: WebhookChanges): Promise<Webhook | null> {
    return guard(async () => {
      if (changes.events !== undefined) this.requireEvents(changes.events);
      const enabled = changes.enabled === undefined ? '' : changes.enabled ? '1' : '0';
      return this.writeData(tenantId, id, enabled, (data) => ({
        url: changes.url ?? data.url,
        events: changes.events ?? data.events,
        description: changes.description === undefined ? data.description : changes.description,
        secrets: data.secrets,
      }));
    });
  }

  rotateSecret(tenantId: TenantId, id: WebhookId, secret: string, now: EpochMs, graceMs: number): Promise<Webhook | null> {
    return guard(async () => {
      requireTime(now, 'now');
      if (!Number.isSafeInteger(graceMs) || graceMs < 0) throw invalid('graceMs must be a non-negative integer');
      return this.writeData(tenantId, id, '', (data) => {
        const previous = data.secrets.map((old) => ({ secret: old.secret, expiresAt: old.expiresAt ?? now + graceMs })).filter((old) => old.expiresAt > now);
        return { ...data, secrets: [{ secret, expiresAt: null }, ...previous].slice(0, MAX_WEBHOOK_SECRETS) };
      });
    });
  }

  delete(tenantId: TenantId, id: WebhookId): Promise<boolean> {
    return guard(async () => {
      requireId(id, 'id');
      const { keys, redis } = this.context;
      const deleted = asInteger(await this.run('webhook-delete', tenantId, id, [id, keys.webhookRoute(id)]), 'webhook-delete') === 1;
      if (deleted) await redis.srem(keys.webhookRegistry(), keys.webhookMember(tenantId, id));
      return deleted;
    });
  }

  listAll(): Promise<{ tenantId: TenantId; id: WebhookId }[]> {
    return guard(async () => {
      const { keys, redis } = this.context;
      const members = await redis.smembers(keys.webhookRegistry());
      return members.flatMap((member) => {
        const parsed = keys.parseWebhookMember(member);
        return parsed ? [{ tenantId: parsed.tenantId, id: parsed.webhookId as WebhookId }] : [];
      });
    });
  }

  enqueue(
    tenantId: TenantId,
    id: WebhookId,
    entry: { eventId: string; type: string; at: EpochMs; event: Record<string, unknown> },
  ): Promise<QueuedWebhookEvent | null> {
    return guard(async () => {
      requireId(id, 'id');
      requireTime(entry.at, 'at');
      const { keys } = this.context;
      const reply = await this.run('webhook-enqueue', tenantId, id, [
        MAX_WEBHOOK_QUEUE,
        entry.eventId,
        entry.type,
        entry.at,
        JSON.stringify(entry.event),
        keys.webhookWakeTopic(),
        keys.webhookMember(tenantId, id),
      ]);
      if (reply === null) return null;
      return {
        deliveryId: asString(reply, 'webhook-enqueue'),
        eventId: entry.eventId,
        type: entry.type,
        conversationId: null,
        at: entry.at,
        event: structuredClone(entry.event),
      };
    });
  }

  lease(tenantId: TenantId, id: WebhookId, nodeId: string, ttlMs: number, now: EpochMs): Promise<'acquired' | 'renewed' | 'held' | 'absent'> {
    return guard(async () => {
      requireId(id, 'id');
      requireId(nodeId, 'nodeId');
      requireTime(now, 'now');
      if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) throw invalid('ttlMs must be a positive integer');
      const result = asString(await this.run('webhook-lease', tenantId, id, [nodeId, ttlMs, now]), 'webhook-lease');
      if (result !== 'acquired' && result !== 'renewed' && result !== 'held' && result !== 'absent') throw unexpected('webhook-lease');
      // A member naming no webhook (a crash between the registry and the webhook's own step):
      // forgotten, so nodes stop leasing it. A create in progress registers again after its step.
      if (result === 'absent') await this.context.redis.srem(this.context.keys.webhookRegistry(), this.context.keys.webhookMember(tenantId, id));
      return result;
    });
  }

  release(tenantId: TenantId, id: WebhookId, nodeId: string): Promise<void> {
    return guard(async () => {
      requireId(id, 'id');
      requireId(nodeId, 'nodeId');
      await this.run('webhook-release', tenantId, id, [nodeId]);
    });
  }

  reclaim(tenantId: TenantId, id: WebhookId, nodeId: string, limit: number): Promise<QueuedWebhookEvent[]> {
    return guard(async () => {
      requireId(id, 'id');
      requireId(nodeId, 'nodeId');
      requireLimit(limit, MAX_TAKE);
      return asArray(await this.run('webhook-reclaim', tenantId, id, [nodeId, limit]), 'webhook-reclaim').map(parseEntry);
    });
  }

  take(
    tenantId: TenantId,
    id: WebhookId,
    nodeId: string,
    limit: number,
    now: EpochMs,
  ): Promise<{ entry: QueuedWebhookEvent; delivery: WebhookDelivery | null }[]> {
    return guard(async () => {
      requireId(id, 'id');
      requireId(nodeId, 'nodeId');
      requireLimit(limit, MAX_TAKE);
      requireTime(now, 'now');
      const reply = asArray(await this.run('webhook-take', tenantId, id, [nodeId, limit, now, WEBHOOK_IN_FLIGHT_MS]), 'webhook-take');
      return reply.map((item) => {
        const [entryId, fields, record] = asArray(item, 'webhook-take item');
        return { entry: parseEntry([entryId ?? null, fields ?? null]), delivery: record === null || record === undefined ? null : parseDelivery(record) };
      });
    });
  }

  settle(
    tenantId: TenantId,
    id: WebhookId,
    delivery: WebhookDelivery,
    outcome: 'delivered' | 'retry' | 'failed',
    now: EpochMs,
    disableFailingSince: EpochMs,
  ): Promise<{ disabled: boolean }> {
    return guard(async () => {
      requireId(id, 'id');
      requireId(delivery.id, 'delivery.id');
      requireTime(now, 'now');
      if (!Number.isSafeInteger(disableFailingSince)) throw invalid('disableFailingSince must be an epoch-ms integer');
      const reply = await this.run('webhook-settle', tenantId, id, [
        delivery.id,
        JSON.stringify(delivery),
        outcome,
        now,
        disableFailingSince,
        delivery.lastAttemptAt ?? 0,
        delivery.nextAttemptAt ?? now,
        this.context.keys.webhookRoute(id),
        MAX_WEBHOOK_DELIVERY_RECORDS,
        WEBHOOK_SETTLED_RETENTION_MS,
      ]);
      return { disabled: asInteger(reply, 'webhook-settle') === 1 };
    });
  }

  deliveries(tenantId: TenantId, id: WebhookId, limit: number): Promise<WebhookDelivery[] | null> {
    return guard(async () => {
      requireId(id, 'id');
      requireLimit(limit, MAX_DELIVERIES_PAGE);
      const reply = await this.run('webhook-deliveries', tenantId, id, [limit]);
      if (reply === null) return null;
      return asArray(reply, 'webhook-deliveries').flatMap((record) => (record === null ? [] : [parseDelivery(record)]));
    });
  }

  retry(tenantId: TenantId, id: WebhookId, deliveryId: string, now: EpochMs): Promise<'queued' | 'pending' | 'dropped' | 'not_found'> {
    return guard(async () => {
      requireId(id, 'id');
      requireTime(now, 'now');
      const result = asString(await this.run('webhook-retry', tenantId, id, [deliveryId, now]), 'webhook-retry');
      if (result !== 'queued' && result !== 'pending' && result !== 'dropped' && result !== 'not_found') throw unexpected('webhook-retry');
      return result;
    });
  }

  backlog(tenantId: TenantId, id: WebhookId): Promise<{ depth: number; oldestAt: EpochMs | null; dropped: number }> {
    return guard(async () => {
      requireId(id, 'id');
      const [depth, oldestAt, dropped] = asArray(await this.run('webhook-backlog', tenantId, id, []), 'webhook-backlog');
      return {
        depth: asInteger(depth, 'webhook-backlog depth'),
        oldestAt: oldestAt === null || oldestAt === undefined ? null : asInteger(oldestAt, 'webhook-backlog at'),
        dropped: asInteger(dropped, 'webhook-backlog dropped'),
      };
    });
  }

  watch(onWork: (tenantId: TenantId, id: WebhookId) => void): Promise<{ close(): Promise<void> }> {
    return guard(async () => {
      const { keys } = this.context;
      const subscription = await subscribeChannel(this.client, keys.webhookWakeTopic(), `${keys.prefix}webhooks`.replace(/\s/g, '_'), (text) => {
        const parsed = keys.parseWebhookMember(text);
        if (parsed) onWork(parsed.tenantId, parsed.webhookId as WebhookId);
      });
      const watcher = {
        close: async () => {
          this.watchers.delete(watcher);
          await subscription.close();
        },
      };
      this.watchers.add(watcher);
      return watcher;
    });
  }

  /** Closes every watch still open and relays what the outbox holds (the engine is closing). */
  async closeAll(): Promise<void> {
    await this.relay?.close();
    await Promise.all([...this.watchers].map((watcher) => watcher.close()));
  }

  private keysOf(tenantId: TenantId, id: WebhookId): WebhookKeys {
    return this.context.keys.webhook(tenantId, id);
  }

  private run(name: ScriptName, tenantId: TenantId, id: WebhookId, args: readonly (string | number)[]): Promise<Reply> {
    return this.context.scripts.run(name, scriptKeys(this.context.keys, tenantId, id), args);
  }

  /**
   * Writes the settings JSON that `change` makes of the stored one, as a compare-and-set
   * (lua/webhook-update.lua) repeated while another step wrote it in between, with `enabled`
   * ('1', '0' or '' for unchanged). The webhook after the write; null when absent.
   */
  private async writeData(tenantId: TenantId, id: WebhookId, enabled: string, change: (data: WebhookData) => WebhookData): Promise<Webhook | null> {
    requireId(id, 'id');
    const { keys, redis } = this.context;
    for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt += 1) {
      const read = await redis.hget(this.keysOf(tenantId, id).webhook, 'data');
      if (read === null) return null;
      const current = parseWebhook(tenantId, id, { data: read });
      if (!current) return null;
      const next = change({ url: current.url, events: current.events, description: current.description, secrets: current.secrets });
      const reply = await this.run('webhook-update', tenantId, id, [read, JSON.stringify(next), enabled, keys.webhookRoute(id), routeTypes(next.events)]);
      if (reply === null) return null;
      if (reply === 'conflict') continue;
      const flat = asArray(reply, 'webhook-update');
      const fields: Record<string, string> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) fields[asString(flat[i], 'webhook field')] = asString(flat[i + 1], 'webhook value');
      return parseWebhook(tenantId, id, fields);
    }
    throw new Error(`webhook ${id}: settings changed concurrently ${MAX_UPDATE_ATTEMPTS} times in a row`);
  }

  /** ARGV of create: data JSON, enabled, failingSince, disabledAt. */
  private mutableFields(webhook: Webhook): [string, string, string, string] {
    const data: WebhookData = { url: webhook.url, events: webhook.events, description: webhook.description, secrets: webhook.secrets };
    return [JSON.stringify(data), webhook.enabled ? '1' : '0', webhook.failingSince === null ? '' : String(webhook.failingSince), webhook.disabledAt === null ? '' : String(webhook.disabledAt)];
  }

  private requireWebhook(webhook: Webhook): void {
    requireId(webhook.tenantId, 'tenantId');
    requireId(webhook.id, 'id');
    requireTime(webhook.createdAt, 'createdAt');
    this.requireEvents(webhook.events);
  }

  private requireEvents(events: readonly string[]): void {
    if (!Array.isArray(events) || events.length === 0) throw invalid('events must not be empty');
    for (const type of events) {
      if (typeof type !== 'string' || type === '' || type.includes('\n')) throw invalid('each event type must be a non-empty line');
    }
  }
}

/** The eleven keys every webhook script takes, in lua/lib/webhooks.lua order. */
export function scriptKeys(keys: RedisKeys, tenantId: TenantId, id: string): string[] {
  const k = keys.webhook(tenantId, id);
  return [k.index, k.webhook, k.routes, k.queue, k.retries, k.retryAge, k.records, k.recordOrder, k.lease, k.inFlight, k.settledOrder];
}
