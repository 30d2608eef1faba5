/**
 * Webhooks: a tenant's back end subscribes an HTTPS endpoint to the tenant's durable events.
 * Types and pure rules only (which events an endpoint receives, the body it is sent); storage is
 * engine/ (WebhookStore), delivery is services/webhook-dispatcher.ts.
 */
import { WEBHOOK_EVENT_NAMES } from '@parley/protocol';
import type { ConversationEventType } from './events.js';
import type { Brand, ConversationId, EpochMs, TenantId } from './types.js';

export type WebhookId = Brand<string, 'WebhookId'>;

/** The durable event types a webhook can subscribe to (`*`: all of them); the wire contract's list. */
export const WEBHOOK_EVENT_TYPES = WEBHOOK_EVENT_NAMES satisfies readonly ConversationEventType[];

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** Sent by `POST /v1/webhooks/{id}/ping` to that one webhook, whatever it subscribes to. */
export const WEBHOOK_PING = 'webhook.ping';

/** A secret that signs deliveries. `expiresAt` null: the current secret; else a rotated-out one, valid until then. */
export interface WebhookSecret {
  secret: string;
  expiresAt: EpochMs | null;
}

export interface Webhook {
  tenantId: TenantId;
  id: WebhookId;
  url: string;
  /** Event types, or ['*']. Never empty. */
  events: string[];
  description: string | null;
  enabled: boolean;
  createdAt: EpochMs;
  /** The current secret first, then rotated-out ones still valid (at most MAX_WEBHOOK_SECRETS in all). */
  secrets: WebhookSecret[];
  /** Since when every attempt has failed (null: the last attempt succeeded, or none was made). */
  failingSince: EpochMs | null;
  /** When delivery was disabled for failing too long (null: not disabled that way). */
  disabledAt: EpochMs | null;
}

export const MAX_WEBHOOKS_PER_TENANT = 20;
export const MAX_WEBHOOK_SECRETS = 5;

/** Whether a webhook with `events` receives an event of `type`. */
export function subscribes(events: readonly string[], type: string): boolean {
  return events.includes('*') || events.includes(type);
}

/**
 * One event waiting in a webhook's queue, as the engine stored it when it logged the change.
 * `event` is the durable event as logged (the realtime event without its cursor, `type` included).
 */
export interface QueuedWebhookEvent {
  /** Unique per (webhook, event): the delivery's id in the API. */
  deliveryId: string;
  /** The event's id, the same for every webhook of the tenant that receives it (receivers de-duplicate by it). */
  eventId: string;
  type: string;
  /** The conversation it concerns; null for events of no conversation (webhook.ping). */
  conversationId: ConversationId | null;
  /** When the change happened (the event log's time). */
  at: EpochMs;
  /** The event as logged: `{type, conversationId, ...}`. */
  event: Record<string, unknown>;
}

/**
 * The receiver's POST body: `{id, type, tenantId, createdAt, data}`, `data` being what the realtime
 * event holds minus `type` and `cursor` (presented by the caller: gateway/wire-events.ts).
 */
export function webhookBody(tenantId: TenantId, queued: QueuedWebhookEvent, data: Record<string, unknown>): string {
  return JSON.stringify({ id: queued.eventId, type: queued.type, tenantId, createdAt: new Date(queued.at).toISOString(), data });
}

export type DeliveryStatus = 'delivered' | 'pending' | 'failed';

/** The record of a delivery's attempts, kept for `GET /v1/webhooks/{id}/deliveries`. */
export interface WebhookDelivery {
  id: string;
  eventId: string;
  eventType: string;
  status: DeliveryStatus;
  attempts: number;
  /** HTTP status of the last answer; null when the last attempt got none (timeout, refused, network). */
  lastStatusCode: number | null;
  /** What went wrong on the last attempt when it got no 2xx (`timeout`, `http_500`...); null after a success. */
  lastError: string | null;
  lastAttemptAt: EpochMs | null;
  /** When the first attempt was made: retries end a retry window after it. */
  firstAttemptAt: EpochMs | null;
  /** Pending: when the next attempt is due. */
  nextAttemptAt: EpochMs | null;
}
