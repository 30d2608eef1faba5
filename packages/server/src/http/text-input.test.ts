/**
 * What text the API accepts, over HTTP on both engines: lone surrogates anywhere (body, nested
 * metadata, keys), controls and bidi overrides are 400 validation_failed naming the field with
 * nothing stored; valid astral, emoji and right-to-left text comes back exactly as sent, and the
 * same from both engines.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGroup, createTestTenant, expectProblem, historyOf, openDirect, sendMessage, type TestTenant } from '../test-support/conversations.js';
import { ENGINE_KINDS, type EngineKind } from '../test-support/engines.js';
import { ADMIN_KEY, registerUser, startTestServer, type TestServer, type TestUser } from '../test-support/server.js';

const LONE = '\uD800';

interface Deployment {
  kind: EngineKind;
  server: TestServer;
  alice: TestUser;
  bob: TestUser;
  direct: string;
  group: string;
  tenant: TestTenant;
}

describe('text input on both engines', () => {
  const deployments: Deployment[] = [];

  beforeAll(async () => {
    for (const kind of ENGINE_KINDS) {
      const server = await startTestServer({ kind });
      const [alice, bob] = await Promise.all([registerUser(server.api, 'alice'), registerUser(server.api, 'bob')]);
      const direct = (await openDirect(server.api, alice.token, bob.id)).id as string;
      const group = (await createGroup(server.api, alice.token, [bob.id], 'Plain title')).id as string;
      const tenant = await createTestTenant(server.api);
      deployments.push({ kind, server, alice, bob, direct, group, tenant });
    }
  });
  afterAll(async () => {
    await Promise.all(deployments.map((deployment) => deployment.server.stop()));
  });

  const each = async (check: (deployment: Deployment) => Promise<void>) => {
    expect(deployments).toHaveLength(ENGINE_KINDS.length);
    for (const deployment of deployments) await check(deployment);
  };

  it('refuses message text with a lone surrogate, a control or a bidi override, and stores nothing', async () => {
    await each(async ({ kind, server, alice, direct }) => {
      const refused: [string, string, string][] = [
        ['lone surrogate', `hello ${LONE} world`, 'body.text must be well-formed Unicode (no lone surrogates)'],
        ['NUL', 'hello\u0000world', 'text must not contain control characters other than newline and tab'],
        ['escape sequence', '\u001B[2Jcleared', 'text must not contain control characters other than newline and tab'],
        ['RLO override', 'invoice\u202Efdp.exe', 'text must not contain bidirectional embeddings or overrides (U+202A..U+202E)'],
      ];
      for (const [label, text, detail] of refused) {
        const response = await server.api.post(`/v1/conversations/${direct}/messages`, { text }, alice.token);
        expectProblem(response, 400, 'validation_failed', `${kind} ${label}`);
        expect(response.body.detail, `${kind} ${label}`).toBe(detail);
      }
      expect(await historyOf(server.api, alice.token, direct)).toEqual([]);
    });
  });

  it('refuses the same in edits, leaving the message as it was', async () => {
    await each(async ({ kind, server, alice, group }) => {
      const message = await sendMessage(server.api, alice.token, group, 'original');
      for (const text of [`x${LONE}`, 'a\u0007b', 'a\u202Db']) {
        const response = await server.api.patch(`/v1/conversations/${group}/messages/${message.id}`, { text }, alice.token);
        expectProblem(response, 400, 'validation_failed', `${kind} ${JSON.stringify(text)}`);
      }
      const history = await historyOf(server.api, alice.token, group);
      expect(history.find((each: { id: string }) => each.id === message.id)?.text).toBe('original');
    });
  });

  it('refuses labels with controls or any bidi control: display names, titles, tenant names', async () => {
    await each(async ({ kind, server, alice, bob, group, tenant }) => {
      for (const displayName of [`A${LONE}`, 'Al\u202Eice', 'Al\u2067ice', 'Al\u200Fice', 'Al\nice']) {
        const response = await server.api.patch('/v1/users/me', { displayName }, alice.token);
        expectProblem(response, 400, 'validation_failed', `${kind} displayName ${JSON.stringify(displayName)}`);
        expect(response.body.detail).toMatch(/displayName /);
      }
      expect((await server.api.get('/v1/users/me', alice.token)).body.displayName).toBe('alice');

      for (const title of ['Team\u202E', 'Team\u2066x\u2069', `T${LONE}`, 'Tab\there']) {
        expectProblem(await server.api.patch(`/v1/conversations/${group}`, { title }, alice.token), 400, 'validation_failed', `${kind} title`);
        const created = await server.api.post('/v1/conversations', { type: 'group', title, members: [bob.id] }, alice.token);
        expectProblem(created, 400, 'validation_failed', `${kind} new group title`);
        expect(created.body.detail).toMatch(/title/);
      }
      expect((await server.api.get(`/v1/conversations/${group}`, alice.token)).body.title).toBe('Plain title');

      const registered = await server.api.post('/v1/auth/register', { username: `rtl_${kind}`, password: 'long enough pw', displayName: 'Bob\u202Egnirts' });
      expectProblem(registered, 400, 'validation_failed', `${kind} register`);
      expect((await server.api.post('/v1/auth/login', { username: `rtl_${kind}`, password: 'long enough pw' })).status).toBe(401);

      const upserted = await server.api.put('/v1/users/u-bidi', { displayName: 'Eve\u2068' }, tenant.key);
      expectProblem(upserted, 400, 'validation_failed', `${kind} upsert`);
      expect((await server.api.post('/v1/users/u-bidi/tokens', {}, tenant.key)).status).toBe(404);

      const tenantId = `rtl-${kind}`;
      expectProblem(await server.api.post('/v1/tenants', { id: tenantId, name: 'Acme\u202E' }, ADMIN_KEY), 400, 'validation_failed', `${kind} tenant`);
      // Nothing was created: the id is still free.
      expect((await server.api.post('/v1/tenants', { id: tenantId, name: 'Acme' }, ADMIN_KEY)).status).toBe(201);
    });
  });

  it('refuses a lone surrogate anywhere in a body: nested metadata, keys, passwords', async () => {
    await each(async ({ kind, server, tenant }) => {
      const nested = await server.api.put('/v1/users/u-meta', { displayName: 'Meta', metadata: { tags: ['ok', `bad${LONE}`] } }, tenant.key);
      expectProblem(nested, 400, 'validation_failed', `${kind} nested`);
      expect(nested.body.detail).toBe('body.metadata.tags[1] must be well-formed Unicode (no lone surrogates)');
      const key = await server.api.put('/v1/users/u-meta', { displayName: 'Meta', metadata: { [`k${LONE}`]: 1 } }, tenant.key);
      expectProblem(key, 400, 'validation_failed', `${kind} key`);
      expect((await server.api.post('/v1/users/u-meta/tokens', {}, tenant.key)).status).toBe(404);

      const password = await server.api.post('/v1/auth/register', { username: `pw_${kind}`, password: `password${LONE}` });
      expectProblem(password, 400, 'validation_failed', `${kind} password`);
      expect(password.text).not.toContain('password\\ud800');
    });
  });

  it('refuses reactions that are not one emoji, and stores none', async () => {
    await each(async ({ kind, server, alice, bob, group }) => {
      const message = await sendMessage(server.api, alice.token, group, 'react to me');
      for (const emoji of ['toString', 'constructor', 'a', '\u202E', '\u202E👍', '👍👍', '1']) {
        const path = `/v1/conversations/${group}/messages/${message.id}/reactions/${encodeURIComponent(emoji)}`;
        const response = await server.api.request('PUT', path, { token: bob.token });
        expectProblem(response, 400, 'validation_failed', `${kind} ${JSON.stringify(emoji)}`);
        expect(response.body.detail).toBe('emoji must be a single emoji');
      }
      const history = await historyOf(server.api, alice.token, group);
      expect(history.find((each: { id: string }) => each.id === message.id)?.reactions).toEqual({});
    });
  });

  it('stores and returns valid astral, emoji and right-to-left text exactly, the same on both engines', async () => {
    const text = 'שלום \u2067עולם\u2069 👋🏽\n\t𝒳 🇯🇵 👩🏽‍❤️‍💋‍👨🏿 مرحبا\u200F!';
    const displayName = 'Zoë 𝒳 שלום 😀';
    const title = '日本語 🇯🇵 قناة';
    const emoji = ['👩🏽‍❤️‍💋‍👨🏿', '❤', '❤️', '1️⃣', '🏳️‍🌈'];
    const seen: unknown[] = [];
    await each(async ({ server, alice, bob, group }) => {
      const sent = await sendMessage(server.api, alice.token, group, text);
      expect(sent.text).toBe(text);
      for (const each of emoji) {
        const path = `/v1/conversations/${group}/messages/${sent.id}/reactions/${encodeURIComponent(each)}`;
        expect((await server.api.request('PUT', path, { token: bob.token })).status, each).toBe(204);
      }
      expect((await server.api.patch('/v1/users/me', { displayName }, alice.token)).status).toBe(200);
      expect((await server.api.patch(`/v1/conversations/${group}`, { title }, alice.token)).status).toBe(200);

      const stored = (await historyOf(server.api, bob.token, group)).find((each: { id: string }) => each.id === sent.id);
      const profile = (await server.api.get(`/v1/users/${alice.id}`, bob.token)).body;
      const conversation = (await server.api.get(`/v1/conversations/${group}`, bob.token)).body;
      const observed = { text: stored.text, reactions: Object.keys(stored.reactions).sort(), displayName: profile.displayName, title: conversation.title };
      expect(observed).toEqual({ text, reactions: [...emoji].sort(), displayName, title });
      seen.push(observed);
    });
    expect(seen[1]).toEqual(seen[0]);
  });
});
