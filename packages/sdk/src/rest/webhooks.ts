/** A tenant's webhooks (tenant key): `/v1/webhooks…`. Verifying deliveries is src/webhooks.ts. */
import { expectData, expectSuccess, type ParleyApi } from '../http.js';
import type {
  CreatedWebhook,
  CreateWebhookInput,
  RotatedWebhookSecret,
  UpdateWebhookInput,
  Webhook,
  WebhookDeliveryList,
  WebhookList,
  WebhookPing,
} from './types.js';

export interface WebhooksApi {
  /** Subscribes an https endpoint to the tenant's durable events; the answer's `secret` is shown only here. */
  create(input: CreateWebhookInput): Promise<CreatedWebhook>;
  /** The tenant's webhooks, oldest first, without secrets. */
  list(): Promise<WebhookList>;
  /** One webhook, without its secret. */
  get(webhookId: string): Promise<Webhook>;
  /** Changes the URL, events, description, or pauses/resumes delivery (`enabled`); applies to later events. */
  update(webhookId: string, input: UpdateWebhookInput): Promise<Webhook>;
  /** Deletes the webhook with its queue and delivery records. */
  delete(webhookId: string): Promise<void>;
  /** A new signing secret (shown once); the old one keeps signing, as a second `v1=`, for a grace period. */
  rotateSecret(webhookId: string): Promise<RotatedWebhookSecret>;
  /** Recent delivery attempts, newest first. */
  listDeliveries(webhookId: string): Promise<WebhookDeliveryList>;
  /** Delivers a delivered or failed event again, now. */
  retryDelivery(webhookId: string, deliveryId: string): Promise<void>;
  /** Queues a `webhook.ping` event for this webhook only, to test the endpoint. */
  ping(webhookId: string): Promise<WebhookPing>;
}

export function webhooksApi(api: ParleyApi): WebhooksApi {
  const webhook = (id: string) => ({ params: { path: { id } } });
  return {
    create: (input) => expectData(api.POST('/v1/webhooks', { body: input })),
    list: () => expectData(api.GET('/v1/webhooks')),
    get: (id) => expectData(api.GET('/v1/webhooks/{id}', webhook(id))),
    update: (id, input) => expectData(api.PATCH('/v1/webhooks/{id}', { ...webhook(id), body: input })),
    delete: (id) => expectSuccess(api.DELETE('/v1/webhooks/{id}', webhook(id))),
    rotateSecret: (id) => expectData(api.POST('/v1/webhooks/{id}/secret', webhook(id))),
    listDeliveries: (id) => expectData(api.GET('/v1/webhooks/{id}/deliveries', webhook(id))),
    retryDelivery: (id, deliveryId) =>
      expectSuccess(api.POST('/v1/webhooks/{id}/deliveries/{deliveryId}/retry', { params: { path: { id, deliveryId } } })),
    ping: (id) => expectData(api.POST('/v1/webhooks/{id}/ping', webhook(id))),
  };
}
