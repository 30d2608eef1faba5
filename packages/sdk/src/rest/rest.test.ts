/**
 * Every REST method of the SDK, called once against a real `node dist/main.js` on both engines,
 * each asserting what the caller gets back; then a check that the requests the SDK sent cover
 * every operation of openapi/v1.json (except the two streaming ones, which the realtime
 * connection owns), so an operation added to the API without an SDK method fails here.
 * Also: failures surface as ParleyError with the problem's code, and network failures as
 * ParleyNetworkError.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINE_KINDS } from '../../../server/src/test-support/engines.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../../server/src/test-support/webhook-receiver.js';
import { createParleyClient, type ParleyClient } from '../client.js';
import { ParleyError, ParleyNetworkError } from '../errors.js';
import { createAdminClient, createServerClient, type AdminClient, type ServerClient } from '../server-client.js';
import { ADMIN_KEY, recordingFetch, startSdkTestServer, uniqueUsername, type SdkTestServer } from '../test-support/core-fixtures.js';
import { verifyWebhook } from '../webhooks.js';
import type { Conversation, Message } from './types.js';

const OPENAPI = JSON.parse(readFileSync(new URL('../../../../openapi/v1.json', import.meta.url), 'utf8')) as {
  paths: Record<string, Record<string, unknown>>;
};
/** Streams, not REST calls: the realtime connection (src/realtime) opens them. */
const STREAMING = new Set(['GET /v1/realtime', 'GET /v1/events']);
const METHODS = ['get', 'put', 'post', 'patch', 'delete'];
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** Every operation of the document, with a matcher for the paths it serves. */
const operations = Object.entries(OPENAPI.paths).flatMap(([template, item]) =>
  Object.keys(item)
    .filter((method) => METHODS.includes(method))
    .map((method) => ({
      label: `${method.toUpperCase()} ${template}`,
      method: method.toUpperCase(),
      pattern: new RegExp(`^${template.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}$`),
    })),
);

