/**
 * Helpers for the webhook tests: calls to the webhook API with a tenant key that fail loudly
 * unless they succeed, so a broken setup step never passes for the behaviour under test.
 */
import type { ApiClient } from './api-client.js';
import type { ReceiverEndpoint } from './webhook-receiver.js';

/** A webhook as `POST /v1/webhooks` answered it (the only answer that carries its secret). */
export interface CreatedWebhook {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  enabled: boolean;
  createdAt: string;
  secret: string;
}

/** A webhook's delivery record as `GET /v1/webhooks/{id}/deliveries` lists it. */
export interface DeliveryRecord {
  id: string;
  eventId: string;
  eventType: string;
  status: 'delivered' | 'pending' | 'failed';
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  lastAttemptAt: string | null;
  nextAttemptAt: string | null;
}

/** Subscribes `endpoint` to `events` with the tenant's key; the endpoint then trusts the webhook's secret. */
export async function createWebhook(api: ApiClient, key: string, endpoint: ReceiverEndpoint, events: string[] = ['*']): Promise<CreatedWebhook> {
  const response = await api.post('/v1/webhooks', { url: endpoint.url, events, description: `endpoint ${endpoint.name}` }, key);
  if (response.status !== 201) throw new Error(`create webhook for ${endpoint.name}: ${response.status} ${response.text}`);
  endpoint.trust(response.body.secret);
  return response.body;
}

/** `POST /v1/webhooks/{id}/ping`: the ping's event id. */
export async function ping(api: ApiClient, key: string, webhookId: string): Promise<string> {
  const response = await api.post(`/v1/webhooks/${webhookId}/ping`, {}, key);
  if (response.status !== 202) throw new Error(`ping ${webhookId}: ${response.status} ${response.text}`);
  return response.body.eventId;
}

/** The webhook's delivery records, newest first. */
export async function deliveriesOf(api: ApiClient, key: string, webhookId: string, limit = 100): Promise<DeliveryRecord[]> {
  const response = await api.get(`/v1/webhooks/${webhookId}/deliveries?limit=${limit}`, key);
  if (response.status !== 200) throw new Error(`deliveries of ${webhookId}: ${response.status} ${response.text}`);
  return response.body.items;
}

/** Polls the delivery record of `eventId` until `check` holds; throws with the last record after `timeoutMs`. */
export async function deliveryRecordOf(
  api: ApiClient,
  key: string,
  webhookId: string,
  eventId: string,
  check: (record: DeliveryRecord) => boolean,
  timeoutMs: number,
): Promise<DeliveryRecord> {
  const deadline = Date.now() + timeoutMs;
  let last: DeliveryRecord | undefined;
  for (;;) {
    last = (await deliveriesOf(api, key, webhookId)).find((record) => record.eventId === eventId);
    if (last && check(last)) return last;
    if (Date.now() > deadline) throw new Error(`delivery record of ${eventId} after ${timeoutMs} ms: ${JSON.stringify(last ?? null)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
