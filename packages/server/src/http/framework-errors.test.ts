import { beforeAll, describe, expect, it } from 'vitest';
import { registerUser, useTestServer, type TestUser } from '../test-support/server.js';

/**
 * URLs the router cannot even decode: each must be a problem+json with a stable code, and must
 * not echo the URL back (Fastify's own answer reflects it).
 */
describe('URLs the router cannot use', () => {
  const ctx = useTestServer();
  let alice: TestUser;

  beforeAll(async () => {
    alice = await registerUser(ctx.api, 'alice');
  });

  const MARKER = 'zq<script>';
  const malformed = [
    `/v1/conversations/%E0%A4%A${MARKER}`,
    `/v1/conversations/%E0%A4%A`,
    `/v1/users/%ZZ${MARKER}`,
    `/v1/conversations/c1/messages/%${MARKER}`,
    `/v1/conversations/%C0%AF/members`,
    `/v1/users/%ED%A0%80`, // an encoded lone surrogate is not UTF-8
  ];

  it.each(malformed)('answers %s with 400 bad_url as problem+json, without echoing it', async (path) => {
    const response = await ctx.api.request('GET', path, { token: alice.token });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(response.body).toEqual({
      type: 'urn:parley:problem:bad_url',
      title: 'The request URL is not valid',
      status: 400,
      detail: 'The URL is not validly percent-encoded',
      code: 'bad_url',
    });
    expect(response.text).not.toContain('zq');
    expect(response.text).not.toContain('%');
    // Like every response, it carries a request id and is not to be sniffed or cached.
    expect(response.headers.get('x-request-id')).toBeTruthy();
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('cache-control')).toBe('no-store');
  });

  it('answers a path parameter beyond the router limit with 400 bad_url, without echoing it', async () => {
    for (const path of [`/v1/users/${'a'.repeat(600)}`, `/v1/conversations/${'a'.repeat(600)}/messages`]) {
      const response = await ctx.api.request('GET', path, { token: alice.token });
      expect(response.status, path).toBe(400);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      expect(response.body).toMatchObject({ code: 'bad_url', detail: 'A path segment is too long' });
      expect(response.body.instance).toBeUndefined();
      expect(response.text).not.toContain('aaaa');
    }
  });

  it('answers a malformed URL on a write with bad_url and stores nothing', async () => {
    const response = await ctx.api.request('POST', '/v1/conversations/%E0%A4%A/messages', {
      token: alice.token,
      json: { text: 'hello' },
    });
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('bad_url');
    const list = await ctx.api.get('/v1/conversations', alice.token);
    expect(list.body.items).toEqual([]);
  });

  it('answers a malformed query string as problem+json too', async () => {
    const response = await ctx.api.request('GET', '/v1/conversations?limit=%E0%A4%A', { token: alice.token });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(response.text).not.toContain('%E0');
  });

  it('still answers a parameter that decodes but breaks the schema with validation_failed', async () => {
    const response = await ctx.api.request('GET', `/v1/users/${'b'.repeat(200)}`, { token: alice.token });
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('validation_failed');
  });
});
