/**
 * Webhooks end to end, on both engines: a real Parley (in process, listening on 127.0.0.1) and a
 * real receiver (test-support/webhook-receiver.ts) that verifies every signature. Everything
 * asserted is what a tenant's back end sees: the requests its endpoint receives, and the webhook
 * API's answers. Timings are shortened through the configuration (retries from 50 ms, a 1 s
 * timeout, a 2 s secret grace), never by reaching into the server.
 */
import { isIP } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEBHOOK_EVENT_TYPES } from './domain/webhooks.js';
import type { Resolve } from './outbound/index.js';
import { createGroup, createTestTenant, expectProblem, RFC3339_UTC, sendMessage, setRole } from './test-support/conversations.js';
import { ENGINE_KINDS } from './test-support/engines.js';
import { sleep, until } from './test-support/node-scenarios.js';
import { parseSamples, sumOf } from './test-support/prometheus-text.js';
import { connectRealtime, type Frame } from './test-support/realtime-client.js';
import { useTestServer } from './test-support/server.js';
import { startWebhookReceiver, type ReceivedDelivery, type WebhookReceiver } from './test-support/webhook-receiver.js';
import { createWebhook, deliveriesOf, deliveryRecordOf, ping } from './test-support/webhooks.js';

const WEBHOOK_ENV = {
  OUTBOUND_ALLOWED_HOSTS: '127.0.0.1',
  WEBHOOK_RETRY_BASE_MS: '50',
  WEBHOOK_TIMEOUT_MS: '1000',
  WEBHOOK_SECRET_GRACE_SECONDS: '2',
};

/** Ids of logged events are derived from the event log (the same for every webhook); a ping's is random. */
/** Host names the tests use, resolved without DNS (nothing leaves the machine); other names do not resolve. */
const STUB_DNS: Record<string, string[]> = {
  'hooks.internal.example': ['10.0.0.7'],
  'loopback.example': ['127.0.0.1'],
  'metadata.example': ['169.254.169.254'],
  'split.example': ['93.184.216.34', '192.168.0.9'],
};
const stubResolve: Resolve = async (host) => {
  const addresses = STUB_DNS[host];
  if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return addresses.map((address) => ({ address, family: isIP(address) }));
};

const EVENT_ID = /^evt_[0-9a-f]{32}$/;
const PING_ID = /^evt_[0-9A-Za-z]+$/;
/** The conversation an event concerns: message and conversation events name it inside the object they carry. */
const conversationOf = (data: any): string | undefined => data?.conversationId ?? data?.message?.conversationId ?? data?.conversation?.id;
const inConversation = (conversationId: string) => (delivery: ReceivedDelivery) => conversationOf(delivery.body?.data) === conversationId;
const ofType = (type: string) => (delivery: ReceivedDelivery) => delivery.type === type;

/** A realtime frame without type and cursor: what a webhook's data holds. */
const asWebhookData = ({ type: _type, cursor: _cursor, ...data }: Frame) => data;

/** What an event says, whatever its presentation (time formats, per-viewer fields). */
const essence = (data: any) => ({
  conversationId: conversationOf(data),
  message: data.message && {
    id: data.message.id,
    seq: data.message.seq,
    senderId: data.message.senderId,
    text: data.message.text,
    edited: data.message.editedAt !== null,
    deleted: data.message.deletedAt !== null,
  },
  conversation: data.conversation && { id: data.conversation.id, type: data.conversation.type, title: data.conversation.title },
  messageId: data.messageId,
  emoji: data.emoji,
  userId: data.userId,
  role: data.role,
  seq: data.seq,
});

/** What every request of a delivery must look like, whatever its event. */
function expectWellFormed(delivery: ReceivedDelivery, tenantId: string): void {
  const where = `${delivery.endpoint} ${delivery.type} ${delivery.raw}`;
  expect(delivery.signature.valid, where).toBe(true);
  expect(Math.abs(delivery.signature.t! - Date.now() / 1000), where).toBeLessThan(300);
  expect(delivery.id, where).toMatch(delivery.type === 'webhook.ping' ? PING_ID : EVENT_ID);
  expect(delivery.body, where).toEqual({ id: delivery.id, type: delivery.type, tenantId, createdAt: expect.stringMatching(RFC3339_UTC), data: expect.any(Object) });
  expect(delivery.headers['content-type'], where).toMatch(/^application\/json/);
  expect(delivery.headers['user-agent'], where).toMatch(/^Parley-Webhooks\/\S+$/);
}

