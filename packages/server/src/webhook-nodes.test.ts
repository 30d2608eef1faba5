/**
 * Webhooks across `node dist/main.js` processes on one Redis (these tests need the build), with a
 * real receiver on 127.0.0.1. Two nodes share each webhook's queue: every event reaches the
 * endpoint once, in conversation order, whichever node stored it; changes made on one node apply
 * on the other. The node delivering a webhook dies with `kill -9` — with a request in flight (the
 * receiver holds it open) and events queued behind it, and under traffic, right after sends' 201s.
 * Another process takes the webhook's lease over once it expires (WEBHOOK_LEASE_MS is 1 s here)
 * and delivers every stored event: none is lost between the store and the queue, which are
 * written in one step. A node is known to hold a webhook's lease when it was alone when the
 * webhook was created.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient, type ApiClient } from './test-support/api-client.js';
import { createGroup, createTestTenant, expectProblem, historyOf, sendMessage, type TestTenant } from './test-support/conversations.js';
import { createFleet, send, sleep, startTraffic, until, type Fleet } from './test-support/node-scenarios.js';
import { TEST_REDIS_URL, createTestRedis, deleteKeysWithPrefix, uniqueKeyPrefix } from './test-support/redis.js';
import type { ServerProcess } from './test-support/server-process.js';
import { startWebhookReceiver, type ReceivedDelivery, type WebhookReceiver } from './test-support/webhook-receiver.js';
import { createWebhook, deliveryRecordOf, ping } from './test-support/webhooks.js';

const WEBHOOK_ENV = {
  OUTBOUND_ALLOWED_HOSTS: '127.0.0.1',
  WEBHOOK_LEASE_MS: '1000',
  WEBHOOK_RETRY_BASE_MS: '100',
};

const messageIdOf = (delivery: ReceivedDelivery): string | undefined => delivery.body?.data?.message?.id;
const seqOf = (delivery: ReceivedDelivery): number | undefined => delivery.body?.data?.message?.seq;
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** A deployment of its own for a describe block: a fresh key prefix, a fleet of nodes on it, a receiver. */
function useDeployment(): { readonly fleet: Fleet; readonly receiver: WebhookReceiver } {
  const keyPrefix = uniqueKeyPrefix();
  let fleet: Fleet | undefined;
  let receiver: WebhookReceiver | undefined;
  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    fleet = createFleet({ REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: keyPrefix, ...WEBHOOK_ENV });
  });
  afterAll(async () => {
    await fleet?.close();
    await receiver?.close();
    const redis = createTestRedis();
    try {
      await deleteKeysWithPrefix(redis, keyPrefix);
    } finally {
      await redis.quit();
    }
  }, 30_000);
  return {
    get fleet() {
      return fleet!;
    },
    get receiver() {
      return receiver!;
    },
  };
}

describe('webhooks on two processes sharing one Redis', () => {
  const deployment = useDeployment();
  let a: ServerProcess;
  let b: ServerProcess;
  let apiA: ApiClient;
  let apiB: ApiClient;
  let tenant: TestTenant;
  beforeAll(async () => {
    [a, b] = await Promise.all([deployment.fleet.startNode(), deployment.fleet.startNode()]);
    apiA = createApiClient(a.url);
    apiB = createApiClient(b.url);
    tenant = await createTestTenant(apiA);
  }, 30_000);

  it('delivers each event once and in order whichever node stored it; changes made on one node apply on the other', async () => {
    const endpoint = deployment.receiver.endpoint('shared');
    const webhook = await createWebhook(apiA, tenant.key, endpoint, ['message.created']);
    expect((await apiB.get(`/v1/webhooks/${webhook.id}`, tenant.key)).body).toMatchObject({ id: webhook.id, url: endpoint.url, enabled: true });

    const [ada, ben] = await tenant.users(['ada', 'ben']);
    const group = await createGroup(apiA, ada!.token, [ben!.id]);
    const results = await Promise.all(range(0, 29).map((i) => send(i % 2 ? a : b, i % 3 ? ada!.token : ben!.token, group.id, `both ${i}`)));
    expect(results.map((result) => result.status)).toEqual(Array(30).fill(201));
    await endpoint.waitForCount(() => true, 30, 10_000);
    await sleep(500); // room for a duplicate to show up
    expect(endpoint.deliveries.map(seqOf)).toEqual(range(1, 30));
    expect(new Set(endpoint.deliveries.map(messageIdOf))).toEqual(new Set(results.map((result) => result.body.id)));
    expect(deployment.receiver.invalid).toEqual([]);

    // Unsubscribed from messages on node B: node A's next message is not delivered.
    expect((await apiB.patch(`/v1/webhooks/${webhook.id}`, { events: ['reaction.added'] }, tenant.key)).status).toBe(200);
    const unsubscribed = await sendMessage(apiA, ada!.token, group.id, 'not for the webhook');
    // Deleted on node A: node B refuses it at once.
    expect((await apiA.delete(`/v1/webhooks/${webhook.id}`, tenant.key)).status).toBe(204);
    expectProblem(await apiB.post(`/v1/webhooks/${webhook.id}/ping`, {}, tenant.key), 404, 'webhook_not_found');
    await sendMessage(apiB, ben!.token, group.id, 'after the deletion');
    await sleep(700);
    expect(endpoint.deliveries.filter((delivery) => messageIdOf(delivery) === unsubscribed.id)).toEqual([]);
    expect(endpoint.deliveries).toHaveLength(30);
  });
});

