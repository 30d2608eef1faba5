import { describe, expect, it } from 'vitest';
import type { ConversationId, MessageId, TenantId, UserId } from '../../domain/types.js';
import type { WebhookDelivery, WebhookId } from '../../domain/webhooks.js';
import { runEngineContract } from '../engine.contract.js';
import { MAX_WEBHOOK_QUEUE, type NewMessage } from '../engine.js';
import { createMemoryEngine, MemoryEngine } from './memory-engine.js';

runEngineContract('memory engine', async (options) => {
  const engine = createMemoryEngine({ retention: options?.retention });
  return { engine, cleanup: () => engine.close() };
});

// Behaviour the shared suite cannot check without waiting on a real clock: the memory engine
// measures expiry on the times it is given, so here time can jump.
describe('memory engine expiry by the given times', () => {
  const tenant = 't' as TenantId;
  const alice = 'alice' as UserId;
  const conversationId = 'c' as ConversationId;
  let nextId = 0;
  const message = (createdAt: number, clientMessageId: string | null): NewMessage => {
    nextId += 1;
    return { id: `m${nextId}` as MessageId, senderId: alice, system: false, text: 'hi', replyTo: null, createdAt, clientMessageId };
  };

  async function groupOfAlice() {
    const engine = createMemoryEngine();
    await engine.conversations.createGroup(tenant, {
      id: conversationId,
      type: 'group',
      title: 'g',
      createdAt: 0,
      members: [{ userId: alice, role: 'owner' }],
    });
    return engine;
  }

  it('forgets an idempotency key once its window has passed', async () => {
    const engine = await groupOfAlice();
    const ttl = 1000;
    expect((await engine.messages.append(tenant, conversationId, message(0, 'k'), ttl)).status).toBe('created');
    expect((await engine.messages.append(tenant, conversationId, message(999, 'k'), ttl)).status).toBe('duplicate');
    const afterWindow = await engine.messages.append(tenant, conversationId, message(1000, 'k'), ttl);
    expect(afterWindow).toMatchObject({ status: 'created', message: { seq: 2 } });
    // The key now points at the new message for a fresh window.
    expect(await engine.messages.append(tenant, conversationId, message(1500, 'k'), ttl)).toMatchObject({
      status: 'duplicate',
      message: { seq: 2 },
    });
  });

  it('drops expired refresh families, and rotation extends a family past its first expiry', async () => {
    const engine = createMemoryEngine();
    const family = { tenantId: tenant, familyId: 'f', userId: alice, generation: 0, secretHash: 'h0', expiresAt: 100 };
    await engine.refreshTokens.create(family, 0);
    const rotated = await engine.refreshTokens.rotate(tenant, 'f', 0, 'h0', { secretHash: 'h1', expiresAt: 500 }, 50);
    expect(rotated.status).toBe('rotated');
    // Past the first expiry but within the rotated one.
    expect(await engine.refreshTokens.rotate(tenant, 'f', 1, 'h1', { secretHash: 'h2', expiresAt: 900 }, 300)).toMatchObject({
      status: 'rotated',
    });
    expect(await engine.refreshTokens.rotate(tenant, 'f', 2, 'h2', { secretHash: 'h3', expiresAt: 2000 }, 900)).toEqual({
      status: 'invalid',
    });
  });

  it('pages a user with thousands of conversations completely and in order', async () => {
    const engine = createMemoryEngine();
    const total = 3000;
    for (let i = 0; i < total; i += 1) {
      await engine.conversations.createGroup(tenant, {
        id: `c-${String(i).padStart(5, '0')}` as ConversationId,
        type: 'group',
        title: null,
        // Activity out of creation order, with ties, so ordering does real work.
        createdAt: (i * 7919) % 1000,
        members: [{ userId: alice, role: 'member' }],
      });
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    let previous: { at: number; id: string } | null = null;
    do {
      const page = await engine.conversations.listForUser(tenant, alice, cursor === undefined ? { limit: 100 } : { cursor, limit: 100 });
      for (const { conversation } of page.items) {
        if (previous) {
          const ordered = previous.at > conversation.lastActivityAt || (previous.at === conversation.lastActivityAt && previous.id > conversation.id);
          expect(ordered).toBe(true);
        }
        previous = { at: conversation.lastActivityAt, id: conversation.id };
        seen.push(conversation.id);
      }
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    expect(seen).toHaveLength(total);
    expect(new Set(seen).size).toBe(total);
  });

  it('delivers topic messages after the publishing call returns, never inside it, in publish order', async () => {
    const engine = await groupOfAlice();
    const heard: number[] = [];
    const subscriber = engine.pubsub.createSubscriber((message) => {
      if (message.kind === 'event' && message.envelope.event.type === 'message.created') heard.push(message.envelope.event.message.seq);
    });
    await subscriber.subscribeConversations(tenant, [conversationId]);
    // No await between the calls: every append has run its atomic step, no delivery has happened.
    const sends = [0, 1, 2].map((i) => engine.messages.append(tenant, conversationId, message(i, null), 1000));
    expect(heard).toEqual([]);
    await Promise.all(sends);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(heard).toEqual([1, 2, 3]);
    await subscriber.close();
  });

  it('ends every delivery when the engine closes', async () => {
    const engine = await groupOfAlice();
    const heard: unknown[] = [];
    const subscriber = engine.pubsub.createSubscriber((topicMessage) => heard.push(topicMessage));
    await subscriber.subscribeConversations(tenant, [conversationId]);
    const pending = engine.messages.append(tenant, conversationId, message(0, null), 1000);
    await engine.close();
    await pending;
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(heard).toEqual([]);
  });

  it('refuses a retention that cannot bound a log', () => {
    for (const retention of [
      { maxEvents: 0, maxAgeMs: 1000 },
      { maxEvents: 1.5, maxAgeMs: 1000 },
      { maxEvents: 10, maxAgeMs: -1 },
    ]) {
      expect(() => createMemoryEngine({ retention })).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    }
  });

  it('refuses times that cannot be the `at` of an event id, changing nothing', async () => {
    const engine = await groupOfAlice();
    const group = { id: 'g2' as ConversationId, type: 'group' as const, title: null, members: [{ userId: alice, role: 'owner' as const }] };
    for (const createdAt of [-1, 1.5, Number.NaN]) {
      await expect(engine.conversations.createGroup(tenant, { ...group, createdAt })).rejects.toMatchObject({ code: 'invalid_argument' });
      await expect(engine.messages.append(tenant, conversationId, message(createdAt, null), 1000)).rejects.toMatchObject({
        code: 'invalid_argument',
      });
    }
    await expect(engine.conversations.update(tenant, conversationId, { title: 'x' }, -5)).rejects.toMatchObject({ code: 'invalid_argument' });
    expect(await engine.conversations.get(tenant, 'g2' as ConversationId)).toBeNull();
    expect(await engine.conversations.get(tenant, conversationId)).toMatchObject({ title: 'g', lastSeq: 0 });
    expect((await engine.events.read(tenant, conversationId, null, 10)).events).toHaveLength(1);
  });

  it('refuses calls to ping after close', async () => {
    const engine = createMemoryEngine();
    await engine.close();
    await expect(engine.ping()).rejects.toMatchObject({ code: 'storage_unavailable' });
  });
});

describe('memory engine rate limits', () => {
  it('forgets counters whose burst is full again, so memory is bounded by one window of subjects', async () => {
    const engine = new MemoryEngine();
    const policy = { count: 2, windowMs: 1000 };
    for (let i = 0; i < 1000; i += 1) {
      await engine.rateLimits.consume({ limit: 'send', tenantId: 't' as TenantId, subject: `u${i}` }, policy, 0);
    }
    expect(engine.rateLimits.size).toBe(1000);
    await engine.rateLimits.consume({ limit: 'send', tenantId: 't' as TenantId, subject: 'late' }, policy, 500);
    expect(engine.rateLimits.size).toBe(1);
  });
});

// The queue bound: queueing MAX_WEBHOOK_QUEUE entries takes a moment in memory, far longer on Redis
// (redis-webhooks.test.ts trims by hand there).
describe('memory engine webhook queue bound', () => {
  it('drops (and counts) the oldest entries beyond MAX_WEBHOOK_QUEUE; their retries and manual retries end as failed', async () => {
    const engine = createMemoryEngine();
    const hooks = engine.webhooks;
    const tenant = 't' as TenantId;
    const id = 'w' as WebhookId;
    const ping = (n: number) => ({ eventId: `e${n}`, type: 'webhook.ping', at: n, event: { n } });
    const record = (deliveryId: string, status: WebhookDelivery['status'], nextAttemptAt: number | null): WebhookDelivery => ({
      id: deliveryId,
      eventId: 'e',
      eventType: 'webhook.ping',
      status,
      attempts: 1,
      lastStatusCode: 500,
      lastError: 'http_500',
      lastAttemptAt: 1,
      firstAttemptAt: 1,
      nextAttemptAt,
    });
    expect(
      await hooks.create(
        { tenantId: tenant, id, url: 'https://x.example/', events: ['*'], description: null, enabled: true, createdAt: 0, secrets: [], failingSince: null, disabledAt: null },
        1,
      ),
    ).toBe('created');
    await hooks.enqueue(tenant, id, ping(0));
    await hooks.enqueue(tenant, id, ping(1));
    expect(await hooks.lease(tenant, id, 'node', 1000, 0)).toBe('acquired');
    const [first, second] = (await hooks.take(tenant, id, 'node', 2, 0)).map(({ entry }) => entry.deliveryId);
    if (!first || !second) throw new Error('expected two entries');
    await hooks.settle(tenant, id, record(first, 'pending', 10), 'retry', 1, 0);
    await hooks.settle(tenant, id, record(second, 'failed', null), 'failed', 1, 0);
    for (let n = 2; n < MAX_WEBHOOK_QUEUE + 2; n += 1) await hooks.enqueue(tenant, id, ping(n));
    // Both dropped entries had been handed out (a retry, a failed one): not counted, they end failed.
    expect(await hooks.backlog(tenant, id)).toEqual({ depth: MAX_WEBHOOK_QUEUE + 1, oldestAt: 2, dropped: 0 });
    expect(await hooks.retry(tenant, id, second, 5)).toBe('dropped');
    expect((await hooks.take(tenant, id, 'node', 1, 10)).map(({ entry }) => entry.eventId)).toEqual(['e2']);
    expect((await hooks.deliveries(tenant, id, 10))?.map((delivery) => delivery.status)).toEqual(['failed', 'failed']);
    expect(await hooks.backlog(tenant, id)).toEqual({ depth: MAX_WEBHOOK_QUEUE, oldestAt: 2, dropped: 0 });
    // Two more drop e2 (handed out above) and e3 (never handed out: an event lost before any attempt).
    await hooks.enqueue(tenant, id, ping(MAX_WEBHOOK_QUEUE + 2));
    await hooks.enqueue(tenant, id, ping(MAX_WEBHOOK_QUEUE + 3));
    expect((await hooks.backlog(tenant, id)).dropped).toBe(1);
  });
});
