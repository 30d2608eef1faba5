import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../test-support/server.js';

describe('HTTP conventions', () => {
  let server: TestServer;
  let alice: TestUser;
  let conversationId: string;

  beforeAll(async () => {
    server = await startTestServer();
    alice = await registerUser(server.api, 'alice');
    const bob = await registerUser(server.api, 'bob');
    const created = await server.api.post('/v1/conversations', { type: 'direct', members: [bob.id] }, alice.token);
    conversationId = created.body.id;
  });
  afterAll(() => server.stop());

  const history = async () => (await server.api.get(`/v1/conversations/${conversationId}/messages`, alice.token)).body.items;

  it('answers malformed JSON with 400 malformed_json as problem+json and stores nothing', async () => {
    const response = await server.api.request('POST', `/v1/conversations/${conversationId}/messages`, {
      token: alice.token,
      body: '{"text": "hi"',
      contentType: 'application/json',
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(response.body).toMatchObject({ status: 400, code: 'malformed_json', title: expect.any(String), type: expect.any(String) });
    expect(await history()).toEqual([]);
  });

  it('answers a body over 1 MiB with 413 payload_too_large and stores nothing', async () => {
    const response = await server.api.request('POST', `/v1/conversations/${conversationId}/messages`, {
      token: alice.token,
      body: JSON.stringify({ text: 'x'.repeat(1024 * 1024 + 10) }),
      contentType: 'application/json',
    });
    expect(response.status).toBe(413);
    expect(response.body.code).toBe('payload_too_large');
    expect(await history()).toEqual([]);
  });

  it('answers a non-JSON body with 415 unsupported_media_type and stores nothing', async () => {
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
      const response = await server.api.request('POST', `/v1/conversations/${conversationId}/messages`, {
        token: alice.token,
        body: 'text=hello',
        contentType,
      });
      expect(response.status, contentType).toBe(415);
      expect(response.body.code).toBe('unsupported_media_type');
    }
    expect(await history()).toEqual([]);
  });

  it('answers schema violations with 400 validation_failed naming each field', async () => {
    const response = await server.api.post(`/v1/conversations/${conversationId}/messages`, { text: 'hi', colour: 'red' }, alice.token);
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('validation_failed');
    expect(response.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: expect.stringContaining('body') })]));
    expect(await history()).toEqual([]);
  });

  it('echoes an acceptable X-Request-Id and makes one up otherwise, on errors too', async () => {
    const echoed = await server.api.request('GET', '/v1/users/me', { token: alice.token, headers: { 'x-request-id': 'req-123' } });
    expect(echoed.headers.get('x-request-id')).toBe('req-123');
    const missing = await server.api.get('/v1/nowhere');
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('not_found');
    expect(missing.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const forged = await server.api.request('GET', '/health/live', { headers: { 'x-request-id': 'bad id\twith spaces' } });
    expect(forged.headers.get('x-request-id')).not.toContain(' ');
  });

  it('requires a token on protected routes before reading the body', async () => {
    const response = await server.api.request('POST', `/v1/conversations/${conversationId}/messages`, {
      body: 'not json at all',
      contentType: 'application/json',
    });
    expect(response.status).toBe(401);
    expect(response.body.code).toBe('unauthorized');
  });

  it('never shows a stack trace', async () => {
    const response = await server.api.request('POST', '/v1/auth/login', { body: '{', contentType: 'application/json' });
    expect(response.status).toBe(400);
    expect(response.text).not.toMatch(/at .*\.(js|ts):\d+/);
    expect(response.text).not.toContain('stack');
  });
});
