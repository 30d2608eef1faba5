/**
 * A tenant's webhooks, managed with the tenant's API key (docs/webhooks.md).
 *
 * Guarantees:
 *   - Only a tenant key manages webhooks (403 forbidden for a user token), and only its own tenant's:
 *     another tenant's webhook id answers 404 webhook_not_found like an absent one.
 *   - A URL is stored only if the outbound policy accepts it now (https, and a host that does not
 *     resolve to a private address, unless OUTBOUND_ALLOWED_HOSTS names it): 400 url_not_allowed.
 *     Every attempt checks it again, so a name that later resolves elsewhere is refused then.
 *   - A secret (`whsec_` + 32 random bytes, base64url) is returned once, when created or rotated;
 *     a rotated-out secret keeps signing for `secretGraceMs`, so receivers can switch without loss.
 *   - Queueing is the engine's: a change takes effect for events logged after it is answered.
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import type { Principal } from '../auth/principal.js';
import type { TenantId } from '../domain/types.js';
import {
  MAX_WEBHOOKS_PER_TENANT,
  WEBHOOK_EVENT_TYPES,
  WEBHOOK_PING,
  type Webhook,
  type WebhookDelivery,
  type WebhookId,
} from '../domain/webhooks.js';
import type { WebhookChanges, WebhookStore } from '../engine/engine.js';
import { defaultResolve, refusalAsServiceError, type OutboundPolicy, type Resolve } from '../outbound/index.js';
import type { Clock, IdGenerator } from './ids.js';
import { ServiceError } from './service-error.js';

export const MAX_WEBHOOK_URL_LENGTH = 2048;
export const MAX_WEBHOOK_DESCRIPTION_LENGTH = 500;
export const DEFAULT_SECRET_GRACE_MS = 86_400_000;

export interface WebhookInput {
  url: string;
  events: string[];
  description?: string | null;
}

export interface WebhookPatch {
  url?: string;
  events?: string[];
  description?: string | null;
  enabled?: boolean;
}

export interface WebhooksService {
  /** 201: the webhook and its secret (shown only here). 409 too_many_webhooks beyond MAX_WEBHOOKS_PER_TENANT. */
  create(principal: Principal, input: WebhookInput): Promise<{ webhook: Webhook; secret: string }>;
  list(principal: Principal): Promise<Webhook[]>;
  get(principal: Principal, id: string): Promise<Webhook>;
  /** Enabling a webhook clears its failing state (a fresh day before it could be disabled again). */
  update(principal: Principal, id: string, patch: WebhookPatch): Promise<Webhook>;
  delete(principal: Principal, id: string): Promise<void>;
  /** A new current secret; the previous one signs too until `secretGraceMs` from now. */
  rotateSecret(principal: Principal, id: string): Promise<string>;
  deliveries(principal: Principal, id: string, limit: number): Promise<WebhookDelivery[]>;
  /** Queues a failed or delivered delivery again at once. 404 delivery_not_found; 409 delivery_pending while it is still being delivered. */
  retry(principal: Principal, id: string, deliveryId: string): Promise<void>;
  /** Queues a `webhook.ping` for this webhook only. 409 webhook_disabled when disabled. */
  ping(principal: Principal, id: string): Promise<{ eventId: string }>;
}

export interface WebhooksServiceDeps {
  store: WebhookStore;
  policy: OutboundPolicy;
  clock: Clock;
  ids: IdGenerator;
  /** Name resolution for the URL check; node:dns by default (tests inject a stub). */
  resolve?: Resolve;
  secretGraceMs?: number;
}

const EVENT_TYPES = new Set<string>(WEBHOOK_EVENT_TYPES);
const WEBHOOK_ID = /^[A-Za-z0-9_-]{1,64}$/;

function requireTenant(principal: Principal): TenantId {
  if (principal.kind !== 'tenant') throw new ServiceError('forbidden', 'Webhooks are managed with a tenant API key');
  return principal.tenantId;
}

function newSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

function requireEvents(events: string[]): string[] {
  const unique = [...new Set(events)];
  if (unique.length === 0) throw new ServiceError('validation_failed', 'events must name at least one event type, or "*"');
  const unknown = unique.find((type) => type !== '*' && !EVENT_TYPES.has(type));
  if (unknown !== undefined) throw new ServiceError('validation_failed', `events: unknown event type ${JSON.stringify(unknown)}`);
  return unique.includes('*') ? ['*'] : unique;
}

function requireDescription(description: string | null | undefined): string | null {
  const trimmed = description?.trim() ?? '';
  if (trimmed.length > MAX_WEBHOOK_DESCRIPTION_LENGTH) {
    throw new ServiceError('validation_failed', `description must be at most ${MAX_WEBHOOK_DESCRIPTION_LENGTH} characters`);
  }
  return trimmed === '' ? null : trimmed;
}

