/**
 * OWASP API Security Top 10 (2023) — API3:2023 Broken Object Property Level Authorization (with
 * the field-injection side of API6:2023, a user promoting themselves or posting as the system),
 * generated from the served OpenAPI document, on both engines:
 *   - mass assignment: every operation with a body, called with a valid generated body plus each
 *     privileged or unknown field, refuses it (400) or ignores it (2xx, the value appears neither
 *     in the answer nor when the object is read back);
 *   - exposure: no response schema declares a hash or a secret outside the deliberate creation
 *     responses, and no response of a normal user journey carries a password, a hash, a secret
 *     after its creation, a refresh token outside auth, another tenant's id or another user's
 *     metadata (the matrix of api1-object-level-authorization.test.ts is walked the same way).
 */
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGroup, openDirect, sendMessage } from '../test-support/conversations.js';
import { ENGINE_KINDS } from '../test-support/engines.js';
import { exampleOf, fillPath, type JsonSchema } from '../test-support/openapi-operations.js';
import { findExposures, isAuthResponse, isSecretCreationResponse, propertyNamesOf, SECRET_PROPERTY } from '../test-support/security-exposure.js';
import { createSecurityWorld, intendedCaller, pathValues, type SecurityWorld } from '../test-support/security-world.js';
import { connectSse } from '../test-support/realtime-fixtures.js';

/** Fields a client must never set, each with a value that would be recognised if it were stored. */
const PRIVILEGED_FIELDS: Record<string, unknown> = {
  role: 'owner',
  tenantId: 'injected-tenant',
  senderId: 'injected-sender',
  seq: 424242,
  id: 'injected-id',
  system: true,
  createdAt: '2000-01-01T00:00:00.000Z',
  passwordHash: 'injected-hash',
  lastReadSeq: 424242,
  memberCount: 424242,
  identity: { provider: 'injected', subject: 'injected' },
  isAdmin: true,
  unknownField: 'injected-unknown',
};