describe('webhooks when the node delivering them dies (kill -9)', () => {
  const deployment = useDeployment();
  // What the first test leaves for the second: the node that took over, alone in the deployment.
  let survivor: ServerProcess;

  it('another process delivers the event in flight and the events queued behind it, once the lease expires', async () => {
    const { fleet, receiver } = deployment;
    // Alone, node A is certainly the one delivering.
    const a = await fleet.startNode();
    const apiA = createApiClient(a.url);
    const tenant = await createTestTenant(apiA);
    const endpoint = receiver.endpoint('held');
    const webhook = await createWebhook(apiA, tenant.key, endpoint, ['message.created']);
    endpoint.script('hang');

    const [eli, fay] = await tenant.users(['eli', 'fay']);
    const group = await createGroup(apiA, eli!.token, [fay!.id]);
    const first = await sendMessage(apiA, eli!.token, group.id, 'held open');
    const held = await endpoint.waitFor((delivery) => messageIdOf(delivery) === first.id, 5000);
    // Queued behind it: one conversation is delivered one event at a time.
    const queued: string[] = [];
    for (let i = 0; i < 5; i += 1) queued.push((await sendMessage(apiA, eli!.token, group.id, `queued ${i}`)).id);
    a.child.kill('SIGKILL'); // right after the last 201
    expect(await a.exited).toBe('SIGKILL');
    await until('the held request to close', () => held.endedAt !== null, 5000);
    expect(held.abandoned).toBe(true);
    expect(endpoint.deliveries.map(messageIdOf)).toEqual([first.id]);

    const diedAt = Date.now();
    survivor = await fleet.startNode();
    const apiB = createApiClient(survivor.url);
    const again = await endpoint.waitFor((delivery) => delivery !== held && messageIdOf(delivery) === first.id, 15_000);
    expect(again.id).toBe(held.id);
    expect(again.signature.valid).toBe(true);
    await until('the queued messages', () => endpoint.unique().length >= 6, 10_000);
    expect(endpoint.unique().map(messageIdOf)).toEqual([first.id, ...queued]);
    expect(endpoint.unique().map(seqOf)).toEqual(range(1, 6));
    // Within B's start plus the 1 s lease, with room for a busy machine.
    expect(again.at - diedAt).toBeLessThan(10_000);
    await deliveryRecordOf(apiB, tenant.key, webhook.id, held.id!, (record) => record.status === 'delivered', 5000);
    expect(receiver.invalid).toEqual([]);
  });

  it('kill -9 of the delivering node under traffic loses no event: every stored message reaches the endpoint, in seq order', async () => {
    const { fleet, receiver } = deployment;
    const victim = survivor;
    const apiVictim = createApiClient(victim.url);
    const tenant = await createTestTenant(apiVictim);
    // Created while the victim is the only node: it takes the lease and keeps it (renewing it).
    const endpoint = receiver.endpoint('survives');
    const webhook = await createWebhook(apiVictim, tenant.key, endpoint, ['message.created']);
    const pingId = await ping(apiVictim, tenant.key, webhook.id);
    await endpoint.waitFor((delivery) => delivery.id === pingId, 5000);
    const other = await fleet.startNode();
    const apiOther = createApiClient(other.url);

    const [cy, di] = await tenant.users(['cy', 'di']);
    const group = await createGroup(apiOther, cy!.token, [di!.id]);
    const senders = [cy!, di!];
    const traffic = startTraffic({
      conversationId: group.id,
      limit: 90, // the history read back below holds up to 100
      workers: 4,
      route: (i) => ({ node: i % 2 === 0 ? other : victim, user: senders[i % 2]! }),
    });
    try {
      await until('20 acknowledged sends', () => traffic.acked.size >= 20, 10_000);
      victim.child.kill('SIGKILL');
      expect(await victim.exited).toBe('SIGKILL');
      const ackedAtKill = traffic.acked.size;
      await until('10 more acknowledged sends through the other node', () => traffic.acked.size >= ackedAtKill + 10, 10_000);
    } finally {
      await traffic.stop();
    }

    // Everything the history holds, acknowledged or stored just before the kill, is delivered.
    const history = await historyOf(apiOther, cy!.token, group.id);
    expect(history.length).toBeGreaterThanOrEqual(traffic.acked.size);
    const ofGroup = (delivery: ReceivedDelivery) => delivery.body?.data?.message?.conversationId === group.id;
    // On a timeout the assertions below say what is missing.
    await until(`${history.length} messages at the endpoint`, () => endpoint.unique().filter(ofGroup).length >= history.length, 15_000).catch(() => undefined);
    const firsts = endpoint.unique().filter(ofGroup);
    expect(firsts.map(messageIdOf)).toEqual(history.map((message) => message.id));
    expect(firsts.map(seqOf)).toEqual(range(1, history.length));
    for (const [seq, id] of traffic.acked) expect(messageIdOf(firsts[seq - 1]!)).toBe(id);
    expect(receiver.invalid).toEqual([]);
  });
});