export function createWebhooksService(deps: WebhooksServiceDeps): WebhooksService {
  const { store, policy, clock, ids } = deps;
  const resolve = deps.resolve ?? defaultResolve;
  const secretGraceMs = deps.secretGraceMs ?? DEFAULT_SECRET_GRACE_MS;

  /** The URL as the policy normalises it, refused (400 url_not_allowed) as an attempt would be. */
  async function requireUrl(raw: string): Promise<string> {
    if (raw.length > MAX_WEBHOOK_URL_LENGTH) throw new ServiceError('validation_failed', `url must be at most ${MAX_WEBHOOK_URL_LENGTH} characters`);
    try {
      const url = policy.checkUrl(raw);
      const host = url.hostname.replace(/^\[|\]$/g, '');
      if (isIP(host) === 0 && !policy.isAllowedHost(host)) {
        let addresses: string[];
        try {
          addresses = (await resolve(host)).map((entry) => entry.address);
        } catch {
          throw new ServiceError('url_not_allowed', `The host ${host} could not be resolved`);
        }
        policy.checkResolved(host, addresses);
      }
      return url.href;
    } catch (error) {
      throw refusalAsServiceError(error);
    }
  }

  async function find(principal: Principal, id: string): Promise<Webhook> {
    const tenantId = requireTenant(principal);
    const webhook = WEBHOOK_ID.test(id) ? await store.get(tenantId, id as WebhookId) : null;
    if (webhook === null) throw new ServiceError('webhook_not_found');
    return webhook;
  }

  function found(webhook: Webhook | null): Webhook {
    if (webhook === null) throw new ServiceError('webhook_not_found');
    return webhook;
  }

  return {
    async create(principal, input) {
      const tenantId = requireTenant(principal);
      const events = requireEvents(input.events);
      const description = requireDescription(input.description);
      const url = await requireUrl(input.url);
      const secret = newSecret();
      const webhook: Webhook = {
        tenantId,
        id: `wh_${ids.opaque()}` as WebhookId,
        url,
        events,
        description,
        enabled: true,
        createdAt: clock(),
        secrets: [{ secret, expiresAt: null }],
        failingSince: null,
        disabledAt: null,
      };
      const status = await store.create(webhook, MAX_WEBHOOKS_PER_TENANT);
      if (status === 'too_many_webhooks') throw new ServiceError('too_many_webhooks');
      if (status === 'id_taken') throw new Error('webhook id collision');
      return { webhook, secret };
    },

    async list(principal) {
      return store.list(requireTenant(principal));
    },

    get: find,

    async update(principal, id, patch) {
      const webhook = await find(principal, id);
      const changes: WebhookChanges = {};
      if (patch.events !== undefined) changes.events = requireEvents(patch.events);
      if (patch.description !== undefined) changes.description = requireDescription(patch.description);
      if (patch.url !== undefined) changes.url = await requireUrl(patch.url);
      if (patch.enabled !== undefined) changes.enabled = patch.enabled;
      return found(await store.update(webhook.tenantId, webhook.id, changes));
    },

    async delete(principal, id) {
      const webhook = await find(principal, id);
      if (!(await store.delete(webhook.tenantId, webhook.id))) throw new ServiceError('webhook_not_found');
    },

    async rotateSecret(principal, id) {
      const webhook = await find(principal, id);
      const secret = newSecret();
      found(await store.rotateSecret(webhook.tenantId, webhook.id, secret, clock(), secretGraceMs));
      return secret;
    },

    async deliveries(principal, id, limit) {
      const webhook = await find(principal, id);
      const records = await store.deliveries(webhook.tenantId, webhook.id, limit);
      if (records === null) throw new ServiceError('webhook_not_found');
      return records;
    },

    async retry(principal, id, deliveryId) {
      const webhook = await find(principal, id);
      const status = deliveryId.length <= 64 ? await store.retry(webhook.tenantId, webhook.id, deliveryId, clock()) : 'not_found';
      if (status === 'not_found') throw new ServiceError('delivery_not_found');
      if (status === 'pending') throw new ServiceError('delivery_pending');
      if (status === 'dropped') throw new ServiceError('delivery_expired');
    },

    async ping(principal, id) {
      const webhook = await find(principal, id);
      if (!webhook.enabled) throw new ServiceError('webhook_disabled');
      const eventId = `evt_${ids.opaque()}`;
      const queued = await store.enqueue(webhook.tenantId, webhook.id, {
        eventId,
        type: WEBHOOK_PING,
        at: clock(),
        event: { type: WEBHOOK_PING, webhookId: webhook.id },
      });
      if (queued === null) throw new ServiceError('webhook_not_found');
      return { eventId };
    },
  };
}
