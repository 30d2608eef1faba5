/**
 * What every Redis store is built from. The stores share one client, one script registry and one
 * key naming; none of them owns the connection (RedisEngine does).
 */
import type { Cluster, Redis, RedisCommander } from 'ioredis';
import type { ConversationId, TenantId } from '../../domain/types.js';
import { MAX_WEBHOOK_QUEUE, type EventRetention } from '../engine.js';
import type { RedisKeys } from './redis-keys.js';
import type { Scripts } from './scripts.js';

/** A standalone/Sentinel client or a Cluster client: the engine works the same on each. */
export type RedisClient = Redis | Cluster;

export function isCluster(client: RedisClient): client is Cluster {
  return client.isCluster;
}

/**
 * How events are logged and published. On Cluster a topic is a sharded channel (SPUBLISH), heard
 * only on the node that owns its slot; elsewhere a plain channel (PUBLISH).
 */
export interface EventLogSettings {
  readonly publish: 'PUBLISH' | 'SPUBLISH';
  readonly retention: EventRetention;
  /**
   * On Cluster, the relay that moves events from each slot's webhook outbox to the tenants' queues
   * (redis-webhook-outbox.ts): a conversation's script runs in the conversation's slot and cannot
   * reach the tenant's webhook keys, so it appends to its slot's outbox. Null off Cluster, where
   * the logging step queues for the webhooks itself.
   */
  readonly outbox: { touched(slot: number): void } | null;
}

export interface RedisContext {
  /** Plain commands, typed once for both client kinds. */
  readonly redis: RedisCommander;
  readonly scripts: Scripts;
  readonly keys: RedisKeys;
  readonly log: EventLogSettings;
}

/**
 * ARGV[1..3] of every script that logs events: publish command, max events, max age (ms).
 * With `conversation` (a conversation's log, never an inbox), ARGV[1] also carries what
 * lua/lib/event-log.lua needs to feed the tenant's webhooks, in lines after the command:
 *   - off Cluster, the routes hash, the queue key prefix, the wake channel, the wake message
 *     prefix, the queue bound, the webhook hash key prefix and, last, the conversation id (the
 *     script queues the event itself);
 *   - on Cluster, `outbox`, the outbox of the conversation's slot, its bound, the tenant and, last,
 *     the conversation id; and the slot is noted with the relay, which reads that outbox right
 *     after the script (so call this as the script is sent).
 */
export function logArgs(context: RedisContext, conversation?: { tenantId: TenantId; conversationId: ConversationId }): [string, number, number] {
  const { publish, retention, outbox } = context.log;
  if (!conversation) return [publish, retention.maxEvents, retention.maxAgeMs];
  const { keys } = context;
  const { tenantId, conversationId } = conversation;
  if (outbox !== null) {
    const slot = keys.conversationKeySlot(tenantId, conversationId);
    outbox.touched(slot);
    return [[publish, 'outbox', keys.webhookOutbox(slot), MAX_WEBHOOK_QUEUE, tenantId, conversationId].join('\n'), retention.maxEvents, retention.maxAgeMs];
  }
  const routing = [
    publish,
    keys.webhookRoutes(tenantId),
    keys.webhookQueuePrefix(tenantId),
    keys.webhookWakeTopic(),
    keys.webhookMemberPrefix(tenantId),
    MAX_WEBHOOK_QUEUE,
    keys.webhookHashPrefix(tenantId),
    conversationId,
  ].join('\n');
  return [routing, retention.maxEvents, retention.maxAgeMs];
}
