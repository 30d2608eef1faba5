/**
 * Redis-only checks of the webhook storage that the engine contract cannot reach without queueing
 * MAX_WEBHOOK_QUEUE entries: what happens to retries, pending entries and manual retries whose
 * entry the stream's trimming dropped (here trimmed by hand), and that a tenant without webhooks
 * gets no webhook keys from the logging steps.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ConversationId, EpochMs, MessageId, TenantId, UserId } from '../../domain/types.js';
import type { Webhook, WebhookDelivery, WebhookId } from '../../domain/webhooks.js';
import { createRedisTestEngine, createTestRedis, keysWithPrefix } from '../../test-support/redis.js';
import { MAX_WEBHOOK_QUEUE } from '../engine.js';
import { RedisKeys } from './redis-keys.js';

const tenant = 'acme' as TenantId;
const id = 'w-1' as WebhookId;
const T0 = Date.now();

const webhook: Webhook = {
  tenantId: tenant,
  id,
  url: 'https://hooks.example/',
  events: ['*'],
  description: null,
  enabled: true,
  createdAt: T0,
  secrets: [{ secret: 'whsec', expiresAt: null }],
  failingSince: null,
  disabledAt: null,
};

function record(deliveryId: string, status: WebhookDelivery['status'], at: EpochMs, nextAttemptAt: EpochMs | null = null): WebhookDelivery {
  return {
    id: deliveryId,
    eventId: 'evt',
    eventType: 'webhook.ping',
    status,
    attempts: 1,
    lastStatusCode: 500,
    lastError: 'http_500',
    lastAttemptAt: at,
    firstAttemptAt: at,
    nextAttemptAt,
  };
}

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.map((cleanup) => cleanup()));
  cleanups = [];
});

async function setup() {
  const { engine, keyPrefix, cleanup } = await createRedisTestEngine();
  const admin = createTestRedis();
  cleanups.push(async () => {
    await admin.quit();
    await cleanup();
  });
  return { engine, admin, keyPrefix, keys: new RedisKeys(keyPrefix) };
}

describe('redis webhook storage', () => {
  it('ends retries and manual retries of entries the queue dropped as failed, and reclaims none of them', async () => {
    const { engine, admin, keys } = await setup();
    const hooks = engine.webhooks;
    expect(await hooks.create(webhook, 20)).toBe('created');
    for (let n = 1; n <= 5; n += 1) await hooks.enqueue(tenant, id, { eventId: `e${n}`, type: 'webhook.ping', at: T0 + n, event: { n } });
    expect(await hooks.lease(tenant, id, 'node-a', 30_000, T0)).toBe('acquired');
    const [one, two, three] = (await hooks.take(tenant, id, 'node-a', 3, T0)).map(({ entry }) => entry.deliveryId);
    if (!one || !two || !three) throw new Error('expected three entries');
    await hooks.settle(tenant, id, record(one, 'pending', T0 + 1, T0 + 10), 'retry', T0 + 1, 0);
    await hooks.settle(tenant, id, record(two, 'failed', T0 + 2), 'failed', T0 + 2, 0);
    // Entries 1..4 leave the stream, as MAXLEN trimming would drop them; 3 is still pending.
    await admin.xtrim(keys.webhook(tenant, id).queue, 'MAXLEN', 1);

    // The retry (1), the pending entry (3) and the unread entry (5) are counted; the oldest held is 5.
    expect(await hooks.backlog(tenant, id)).toEqual({ depth: 3, oldestAt: T0 + 5, dropped: 0 });
    expect(await hooks.retry(tenant, id, two, T0 + 5)).toBe('dropped');
    expect((await hooks.deliveries(tenant, id, 10))?.find((r) => r.id === two)?.status).toBe('failed');
    const taken = await hooks.take(tenant, id, 'node-a', 10, T0 + 10);
    expect(taken.map(({ entry }) => entry.eventId)).toEqual(['e5']);
    expect((await hooks.deliveries(tenant, id, 10))?.find((r) => r.id === one)).toEqual(record(one, 'failed', T0 + 1));
    expect(await hooks.lease(tenant, id, 'node-b', 30_000, T0 + 60_000)).toBe('acquired');
    expect((await hooks.reclaim(tenant, id, 'node-b', 10)).map((entry) => entry.eventId)).toEqual(['e5']);
    // Only e5 is left (in flight). Redis 7.0's group lag still counts e4, dropped unread, after the
    // group read past it (webhook-backlog.lua), so the depth may be one more on such a Redis.
    const { depth, oldestAt, dropped } = await hooks.backlog(tenant, id);
    expect(dropped).toBe(0); // trimmed by hand here, not by the queue bound
    expect(oldestAt).toBe(T0 + 5);
    expect([1, 2]).toContain(depth);
  });

  it('trims a queue to exactly MAX_WEBHOOK_QUEUE when queueing (enqueue, logging steps), counting what it drops', async () => {
    const { engine, admin, keys } = await setup();
    const hooks = engine.webhooks;
    expect(await hooks.create(webhook, 20)).toBe('created');
    const queue = keys.webhook(tenant, id).queue;
    // Filled by hand: queueing MAX_WEBHOOK_QUEUE entries through the scripts takes too long here.
    for (let from = 0; from < MAX_WEBHOOK_QUEUE; from += 10_000) {
      const pipeline = admin.pipeline();
      for (let n = from; n < from + 10_000; n += 1) {
        pipeline.xadd(queue, '*', 'eventId', `e${n}`, 'type', 'webhook.ping', 'at', String(T0), 'conversationId', '', 'event', '{}');
      }
      await pipeline.exec();
    }
    await hooks.enqueue(tenant, id, { eventId: 'e-last', type: 'webhook.ping', at: T0, event: {} });
    expect(await admin.xlen(queue)).toBe(MAX_WEBHOOK_QUEUE);
    expect((await hooks.backlog(tenant, id)).dropped).toBe(1);
    const alice = 'alice' as UserId;
    await engine.conversations.createGroup(tenant, { id: 'g1' as ConversationId, type: 'group', title: 'g', createdAt: T0, members: [{ userId: alice, role: 'owner' }] });
    await engine.webhooks.relayed();
    expect(await admin.xlen(queue)).toBe(MAX_WEBHOOK_QUEUE);
    const { dropped } = await hooks.backlog(tenant, id);
    expect(dropped).toBeGreaterThanOrEqual(2);
    // The oldest entries went: e0 … e<dropped - 1>.
    const [oldest] = await admin.xrange(queue, '-', '+', 'COUNT', 1);
    expect(oldest?.[1]).toContain(`e${dropped}`);
  });

  it('a lease answering absent forgets the registry member; reclaim deletes other consumers left with nothing pending', async () => {
    const { engine, admin, keys } = await setup();
    const hooks = engine.webhooks;
    expect(await hooks.create(webhook, 20)).toBe('created');
    // A member naming no webhook, as a crash between the registry and the webhook's step leaves.
    await admin.sadd(keys.webhookRegistry(), keys.webhookMember(tenant, 'w-gone'));
    expect(await hooks.listAll()).toHaveLength(2);
    expect(await hooks.lease(tenant, 'w-gone' as WebhookId, 'node-a', 30_000, T0)).toBe('absent');
    expect(await hooks.listAll()).toEqual([{ tenantId: tenant, id }]);

    const queue = keys.webhook(tenant, id).queue;
    const consumers = async () => ((await admin.xinfo('CONSUMERS', queue, 'dispatch')) as string[][]).map((fields) => fields[1]).sort();
    for (let n = 1; n <= 3; n += 1) await hooks.enqueue(tenant, id, { eventId: `e${n}`, type: 'webhook.ping', at: T0 + n, event: { n } });
    expect(await hooks.lease(tenant, id, 'node-a', 30_000, T0)).toBe('acquired');
    const [one] = await hooks.take(tenant, id, 'node-a', 1, T0);
    if (!one) throw new Error('expected an entry');
    await hooks.settle(tenant, id, record(one.entry.deliveryId, 'delivered', T0 + 1), 'delivered', T0 + 1, 0);
    expect(await hooks.lease(tenant, id, 'node-b', 30_000, T0 + 30_000)).toBe('acquired');
    expect(await hooks.take(tenant, id, 'node-b', 1, T0 + 30_000)).toHaveLength(1);
    expect(await hooks.lease(tenant, id, 'node-c', 30_000, T0 + 60_000)).toBe('acquired');
    expect(await consumers()).toEqual(['node-a', 'node-b']);
    // node-a has nothing pending: deleted at once; node-b once its entry is claimed (by node-c).
    expect((await hooks.reclaim(tenant, id, 'node-c', 10)).map((entry) => entry.eventId)).toEqual(['e2']);
    expect(await consumers()).toEqual(['node-c']);
    expect((await hooks.take(tenant, id, 'node-c', 10, T0 + 60_000)).map(({ entry }) => entry.eventId)).toEqual(['e3']);
    expect(await consumers()).toEqual(['node-c']);
  });

  it('logging steps of a tenant without webhooks write no webhook keys', async () => {
    const { engine, admin, keyPrefix } = await setup();
    const alice = 'alice' as UserId;
    const conversationId = 'g1' as ConversationId;
    expect(await engine.webhooks.create({ ...webhook, tenantId: 'other' as TenantId }, 20)).toBe('created');
    await engine.conversations.createGroup(tenant, { id: conversationId, type: 'group', title: 'g', createdAt: T0, members: [{ userId: alice, role: 'owner' }] });
    const sent = await engine.messages.append(
      tenant,
      conversationId,
      { id: 'm1' as MessageId, senderId: alice, system: false, text: 'hi', replyTo: null, createdAt: T0, clientMessageId: null },
      1000,
    );
    expect(sent.status).toBe('created');
    const webhookKeys = (await keysWithPrefix(admin, keyPrefix)).filter((key) => key.includes('{w:'));
    expect(webhookKeys.every((key) => key.includes('{w:other}'))).toBe(true);
  });
});
