/**
 * Contract of the webhook store: webhooks as records (CRUD, the per-tenant count, tenant
 * isolation), queueing through the real logging steps (every durable event type, nothing for a
 * refused step or an inbox entry), and the delivery queue (take order, in-flight, retries due at
 * their time, leases and reclaim, failing and disabling, delivery records, manual retries, backlog,
 * watch). On Redis Cluster the logging steps' events reach the queues through the outbox relay:
 * the tests wait for it (`relayed`) before reading a queue.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ConversationEvent } from '../../domain/events.js';
import type { ConversationId, EpochMs, MessageId, TenantId } from '../../domain/types.js';
import { MAX_WEBHOOK_SECRETS, type QueuedWebhookEvent, type Webhook, type WebhookDelivery, type WebhookId } from '../../domain/webhooks.js';
import { MAX_WEBHOOK_DELIVERY_RECORDS, WEBHOOK_IN_FLIGHT_MS, WEBHOOK_SETTLED_RETENTION_MS, type Engine } from '../engine.js';
import { alice, bob, carol, createGroup, DEFAULT_TTL_MS, newDirect, newMessage, OTHER_TENANT, send, T0, TENANT, waitFor, type ContractContext } from './fixtures.contract.js';

const LIMITS = { maxEmojiPerMessage: 20, maxReactionsPerUser: 20 };
const NODE_A = 'node-a';
const NODE_B = 'node-b';
const TTL = 30_000;

function webhook(id: string, overrides: Partial<Webhook> = {}): Webhook {
  return {
    tenantId: TENANT,
    id: id as WebhookId,
    url: `https://hooks.example/${id}`,
    events: ['*'],
    description: null,
    enabled: true,
    createdAt: T0,
    secrets: [{ secret: `whsec_${id}`, expiresAt: null }],
    failingSince: null,
    disabledAt: null,
    ...overrides,
  };
}

function eventIdOf(conversationId: string, logId: string): string {
  return `evt_${createHash('sha1').update(`${conversationId}\n${logId}`).digest('hex').slice(0, 32)}`;
}

function ping(n: number, at: EpochMs = T0 + n): { eventId: string; type: string; at: EpochMs; event: Record<string, unknown> } {
  return { eventId: `evt_ping_${n}`, type: 'webhook.ping', at, event: { type: 'webhook.ping', n } };
}

/** The record of an attempt at `entry` made at `at`. */
function attempt(entry: QueuedWebhookEvent, status: WebhookDelivery['status'], at: EpochMs, overrides: Partial<WebhookDelivery> = {}): WebhookDelivery {
  return {
    id: entry.deliveryId,
    eventId: entry.eventId,
    eventType: entry.type,
    status,
    attempts: 1,
    lastStatusCode: status === 'delivered' ? 200 : 500,
    lastError: status === 'delivered' ? null : 'http_500',
    lastAttemptAt: at,
    firstAttemptAt: at,
    nextAttemptAt: null,
    ...overrides,
  };
}

/** A retry record: due again at `due`. */
function retrying(entry: QueuedWebhookEvent, at: EpochMs, due: EpochMs, attempts = 1): WebhookDelivery {
  return attempt(entry, 'pending', at, { nextAttemptAt: due, attempts });
}

const FAR_PAST: EpochMs = 0;

