/**
 * The shrunk counterexamples of the route fuzzer (routes.fuzz.test.ts), kept as plain examples so
 * each bug it found stays fixed whatever seed a later run draws.
 */
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createGroup, createTestTenant, expectProblem, uniqueTenantId, type TenantUser } from '../test-support/conversations.js';
import { fetchServedDocument } from '../test-support/openapi-operations.js';
import { registerUser, useTestServer } from '../test-support/server.js';

/** Writes raw bytes to the server and collects its answer until it closes the socket. */
async function rawExchange(url: string, request: string): Promise<string> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let text = '';
  socket.on('data', (chunk) => (text += chunk.toString()));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.write(request);
  await new Promise<void>((resolve) => socket.on('close', () => resolve()));
  return text;
}

describe('route fuzzer regressions', () => {
  const ctx = useTestServer();

  it('refuses a JSON body declared in a charset other than UTF-8 (415), accepts charset=utf-8', async () => {
    // Found as: PATCH /v1/users/me [JSON declared as UTF-16] → 200.
    const user = await registerUser(ctx.api);
    const refused = await ctx.api.request('PATCH', '/v1/users/me', { token: user.token, body: '{"displayName":"x"}', contentType: 'application/json; charset=utf-16' });
    expectProblem(refused, 415, 'unsupported_media_type');
    expect((await ctx.api.get('/v1/users/me', user.token)).body.displayName).not.toBe('x');
    const accepted = await ctx.api.request('PATCH', '/v1/users/me', { token: user.token, body: '{"displayName":"y"}', contentType: 'application/json; charset=UTF-8' });
    expect(accepted.status, accepted.text).toBe(200);
  });

  it('refuses a JSON null where a body is optional (400), still accepting no body at all', async () => {
    // Found as: POST /v1/users/{userId}/tokens, POST /v1/tenants/{tenantId}/api-keys, PUT …/mutes/{userId} with body `null` → 2xx.
    const tenant = await createTestTenant(ctx.api, uniqueTenantId());
    const [alice, bob] = (await tenant.users(['alice', 'bob'])) as [TenantUser, TenantUser];
    const group = await createGroup(ctx.api, alice.token, [bob.id], 'Null bodies');
    const calls: [string, string, string][] = [
      ['POST', `/v1/users/${bob.id}/tokens`, tenant.key],
      ['POST', `/v1/tenants/${tenant.id}/api-keys`, tenant.key],
      ['PUT', `/v1/conversations/${group.id}/mutes/${bob.id}`, alice.token],
    ];
    for (const [method, path, token] of calls) {
      expectProblem(await ctx.api.request(method, path, { token, body: 'null', contentType: 'application/json' }), 400, 'validation_failed', `${method} ${path} null`);
      const without = await ctx.api.request(method, path, { token });
      expect(without.status, `${method} ${path} without a body: ${without.text}`).toBeLessThan(300);
    }
  });

  it('answers a URL past the header limit with a 431 problem, not a bare JSON body', async () => {
    // Found as: GET /v1/events?cursor=<65,535 characters> → 431 application/json {"error":…}.
    const response = await ctx.api.get(`/v1/events?cursor=${'a'.repeat(65_535)}`);
    expectProblem(response, 431, 'headers_too_large');
  });

  it('answers bytes that are not HTTP with a 400 problem and closes the connection', async () => {
    const answer = await rawExchange(ctx.url, 'NOT HTTP AT ALL\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toContain('application/problem+json');
    expect(answer).toContain('"code":"malformed_request"');
  });

  it('documents what the fuzzer saw answered: the SSE stream (200) and a 400 for a malformed id', async () => {
    // Found as: GET /v1/events → 200 text/event-stream, undocumented; GET /v1/conversations/{id} → 400, undocumented.
    const document = await fetchServedDocument(ctx.api);
    expect(Object.keys(document.paths['/v1/events']!.get.responses)).toEqual(expect.arrayContaining(['200', '400']));
    expect(document.paths['/v1/events']!.get.responses['200'].content).toHaveProperty('text/event-stream');
    expect(Object.keys(document.paths['/v1/conversations/{id}']!.get.responses)).toContain('400');
    // Found as: a malformed {userId} or {messageId} → 400 validation_failed, undocumented on these.
    for (const [path, method] of [
      ['/v1/conversations/{id}/members/{userId}', 'delete'],
      ['/v1/conversations/{id}/messages/{messageId}', 'delete'],
      ['/v1/conversations/{id}/bans/{userId}', 'put'],
      ['/v1/conversations/{id}/bans/{userId}', 'delete'],
      ['/v1/conversations/{id}/mutes/{userId}', 'delete'],
    ] as const) {
      expect(Object.keys(document.paths[path]![method].responses), `${method} ${path}`).toContain('400');
    }
    const user = await registerUser(ctx.api);
    expectProblem(await ctx.api.get(`/v1/conversations/${'x'.repeat(200)}`, user.token), 400, 'validation_failed');
  });

  it('documents 431 on every route and 413 and 415 on every route of a body method, and answers them on a route that takes no body', async () => {
    // Found as: DELETE /v1/conversations/{id}/bans/{userId} with a 1 MiB body → 413, and
    // DELETE /v1/webhooks/{id} with a text/plain body → 415, and GET /v1/events with a 64 KiB
    // cursor → 431, none documented.
    const document = await fetchServedDocument(ctx.api);
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(item as Record<string, { responses: Record<string, unknown> }>)) {
        const expected = ['post', 'put', 'patch', 'delete'].includes(method) ? ['413', '415', '431'] : ['431'];
        expect(Object.keys(operation.responses), `${method} ${path}`).toEqual(expect.arrayContaining(expected));
      }
    }
    const tenant = await createTestTenant(ctx.api, uniqueTenantId());
    const [alice, bob] = (await tenant.users(['alice', 'bob'])) as [TenantUser, TenantUser];
    const group = await createGroup(ctx.api, alice.token, [bob.id], 'Bodies where none is taken');
    const path = `/v1/conversations/${group.id}/members/${bob.id}`;
    const huge = JSON.stringify({ pad: 'x'.repeat(1024 * 1024) });
    expectProblem(await ctx.api.request('DELETE', path, { token: alice.token, body: huge, contentType: 'application/json' }), 413, 'payload_too_large');
    expectProblem(await ctx.api.request('DELETE', path, { token: alice.token, body: 'bob', contentType: 'text/plain' }), 415, 'unsupported_media_type');
    // Nothing was done by either refusal: bob is still a member.
    const members = await ctx.api.get(`/v1/conversations/${group.id}/members`, alice.token);
    expect(members.body.items.map((member: { userId: string }) => member.userId)).toContain(bob.id);
  });
});
