/**
 * Users over real sockets, on both engines: the caller's profile, other users of the same tenant,
 * and blocks, including what a block does to direct conversations.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiResponse } from '../../test-support/api-client.js';
import { ENGINE_KINDS } from '../../test-support/engines.js';
import { createTenant, registerUser, startTestServer, type TestServer } from '../../test-support/server.js';

const OTHER_TENANT = 'other-co';
const PASSWORD = 'correct horse battery';

let counter = 0;
const uniqueName = (base: string) => `${base}-${++counter}`;

function expectProblem(response: ApiResponse, status: number, code: string, label = '') {
  const where = `${label} ${response.status} ${response.text}`;
  expect(response.status, where).toBe(status);
  expect(response.headers.get('content-type'), where).toContain('application/problem+json');
  expect(response.body?.code, where).toBe(code);
}

describe.each(ENGINE_KINDS)('users over HTTP (%s engine)', (kind) => {
  let server: TestServer;
  /** A user of OTHER_TENANT, invisible to the default tenant's users. */
  let outsider: { id: string; token: string };

  beforeAll(async () => {
    server = await startTestServer({ kind, env: { SELF_REGISTRATION_TENANTS: `default,${OTHER_TENANT}` } });
    await createTenant(server.api, OTHER_TENANT);
    const registered = await server.api.post('/v1/auth/register', { username: 'outsider', password: PASSWORD, tenant: OTHER_TENANT });
    expect(registered.status).toBe(201);
    outsider = { id: registered.body.user.id, token: registered.body.accessToken };
  });
  afterAll(() => server?.stop());

  const user = (base: string) => registerUser(server.api, uniqueName(base));
  const path = (id: string) => `/v1/users/${encodeURIComponent(id)}`;
  const blockPath = (id: string) => `/v1/users/me/blocks/${encodeURIComponent(id)}`;

  describe('profile', () => {
    it('finds a user of the same tenant by exact username; nobody else, and no metadata of others', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const found = await server.api.get(`/v1/users?username=${bob.username}`, alice.token);
    expect(found.status, found.text).toBe(200);
    expect(found.body).toEqual({ items: [{ id: bob.id, username: bob.username, displayName: bob.username, createdAt: expect.any(String) }] });
    // No partial match, no other tenant's user, nobody for a free name: an empty list, not a 404.
    for (const username of [bob.username.slice(0, -1), 'outsider', 'nobody-here']) {
      const none = await server.api.get(`/v1/users?username=${username}`, alice.token);
      expect(none.status, username).toBe(200);
      expect(none.body, username).toEqual({ items: [] });
    }
    const outsiderSees = await server.api.get(`/v1/users?username=${bob.username}`, outsider.token);
    expect(outsiderSees.body).toEqual({ items: [] });
    // Deleted accounts free their username: nobody holds it any more.
    expect((await server.api.delete('/v1/users/me', bob.token)).status).toBe(204);
    expect((await server.api.get(`/v1/users?username=${bob.username}`, alice.token)).body).toEqual({ items: [] });
  });

  it('limits lookups per user (USER_LOOKUP): the next one is 429 with Retry-After, other users unaffected', async () => {
    const limited = await startTestServer({ kind, env: { RATE_LIMIT_USER_LOOKUP: '3/1m' } });
    try {
      const [prober, other] = [await registerUser(limited.api, uniqueName('prober')), await registerUser(limited.api, uniqueName('other'))];
      for (let i = 0; i < 3; i++) {
        const allowed = await limited.api.get(`/v1/users?username=guess-${i}`, prober.token);
        expect(allowed.status, allowed.text).toBe(200);
      }
      const refused = await limited.api.get('/v1/users?username=guess-3', prober.token);
      expectProblem(refused, 429, 'rate_limited');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await limited.api.get(`/v1/users?username=${prober.username}`, other.token)).body.items).toHaveLength(1);
    } finally {
      await limited.stop();
    }
  });

  it('refuses a lookup without a valid username (400) or without a token (401)', async () => {
    const alice = await user('alice');
    for (const query of ['', '?username=', '?username=AB', `?username=${'a'.repeat(33)}`, '?username=alice&extra=1']) {
      expectProblem(await server.api.get(`/v1/users${query}`, alice.token), 400, 'validation_failed', query);
    }
    expectProblem(await server.api.get(`/v1/users?username=${alice.username}`), 401, 'unauthorized');
  });

  it('GET /v1/users/me answers the caller, and nothing private', async () => {
      const username = uniqueName('me');
      const registered = await server.api.post('/v1/auth/register', { username, password: PASSWORD, displayName: 'Me Myself' });
      const response = await server.api.get('/v1/users/me', registered.body.accessToken);
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ id: registered.body.user.id, username, displayName: 'Me Myself', createdAt: registered.body.user.createdAt });
      expect(response.text).not.toMatch(/password|hash|scrypt|tenant/i);
    });

    it('PATCH /v1/users/me changes the displayName, trimmed, for everyone to see', async () => {
      const [ann, ben] = [await user('ann'), await user('ben')];
      const response = await server.api.patch('/v1/users/me', { displayName: '  Ann Other  ' }, ann.token);
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ id: ann.id, username: ann.username, displayName: 'Ann Other' });
      expect((await server.api.get('/v1/users/me', ann.token)).body.displayName).toBe('Ann Other');
      expect((await server.api.get(path(ann.id), ben.token)).body.displayName).toBe('Ann Other');
      // Only ann changed.
      expect((await server.api.get('/v1/users/me', ben.token)).body.displayName).toBe(ben.username);
    });

    it('PATCH /v1/users/me with {} changes nothing', async () => {
      const cy = await user('cy');
      await server.api.patch('/v1/users/me', { displayName: 'Cy' }, cy.token);
      const response = await server.api.patch('/v1/users/me', {}, cy.token);
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ id: cy.id, username: cy.username, displayName: 'Cy' });
    });

    it.each([
      ['blank', { displayName: '   ' }],
      ['empty', { displayName: '' }],
      ['65 characters', { displayName: 'd'.repeat(65) }],
      ['an unknown field', { nickname: 'Dee' }],
      ['a username change', { username: 'someone-else' }],
      ['an unknown field beside a valid one', { displayName: 'Fine', avatar: 'x' }],
      ['control characters', { displayName: 'Dee\u0000\u0007' }],
      ['a line break', { displayName: 'Dee\nDee' }],
    ])('PATCH /v1/users/me refuses %s with 400 and changes nothing', async (_why, body) => {
      const dee = await user('dee');
      const response = await server.api.patch('/v1/users/me', body, dee.token);
      expectProblem(response, 400, 'validation_failed');
      expect((await server.api.get('/v1/users/me', dee.token)).body).toMatchObject({ username: dee.username, displayName: dee.username });
    });

    it('accepts a displayName of 64 characters, counted as characters', async () => {
      const eve = await user('eve');
      const name = '🙂'.repeat(64);
      const response = await server.api.patch('/v1/users/me', { displayName: name }, eve.token);
      expect(response.status).toBe(200);
      expect(response.body.displayName).toBe(name);
    });

    it('GET /v1/users/{id} answers a user of the same tenant with {id, username, displayName}', async () => {
      const [fay, gus] = [await user('fay'), await user('gus')];
      const response = await server.api.get(path(gus.id), fay.token);
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ id: gus.id, username: gus.username, displayName: gus.username, createdAt: expect.any(String) });
    });

    it("GET /v1/users/{id} answers 404 for another tenant's user and for an unknown id, alike", async () => {
      const hal = await user('hal');
      const foreign = await server.api.get(path(outsider.id), hal.token);
      const unknown = await server.api.get(path('01ZZZZZZZZZZZZZZZZZZZZZZZZ'), hal.token);
      expectProblem(foreign, 404, 'user_not_found', 'foreign');
      expectProblem(unknown, 404, 'user_not_found', 'unknown');
      expect(foreign.body.detail).toBe(unknown.body.detail);
      // And the other way round.
      expectProblem(await server.api.get(path(hal.id), outsider.token), 404, 'user_not_found', 'reverse');
      // The control: the outsider is there for its own tenant.
      expect((await server.api.get(path(outsider.id), outsider.token)).status).toBe(200);
    });

    it('GET /v1/users/{id} refuses a malformed id with 400 and needs a token', async () => {
      const ida = await user('ida');
      expectProblem(await server.api.get(path('has space'), ida.token), 400, 'validation_failed');
      expectProblem(await server.api.get(path(ida.id)), 401, 'unauthorized');
      expectProblem(await server.api.get('/v1/users/me'), 401, 'unauthorized');
    });
  });

  describe('blocks', () => {
    it('PUT and DELETE /v1/users/me/blocks/{id} answer 204 and are idempotent', async () => {
      const [jo, kim] = [await user('jo'), await user('kim')];
      for (let i = 0; i < 2; i += 1) {
        const blocked = await server.api.put(blockPath(kim.id), undefined, jo.token);
        expect(blocked.status).toBe(204);
        expect(blocked.text).toBe('');
      }
      for (let i = 0; i < 2; i += 1) {
        const unblocked = await server.api.delete(blockPath(kim.id), jo.token);
        expect(unblocked.status).toBe(204);
        expect(unblocked.text).toBe('');
      }
    });

    it('refuses blocking yourself (400), an unknown user and another tenant’s user (404)', async () => {
      const lu = await user('lu');
      expectProblem(await server.api.put(blockPath(lu.id), undefined, lu.token), 400, 'validation_failed', 'self');
      expectProblem(await server.api.put(blockPath('01ZZZZZZZZZZZZZZZZZZZZZZZZ'), undefined, lu.token), 404, 'user_not_found', 'unknown');
      expectProblem(await server.api.put(blockPath(outsider.id), undefined, lu.token), 404, 'user_not_found', 'foreign');
      expectProblem(await server.api.put(blockPath('bad id'), undefined, lu.token), 400, 'validation_failed', 'malformed');
      expectProblem(await server.api.put(blockPath(lu.id), undefined), 401, 'unauthorized', 'anonymous');
    });

    it('keeps a blocked user from opening a direct conversation with the blocker, and only in that direction', async () => {
      const [blocker, blocked] = [await user('blocker'), await user('blocked')];
      expect((await server.api.put(blockPath(blocked.id), undefined, blocker.token)).status).toBe(204);

      const refused = await server.api.post('/v1/conversations', { type: 'direct', members: [blocker.id] }, blocked.token);
      expectProblem(refused, 403, 'blocked');
      // Nothing was created for either of them.
      expect((await server.api.get('/v1/conversations', blocked.token)).body.items).toEqual([]);
      expect((await server.api.get('/v1/conversations', blocker.token)).body.items).toEqual([]);

      // The blocker can open it and write in it.
      const opened = await server.api.post('/v1/conversations', { type: 'direct', members: [blocked.id] }, blocker.token);
      expect(opened.status).toBe(201);
      const sent = await server.api.post(`/v1/conversations/${opened.body.id}/messages`, { text: 'I can still talk' }, blocker.token);
      expect(sent.status).toBe(201);

      // Even with the conversation existing, the blocked user cannot "reopen" it.
      expectProblem(await server.api.post('/v1/conversations', { type: 'direct', members: [blocker.id] }, blocked.token), 403, 'blocked');

      expect((await server.api.delete(blockPath(blocked.id), blocker.token)).status).toBe(204);
      const reopened = await server.api.post('/v1/conversations', { type: 'direct', members: [blocker.id] }, blocked.token);
      expect(reopened.status).toBe(200);
      expect(reopened.body.id).toBe(opened.body.id);
    });

    it('keeps a blocked user from sending into an existing direct conversation until unblocked', async () => {
      const [blocker, blocked] = [await user('mo'), await user('ned')];
      const conversation = await server.api.post('/v1/conversations', { type: 'direct', members: [blocker.id] }, blocked.token);
      expect(conversation.status).toBe(201);
      const messagesPath = `/v1/conversations/${conversation.body.id}/messages`;
      expect((await server.api.post(messagesPath, { text: 'before the block' }, blocked.token)).status).toBe(201);
      const history = async (token: string) => (await server.api.get(messagesPath, token)).body.items.map((m: any) => [m.seq, m.text]);

      expect((await server.api.put(blockPath(blocked.id), undefined, blocker.token)).status).toBe(204);
      const refused = await server.api.post(messagesPath, { text: 'let me in', clientMessageId: 'retry-1' }, blocked.token);
      expectProblem(refused, 403, 'blocked');
      expect(await history(blocker.token)).toEqual([[1, 'before the block']]);

      // One direction only: the blocker still writes, and the blocked user still reads.
      const fromBlocker = await server.api.post(messagesPath, { text: 'I blocked you' }, blocker.token);
      expect(fromBlocker.status).toBe(201);
      expect(await history(blocked.token)).toEqual([
        [1, 'before the block'],
        [2, 'I blocked you'],
      ]);

      expect((await server.api.delete(blockPath(blocked.id), blocker.token)).status).toBe(204);
      const allowed = await server.api.post(messagesPath, { text: 'let me in', clientMessageId: 'retry-1' }, blocked.token);
      expect(allowed.status).toBe(201);
      expect(allowed.body).toMatchObject({ seq: 3, senderId: blocked.id, text: 'let me in' });
      expect(await history(blocker.token)).toEqual([
        [1, 'before the block'],
        [2, 'I blocked you'],
        [3, 'let me in'],
      ]);
    });

    it("does not let one user's block affect conversations between other users", async () => {
      const [pat, quinn, ros] = [await user('pat'), await user('quinn'), await user('ros')];
      expect((await server.api.put(blockPath(quinn.id), undefined, pat.token)).status).toBe(204);
      const direct = await server.api.post('/v1/conversations', { type: 'direct', members: [ros.id] }, quinn.token);
      expect(direct.status).toBe(201);
      expect((await server.api.post(`/v1/conversations/${direct.body.id}/messages`, { text: 'hi ros' }, quinn.token)).status).toBe(201);
    });
  });
});