describe.each(ENGINE_KINDS)('webhooks on the %s engine', (kind) => {
  const ctx = useTestServer({ kind, env: WEBHOOK_ENV, outboundResolve: stubResolve });
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    receiver = await startWebhookReceiver();
  });
  afterAll(() => receiver.close());
  /** The first test's events, for the second to look at more closely. */
  let everyEvent: { received: ReceivedDelivery[]; reference: Frame[] } | undefined;

  it('delivers every durable event of a conversation, signed, exactly once per id, and only the subscribed types', async () => {
    const api = ctx.api;
    const tenant = await createTestTenant(api);
    const [owen, mia, ned] = await tenant.users(['owen', 'mia', 'ned']);
    const everything = receiver.endpoint('everything');
    const some = receiver.endpoint('some');
    await createWebhook(api, tenant.key, everything, ['*']);
    await createWebhook(api, tenant.key, some, ['message.created', 'reaction.added']);
    // The owner's socket sees the conversation's events as realtime clients do: the reference.
    const socket = await connectRealtime(ctx.url, { token: owen!.token });
    await socket.waitFor((frame) => frame.type === 'ready', 5000);

    const group = await createGroup(api, owen!.token, [mia!.id], 'Hooks');
    const base = `/v1/conversations/${group.id}`;
    expect((await api.patch(base, { title: 'Hooks, renamed' }, owen!.token)).status).toBe(200);
    expect((await api.post(`${base}/members`, { userIds: [ned!.id] }, owen!.token)).status).toBe(200);
    await setRole(api, owen!.token, group.id, mia!.id, 'admin');
    const hello = await sendMessage(api, mia!.token, group.id, 'hello');
    expect((await api.patch(`${base}/messages/${hello.id}`, { text: 'hello, edited' }, mia!.token)).status).toBe(200);
    const reaction = `${base}/messages/${hello.id}/reactions/${encodeURIComponent('👍')}`;
    expect((await api.put(reaction, undefined, owen!.token)).status).toBe(204);
    expect((await api.delete(reaction, owen!.token)).status).toBe(204);
    const bye = await sendMessage(api, owen!.token, group.id, 'bye');
    expect((await api.delete(`${base}/messages/${bye.id}`, owen!.token)).status).toBe(204);
    expect((await api.post(`${base}/read`, { seq: 2 }, ned!.token)).status).toBe(204);
    expect((await api.delete(`${base}/members/${ned!.id}`, owen!.token)).status).toBe(204);

    await socket.waitFor((frame) => frame.type === 'member.removed' && frame.conversationId === group.id, 5000);
    const reference = socket.frames.filter((frame) => typeof frame.cursor === 'string' && conversationOf(frame) === group.id);
    await socket.close();
    const ofGroup = inConversation(group.id);
    await until(`${reference.length} events at the endpoint`, () => everything.unique().filter(ofGroup).length >= reference.length, 10_000);
    await sleep(300); // room for anything unexpected to arrive

    for (const delivery of receiver.all) expectWellFormed(delivery, tenant.id);
    expect(receiver.invalid).toEqual([]);
    const received = everything.unique();
    expect(received.every(ofGroup), 'only this conversation happened in the tenant').toBe(true);
    // In the conversation's order, each event once, saying what the realtime event says.
    expect(received.map((delivery) => delivery.type)).toEqual(reference.map((frame) => frame.type));
    expect(received.map((delivery) => essence(delivery.body.data))).toEqual(reference.map((frame) => essence(asWebhookData(frame))));
    everyEvent = { received, reference };
    expect(new Set(received.map((delivery) => delivery.type))).toEqual(new Set(WEBHOOK_EVENT_TYPES));
    expect(received.find(ofType('message.created'))!.body.data).toMatchObject({ message: { id: hello.id, conversationId: group.id, text: 'hello' } });

    // The filtered webhook: the same events (same ids) of its two types, nothing else.
    const subscribed = (delivery: ReceivedDelivery) => delivery.type === 'message.created' || delivery.type === 'reaction.added';
    expect(some.unique().map((delivery) => delivery.id)).toEqual(received.filter(subscribed).map((delivery) => delivery.id));
    expect(new Set(some.unique().map((delivery) => delivery.type))).toEqual(new Set(['message.created', 'reaction.added']));
  });

  it('sends as data the realtime event without type and cursor: RFC 3339 times, no internal or per-viewer fields', () => {
    const { received, reference } = everyEvent!;
    expect(received.map((delivery) => delivery.body.data)).toEqual(reference.map(asWebhookData));
  });

  it('creates, lists, reads, updates and deletes webhooks; the secret is shown only at creation', async () => {
    const api = ctx.api;
    const tenant = await createTestTenant(api);
    const endpoint = receiver.endpoint('crud');
    const created = await api.post('/v1/webhooks', { url: endpoint.url, events: ['message.created'], description: 'CRM sync' }, tenant.key);
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.any(String),
      url: endpoint.url,
      events: ['message.created'],
      description: 'CRM sync',
      enabled: true,
      createdAt: expect.stringMatching(RFC3339_UTC),
      failingSince: null,
      disabledAt: null,
      secret: expect.stringMatching(/^whsec_\S{24,}$/),
    });
    const { secret, ...shown } = created.body;
    endpoint.trust(secret);
    const id: string = shown.id;

    expect((await api.get(`/v1/webhooks/${id}`, tenant.key)).body).toEqual(shown);
    const listed = await api.get('/v1/webhooks', tenant.key);
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual({ items: [shown] });
    expect(listed.text).not.toContain(secret);

    const patched = await api.patch(`/v1/webhooks/${id}`, { events: ['*'], description: 'everything' }, tenant.key);
    expect(patched.status).toBe(200);
    expect(patched.body).toEqual({ ...shown, events: ['*'], description: 'everything' });
    const paused = await api.patch(`/v1/webhooks/${id}`, { enabled: false }, tenant.key);
    expect(paused.body).toEqual({ ...shown, events: ['*'], description: 'everything', enabled: false });
    expect(JSON.stringify(paused.body)).not.toContain(secret);
    expectProblem(await api.post(`/v1/webhooks/${id}/ping`, {}, tenant.key), 409, 'webhook_disabled', 'ping while paused');

    // Disabled: events logged now are not delivered to it.
    const [ann, bo] = await tenant.users(['ann', 'bo']);
    const group = await createGroup(api, ann!.token, [bo!.id]);
    const whilePaused = await sendMessage(api, ann!.token, group.id, 'while paused');
    expect((await api.patch(`/v1/webhooks/${id}`, { enabled: true }, tenant.key)).body.enabled).toBe(true);
    const afterResume = await sendMessage(api, ann!.token, group.id, 'after resume');
    const arrived = await endpoint.waitFor((delivery) => delivery.body?.data?.message?.id === afterResume.id, 5000);
    expectWellFormed(arrived, tenant.id);
    expect(endpoint.deliveries.filter((delivery) => delivery.body?.data?.message?.id === whilePaused.id)).toEqual([]);

    expect((await api.delete(`/v1/webhooks/${id}`, tenant.key)).status).toBe(204);
    expectProblem(await api.get(`/v1/webhooks/${id}`, tenant.key), 404, 'webhook_not_found');
    expectProblem(await api.delete(`/v1/webhooks/${id}`, tenant.key), 404, 'webhook_not_found');
    expect((await api.get('/v1/webhooks', tenant.key)).body).toEqual({ items: [] });
    const afterDelete = await sendMessage(api, ann!.token, group.id, 'after delete');
    await sleep(500);
    expect(endpoint.deliveries.filter((delivery) => delivery.body?.data?.message?.id === afterDelete.id)).toEqual([]);
    expect(receiver.invalid).toEqual([]);
  });

  it("answers 404 webhook_not_found for another tenant's webhook, on every operation, and changes nothing", async () => {
    const api = ctx.api;
    const owner = await createTestTenant(api);
    const other = await createTestTenant(api);
    const endpoint = receiver.endpoint('isolated');
    const webhook = await createWebhook(api, owner.key, endpoint, ['*']);
    const eventId = await ping(api, owner.key, webhook.id);
    await endpoint.waitFor((delivery) => delivery.id === eventId, 5000);
    const [record] = await deliveriesOf(api, owner.key, webhook.id);
    const before = await api.get(`/v1/webhooks/${webhook.id}`, owner.key);

    const path = `/v1/webhooks/${webhook.id}`;
    expectProblem(await api.get(path, other.key), 404, 'webhook_not_found', 'GET');
    expectProblem(await api.patch(path, { enabled: false }, other.key), 404, 'webhook_not_found', 'PATCH');
    expectProblem(await api.post(`${path}/secret`, {}, other.key), 404, 'webhook_not_found', 'rotate');
    expectProblem(await api.post(`${path}/ping`, {}, other.key), 404, 'webhook_not_found', 'ping');
    expectProblem(await api.get(`${path}/deliveries`, other.key), 404, 'webhook_not_found', 'deliveries');
    expectProblem(await api.post(`${path}/deliveries/${record!.id}/retry`, {}, other.key), 404, 'webhook_not_found', 'retry');
    expectProblem(await api.delete(path, other.key), 404, 'webhook_not_found', 'DELETE');
    expectProblem(await api.get('/v1/webhooks/wh_doesnotexist', owner.key), 404, 'webhook_not_found', 'unknown id');
    expect((await api.get('/v1/webhooks', other.key)).body).toEqual({ items: [] });
    // Users of the owning tenant do not manage webhooks either: only its API key does.
    const [member] = await owner.users(['member']);
    expectProblem(await api.get('/v1/webhooks', member!.token), 403, 'forbidden', 'user token, list');
    expectProblem(await api.get(path, member!.token), 403, 'forbidden', 'user token, GET');
    expectProblem(await api.post('/v1/webhooks', { url: endpoint.url, events: ['*'] }, member!.token), 403, 'forbidden', 'user token, create');

    expect((await api.get(path, owner.key)).body).toEqual(before.body);
    await sleep(200);
    expect(endpoint.deliveries.map((delivery) => delivery.id)).toEqual([eventId]);
  });

  it('refuses invalid webhooks (400 validation_failed) and URLs the outbound policy forbids (400 url_not_allowed), storing nothing', async () => {
    const api = ctx.api;
    const tenant = await createTestTenant(api);
    const url = receiver.endpoint('refused').url;
    const invalid: [string, unknown][] = [
      ['no url', { events: ['*'] }],
      ['no events', { url }],
      ['empty events', { url, events: [] }],
      ['unknown event type', { url, events: ['message.exploded'] }],
      ['ephemeral event type', { url, events: ['typing'] }],
      ['events not strings', { url, events: [1] }],
      ['url not a string', { url: 42, events: ['*'] }],
      ['unknown field', { url, events: ['*'], secret: 'whsec_mine' }],
      ['description too long', { url, events: ['*'], description: 'x'.repeat(501) }],
    ];
    for (const [label, body] of invalid) expectProblem(await api.post('/v1/webhooks', body, tenant.key), 400, 'validation_failed', label);

    const refused = [
      'http://127.0.0.2/hook', // loopback, not the allowed 127.0.0.1, and plain http
      'https://127.0.0.2/hook',
      `http://user:password@${new URL(url).host}/hooks/refused`, // an allowed host, but credentials in the URL
      'https://10.1.2.3/hook',
      'https://192.168.1.10/hook',
      'https://169.254.169.254/latest/meta-data',
      'https://[::1]/hook',
      'https://[::ffff:127.0.0.1]/hook',
      // Host names, refused for what they resolve to (see STUB_DNS), or for not resolving.
      'https://hooks.internal.example/hook',
      'https://loopback.example/hook',
      'https://metadata.example/hook',
      'https://split.example/hook', // one public address does not make up for a private one
      'https://nowhere.example/hook',
    ];
    for (const refusedUrl of refused) {
      expectProblem(await api.post('/v1/webhooks', { url: refusedUrl, events: ['*'] }, tenant.key), 400, 'url_not_allowed', refusedUrl);
    }
    expect((await api.get('/v1/webhooks', tenant.key)).body).toEqual({ items: [] });

    // The same rules on update; the webhook keeps its URL.
    const webhook = await createWebhook(api, tenant.key, receiver.endpoint('refused'), ['*']);
    expectProblem(await api.patch(`/v1/webhooks/${webhook.id}`, { url: 'https://10.1.2.3/hook' }, tenant.key), 400, 'url_not_allowed', 'PATCH');
    expectProblem(await api.patch(`/v1/webhooks/${webhook.id}`, { events: [] }, tenant.key), 400, 'validation_failed', 'PATCH events');
    expect((await api.get(`/v1/webhooks/${webhook.id}`, tenant.key)).body).toMatchObject({ url, events: ['*'] });
  });

  it('refuses a 21st webhook with 409 too_many_webhooks, storing nothing', async () => {
    const api = ctx.api;
    const tenant = await createTestTenant(api);
    const endpoint = receiver.endpoint('many');
    for (let i = 0; i < 20; i += 1) await createWebhook(api, tenant.key, endpoint, ['message.created']);
    expectProblem(await api.post('/v1/webhooks', { url: endpoint.url, events: ['*'] }, tenant.key), 409, 'too_many_webhooks');
    const listed = (await api.get('/v1/webhooks', tenant.key)).body.items;
    expect(listed).toHaveLength(20);
    // Deleting one makes room again.
    expect((await api.delete(`/v1/webhooks/${listed[0].id}`, tenant.key)).status).toBe(204);
    expect((await api.post('/v1/webhooks', { url: endpoint.url, events: ['*'] }, tenant.key)).status).toBe(201);
  });

  it('pings a webhook whatever it subscribes to, lists its deliveries newest first and retries one by hand', async () => {
    const api = ctx.api;
    const tenant = await createTestTenant(api);
    const endpoint = receiver.endpoint('ping');
    const webhook = await createWebhook(api, tenant.key, endpoint, ['member.removed']);

    const first = await api.post(`/v1/webhooks/${webhook.id}/ping`, {}, tenant.key);
    expect(first.status).toBe(202);
    expect(first.body).toEqual({ eventId: expect.stringMatching(PING_ID) });
    const firstPing = await endpoint.waitFor((delivery) => delivery.id === first.body.eventId, 5000);
    expectWellFormed(firstPing, tenant.id);
    expect(firstPing.type).toBe('webhook.ping');
    expect(firstPing.body.data).toEqual({ webhookId: webhook.id });

    const secondId = await ping(api, tenant.key, webhook.id);
    expect(secondId).not.toBe(first.body.eventId);
    await endpoint.waitFor((delivery) => delivery.id === secondId, 5000);
    await deliveryRecordOf(api, tenant.key, webhook.id, secondId, (record) => record.status === 'delivered', 5000);

    const records = await deliveriesOf(api, tenant.key, webhook.id);
    expect(records.map((record) => record.eventId)).toEqual([secondId, first.body.eventId]);
    for (const record of records) {
      expect(record).toEqual({
        id: expect.any(String),
        eventId: expect.stringMatching(PING_ID),
        eventType: 'webhook.ping',
        status: 'delivered',
        attempts: 1,
        lastStatusCode: 200,
        lastError: null,
        lastAttemptAt: expect.stringMatching(RFC3339_UTC),
        nextAttemptAt: null,
      });
    }
    expect(records[0]!.id).not.toBe(records[1]!.id);
    expect(firstPing.headers['parley-delivery-id']).toBe(records[1]!.id);
    expect(await deliveriesOf(api, tenant.key, webhook.id, 1)).toEqual([records[0]]);
    expectProblem(await api.get(`/v1/webhooks/${webhook.id}/deliveries?limit=0`, tenant.key), 400, 'validation_failed', 'limit 0');

    // A manual retry sends the same event (same id, same body) again.
    const older = records[1]!;
    expect((await api.post(`/v1/webhooks/${webhook.id}/deliveries/${older.id}/retry`, {}, tenant.key)).status).toBe(202);
    const again = await endpoint.waitForCount((delivery) => delivery.id === older.eventId, 2, 5000);
    expect(again[1]!.body).toEqual(again[0]!.body);
    expect(again[1]!.signature.valid).toBe(true);
    const retried = await deliveryRecordOf(api, tenant.key, webhook.id, older.eventId, (record) => record.attempts === 2 && record.status === 'delivered', 5000);
    expect(retried.id).toBe(older.id);
    expectProblem(await api.post(`/v1/webhooks/${webhook.id}/deliveries/dlv_doesnotexist/retry`, {}, tenant.key), 404, 'delivery_not_found');
    expect(receiver.invalid).toEqual([]);
  });

  it('retries a failing endpoint with the same event id until it acknowledges: 500 three times, then 200', async () => {
    const api = ctx.api;
    const tenant = await createTestTenant(api);
    const endpoint = receiver.endpoint('flaky');
    const webhook = await createWebhook(api, tenant.key, endpoint, ['message.created']);
    const metricsBefore = parseSamples((await api.get('/metrics')).text);
    endpoint.script(500, 500, 500);

    const [sam, tia] = await tenant.users(['sam', 'tia']);
    const group = await createGroup(api, sam!.token, [tia!.id]);
    const message = await sendMessage(api, sam!.token, group.id, 'eventually');
    const attempts = await endpoint.waitForCount(ofType('message.created'), 4, 10_000);
    expect(attempts.map((attempt) => attempt.answer)).toEqual([500, 500, 500, 200]);
    expect(new Set(attempts.map((attempt) => attempt.id)).size).toBe(1);
    for (const attempt of attempts) expectWellFormed(attempt, tenant.id);
    expect(attempts.map((attempt) => attempt.body.data.message.id)).toEqual(Array(4).fill(message.id));
    // Backoff: the attempts are spread out, not fired back to back.
    expect(attempts[3]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(50);

    const record = await deliveryRecordOf(api, tenant.key, webhook.id, attempts[0]!.id!, (r) => r.status === 'delivered', 5000);
    expect(record).toMatchObject({ eventType: 'message.created', attempts: 4, lastStatusCode: 200, lastError: null, nextAttemptAt: null });
    await sleep(300);
    expect(endpoint.deliveries).toHaveLength(4);

    const metrics = parseSamples((await api.get('/metrics')).text);
    const grew = (outcome: string) =>
      sumOf(metrics, 'parley_webhook_deliveries_total', { outcome }) - sumOf(metricsBefore, 'parley_webhook_deliveries_total', { outcome });
    expect(grew('retry')).toBeGreaterThanOrEqual(3);
    expect(grew('delivered')).toBeGreaterThanOrEqual(1);
    expect(sumOf(metrics, 'parley_webhook_attempt_seconds_count') - sumOf(metricsBefore, 'parley_webhook_attempt_seconds_count')).toBeGreaterThanOrEqual(4);
    const names = new Set(metrics.map((sample) => sample.name));
    for (const gauge of ['parley_webhook_queue_depth', 'parley_webhook_oldest_pending_seconds', 'parley_webhook_disabled_endpoints']) {
      expect(names, gauge).toContain(gauge);
    }
  });

  it('shows a pending delivery with its last error while it waits for a retry', async () => {
    const api = ctx.api;
    const tenant = await createTestTenant(api);
    const endpoint = receiver.endpoint('down');
    const webhook = await createWebhook(api, tenant.key, endpoint, ['*']);
    endpoint.setDefault(503);
    const eventId = await ping(api, tenant.key, webhook.id);
    await endpoint.waitFor((delivery) => delivery.id === eventId, 5000);
    const pending = await deliveryRecordOf(api, tenant.key, webhook.id, eventId, (record) => record.attempts >= 1, 5000);
    expect(pending).toMatchObject({ eventId, eventType: 'webhook.ping', status: 'pending', lastStatusCode: 503, lastError: expect.any(String) });
    expect(pending.lastAttemptAt).toMatch(RFC3339_UTC);
    expect(pending.nextAttemptAt).toMatch(RFC3339_UTC);
    expect(Date.parse(pending.nextAttemptAt!)).toBeGreaterThanOrEqual(Date.parse(pending.lastAttemptAt!));
    // A manual retry of a delivery still being delivered is refused; it keeps its schedule.
    expectProblem(await api.post(`/v1/webhooks/${webhook.id}/deliveries/${pending.id}/retry`, {}, tenant.key), 409, 'delivery_pending');
    endpoint.setDefault(200);
    await deliveryRecordOf(api, tenant.key, webhook.id, eventId, (record) => record.status === 'delivered', 10_000);
  });

  it('times out a hanging endpoint and retries it, without delaying another webhook', async () => {
    const api = ctx.api;
    const tenant = await createTestTenant(api);
    const stuck = receiver.endpoint('stuck');
    const brisk = receiver.endpoint('brisk');
    const stuckHook = await createWebhook(api, tenant.key, stuck, ['message.created']);
    await createWebhook(api, tenant.key, brisk, ['message.created']);
    stuck.script('hang');

    const [uma, vic] = await tenant.users(['uma', 'vic']);
    const group = await createGroup(api, uma!.token, [vic!.id]);
    const message = await sendMessage(api, uma!.token, group.id, 'anyone there?');
    const hung = await stuck.waitFor(ofType('message.created'), 5000);
    const quick = await brisk.waitFor(ofType('message.created'), 5000);
    expect(quick.id).toBe(hung.id);
    expect(quick.body.data.message.id).toBe(message.id);

    const [first, second] = await stuck.waitForCount(ofType('message.created'), 2, 10_000);
    expect(second!.id).toBe(first!.id);
    expect(second!.answer).toBe(200);
    // Parley gave up on the hanging request after WEBHOOK_TIMEOUT_MS (1 s), not much earlier or later.
    expect(first!.abandoned).toBe(true);
    expect(first!.endedAt! - first!.at).toBeGreaterThanOrEqual(900);
    expect(first!.endedAt! - first!.at).toBeLessThan(5000);
    // The other webhook was served while this one hung.
    expect(quick.at).toBeLessThan(first!.endedAt!);

    const record = await deliveryRecordOf(api, tenant.key, stuckHook.id, first!.id!, (r) => r.status === 'delivered', 5000);
    expect(record.attempts).toBe(2);
  });

  it('signs with both secrets right after a rotation, and with the new one only once the grace period is over', async () => {
    const api = ctx.api;
    const tenant = await createTestTenant(api);
    const endpoint = receiver.endpoint('rotating');
    const webhook = await createWebhook(api, tenant.key, endpoint, ['*']);
    const old = webhook.secret;

    const rotated = await api.post(`/v1/webhooks/${webhook.id}/secret`, {}, tenant.key);
    expect(rotated.status).toBe(201);
    expect(rotated.body).toEqual({ secret: expect.stringMatching(/^whsec_/) });
    const fresh: string = rotated.body.secret;
    expect(fresh).not.toBe(old);
    endpoint.trust(fresh);
    expect(JSON.stringify((await api.get(`/v1/webhooks/${webhook.id}`, tenant.key)).body)).not.toContain('whsec_');

    const duringId = await ping(api, tenant.key, webhook.id);
    const signedTwice = await endpoint.waitFor((delivery) => delivery.id === duringId, 1500);
    expect(signedTwice.signature.v1).toHaveLength(2);
    expect(new Set(signedTwice.signature.matched)).toEqual(new Set([old, fresh]));

    await sleep(2500); // WEBHOOK_SECRET_GRACE_SECONDS is 2
    const afterId = await ping(api, tenant.key, webhook.id);
    const signedOnce = await endpoint.waitFor((delivery) => delivery.id === afterId, 5000);
    expect(signedOnce.signature.v1).toHaveLength(1);
    expect(signedOnce.signature.matched).toEqual([fresh]);
    expect(receiver.invalid).toEqual([]);
  });

  it('delivers 20 messages of one conversation in seq order, one at a time', async () => {
    const api = ctx.api;
    const tenant = await createTestTenant(api);
    const endpoint = receiver.endpoint('ordered');
    await createWebhook(api, tenant.key, endpoint, ['message.created']);
    // Answers take a varying time, so a dispatcher sending several at once would let them overtake.
    endpoint.script(...Array.from({ length: 20 }, (_, i) => ({ status: 200, delayMs: (i * 37) % 60 })));

    const [wes, xia] = await tenant.users(['wes', 'xia']);
    const group = await createGroup(api, wes!.token, [xia!.id]);
    const sent = await Promise.all(Array.from({ length: 20 }, (_, i) => sendMessage(api, i % 2 ? wes!.token : xia!.token, group.id, `m${i}`)));
    await until('20 messages at the endpoint', () => endpoint.unique().length >= 20, 10_000);
    const seqs = endpoint.unique().map((delivery) => delivery.body.data.message.seq);
    expect(seqs).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(new Set(endpoint.unique().map((delivery) => delivery.body.data.message.id))).toEqual(new Set(sent.map((message) => message.id)));
    // One at a time: each request arrived after the previous one was answered.
    const deliveries = endpoint.deliveries;
    for (let i = 1; i < deliveries.length; i += 1) expect(deliveries[i]!.at).toBeGreaterThanOrEqual(deliveries[i - 1]!.endedAt!);
  });
});

