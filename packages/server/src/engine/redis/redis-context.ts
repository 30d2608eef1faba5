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
   * Whether conversation logging steps also queue their events for the tenant's webhooks. Not on
   * Cluster: a conversation's script runs in the conversation's slot and cannot reach the
   * tenant's webhook keys.
   */
  readonly queueWebhooks: boolean;
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
 * With `conversation` (a conversation's log, never an inbox) and where webhooks are queued by the
 * logging step, ARGV[1] also carries what lua/lib/event-log.lua needs to queue the event for the
 * tenant's webhooks: its lines after the command are the routes hash, the queue key prefix, the
 * wake channel, the wake message prefix, the queue bound and, last, the conversation id.
 */
export function logArgs(context: RedisContext, conversation?: { tenantId: TenantId; conversationId: ConversationId }): [string, number, number] {
  const { publish, retention, queueWebhooks } = context.log;
  if (!conversation || !queueWebhooks) return [publish, retention.maxEvents, retention.maxAgeMs];
  const { keys } = context;
  const { tenantId, conversationId } = conversation;
  const routing = [
    publish,
    keys.webhookRoutes(tenantId),
    keys.webhookQueuePrefix(tenantId),
    keys.webhookWakeTopic(),
    keys.webhookMemberPrefix(tenantId),
    MAX_WEBHOOK_QUEUE,
    conversationId,
  ].join('\n');
  return [routing, retention.maxEvents, retention.maxAgeMs];
}