describe.each(ENGINE_KINDS)('every REST method of the SDK against a real server (%s engine)', (kind) => {
  let server: SdkTestServer;
  let receiver: WebhookReceiver;
  const recorder = recordingFetch();
  const fetch = recorder.fetch;
  const tenantId = `sdk-${kind}-${Date.now().toString(36)}`;
  let admin: AdminClient;
  let backEnd: ServerClient;
  /** Users of the tenant, their tokens minted by the back end, used through the token-provider hook. */
  const users: Record<'alice' | 'bob' | 'carol' | 'erin' | 'frank', ParleyClient> = {} as never;
  let direct: Conversation;
  let group: Conversation;
  let message: Message;

  beforeAll(async () => {
    [server, receiver] = await Promise.all([
      startSdkTestServer(kind, { OUTBOUND_ALLOWED_HOSTS: '127.0.0.1', WEBHOOK_RETRY_BASE_MS: '200', RATE_LIMIT_LOGIN_FAILURES_ACCOUNT: '2/1m' }),
      startWebhookReceiver(),
    ]);
    admin = createAdminClient({ baseUrl: server.url, adminKey: ADMIN_KEY, fetch });
  });
  afterAll(async () => {
    await receiver?.close();
    await server?.stop();
  });

  it('system: health, readiness, info, metrics, JWKS and issuer metadata', async () => {
    expect(await admin.system.live()).toMatchObject({ status: 'ok' });
    expect(await admin.system.ready()).toMatchObject({ ready: true, status: 'ok' });
    const info = await admin.system.info();
    expect(info.engine).toBe(kind);
    expect(info.apiVersions).toContain('v1');
    expect(await admin.system.metrics()).toContain('parley_http_request_duration_seconds');
    const jwks = await admin.system.jwks();
    expect(jwks.keys.length).toBeGreaterThan(0);
    expect(jwks.keys[0]!.kty).toBeTypeOf('string');
    const openid = await admin.system.openIdConfiguration();
    expect(openid.jwks_uri).toMatch(/\/\.well-known\/jwks\.json$/);
  });

  it('operator: creates a tenant (its key shown once) and rotates the signing keys', async () => {
    const created = await admin.createTenant({ id: tenantId, name: 'SDK test tenant' });
    expect(created.tenant).toMatchObject({ id: tenantId, name: 'SDK test tenant' });
    expect(created.apiKey).toMatch(/^sk_/);
    backEnd = createServerClient({ baseUrl: server.url, apiKey: created.apiKey, fetch });
    const rotated = await admin.rotateSigningKeys();
    expect(rotated.kid).toBeTypeOf('string');
    expect(rotated.previous.map((key) => key.kid)).not.toContain(rotated.kid);
  });

  it("tenant key: creates, lists and revokes the tenant's API keys", async () => {
    const key = await backEnd.apiKeys.create(tenantId);
    expect(key.apiKey).toMatch(/^sk_/);
    expect((await backEnd.apiKeys.list(tenantId)).items.map((item) => item.id)).toContain(key.id);
    await backEnd.apiKeys.revoke(tenantId, key.id);
    expect((await backEnd.apiKeys.list(tenantId)).items.map((item) => item.id)).not.toContain(key.id);
    // The revoked key is refused from then on.
    const revoked = createServerClient({ baseUrl: server.url, apiKey: key.apiKey, fetch });
    await expect(revoked.webhooks.list()).rejects.toMatchObject({ name: 'ParleyError', status: 401 });
  });

  it("tenant key: trusts, reads, lists and removes an identity provider (the server's own issuer)", async () => {
    const { issuer } = await admin.system.openIdConfiguration();
    const put = await backEnd.identityProviders.put(tenantId, 'self', { issuer, audience: 'sdk-tests' });
    expect(put).toMatchObject({ id: 'self', issuer, audience: 'sdk-tests' });
    expect(await backEnd.identityProviders.get(tenantId, 'self')).toMatchObject({ id: 'self', issuer });
    expect((await backEnd.identityProviders.list(tenantId)).items.map((item) => item.id)).toEqual(['self']);
    await backEnd.identityProviders.delete(tenantId, 'self');
    await expect(backEnd.identityProviders.get(tenantId, 'self')).rejects.toMatchObject({ status: 404 });
  });

  it('tenant key: upserts users, reads them and mints their tokens (used through the token-provider hook)', async () => {
    for (const name of ['alice', 'bob', 'carol', 'erin', 'frank'] as const) {
      const upserted = await backEnd.users.upsert(name, { displayName: `User ${name}` });
      expect(upserted).toMatchObject({ id: name, displayName: `User ${name}` });
      const minted = await backEnd.users.mintToken(name, { expiresIn: 600 });
      expect(minted.expiresIn).toBe(600);
      users[name] = createParleyClient({ baseUrl: server.url, getToken: async () => minted.accessToken, fetch });
    }
    expect(await backEnd.users.get('alice')).toMatchObject({ id: 'alice', displayName: 'User alice' });
    expect(await backEnd.users.presence('alice')).toMatchObject({ status: 'offline' });
  });

  it('user: reads and changes the profile, sees other users and their presence, blocks and unblocks', async () => {
    const { alice } = users;
    expect(await alice.users.me()).toMatchObject({ id: 'alice', displayName: 'User alice' });
    expect(await alice.users.updateMe({ displayName: 'Alice A.' })).toMatchObject({ id: 'alice', displayName: 'Alice A.' });
    expect(await alice.users.get('bob')).toMatchObject({ id: 'bob', displayName: 'User bob' });
    // Presence is visible only to users sharing a conversation: 404 for a stranger's.
    await expect(alice.users.presence('bob')).rejects.toMatchObject({ status: 404, code: 'user_not_found' });
    await alice.users.block('carol');
    // Blocked: carol cannot open a direct conversation with alice.
    await expect(users.carol.conversations.create({ type: 'direct', members: ['alice'] })).rejects.toMatchObject({ status: 403, code: 'blocked' });
    await alice.users.unblock('carol');
    expect((await users.carol.conversations.create({ type: 'direct', members: ['alice'] })).type).toBe('direct');
  });

  it('user: creates, lists, reads and renames conversations; manages members and roles; marks read', async () => {
    const { alice } = users;
    direct = await alice.conversations.create({ type: 'direct', members: ['bob'] });
    expect(direct.type).toBe('direct');
    expect(direct.members.map((member) => member.userId).sort()).toEqual(['alice', 'bob']);
    // The one direct conversation of the pair comes back.
    expect((await users.bob.conversations.create({ type: 'direct', members: ['alice'] })).id).toBe(direct.id);
    expect(await alice.users.presence('bob')).toEqual({ status: 'offline', lastSeenAt: null });

    group = await alice.conversations.create({ type: 'group', title: 'Launch', members: ['bob', 'carol'] });
    expect(group).toMatchObject({ type: 'group', title: 'Launch', memberCount: 3, lastSeq: 0 });
    expect(group.createdAt).toMatch(RFC3339);

    const page = await alice.conversations.list({ limit: 10 });
    expect(page.items.map((item) => item.id)).toEqual(expect.arrayContaining([direct.id, group.id]));
    expect(page.items.find((item) => item.id === group.id)).toMatchObject({ unreadCount: 0, lastMessage: null });

    expect(await alice.conversations.get(group.id)).toMatchObject({ id: group.id, title: 'Launch' });
    expect(await alice.conversations.update(group.id, { title: 'Launch day' })).toMatchObject({ id: group.id, title: 'Launch day' });

    expect((await alice.conversations.addMembers(group.id, ['erin'])).memberCount).toBe(4);
    const members = await alice.conversations.listMembers(group.id, { limit: 2 });
    expect(members.items.map((member) => member.userId)).toEqual(['alice', 'bob']);
    expect(members.nextCursor).toBeTypeOf('string');
    const rest = await alice.conversations.listMembers(group.id, { limit: 10, cursor: members.nextCursor! });
    expect(rest.items.map((member) => member.userId)).toEqual(['carol', 'erin']);

    expect(await alice.conversations.setRole(group.id, 'bob', 'admin')).toMatchObject({ userId: 'bob', role: 'admin' });
    await alice.conversations.removeMember(group.id, 'erin');
    expect((await alice.conversations.get(group.id)).memberCount).toBe(3);
  });

  it('user: sends (idempotently), pages, edits, reacts to and deletes messages; marks read', async () => {
    const { alice, bob } = users;
    message = await alice.messages.send(group.id, { text: 'hello', clientMessageId: 'c-1' });
    expect(message).toMatchObject({ conversationId: group.id, seq: 1, senderId: 'alice', text: 'hello' });
    expect(await alice.messages.send(group.id, { text: 'hello', clientMessageId: 'c-1' })).toMatchObject({ id: message.id, seq: 1 });
    const reply = await bob.messages.send(group.id, { text: 'hi!', replyTo: message.id });
    expect(reply).toMatchObject({ seq: 2, senderId: 'bob' });

    expect((await alice.conversations.list()).items.find((item) => item.id === group.id)).toMatchObject({ unreadCount: 1 });
    await alice.conversations.markRead(group.id, 2);
    expect((await alice.conversations.list()).items.find((item) => item.id === group.id)).toMatchObject({ unreadCount: 0 });

    const latest = await alice.messages.list(group.id);
    expect(latest.items.map((item) => item.seq)).toEqual([1, 2]);
    expect(latest.hasMore).toBe(false);
    const after = await alice.messages.list(group.id, { after: 1, limit: 10 });
    expect(after.items.map((item) => item.text)).toEqual(['hi!']);

    expect(await alice.messages.edit(group.id, message.id, 'hello, all')).toMatchObject({ id: message.id, text: 'hello, all' });
    await bob.messages.addReaction(group.id, message.id, '👍');
    expect((await alice.messages.list(group.id, { before: 2 })).items[0]!.reactions).toEqual({ '👍': { count: 1, me: false } });
    await bob.messages.removeReaction(group.id, message.id, '👍');
    expect((await alice.messages.list(group.id, { before: 2 })).items[0]!.reactions).toEqual({});

    await bob.messages.delete(group.id, reply.id);
    const [deleted] = (await alice.messages.list(group.id, { after: 1 })).items;
    expect(deleted).toMatchObject({ seq: 2, text: null });
    expect(deleted!.deletedAt).toMatch(RFC3339);
  });

  it('owner: mutes, lists mutes, unmutes, bans, lists bans, unbans', async () => {
    const { alice, carol } = users;
    await alice.moderation.mute(group.id, 'carol');
    expect((await alice.moderation.listMutes(group.id)).items).toEqual([expect.objectContaining({ userId: 'carol', until: null })]);
    await expect(carol.messages.send(group.id, { text: 'muted?' })).rejects.toMatchObject({ status: 403, code: 'muted' });
    await alice.moderation.unmute(group.id, 'carol');
    expect((await alice.moderation.listMutes(group.id)).items).toEqual([]);

    await alice.moderation.ban(group.id, 'carol');
    expect((await alice.moderation.listBans(group.id)).items.map((ban) => ban.userId)).toEqual(['carol']);
    await expect(alice.conversations.addMembers(group.id, ['carol'])).rejects.toMatchObject({ status: 403, code: 'banned' });
    await alice.moderation.unban(group.id, 'carol');
    expect((await alice.moderation.listBans(group.id)).items).toEqual([]);
  });

  it('tenant key: posts a system message and moderates any conversation of its tenant', async () => {
    const system = await backEnd.messages.send(group.id, { text: 'Maintenance at noon' });
    expect(system).toMatchObject({ senderId: null, system: true, text: 'Maintenance at noon' });
    await backEnd.moderation.mute(group.id, 'bob', { until: new Date(Date.now() + 60_000).toISOString() });
    expect((await backEnd.moderation.listMutes(group.id)).items.map((mute) => mute.userId)).toEqual(['bob']);
    expect((await backEnd.conversations.get(group.id)).id).toBe(group.id);
  });

  it('tenant key: webhooks — create, list, read, update, ping (verified with verifyWebhook), deliveries, retry, rotate, delete', async () => {
    const endpoint = receiver.endpoint(`sdk-${kind}`);
    const created = await backEnd.webhooks.create({ url: endpoint.url, events: ['message.created'], description: 'SDK test' });
    expect(created).toMatchObject({ url: endpoint.url, events: ['message.created'], enabled: true });
    expect(created.secret).toMatch(/^whsec_/);
    endpoint.trust(created.secret);
    expect((await backEnd.webhooks.list()).items.map((item) => item.id)).toEqual([created.id]);
    expect(await backEnd.webhooks.get(created.id)).not.toHaveProperty('secret');
    expect(await backEnd.webhooks.update(created.id, { events: ['*'], description: 'everything' })).toMatchObject({ events: ['*'], description: 'everything' });

    const { eventId } = await backEnd.webhooks.ping(created.id);
    const delivery = await endpoint.waitFor((received) => received.id === eventId, 15_000);
    const header = String(delivery.headers['parley-signature']);
    expect(await verifyWebhook({ header, body: delivery.raw, secret: created.secret })).toBe(true);
    expect(await verifyWebhook({ header, body: `${delivery.raw} `, secret: created.secret })).toBe(false);

    let record: { id: string; status: string } | undefined;
    for (let tries = 0; tries < 100 && record?.status !== 'delivered'; tries++) {
      record = (await backEnd.webhooks.listDeliveries(created.id)).items.find((item) => item.eventId === eventId);
      if (record?.status !== 'delivered') await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(record?.status).toBe('delivered');
    await backEnd.webhooks.retryDelivery(created.id, record!.id);
    await endpoint.waitForCount((received) => received.id === eventId, 2, 15_000);

    const rotated = await backEnd.webhooks.rotateSecret(created.id);
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(created.secret);
    await backEnd.webhooks.delete(created.id);
    expect((await backEnd.webhooks.list()).items).toEqual([]);
    expect(receiver.invalid).toEqual([]);
  });

  it('deletes accounts: the user their own, the back end any of its tenant', async () => {
    await users.frank.users.deleteMe();
    await expect(users.frank.users.me()).rejects.toMatchObject({ status: 401 });
    await backEnd.users.delete('erin');
    expect(await backEnd.users.get('erin')).toMatchObject({ id: 'erin', deleted: true });
  });

  it('built-in provider: register, login, refresh, change password, logout', async () => {
    const username = uniqueUsername('dana');
    const dana = createParleyClient({ baseUrl: server.url, fetch });
    const registered = await dana.auth!.register({ username, password: 'correct horse battery', displayName: 'Dana' });
    expect(registered).toMatchObject({ username, displayName: 'Dana' });
    expect(await dana.users.me()).toMatchObject({ id: registered.id, username });
    // Others of her tenant find her by her exact username (how a conversation is started by name); nobody by a free one.
    const eve = createParleyClient({ baseUrl: server.url, fetch });
    await eve.auth!.register({ username: uniqueUsername('eve'), password: 'correct horse battery' });
    expect(await eve.users.findByUsername(username)).toMatchObject({ id: registered.id, username, displayName: 'Dana' });
    expect(await eve.users.findByUsername(uniqueUsername('nobody'))).toBeNull();

    const again = createParleyClient({ baseUrl: server.url, fetch });
    expect(await again.auth!.login({ username, password: 'correct horse battery' })).toMatchObject({ id: registered.id });
    const before = (await again.auth!.session())!;
    const after = await again.auth!.refresh();
    expect(after.refreshToken).not.toBe(before.refreshToken);
    expect(after.user.id).toBe(registered.id);

    expect(await dana.auth!.changePassword({ currentPassword: 'correct horse battery', newPassword: 'new horse battery staple' })).toMatchObject({
      id: registered.id,
    });
    expect(await dana.users.me()).toMatchObject({ id: registered.id });
    await dana.auth!.logout();
    expect(await dana.auth!.session()).toBeNull();
    await expect(dana.users.me()).rejects.toMatchObject({ code: 'not_signed_in' });
    await expect(again.auth!.login({ username, password: 'correct horse battery' })).rejects.toMatchObject({ status: 401 });

    // Deleting the account through a built-in session also ends the session.
    const erased = createParleyClient({ baseUrl: server.url, fetch });
    await erased.auth!.register({ username: uniqueUsername('gone'), password: 'correct horse battery' });
    await erased.users.deleteMe();
    expect(await erased.auth!.session()).toBeNull();
  });

  it('surfaces failures as ParleyError with the problem code: a non-member asking for a conversation gets 404', async () => {
    const error = await users.carol.conversations.get(direct.id).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ParleyError);
    expect(error).not.toBeInstanceOf(ParleyNetworkError);
    expect(error).toMatchObject({ status: 404, code: 'conversation_not_found', isNetworkError: false });
    const problem = (error as ParleyError).problem;
    expect(problem).toMatchObject({ status: 404, code: 'conversation_not_found' });
    expect((error as ParleyError).title).toBe(problem.title);
    expect((error as ParleyError).requestId).toBeTypeOf('string');

    const invalid = await users.alice.messages.list(group.id, { before: 2, after: 1 }).catch((caught: unknown) => caught);
    expect(invalid).toMatchObject({ status: 400, code: 'validation_failed' });

    // A 429 carries how long to wait (Retry-After): failed logins of one account are limited to 2 a minute here.
    const client = createParleyClient({ baseUrl: server.url, fetch });
    const username = uniqueUsername('limited');
    const attempts = [];
    for (let attempt = 0; attempt < 3; attempt++) attempts.push(await client.auth!.login({ username, password: 'wrong password' }).catch((caught: unknown) => caught));
    expect(attempts.map((attempt) => (attempt as ParleyError).code)).toEqual(['invalid_credentials', 'invalid_credentials', 'rate_limited']);
    expect((attempts[2] as ParleyError).status).toBe(429);
    expect((attempts[2] as ParleyError).retryAfterSeconds).toBeGreaterThan(0);
  });

  it('surfaces a server that cannot be reached as ParleyNetworkError (status 0), told apart from refusals', async () => {
    const unreachable = createParleyClient({ baseUrl: 'http://127.0.0.1:9', getToken: async () => 'token' });
    const error = await unreachable.users.me().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ParleyNetworkError);
    expect(error).toBeInstanceOf(ParleyError);
    expect(error).toMatchObject({ status: 0, code: 'network_error', isNetworkError: true });
    expect((error as Error).message).toContain('GET /v1/users/me');
  });

  it('called every operation of openapi/v1.json (but the realtime streams), and nothing else', () => {
    const unmatched = recorder.sent.filter((request) => !operations.some((operation) => operation.method === request.method && operation.pattern.test(request.path)));
    expect(unmatched).toEqual([]);
    const called = new Set(
      recorder.sent.map((request) => {
        // A concrete path can match a literal and a templated route (/v1/users/me and /v1/users/{userId}): take the literal.
        const matches = operations.filter((operation) => operation.method === request.method && operation.pattern.test(request.path));
        return matches.sort((a, b) => (a.label.match(/\{/g)?.length ?? 0) - (b.label.match(/\{/g)?.length ?? 0))[0]!.label;
      }),
    );
    const missing = operations.map((operation) => operation.label).filter((label) => !called.has(label) && !STREAMING.has(label));
    expect(missing).toEqual([]);
    expect(operations.length).toBeGreaterThan(50);
  });
});