describe.each(ENGINE_KINDS)('failing webhooks on the %s engine', (kind) => {
  // Retries end after 1 s; an endpoint failing for 1 s is disabled.
  const ctx = useTestServer({
    kind,
    env: { ...WEBHOOK_ENV, WEBHOOK_RETRY_WINDOW_SECONDS: '1', WEBHOOK_DISABLE_AFTER_SECONDS: '1' },
    outboundResolve: stubResolve,
  });
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    receiver = await startWebhookReceiver();
  });
  afterAll(() => receiver.close());

  it('gives a delivery up as failed after the retry window, and delivers it again on a manual retry', async () => {
    const api = ctx.api;
    const tenant = await createTestTenant(api);
    const endpoint = receiver.endpoint('gone');
    const webhook = await createWebhook(api, tenant.key, endpoint, ['*']);
    endpoint.setDefault(500);
    const eventId = await ping(api, tenant.key, webhook.id);
    const failed = await deliveryRecordOf(api, tenant.key, webhook.id, eventId, (record) => record.status === 'failed', 10_000);
    expect(failed).toMatchObject({ lastStatusCode: 500, nextAttemptAt: null, lastError: expect.any(String) });
    expect(failed.attempts).toBeGreaterThanOrEqual(2);
    const attempts = endpoint.deliveries.filter((delivery) => delivery.id === eventId).length;
    expect(attempts).toBe(failed.attempts);
    await sleep(500);
    expect(endpoint.deliveries.filter((delivery) => delivery.id === eventId)).toHaveLength(attempts);
    const samples = parseSamples((await api.get('/metrics')).text);
    expect(sumOf(samples, 'parley_webhook_deliveries_total', { outcome: 'failed' })).toBeGreaterThanOrEqual(1);

    endpoint.setDefault(200);
    // The failure may have disabled the endpoint too (it failed for the whole second): enable it again.
    expect((await api.patch(`/v1/webhooks/${webhook.id}`, { enabled: true }, tenant.key)).status).toBe(200);
    expect((await api.post(`/v1/webhooks/${webhook.id}/deliveries/${failed.id}/retry`, {}, tenant.key)).status).toBe(202);
    await endpoint.waitFor((delivery) => delivery.id === eventId && delivery.answer === 200, 5000);
    const delivered = await deliveryRecordOf(api, tenant.key, webhook.id, eventId, (record) => record.status === 'delivered', 5000);
    expect(delivered.attempts).toBe(attempts + 1);
    expect(receiver.invalid).toEqual([]);
  });

  it('disables an endpoint that keeps failing, delivers nothing to it meanwhile, and resumes after PATCH enabled: true', async () => {
    const api = ctx.api;
    const tenant = await createTestTenant(api);
    const endpoint = receiver.endpoint('broken');
    const webhook = await createWebhook(api, tenant.key, endpoint, ['message.created']);
    endpoint.setDefault(500);
    const [yan, zoe] = await tenant.users(['yan', 'zoe']);
    const group = await createGroup(api, yan!.token, [zoe!.id]);
    // Failing events for well over a second.
    const deadline = Date.now() + 8000;
    for (let i = 0; ; i += 1) {
      const current = await api.get(`/v1/webhooks/${webhook.id}`, tenant.key);
      if (current.body.enabled === false) break;
      if (Date.now() > deadline) throw new Error(`still enabled after 8 s of failures: ${JSON.stringify(current.body)}`);
      await sendMessage(api, yan!.token, group.id, `failing ${i}`);
      await sleep(300);
    }
    expect(await api.get(`/v1/webhooks/${webhook.id}`, tenant.key)).toMatchObject({
      body: { enabled: false, failingSince: expect.stringMatching(RFC3339_UTC), disabledAt: expect.stringMatching(RFC3339_UTC) },
    });
    const disabledGauge = async () => sumOf(parseSamples((await api.get('/metrics')).text), 'parley_webhook_disabled_endpoints');
    const gaugeDeadline = Date.now() + 3000;
    while ((await disabledGauge()) < 1 && Date.now() < gaugeDeadline) await sleep(100);
    expect(await disabledGauge()).toBeGreaterThanOrEqual(1);
    expectProblem(await api.post(`/v1/webhooks/${webhook.id}/ping`, {}, tenant.key), 409, 'webhook_disabled');

    endpoint.setDefault(200);
    const whileDisabled = await sendMessage(api, yan!.token, group.id, 'while disabled');
    await sleep(500);
    expect(endpoint.deliveries.filter((delivery) => delivery.body?.data?.message?.id === whileDisabled.id)).toEqual([]);

    const enabled = await api.patch(`/v1/webhooks/${webhook.id}`, { enabled: true }, tenant.key);
    expect(enabled.status).toBe(200);
    expect(enabled.body).toMatchObject({ enabled: true, failingSince: null, disabledAt: null });
    const afterwards = await sendMessage(api, yan!.token, group.id, 'back again');
    const arrived = await endpoint.waitFor((delivery) => delivery.body?.data?.message?.id === afterwards.id && delivery.answer === 200, 5000);
    expectWellFormed(arrived, tenant.id);
  });
});