describe.each(ENGINE_KINDS)('API3:2023 Broken Object Property Level Authorization (%s engine)', (kind) => {
  let world: SecurityWorld;

  beforeAll(async () => {
    world = await createSecurityWorld(kind);
  });
  afterAll(() => world?.stop());

  /** Real values for fields that name other objects, so generated bodies reach the services. */
  const hint = (name: string, schema: JsonSchema) => (name === 'members' || name === 'userIds' ? [world.mallory.id] : world.hint(name, schema));

  describe('mass assignment (and API6:2023 field injection): privileged and unknown fields are refused or ignored', () => {
    it('covers every operation of the served document that takes a JSON body', () => {
      expect(world.operations.filter((operation) => operation.bodySchema).length).toBeGreaterThanOrEqual(14);
    });

    it('refuses (400) or ignores every privileged field on every operation with a body', async () => {
      const tested: string[] = [];
      for (const operation of world.operations.filter((candidate) => candidate.bodySchema)) {
        const { real } = await pathValues(world, operation, world.group);
        const path = fillPath(operation, real);
        const body = exampleOf(operation.bodySchema!, hint) as Record<string, unknown>;
        const { token, response: baseline } = await intendedCaller(world, operation, body);
        expect(baseline.body?.code, `${operation.label}: the generated body ${JSON.stringify(body)} must be valid: ${baseline.text}`).not.toBe('validation_failed');
        for (const [field, injected] of Object.entries(PRIVILEGED_FIELDS)) {
          if (operation.bodySchema!.properties?.[field] !== undefined) continue; // a field the operation legitimately takes
          const response = await world.api.request(operation.method, path, { token, json: { ...body, [field]: injected } });
          const where = `${operation.label} with ${field}: ${response.status} ${response.text}`;
          if (response.status === 400) {
            expect(response.body?.code, where).toBe('validation_failed');
            continue;
          }
          expect(response.status, where).toBeLessThan(300);
          const readBack = world.operations.some((other) => other.method === 'GET' && other.path === operation.path) ? await world.api.get(path, token) : undefined;
          for (const seen of [response, readBack]) {
            if (!seen) continue;
            expect(isDeepStrictEqual(seen.body?.[field], injected) && !isDeepStrictEqual(baseline.body?.[field], injected), `${where}: stored`).toBe(false);
            expect(seen.text, `${where}: stored`).not.toMatch(/injected|424242|2000-01-01/);
          }
        }
        tested.push(operation.label);
      }
      expect(tested.length).toBeGreaterThanOrEqual(14);
    });

    it('never stores a sender, a seq or a system flag sent with a message', async () => {
      const response = await world.api.post(`/v1/conversations/${world.group.id}/messages`, { text: 'forged', senderId: world.bob.id, seq: 1, system: true }, world.alice.token);
      expect(response.status).toBe(400);
      const history = await world.api.get(`/v1/conversations/${world.group.id}/messages?limit=100`, world.alice.token);
      expect(history.body.items.map((message: any) => message.text)).not.toContain('forged');
    });
  });

  describe('exposure: no response carries a hash, a secret after its creation, another tenant or private data', () => {
    it('declares no hash or secret property in any response schema but the deliberate creation responses', () => {
      const offenders: string[] = [];
      for (const operation of world.operations) {
        for (const [status, schema] of Object.entries(operation.responseSchemas)) {
          for (const { name, path } of propertyNamesOf(schema)) {
            const creation = isSecretCreationResponse(operation.method, operation.path);
            if (SECRET_PROPERTY.test(name) && !creation) offenders.push(`${operation.label} ${status}${path}`);
            if (name === 'apiKey' && !creation) offenders.push(`${operation.label} ${status}${path} (an API key after its creation)`);
            if (name === 'refreshToken' && !isAuthResponse(operation.method, operation.path)) offenders.push(`${operation.label} ${status}${path} (a refresh token outside auth)`);
          }
        }
      }
      expect(offenders).toEqual([]);
    });

    it('exposes nothing private in any response of a normal user journey', async () => {
      const { api } = world;
      const password = `pw-${Math.random().toString(36).slice(2)}-long`;
      const registered = await api.post('/v1/auth/register', { username: `journey_${kind}`, password, displayName: 'Journey' });
      expect(registered.status).toBe(201);
      const token: string = registered.body.accessToken;
      world.tenantOfToken.set(token, 'default');
      const login = await api.post('/v1/auth/login', { username: `journey_${kind}`, password });
      const refreshed = await api.post('/v1/auth/refresh', { refreshToken: login.body.refreshToken });
      world.tenantOfToken.set(login.body.accessToken, 'default');
      world.tenantOfToken.set(refreshed.body.accessToken, 'default');
      const peer = (await api.post('/v1/auth/register', { username: `journey_peer_${kind}`, password })).body;
      world.tenantOfToken.set(peer.accessToken, 'default');
      const group = await createGroup(api, token, [peer.user.id], 'Journey');
      const direct = await openDirect(api, token, peer.user.id);
      const message = await sendMessage(api, token, group.id, 'hello');
      await sendMessage(api, peer.accessToken, direct.id, 'hi back');
      await api.put(`/v1/conversations/${group.id}/messages/${message.id}/reactions/${encodeURIComponent('🎉')}`, null, peer.accessToken);
      await api.post(`/v1/conversations/${group.id}/read`, { seq: 1 }, peer.accessToken);
      for (const path of ['/v1/users/me', '/v1/conversations', `/v1/conversations/${group.id}`, `/v1/conversations/${group.id}/members`, `/v1/conversations/${group.id}/messages`, `/v1/users/${peer.user.id}`, `/v1/users/${peer.user.id}/presence`]) {
        expect((await api.get(path, token)).status, path).toBe(200);
      }
      // Users of the victim tenant look at alice, whose back end stored private metadata about her.
      for (const viewer of [world.bob, world.mallory]) expect((await api.get(`/v1/users/${world.alice.id}`, viewer.token)).status).toBe(200);
      expect((await api.get(`/v1/conversations/${world.group.id}/members`, world.bob.token)).status).toBe(200);
      expect((await api.get('/v1/users/me', world.alice.token)).body.metadata).toEqual({ note: world.metadataMarker });
      await api.patch('/v1/users/me', { displayName: 'Renamed' }, token);
      await api.post('/v1/auth/logout', { refreshToken: refreshed.body.refreshToken });
      // Realtime: the events a user receives over SSE are walked too.
      const sse = await connectSse(world.server.url, { token: world.bob.token });
      await sse.waitFor((event) => event.data?.type === 'ready');
      await sendMessage(api, world.alice.token, world.group.id, 'over the stream');
      await sse.waitFor((event) => event.data?.message?.text === 'over the stream');
      await sse.close();
      for (const event of sse.events) world.responses.push({ method: 'SSE', path: '/v1/events', token: world.bob.token, status: 200, text: JSON.stringify(event.data), body: event.data });

      const violations = findExposures(world.responses, {
        tenantOfToken: world.tenantOfToken,
        privateStrings: new Map([
          [password, new Set<string>()],
          [world.metadataMarker, new Set([world.alice.token, world.victimTenant.key])],
        ]),
      });
      expect(violations).toEqual([]);
    });
  });
});