export function webhooksContract(context: ContractContext): void {
  describe('webhooks', () => {
    const hooks = () => context.engine.webhooks;

    async function created(...webhooks: Webhook[]): Promise<void> {
      for (const w of webhooks) expect(await hooks().create(w, 20)).toBe('created');
    }

    /** Leases for `node` (reclaiming nothing expected) and takes up to `limit`. */
    async function take(id: string, now: EpochMs = T0, limit = 100, node = NODE_A, tenantId: TenantId = TENANT) {
      // On Cluster the logging steps' events reach the queues through the outbox relay.
      await hooks().relayed();
      const lease = await hooks().lease(tenantId, id as WebhookId, node, TTL, now);
      expect(['acquired', 'renewed']).toContain(lease);
      return hooks().take(tenantId, id as WebhookId, node, limit, now);
    }

    async function types(id: string, tenantId: TenantId = TENANT): Promise<string[]> {
      return (await take(id, T0, 1000, NODE_A, tenantId)).map(({ entry }) => entry.type);
    }

    describe('records', () => {
      it('creates, gets, lists oldest first, updates keeping createdAt, and deletes', async () => {
        await created(webhook('w-b', { createdAt: T0 + 5 }), webhook('w-a', { createdAt: T0 + 5, events: ['message.created'] }), webhook('w-c', { createdAt: T0 }));
        expect(await hooks().get(TENANT, 'w-a' as WebhookId)).toEqual(webhook('w-a', { createdAt: T0 + 5, events: ['message.created'] }));
        expect((await hooks().list(TENANT)).map((w) => w.id)).toEqual(['w-c', 'w-a', 'w-b']);
        const changed = webhook('w-a', { createdAt: T0 + 5, url: 'https://elsewhere.example/', description: 'new', events: ['read', 'member.added'], enabled: false });
        const id = 'w-a' as WebhookId;
        expect(await hooks().update(TENANT, id, { url: changed.url, description: 'new', events: ['read', 'member.added'], enabled: false })).toEqual(changed);
        expect(await hooks().get(TENANT, id)).toEqual(changed);
        // Absent fields stay as they are.
        expect(await hooks().update(TENANT, id, {})).toEqual(changed);
        expect(await hooks().update(TENANT, id, { description: null })).toEqual({ ...changed, description: null });
        expect(await hooks().update(TENANT, 'w-none' as WebhookId, { description: 'x' })).toBeNull();
        expect(await hooks().rotateSecret(TENANT, 'w-none' as WebhookId, 'x', T0, 1000)).toBeNull();
        expect(await hooks().get(TENANT, 'w-none' as WebhookId)).toBeNull();
        expect(await hooks().delete(TENANT, 'w-a' as WebhookId)).toBe(true);
        expect(await hooks().delete(TENANT, 'w-a' as WebhookId)).toBe(false);
        expect(await hooks().get(TENANT, 'w-a' as WebhookId)).toBeNull();
        expect((await hooks().list(TENANT)).map((w) => w.id)).toEqual(['w-c', 'w-b']);
      });

      it('rotates the secret: the previous one expires after the grace, expired ones go, at most MAX_WEBHOOK_SECRETS', async () => {
        await created(webhook('w-1'));
        const id = 'w-1' as WebhookId;
        const rotated = await hooks().rotateSecret(TENANT, id, 's2', T0 + 10, 1000);
        expect(rotated).toEqual(webhook('w-1', { secrets: [{ secret: 's2', expiresAt: null }, { secret: 'whsec_w-1', expiresAt: T0 + 1010 }] }));
        expect(await hooks().get(TENANT, id)).toEqual(rotated);
        // At T0 + 1010 the first secret has expired: it goes.
        const next = await hooks().rotateSecret(TENANT, id, 's3', T0 + 1010, 1000);
        expect(next?.secrets).toEqual([{ secret: 's3', expiresAt: null }, { secret: 's2', expiresAt: T0 + 2010 }]);
        for (let n = 4; n <= 10; n += 1) await hooks().rotateSecret(TENANT, id, `s${n}`, T0 + 1010 + n, 1000);
        const secrets = (await hooks().get(TENANT, id))?.secrets ?? [];
        expect(secrets).toHaveLength(MAX_WEBHOOK_SECRETS);
        expect(secrets.map((secret) => secret.secret)).toEqual(['s10', 's9', 's8', 's7', 's6']);
      });

      it('update and rotateSecret at the same time both survive', async () => {
        await created(webhook('w-1'));
        const id = 'w-1' as WebhookId;
        for (let n = 0; n < 5; n += 1) {
          await Promise.all([hooks().update(TENANT, id, { description: `d${n}` }), hooks().rotateSecret(TENANT, id, `s${n}`, T0 + n, 1000)]);
          const stored = await hooks().get(TENANT, id);
          expect(stored?.description).toBe(`d${n}`);
          expect(stored?.secrets[0]).toEqual({ secret: `s${n}`, expiresAt: null });
        }
      });

      it('update keeps a disable done by settle unless it sets enabled; enabling clears failingSince and disabledAt', async () => {
        await created(webhook('w-1'));
        const id = 'w-1' as WebhookId;
        const queued = await hooks().enqueue(TENANT, id, ping(1));
        if (!queued) throw new Error('expected an entry');
        await take('w-1');
        expect(await hooks().settle(TENANT, id, attempt(queued, 'failed', T0 + 5), 'failed', T0 + 5, T0 + 5)).toEqual({ disabled: true });
        const disabled = webhook('w-1', { enabled: false, failingSince: T0 + 5, disabledAt: T0 + 5 });
        expect(await hooks().update(TENANT, id, { description: 'd', events: ['read'] })).toEqual({ ...disabled, description: 'd', events: ['read'] });
        expect(await hooks().update(TENANT, id, { enabled: false })).toEqual({ ...disabled, description: 'd', events: ['read'] });
        expect(await hooks().update(TENANT, id, { enabled: true })).toEqual(webhook('w-1', { description: 'd', events: ['read'] }));
      });

      it('refuses a taken id and a webhook beyond the tenant limit, storing nothing', async () => {
        expect(await hooks().create(webhook('w-1'), 2)).toBe('created');
        expect(await hooks().create(webhook('w-1', { url: 'https://other.example/' }), 2)).toBe('id_taken');
        expect((await hooks().get(TENANT, 'w-1' as WebhookId))?.url).toBe('https://hooks.example/w-1');
        expect(await hooks().create(webhook('w-2'), 2)).toBe('created');
        expect(await hooks().create(webhook('w-3'), 2)).toBe('too_many_webhooks');
        expect(await hooks().get(TENANT, 'w-3' as WebhookId)).toBeNull();
        expect(await hooks().delete(TENANT, 'w-2' as WebhookId)).toBe(true);
        expect(await hooks().create(webhook('w-3'), 2)).toBe('created');
      });

      it('keeps tenants apart; listAll names every webhook of every tenant', async () => {
        await created(webhook('w-1'), webhook('w-1', { tenantId: OTHER_TENANT, url: 'https://globex.example/' }), webhook('w-2'));
        expect((await hooks().get(OTHER_TENANT, 'w-1' as WebhookId))?.url).toBe('https://globex.example/');
        expect((await hooks().list(OTHER_TENANT)).map((w) => w.id)).toEqual(['w-1']);
        expect(await hooks().get(OTHER_TENANT, 'w-2' as WebhookId)).toBeNull();
        expect(await hooks().delete(OTHER_TENANT, 'w-2' as WebhookId)).toBe(false);
        const all = (await hooks().listAll()).map(({ tenantId, id }) => `${tenantId}/${id}`).sort();
        expect(all).toEqual(['acme/w-1', 'acme/w-2', 'globex/w-1']);
        expect(await hooks().delete(TENANT, 'w-1' as WebhookId)).toBe(true);
        expect((await hooks().get(OTHER_TENANT, 'w-1' as WebhookId))?.url).toBe('https://globex.example/');
        expect((await hooks().listAll()).map(({ tenantId, id }) => `${tenantId}/${id}`).sort()).toEqual(['acme/w-2', 'globex/w-1']);
      });

      it('returns copies', async () => {
        await created(webhook('w-1'));
        const got = await hooks().get(TENANT, 'w-1' as WebhookId);
        got?.events.push('read');
        got?.secrets.push({ secret: 'x', expiresAt: null });
        expect(await hooks().get(TENANT, 'w-1' as WebhookId)).toEqual(webhook('w-1'));
      });
    });

    describe('queueing by the logging steps', () => {
      /** Every durable event type, through the real steps, in this order. */
      async function everyEvent(engine: Engine, tenantId: TenantId = TENANT): Promise<ConversationId> {
        const group = await createGroup(engine, 'g-1', [alice, bob], { tenantId });
        await engine.conversations.update(tenantId, group, { title: 'renamed' }, T0 + 1);
        await engine.conversations.addMembers(tenantId, group, [carol], 'member', T0 + 2, 100);
        await engine.conversations.setRole(tenantId, group, carol, 'admin', T0 + 3, { keepOwner: true });
        const message = await send(engine, group, alice, { tenantId, createdAt: T0 + 4 });
        await engine.messages.edit(tenantId, group, message.id, 'edited', T0 + 5, alice);
        await engine.messages.react(tenantId, group, message.id, bob, '👍', true, LIMITS, T0 + 6);
        await engine.messages.react(tenantId, group, message.id, bob, '👍', false, LIMITS, T0 + 7);
        await engine.conversations.markRead(tenantId, group, bob, 1, T0 + 8);
        await engine.messages.delete(tenantId, group, message.id, T0 + 9);
        await engine.conversations.removeMember(tenantId, group, carol, T0 + 10);
        return group;
      }
      const EVERY_TYPE = [
        'conversation.created',
        'conversation.updated',
        'member.added',
        'member.updated',
        'message.created',
        'message.updated',
        'reaction.added',
        'reaction.removed',
        'read',
        'message.deleted',
        'member.removed',
      ];

      it('queues every durable event, as logged, for a webhook of `*`', async () => {
        await created(webhook('w-all'));
        const group = await everyEvent(context.engine);
        const taken = await take('w-all');
        expect(taken.map(({ entry }) => entry.type)).toEqual(EVERY_TYPE);
        const logged = (await context.engine.events.read(TENANT, group, null, 100)).events;
        expect(taken.map(({ entry }) => entry)).toEqual(
          logged.map((envelope) => ({
            deliveryId: expect.any(String) as string,
            eventId: eventIdOf(group, envelope.id),
            type: envelope.event.type,
            conversationId: group,
            at: envelope.at,
            event: envelope.event as unknown as Record<string, unknown>,
          })),
        );
        expect(taken.every(({ delivery }) => delivery === null)).toBe(true);
        expect(new Set(taken.map(({ entry }) => entry.deliveryId)).size).toBe(taken.length);
      });

      it('queues a type only for webhooks subscribed to it, enabled, of the tenant', async () => {
        await created(
          webhook('w-msg', { events: ['message.created', 'read'] }),
          webhook('w-members', { events: ['member.added', 'member.removed'] }),
          webhook('w-off', { enabled: false }),
          webhook('w-other', { tenantId: OTHER_TENANT }),
        );
        await everyEvent(context.engine);
        expect(await types('w-msg')).toEqual(['message.created', 'read']);
        expect(await types('w-members')).toEqual(['member.added', 'member.removed']);
        expect(await types('w-off')).toEqual([]);
        expect(await types('w-other', OTHER_TENANT)).toEqual([]);
        // The other tenant's own events reach its webhook, and only them.
        await everyEvent(context.engine, OTHER_TENANT);
        expect(await types('w-other', OTHER_TENANT)).toEqual(EVERY_TYPE);
        expect(await types('w-msg')).toEqual([]);
      });

      it('follows update and delete for events logged (and relayed, on Cluster) afterwards; queued entries stay', async () => {
        // On Cluster the relay routes an event by the settings it finds: wait for it before a change.
        const logged = () => hooks().relayed();
        await created(webhook('w-1', { events: ['message.created'] }));
        const group = await createGroup(context.engine, 'g-1', [alice, bob]);
        await send(context.engine, group, alice);
        await logged();
        expect(await hooks().update(TENANT, 'w-1' as WebhookId, { events: ['read'] })).not.toBeNull();
        await send(context.engine, group, alice);
        await context.engine.conversations.markRead(TENANT, group, bob, 2, T0 + 1);
        await logged();
        expect(await hooks().update(TENANT, 'w-1' as WebhookId, { events: ['*'], enabled: false })).not.toBeNull();
        await send(context.engine, group, alice);
        await logged();
        expect(await hooks().update(TENANT, 'w-1' as WebhookId, { events: ['message.created'], enabled: true })).not.toBeNull();
        await send(context.engine, group, bob);
        expect(await types('w-1')).toEqual(['message.created', 'read', 'message.created']);
        expect(await hooks().delete(TENANT, 'w-1' as WebhookId)).toBe(true);
        await send(context.engine, group, alice);
        await logged();
        await created(webhook('w-1', { events: ['message.created'] }));
        expect(await types('w-1')).toEqual([]);
      });

      it('queues what a ban logs (member.removed, then an owner hand-over) and a direct conversation created', async () => {
        await created(webhook('w-1', { events: ['member.removed', 'member.updated', 'conversation.created'] }));
        const group = await createGroup(context.engine, 'g-1', [alice, bob]);
        expect((await context.engine.moderation.ban(TENANT, group, { userId: alice, createdAt: T0 + 1 })).status).toBe('ok');
        await context.engine.conversations.getOrCreateDirect(TENANT, newDirect('d-1', alice, bob));
        const taken = (await take('w-1')).map(({ entry }) => [entry.type, entry.conversationId]);
        expect(taken).toEqual([
          ['conversation.created', group],
          ['member.removed', group],
          ['member.updated', group],
          ['conversation.created', 'd-1'],
        ]);
      });

      it('gives one event the same id at every webhook, distinct delivery ids', async () => {
        await created(webhook('w-1'), webhook('w-2', { events: ['message.created'] }));
        const direct = (await context.engine.conversations.getOrCreateDirect(TENANT, newDirect('d-1', alice, bob))).conversation.id;
        await send(context.engine, direct, alice);
        const first = (await take('w-1')).map(({ entry }) => entry);
        const second = (await take('w-2')).map(({ entry }) => entry);
        const logged = (await context.engine.events.read(TENANT, direct, null, 10)).events;
        const created2 = logged.find((e) => e.event.type === 'message.created');
        expect(second).toHaveLength(1);
        expect(second[0]?.eventId).toBe(eventIdOf(direct, created2?.id ?? ''));
        expect(first.map((e) => e.eventId)).toEqual(logged.map((e) => eventIdOf(direct, e.id)));
        expect(first.find((e) => e.type === 'message.created')?.eventId).toBe(second[0]?.eventId);
      });

      it('queues nothing for a refused step, a repeated one, or an inbox entry', async () => {
        await created(webhook('w-1'));
        const group = await createGroup(context.engine, 'g-1', [alice, bob]);
        await send(context.engine, group, alice, { clientMessageId: 'c-1' });
        await take('w-1');
        const refused = await context.engine.messages.append(TENANT, group, newMessage(carol), DEFAULT_TTL_MS);
        expect(refused.status).toBe('not_member');
        const again = await context.engine.messages.append(TENANT, group, newMessage(alice, { clientMessageId: 'c-1' }), DEFAULT_TTL_MS);
        expect(again.status).toBe('duplicate');
        expect(await context.engine.conversations.removeMember(TENANT, group, carol, T0)).toBe('not_found');
        expect(await context.engine.messages.edit(TENANT, group, 'm-none' as MessageId, 'x', T0, alice)).toEqual({ status: 'not_found' });
        expect((await context.engine.conversations.markRead(TENANT, group, bob, 0, T0))?.changed).toBe(false);
        const removal: ConversationEvent = { type: 'member.removed', conversationId: group, userId: bob, role: 'member' };
        await context.engine.events.notify(TENANT, [alice, bob], removal, T0 + 1);
        expect(await types('w-1')).toEqual([]);
        // Only the two entries taken before (conversation.created, message.created) are in the queue.
        expect(await hooks().backlog(TENANT, 'w-1' as WebhookId)).toEqual({ depth: 2, oldestAt: T0, dropped: 0 });
      });

      it('calls watch after an event is queued', async () => {
        await created(webhook('w-1', { events: ['conversation.created'] }));
        const heard: string[] = [];
        const watcher = await hooks().watch((tenantId, id) => heard.push(`${tenantId}/${id}`));
        context.onCleanup(() => watcher.close());
        await createGroup(context.engine, 'g-1', [alice]);
        await waitFor('the wake-up', () => (heard.includes('acme/w-1') ? true : undefined));
      });
    });

    describe('queue', () => {
      it('enqueues for one webhook whatever it subscribes to, null when absent', async () => {
        await created(webhook('w-1', { events: ['read'], enabled: true }));
        const queued = await hooks().enqueue(TENANT, 'w-1' as WebhookId, ping(1));
        expect(queued).toEqual({ deliveryId: expect.any(String) as string, eventId: 'evt_ping_1', type: 'webhook.ping', conversationId: null, at: T0 + 1, event: { type: 'webhook.ping', n: 1 } });
        expect(await hooks().enqueue(TENANT, 'w-none' as WebhookId, ping(2))).toBeNull();
        expect(await hooks().enqueue(OTHER_TENANT, 'w-1' as WebhookId, ping(2))).toBeNull();
        expect((await take('w-1')).map(({ entry }) => entry)).toEqual([queued]);
      });

      it('calls watch after an enqueue', async () => {
        await created(webhook('w-1'));
        const heard: string[] = [];
        const watcher = await hooks().watch((tenantId, id) => heard.push(`${tenantId}/${id}`));
        context.onCleanup(() => watcher.close());
        await hooks().enqueue(TENANT, 'w-1' as WebhookId, ping(1));
        await waitFor('the wake-up', () => (heard.includes('acme/w-1') ? true : undefined));
        await watcher.close();
      });

      it('hands entries out in queue order, up to the limit, each once while in flight', async () => {
        await created(webhook('w-1'), webhook('w-2'));
        for (let n = 1; n <= 5; n += 1) await hooks().enqueue(TENANT, 'w-1' as WebhookId, ping(n));
        await hooks().enqueue(TENANT, 'w-2' as WebhookId, ping(9));
        const first = await take('w-1', T0, 2);
        expect(first.map(({ entry }) => entry.eventId)).toEqual(['evt_ping_1', 'evt_ping_2']);
        const rest = await take('w-1', T0 + WEBHOOK_IN_FLIGHT_MS - 1, 10);
        expect(rest.map(({ entry }) => entry.eventId)).toEqual(['evt_ping_3', 'evt_ping_4', 'evt_ping_5']);
        expect(await take('w-1', T0 + WEBHOOK_IN_FLIGHT_MS - 1, 10)).toEqual([]);
        expect((await take('w-2')).map(({ entry }) => entry.eventId)).toEqual(['evt_ping_9']);
      });

      it('settles: delivered and failed end an entry, retry hands it out at its due time first, not before', async () => {
        await created(webhook('w-1'));
        for (let n = 1; n <= 4; n += 1) await hooks().enqueue(TENANT, 'w-1' as WebhookId, ping(n));
        const [one, two, three] = (await take('w-1', T0, 3)).map(({ entry }) => entry);
        if (!one || !two || !three) throw new Error('expected three entries');
        await hooks().settle(TENANT, 'w-1' as WebhookId, attempt(one, 'delivered', T0 + 10), 'delivered', T0 + 10, FAR_PAST);
        await hooks().settle(TENANT, 'w-1' as WebhookId, attempt(two, 'failed', T0 + 11), 'failed', T0 + 11, FAR_PAST);
        const record = retrying(three, T0 + 12, T0 + 1000);
        await hooks().settle(TENANT, 'w-1' as WebhookId, record, 'retry', T0 + 12, FAR_PAST);
        // Before it is due, the retry does not hold back the next entry.
        expect((await take('w-1', T0 + 999)).map(({ entry }) => entry.eventId)).toEqual(['evt_ping_4']);
        await hooks().enqueue(TENANT, 'w-1' as WebhookId, ping(5));
        const due = await take('w-1', T0 + 1000);
        expect(due.map(({ entry }) => entry.eventId)).toEqual(['evt_ping_3', 'evt_ping_5']);
        expect(due[0]).toEqual({ entry: three, delivery: record });
        expect(due[1]?.delivery).toBeNull();
        expect(await take('w-1', T0 + 1001)).toEqual([]);
      });

      it('hands due retries out earliest due first, within the limit', async () => {
        await created(webhook('w-1'));
        for (let n = 1; n <= 3; n += 1) await hooks().enqueue(TENANT, 'w-1' as WebhookId, ping(n));
        const entries = (await take('w-1', T0, 3)).map(({ entry }) => entry);
        const dues = [T0 + 300, T0 + 100, T0 + 200];
        for (const [i, entry] of entries.entries()) {
          await hooks().settle(TENANT, 'w-1' as WebhookId, retrying(entry, T0 + 1, dues[i] ?? 0), 'retry', T0 + 1, FAR_PAST);
        }
        await hooks().enqueue(TENANT, 'w-1' as WebhookId, ping(4));
        expect((await take('w-1', T0 + 1000, 2)).map(({ entry }) => entry.eventId)).toEqual(['evt_ping_2', 'evt_ping_3']);
        expect((await take('w-1', T0 + 1000, 2)).map(({ entry }) => entry.eventId)).toEqual(['evt_ping_1', 'evt_ping_4']);
      });

      it('a retry taken and never settled is due again after WEBHOOK_IN_FLIGHT_MS', async () => {
        await created(webhook('w-1'));
        await hooks().enqueue(TENANT, 'w-1' as WebhookId, ping(1));
        const [taken] = await take('w-1');
        if (!taken) throw new Error('expected an entry');
        await hooks().settle(TENANT, 'w-1' as WebhookId, retrying(taken.entry, T0 + 1, T0 + 100), 'retry', T0 + 1, FAR_PAST);
        expect(await take('w-1', T0 + 100)).toHaveLength(1);
        expect(await take('w-1', T0 + 100 + WEBHOOK_IN_FLIGHT_MS - 1)).toEqual([]);
        expect((await take('w-1', T0 + 100 + WEBHOOK_IN_FLIGHT_MS)).map(({ entry }) => entry.eventId)).toEqual(['evt_ping_1']);
      });

      it('leases one node at a time; after expiry another node acquires and reclaims what was in flight', async () => {
        await created(webhook('w-1'));
        const id = 'w-1' as WebhookId;
        expect(await hooks().lease(TENANT, 'w-none' as WebhookId, NODE_A, TTL, T0)).toBe('absent');
        expect(await hooks().lease(TENANT, id, NODE_A, TTL, T0)).toBe('acquired');
        expect(await hooks().lease(TENANT, id, NODE_A, TTL, T0 + 10)).toBe('renewed');
        expect(await hooks().lease(TENANT, id, NODE_B, TTL, T0 + 10 + TTL - 1)).toBe('held');
        for (let n = 1; n <= 4; n += 1) await hooks().enqueue(TENANT, id, ping(n));
        const taken = await hooks().take(TENANT, id, NODE_A, 3, T0 + 20);
        const second = taken[1]?.entry;
        if (!second) throw new Error('expected three entries');
        await hooks().settle(TENANT, id, attempt(second, 'delivered', T0 + 21), 'delivered', T0 + 21, FAR_PAST);
        expect(await hooks().lease(TENANT, id, NODE_B, TTL, T0 + 10 + TTL)).toBe('acquired');
        expect(await hooks().lease(TENANT, id, NODE_A, TTL, T0 + 10 + TTL + 1)).toBe('held');
        // The old holder takes nothing once its lease lapsed.
        expect(await hooks().take(TENANT, id, NODE_A, 10, T0 + 10 + TTL + 1)).toEqual([]);
        // Paged: the caller repeats while it gets `limit` entries.
        const reclaimed = [...(await hooks().reclaim(TENANT, id, NODE_B, 1)), ...(await hooks().reclaim(TENANT, id, NODE_B, 1))];
        expect(await hooks().reclaim(TENANT, id, NODE_B, 1)).toEqual([]);
        expect(reclaimed.map((entry) => entry.eventId)).toEqual(['evt_ping_1', 'evt_ping_3']);
        expect(reclaimed[0]).toEqual(taken[0]?.entry);
        // Reclaimed entries are in flight for B; the never-handed-out one is next.
        expect((await hooks().take(TENANT, id, NODE_B, 10, T0 + 10 + TTL)).map(({ entry }) => entry.eventId)).toEqual(['evt_ping_4']);
        await hooks().release(TENANT, id, NODE_A); // not the holder: nothing changes
        expect(await hooks().lease(TENANT, id, NODE_A, TTL, T0 + 10 + TTL + 2)).toBe('held');
        await hooks().release(TENANT, id, NODE_B);
        expect(await hooks().lease(TENANT, id, NODE_A, TTL, T0 + 10 + TTL + 3)).toBe('acquired');
        expect((await hooks().reclaim(TENANT, id, NODE_A, 10)).map((entry) => entry.eventId)).toEqual(['evt_ping_1', 'evt_ping_3', 'evt_ping_4']);
      });

      it('a retry settled by the old holder is not reclaimed: it is due at its time', async () => {
        await created(webhook('w-1'));
        const id = 'w-1' as WebhookId;
        await hooks().enqueue(TENANT, id, ping(1));
        const [taken] = await take('w-1');
        if (!taken) throw new Error('expected an entry');
        await hooks().settle(TENANT, id, retrying(taken.entry, T0 + 1, T0 + 500), 'retry', T0 + 1, FAR_PAST);
        expect(await hooks().lease(TENANT, id, NODE_B, TTL, T0 + 10 * TTL)).toBe('acquired');
        expect(await hooks().reclaim(TENANT, id, NODE_B, 10)).toEqual([]);
      });

      it('sets failingSince on failure, clears it on delivery, and disables at disableFailingSince', async () => {
        await created(webhook('w-1'));
        const id = 'w-1' as WebhookId;
        for (let n = 1; n <= 4; n += 1) await hooks().enqueue(TENANT, id, ping(n));
        const [one, two, three, four] = (await take('w-1', T0, 4)).map(({ entry }) => entry);
        if (!one || !two || !three || !four) throw new Error('expected four entries');
        expect(await hooks().settle(TENANT, id, retrying(one, T0 + 100, T0 + 200), 'retry', T0 + 100, T0 + 50)).toEqual({ disabled: false });
        expect((await hooks().get(TENANT, id))?.failingSince).toBe(T0 + 100);
        expect(await hooks().settle(TENANT, id, attempt(two, 'failed', T0 + 150), 'failed', T0 + 150, T0 + 99)).toEqual({ disabled: false });
        expect((await hooks().get(TENANT, id))?.failingSince).toBe(T0 + 100);
        expect(await hooks().settle(TENANT, id, attempt(three, 'delivered', T0 + 160), 'delivered', T0 + 160, T0 + 150)).toEqual({ disabled: false });
        expect((await hooks().get(TENANT, id))?.failingSince).toBeNull();
        expect(await hooks().settle(TENANT, id, attempt(four, 'failed', T0 + 170), 'failed', T0 + 170, T0 + 170)).toEqual({ disabled: true });
        expect(await hooks().get(TENANT, id)).toEqual(webhook('w-1', { failingSince: T0 + 170, enabled: false, disabledAt: T0 + 170 }));
        const group = await createGroup(context.engine, 'g-1', [alice]);
        await send(context.engine, group, alice);
        expect(await types('w-1')).toEqual([]);
      });

      it('settling for a deleted webhook changes nothing', async () => {
        await created(webhook('w-1'));
        const queued = await hooks().enqueue(TENANT, 'w-1' as WebhookId, ping(1));
        if (!queued) throw new Error('expected an entry');
        await take('w-1');
        expect(await hooks().delete(TENANT, 'w-1' as WebhookId)).toBe(true);
        expect(await hooks().settle(TENANT, 'w-1' as WebhookId, attempt(queued, 'failed', T0 + 1), 'failed', T0 + 1, T0 + 1)).toEqual({ disabled: false });
        expect(await hooks().get(TENANT, 'w-1' as WebhookId)).toBeNull();
        expect(await hooks().deliveries(TENANT, 'w-1' as WebhookId, 10)).toBeNull();
      });

      it('keeps delivery records newest attempt first, each replacing the last of its delivery, bounded', async () => {
        await created(webhook('w-1'));
        const id = 'w-1' as WebhookId;
        expect(await hooks().deliveries(TENANT, id, 10)).toEqual([]);
        expect(await hooks().deliveries(TENANT, 'w-none' as WebhookId, 10)).toBeNull();
        for (let n = 1; n <= 3; n += 1) await hooks().enqueue(TENANT, id, ping(n));
        const [one, two, three] = (await take('w-1', T0, 3)).map(({ entry }) => entry);
        if (!one || !two || !three) throw new Error('expected three entries');
        await hooks().settle(TENANT, id, retrying(one, T0 + 10, T0 + 20), 'retry', T0 + 10, FAR_PAST);
        await hooks().settle(TENANT, id, attempt(two, 'delivered', T0 + 11), 'delivered', T0 + 11, FAR_PAST);
        await hooks().settle(TENANT, id, attempt(three, 'failed', T0 + 12), 'failed', T0 + 12, FAR_PAST);
        await take('w-1', T0 + 20);
        const final = attempt(one, 'delivered', T0 + 30, { attempts: 2, firstAttemptAt: T0 + 10 });
        await hooks().settle(TENANT, id, final, 'delivered', T0 + 30, FAR_PAST);
        const records = await hooks().deliveries(TENANT, id, 10);
        expect(records).toEqual([final, attempt(three, 'failed', T0 + 12), attempt(two, 'delivered', T0 + 11)]);
        expect(await hooks().deliveries(TENANT, id, 1)).toEqual([final]);
      });

      it(`keeps at most ${MAX_WEBHOOK_DELIVERY_RECORDS} records, the newest`, async () => {
        await created(webhook('w-1'));
        const id = 'w-1' as WebhookId;
        const total = MAX_WEBHOOK_DELIVERY_RECORDS + 5;
        for (let n = 1; n <= total; n += 1) await hooks().enqueue(TENANT, id, ping(n));
        const entries = [...(await take('w-1', T0, 1000)), ...(await take('w-1', T0, 1000))].map(({ entry }) => entry);
        expect(entries).toHaveLength(total);
        for (const [i, entry] of entries.entries()) {
          await hooks().settle(TENANT, id, attempt(entry, 'delivered', T0 + i), 'delivered', T0 + i, FAR_PAST);
        }
        const records = (await hooks().deliveries(TENANT, id, 100)) ?? [];
        expect(records[0]?.id).toBe(entries[total - 1]?.deliveryId);
        expect(await hooks().retry(TENANT, id, entries[4]?.deliveryId ?? '', T0 + 5000)).toBe('not_found');
        expect(await hooks().retry(TENANT, id, entries[5]?.deliveryId ?? '', T0 + 5000)).toBe('queued');
      });

      it('retries manually: queued, pending, not_found; the entry is due at once with its record', async () => {
        await created(webhook('w-1'));
        const id = 'w-1' as WebhookId;
        for (let n = 1; n <= 3; n += 1) await hooks().enqueue(TENANT, id, ping(n));
        const [one, two, three] = (await take('w-1', T0, 3)).map(({ entry }) => entry);
        if (!one || !two || !three) throw new Error('expected three entries');
        await hooks().settle(TENANT, id, attempt(one, 'failed', T0 + 10), 'failed', T0 + 10, FAR_PAST);
        await hooks().settle(TENANT, id, attempt(two, 'delivered', T0 + 11), 'delivered', T0 + 11, FAR_PAST);
        await hooks().settle(TENANT, id, retrying(three, T0 + 12, T0 + 5000), 'retry', T0 + 12, FAR_PAST);
        expect(await hooks().retry(TENANT, id, one.deliveryId, T0 + 100)).toBe('queued');
        expect(await hooks().retry(TENANT, id, one.deliveryId, T0 + 101)).toBe('pending');
        expect(await hooks().retry(TENANT, id, three.deliveryId, T0 + 100)).toBe('pending');
        expect(await hooks().retry(TENANT, id, 'no-such-delivery', T0 + 100)).toBe('not_found');
        expect(await hooks().retry(OTHER_TENANT, id, two.deliveryId, T0 + 100)).toBe('not_found');
        const records = await hooks().deliveries(TENANT, id, 10);
        expect(records?.find((r) => r.id === one.deliveryId)).toEqual(attempt(one, 'pending', T0 + 10, { nextAttemptAt: T0 + 100, lastStatusCode: 500, lastError: 'http_500' }));
        const due = await take('w-1', T0 + 100);
        expect(due.map(({ entry }) => entry)).toEqual([one]);
        expect(due[0]?.delivery?.attempts).toBe(1);
        expect(await hooks().retry(TENANT, id, two.deliveryId, T0 + 200)).toBe('queued');
        expect((await take('w-1', T0 + 200)).map(({ entry }) => entry)).toEqual([two]);
      });

      it('backlog counts entries not yet delivered or failed, with the oldest queue time', async () => {
        await created(webhook('w-1'));
        const id = 'w-1' as WebhookId;
        expect(await hooks().backlog(TENANT, id)).toEqual({ depth: 0, oldestAt: null, dropped: 0 });
        for (let n = 1; n <= 5; n += 1) await hooks().enqueue(TENANT, id, ping(n, T0 + n * 10));
        expect(await hooks().backlog(TENANT, id)).toEqual({ depth: 5, oldestAt: T0 + 10, dropped: 0 });
        const [one, two, three] = (await take('w-1', T0, 3)).map(({ entry }) => entry);
        if (!one || !two || !three) throw new Error('expected three entries');
        expect(await hooks().backlog(TENANT, id)).toEqual({ depth: 5, oldestAt: T0 + 10, dropped: 0 });
        await hooks().settle(TENANT, id, attempt(one, 'delivered', T0 + 100), 'delivered', T0 + 100, FAR_PAST);
        await hooks().settle(TENANT, id, attempt(three, 'failed', T0 + 100), 'failed', T0 + 100, FAR_PAST);
        expect(await hooks().backlog(TENANT, id)).toEqual({ depth: 3, oldestAt: T0 + 20, dropped: 0 });
        await hooks().settle(TENANT, id, retrying(two, T0 + 100, T0 + 200), 'retry', T0 + 100, FAR_PAST);
        expect(await hooks().backlog(TENANT, id)).toEqual({ depth: 3, oldestAt: T0 + 20, dropped: 0 });
        await hooks().settle(TENANT, id, attempt(two, 'delivered', T0 + 100), 'delivered', T0 + 100, FAR_PAST);
        expect(await hooks().backlog(TENANT, id)).toEqual({ depth: 2, oldestAt: T0 + 40, dropped: 0 });
        expect(await hooks().retry(TENANT, id, one.deliveryId, T0 + 300)).toBe('queued');
        expect(await hooks().backlog(TENANT, id)).toEqual({ depth: 3, oldestAt: T0 + 10, dropped: 0 });
        expect(await hooks().backlog(TENANT, 'w-none' as WebhookId)).toEqual({ depth: 0, oldestAt: null, dropped: 0 });
      });

      it('delete removes the queue, retries and records; a new webhook of that id starts empty', async () => {
        await created(webhook('w-1'));
        const id = 'w-1' as WebhookId;
        for (let n = 1; n <= 3; n += 1) await hooks().enqueue(TENANT, id, ping(n));
        const [one, two] = (await take('w-1', T0, 2)).map(({ entry }) => entry);
        if (!one || !two) throw new Error('expected two entries');
        await hooks().settle(TENANT, id, retrying(one, T0 + 1, T0 + 2), 'retry', T0 + 1, FAR_PAST);
        await hooks().settle(TENANT, id, attempt(two, 'failed', T0 + 1), 'failed', T0 + 1, FAR_PAST);
        expect(await hooks().delete(TENANT, id)).toBe(true);
        expect(await hooks().backlog(TENANT, id)).toEqual({ depth: 0, oldestAt: null, dropped: 0 });
        await created(webhook('w-1'));
        expect(await hooks().lease(TENANT, id, NODE_B, TTL, T0)).toBe('acquired');
        expect(await hooks().reclaim(TENANT, id, NODE_B, 10)).toEqual([]);
        expect(await hooks().take(TENANT, id, NODE_B, 10, T0 + 1000)).toEqual([]);
        expect(await hooks().deliveries(TENANT, id, 10)).toEqual([]);
        expect(await hooks().retry(TENANT, id, two.deliveryId, T0 + 5)).toBe('not_found');
        expect(await hooks().backlog(TENANT, id)).toEqual({ depth: 0, oldestAt: null, dropped: 0 });
      });

      it('take hands out nothing to a node not holding the lease at `now`', async () => {
        await created(webhook('w-1'));
        const id = 'w-1' as WebhookId;
        await hooks().enqueue(TENANT, id, ping(1));
        expect(await hooks().take(TENANT, id, NODE_A, 10, T0)).toEqual([]);
        expect(await hooks().lease(TENANT, id, NODE_B, TTL, T0)).toBe('acquired');
        expect(await hooks().take(TENANT, id, NODE_A, 10, T0)).toEqual([]);
        expect(await hooks().take(TENANT, id, NODE_B, 10, T0 + TTL)).toEqual([]);
        expect((await hooks().take(TENANT, id, NODE_B, 10, T0 + TTL - 1)).map(({ entry }) => entry.eventId)).toEqual(['evt_ping_1']);
      });

      it('hands entries in flight for WEBHOOK_IN_FLIGHT_MS out again, whoever took them, first and in queue order', async () => {
        await created(webhook('w-1'));
        const id = 'w-1' as WebhookId;
        for (let n = 1; n <= 3; n += 1) await hooks().enqueue(TENANT, id, ping(n));
        // A takes 1 and 2 and never settles them (say the reply was lost).
        expect((await take('w-1', T0, 2)).map(({ entry }) => entry.eventId)).toEqual(['evt_ping_1', 'evt_ping_2']);
        const three = (await take('w-1', T0 + 10, 1))[0]?.entry;
        if (!three) throw new Error('expected an entry');
        await hooks().settle(TENANT, id, retrying(three, T0 + 20, T0 + 30), 'retry', T0 + 20, FAR_PAST);
        await hooks().enqueue(TENANT, id, ping(4));
        expect((await take('w-1', T0 + WEBHOOK_IN_FLIGHT_MS - 1)).map(({ entry }) => entry.eventId)).toEqual(['evt_ping_3', 'evt_ping_4']);
        const again = await take('w-1', T0 + WEBHOOK_IN_FLIGHT_MS, 1);
        expect(again.map(({ entry }) => entry.eventId)).toEqual(['evt_ping_1']);
        expect(again[0]?.delivery).toBeNull();
        // Its idle time restarted: 2 is next, then nothing until those are in flight too long again.
        expect((await take('w-1', T0 + WEBHOOK_IN_FLIGHT_MS)).map(({ entry }) => entry.eventId)).toEqual(['evt_ping_2']);
        expect(await take('w-1', T0 + WEBHOOK_IN_FLIGHT_MS + 1)).toEqual([]);
        // Another node that took the lease over gets them once they are in flight too long (the
        // retry taken with them is due again by then too).
        const later = T0 + 2 * WEBHOOK_IN_FLIGHT_MS + TTL;
        expect((await take('w-1', later, 10, NODE_B)).map(({ entry }) => entry.eventId)).toEqual(['evt_ping_1', 'evt_ping_2', 'evt_ping_4', 'evt_ping_3']);
        const [one] = again;
        if (!one) throw new Error('expected an entry');
        // Settling by the old taker still counts.
        await hooks().settle(TENANT, id, attempt(one.entry, 'delivered', later), 'delivered', later, FAR_PAST);
        expect((await take('w-1', later + WEBHOOK_IN_FLIGHT_MS, 10, NODE_B)).map(({ entry }) => entry.eventId)).toEqual(['evt_ping_2', 'evt_ping_4', 'evt_ping_3']);
      });

      it(`keeps pending deliveries' records past ${MAX_WEBHOOK_DELIVERY_RECORDS} newer attempts, and bounds the settled ones however many are pending`, async () => {
        await created(webhook('w-1'));
        const id = 'w-1' as WebhookId;
        const pendingCount = 150;
        const total = MAX_WEBHOOK_DELIVERY_RECORDS + pendingCount + 10;
        for (let n = 0; n <= total; n += 1) await hooks().enqueue(TENANT, id, ping(n));
        const entries: QueuedWebhookEvent[] = [];
        while (entries.length <= total) entries.push(...(await take('w-1', T0, 1000)).map(({ entry }) => entry));
        const pending = entries.slice(0, pendingCount);
        const delivered = entries.slice(pendingCount);
        const [poison] = pending;
        if (!poison) throw new Error('expected entries');
        const record = retrying(poison, T0, T0 + 5000);
        await hooks().settle(TENANT, id, record, 'retry', T0, FAR_PAST);
        for (const entry of pending.slice(1)) await hooks().settle(TENANT, id, retrying(entry, T0, T0 + 9000), 'retry', T0, FAR_PAST);
        for (const [i, entry] of delivered.entries()) {
          await hooks().settle(TENANT, id, attempt(entry, 'delivered', T0 + 1 + i), 'delivered', T0 + 1 + i, FAR_PAST);
        }
        // 150 pending records sit at the head of the attempt order: the settled bound trims past them.
        const due = await take('w-1', T0 + 5000);
        expect(due).toEqual([{ entry: poison, delivery: record }]);
        expect(await hooks().retry(TENANT, id, poison.deliveryId, T0 + 5000)).toBe('pending');
        expect(await hooks().retry(TENANT, id, pending[pendingCount - 1]?.deliveryId ?? '', T0 + 5000)).toBe('pending');
        expect(await hooks().retry(TENANT, id, delivered[10]?.deliveryId ?? '', T0 + 5000)).toBe('not_found');
        expect(await hooks().retry(TENANT, id, delivered[11]?.deliveryId ?? '', T0 + 5000)).toBe('queued');
      });

      it('drops settled entries WEBHOOK_SETTLED_RETENTION_MS after they were queued, never unsettled ones', async () => {
        await created(webhook('w-1'));
        const id = 'w-1' as WebhookId;
        for (let n = 1; n <= 5; n += 1) await hooks().enqueue(TENANT, id, ping(n));
        const [one, two, three] = (await take('w-1', T0, 4)).map(({ entry }) => entry);
        if (!one || !two || !three) throw new Error('expected four entries');
        // Queue times are the engine's (Redis: its clock at queueing): at least T0, at most now.
        const late = Math.max(Date.now(), T0) + WEBHOOK_SETTLED_RETENTION_MS + 1000;
        await hooks().settle(TENANT, id, attempt(one, 'delivered', T0 + 1), 'delivered', T0 + 1, FAR_PAST);
        // Within the retention a manual retry still finds the entry.
        expect(await hooks().retry(TENANT, id, one.deliveryId, T0 + 2)).toBe('queued');
        await hooks().settle(TENANT, id, attempt(one, 'delivered', T0 + 3), 'delivered', T0 + 3, FAR_PAST);
        await hooks().settle(TENANT, id, retrying(three, T0 + 4, late + 10), 'retry', T0 + 4, FAR_PAST);
        await hooks().settle(TENANT, id, attempt(two, 'failed', late), 'failed', late, FAR_PAST);
        expect(await hooks().retry(TENANT, id, one.deliveryId, late)).toBe('dropped');
        expect(await hooks().retry(TENANT, id, two.deliveryId, late)).toBe('dropped');
        // 3 (awaiting its retry), 4 (in flight) and 5 (never handed out) stay.
        expect((await hooks().backlog(TENANT, id)).depth).toBe(3);
        expect((await take('w-1', late + 10)).map(({ entry }) => entry.eventId)).toEqual(['evt_ping_4', 'evt_ping_3', 'evt_ping_5']);
      });

      it('keeps queues of tenants apart', async () => {
        await created(webhook('w-1'), webhook('w-1', { tenantId: OTHER_TENANT }));
        await hooks().enqueue(TENANT, 'w-1' as WebhookId, ping(1));
        await hooks().enqueue(OTHER_TENANT, 'w-1' as WebhookId, ping(2));
        expect((await take('w-1', T0, 10, NODE_A, OTHER_TENANT)).map(({ entry }) => entry.eventId)).toEqual(['evt_ping_2']);
        expect((await take('w-1')).map(({ entry }) => entry.eventId)).toEqual(['evt_ping_1']);
      });
    });
  });
}
