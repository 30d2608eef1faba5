import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  CreatedWebhook,
  CreateWebhookBody,
  UpdateWebhookBody,
  Webhook,
  WebhookDeliveriesQuery,
  WebhookDeliveryList,
  WebhookDeliveryParams,
  WebhookList,
  WebhookParams,
  WebhookPing,
  WebhookSecret,
} from '@parley/protocol';
import type { WebhooksService } from '../../services/webhooks-service.js';
import { principalOf } from '../authentication.js';
import { AUTHENTICATED, problems } from '../route-schemas.js';
import { presentWebhook, presentWebhookDelivery } from './present.js';

const tags = ['Webhooks'];
const DEFAULT_DELIVERIES = 50;

/** A tenant's webhooks (tenant API key): endpoints, their secrets, deliveries and pings. */
export const webhooksRoutes =
  (webhooks: WebhooksService): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.post(
      '/webhooks',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: "Subscribe an https endpoint to the tenant's durable events (tenant key); the signing secret is shown once",
          body: CreateWebhookBody,
          response: { 201: CreatedWebhook, ...problems(400, 401, 403, 409, 413, 415, 429) },
        },
      },
      async (request, reply) => {
        const { webhook, secret } = await webhooks.create(principalOf(request), request.body);
        return reply.code(201).send({ ...presentWebhook(webhook), secret });
      },
    );

    app.get(
      '/webhooks',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: "The tenant's webhooks, oldest first, without secrets (tenant key)",
          response: { 200: WebhookList, ...problems(401, 403, 429) },
        },
      },
      async (request) => ({ items: (await webhooks.list(principalOf(request))).map(presentWebhook) }),
    );

    app.get(
      '/webhooks/:id',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: 'One webhook, without its secret (tenant key)',
          params: WebhookParams,
          response: { 200: Webhook, ...problems(400, 401, 403, 404, 429) },
        },
      },
      async (request) => presentWebhook(await webhooks.get(principalOf(request), request.params.id)),
    );

    app.patch(
      '/webhooks/:id',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: 'Change the URL, events, description, or pause/resume delivery (enabled); takes effect for events after the answer (tenant key)',
          params: WebhookParams,
          body: UpdateWebhookBody,
          response: { 200: Webhook, ...problems(400, 401, 403, 404, 413, 415, 429) },
        },
      },
      async (request) => presentWebhook(await webhooks.update(principalOf(request), request.params.id, request.body)),
    );

    app.delete(
      '/webhooks/:id',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: 'Delete the webhook with its queue and delivery records (tenant key)',
          params: WebhookParams,
          response: { 204: Type.Null(), ...problems(400, 401, 403, 404, 429) },
        },
      },
      async (request, reply) => {
        await webhooks.delete(principalOf(request), request.params.id);
        return reply.code(204).send(null);
      },
    );

    app.post(
      '/webhooks/:id/secret',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: 'Rotate the signing secret: the new one is shown once; the old one keeps signing (a second v1=) for 24 h (tenant key)',
          params: WebhookParams,
          response: { 201: WebhookSecret, ...problems(400, 401, 403, 404, 429) },
        },
      },
      async (request, reply) => reply.code(201).send({ secret: await webhooks.rotateSecret(principalOf(request), request.params.id) }),
    );

    app.get(
      '/webhooks/:id/deliveries',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: 'Recent delivery attempts, newest first: delivered, pending (a retry is scheduled) or failed (tenant key)',
          params: WebhookParams,
          querystring: WebhookDeliveriesQuery,
          response: { 200: WebhookDeliveryList, ...problems(400, 401, 403, 404, 429) },
        },
      },
      async (request) => ({
        items: (await webhooks.deliveries(principalOf(request), request.params.id, request.query.limit ?? DEFAULT_DELIVERIES)).map(
          presentWebhookDelivery,
        ),
      }),
    );

    app.post(
      '/webhooks/:id/deliveries/:deliveryId/retry',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: 'Deliver a delivered or failed event again, now (tenant key)',
          params: WebhookDeliveryParams,
          response: { 202: Type.Null(), ...problems(400, 401, 403, 404, 409, 429) },
        },
      },
      async (request, reply) => {
        await webhooks.retry(principalOf(request), request.params.id, request.params.deliveryId);
        return reply.code(202).send(null);
      },
    );

    app.post(
      '/webhooks/:id/ping',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: 'Queue a webhook.ping event for this webhook only, to test the endpoint (tenant key)',
          params: WebhookParams,
          response: { 202: WebhookPing, ...problems(400, 401, 403, 404, 409, 429) },
        },
      },
      async (request, reply) => reply.code(202).send(await webhooks.ping(principalOf(request), request.params.id)),
    );
  };
