import { Type } from 'typebox';
import { Nullable, Timestamp } from './common.js';

/** The durable event types a webhook can subscribe to; `*` subscribes to all, present and future. */
export const WEBHOOK_EVENT_NAMES = [
  'message.created',
  'message.updated',
  'message.deleted',
  'reaction.added',
  'reaction.removed',
  'conversation.created',
  'conversation.updated',
  'member.added',
  'member.removed',
  'member.updated',
  'read',
] as const;

const EventName = Type.Union([Type.Literal('*'), ...WEBHOOK_EVENT_NAMES.map((name) => Type.Literal(name))]);
const Events = Type.Array(EventName, {
  minItems: 1,
  maxItems: WEBHOOK_EVENT_NAMES.length + 1,
  description: 'Durable event types to receive, or ["*"] for all',
});
const Url = Type.String({ minLength: 1, maxLength: 2048, description: 'https URL the events are POSTed to (see *Outbound requests*)' });
const Description = Type.String({ maxLength: 500 });

/** A webhook or delivery id in a path: any id-shaped value (an unknown one is 404). */
export const WebhookParams = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'Webhook id' }) });
export const WebhookDeliveryParams = Type.Object({
  id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'Webhook id' }),
  deliveryId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'Delivery id' }),
});

export const CreateWebhookBody = Type.Object(
  { url: Url, events: Events, description: Type.Optional(Nullable(Description)) },
  { additionalProperties: false },
);

export const UpdateWebhookBody = Type.Object(
  {
    url: Type.Optional(Url),
    events: Type.Optional(Events),
    description: Type.Optional(Nullable(Description)),
    enabled: Type.Optional(Type.Boolean({ description: 'false pauses delivery (events are not queued); true resumes and clears the failing state' })),
  },
  { additionalProperties: false },
);

export const Webhook = Type.Object({
  id: Type.String(),
  url: Type.String(),
  events: Type.Array(Type.String()),
  description: Nullable(Type.String()),
  enabled: Type.Boolean(),
  createdAt: Timestamp,
  failingSince: Nullable(Type.String({ format: 'date-time', description: 'Since when every attempt has failed; null when the last succeeded' })),
  disabledAt: Nullable(Type.String({ format: 'date-time', description: 'When Parley disabled it for failing too long; null otherwise' })),
});

export const CreatedWebhook = Type.Object({
  ...Webhook.properties,
  secret: Type.String({ description: 'Signing secret (whsec_…): shown only here' }),
});

export const WebhookList = Type.Object({ items: Type.Array(Webhook, { maxItems: 20, description: 'Oldest first (a tenant holds at most 20)' }) });

export const WebhookSecret = Type.Object({
  secret: Type.String({ description: 'The new signing secret (whsec_…): shown only here; the previous one keeps signing for 24 h' }),
});

export const WebhookDelivery = Type.Object({
  id: Type.String(),
  eventId: Type.String(),
  eventType: Type.String(),
  status: Type.Union([Type.Literal('delivered'), Type.Literal('pending'), Type.Literal('failed')]),
  attempts: Type.Integer({ minimum: 0 }),
  lastStatusCode: Nullable(Type.Integer({ description: 'HTTP status of the last answer; null when none came (timeout, refused, network)' })),
  lastError: Nullable(Type.String({ description: 'Why the last attempt failed (`timeout`, `http_500`, `refused`, `network`...); null after a success' })),
  lastAttemptAt: Nullable(Timestamp),
  nextAttemptAt: Nullable(Type.String({ format: 'date-time', description: 'When a pending delivery is attempted next' })),
});

export const WebhookDeliveryList = Type.Object({
  items: Type.Array(WebhookDelivery, { maxItems: 100, description: 'Attempted deliveries, newest attempt first' }),
});

export const WebhookDeliveriesQuery = Type.Object(
  { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })) },
  { additionalProperties: false },
);

export const WebhookPing = Type.Object({ eventId: Type.String({ description: 'Id of the webhook.ping event queued' }) });
