/**
 * Tenant API keys over real sockets, on both engines: creating, listing and revoking keys with the
 * operator key or the tenant's own key, several keys valid at once, the limit, and isolation
 * between tenants. Then tenants stored by earlier versions (one key inside the tenant record).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeyId, apiKeyMatches } from '../../auth/api-keys.js';
import { ENGINE_KINDS } from '../../test-support/engines.js';
import { readApiKeyHashAsPreviousVersion, writeLegacyTenant } from '../../test-support/legacy-tenant.js';
import { createRedisTestEngine, createTestRedis } from '../../test-support/redis.js';
import { ADMIN_KEY, createTenant, registerUser, startTestServer, type TestServer, type TestUser } from '../../test-support/server.js';
import type { ApiClient } from '../../test-support/api-client.js';

let counter = 0;
const uniqueTenant = (base: string) => `${base}-${++counter}`;

/** What a caller of the key routes does, for one server. */
function keyRoutes(api: ApiClient) {
  return {
    create: (tenantId: string, token?: string, body?: unknown) =>
      body === undefined
        ? api.request('POST', `/v1/tenants/${tenantId}/api-keys`, token ? { token } : {})
        : api.post(`/v1/tenants/${tenantId}/api-keys`, body, token),
    list: (tenantId: string, token?: string) => api.get(`/v1/tenants/${tenantId}/api-keys`, token),
    revoke: (tenantId: string, id: string, token?: string) => api.delete(`/v1/tenants/${tenantId}/api-keys/${id}`, token),
    /** 404 user_not_found when the key authenticates, 401 when it does not. */
    probe: async (key: string) => (await api.get('/v1/users/nobody', key)).status,
  };
}

/** Polls the listing until `id`'s lastUsedAt is set (it is written after the response, not awaited). */
async function lastUsedAtOf(routes: ReturnType<typeof keyRoutes>, tenantId: string, id: string): Promise<string> {
  const deadline = Date.now() + 3000;
  for (;;) {
    const listed = await routes.list(tenantId, ADMIN_KEY);
    const key = listed.body.items.find((item: { id: string }) => item.id === id);
    if (key?.lastUsedAt) return key.lastUsedAt;
    if (Date.now() > deadline) throw new Error(`lastUsedAt of ${id} was never recorded`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.each(ENGINE_KINDS)('tenant API keys over HTTP (%s engine)', (kind) => {
  let server: TestServer;
  let routes: ReturnType<typeof keyRoutes>;
  let dora: TestUser;

  beforeAll(async () => {
    server = await startTestServer({ kind });
    routes = keyRoutes(server.api);
    dora = await registerUser(server.api, 'dora');
  });
  afterAll(() => server?.stop());

  it('creates a second key with the operator key: both keys work at once, and the first is listed with its id', async () => {
    const tenant = uniqueTenant('rotate');
    const first = await createTenant(server.api, tenant);
    const before = Date.now();
    const created = await routes.create(tenant, ADMIN_KEY);
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^[A-Za-z0-9_-]{16}$/),
      apiKey: expect.stringMatching(new RegExp(`^sk_${tenant}_[A-Za-z0-9_-]{43}$`)),
      createdAt: expect.any(String),
    });
    expect(created.body.id).toBe(apiKeyId(created.body.apiKey));
    expect(Date.parse(created.body.createdAt)).toBeGreaterThanOrEqual(before - 1000);
    expect(await routes.probe(first)).toBe(404);
    expect(await routes.probe(created.body.apiKey)).toBe(404);

    const listed = await routes.list(tenant, ADMIN_KEY);
    expect(listed.status).toBe(200);
    // lastUsedAt is written after the response, so either may still be null here.
    expect(listed.body.items).toEqual([
      { id: apiKeyId(first), createdAt: expect.any(String), lastUsedAt: expect.toSatisfy((v) => v === null || typeof v === 'string') },
      { id: created.body.id, createdAt: created.body.createdAt, lastUsedAt: expect.toSatisfy((v) => v === null || typeof v === 'string') },
    ]);
    // Never a secret or a hash in a listing.
    expect(listed.text).not.toContain('sk_');
    expect(listed.text).not.toContain('sha256');
    expect(listed.text).not.toContain(first.slice(-20));
  });

  it("lets a tenant's own key create, list and revoke its keys, with no body or {}", async () => {
    const tenant = uniqueTenant('self');
    const first = await createTenant(server.api, tenant);
    const withoutBody = await routes.create(tenant, first);
    const withEmpty = await routes.create(tenant, first, {});
    expect([withoutBody.status, withEmpty.status]).toEqual([201, 201]);
    const ids = (await routes.list(tenant, first)).body.items.map((item: { id: string }) => item.id);
    expect(ids).toEqual([apiKeyId(first), withoutBody.body.id, withEmpty.body.id]);
    expect((await routes.revoke(tenant, withEmpty.body.id, withoutBody.body.apiKey)).status).toBe(204);
    expect(await routes.probe(withEmpty.body.apiKey)).toBe(401);
    expect(await routes.probe(first)).toBe(404);
  });

  it('shows lastUsedAt null for a key never used, and the time of its use once used', async () => {
    const tenant = uniqueTenant('used');
    await createTenant(server.api, tenant);
    const created = await routes.create(tenant, ADMIN_KEY);
    const unused = (await routes.list(tenant, ADMIN_KEY)).body.items.find((item: { id: string }) => item.id === created.body.id);
    expect(unused).toEqual({ id: created.body.id, createdAt: created.body.createdAt, lastUsedAt: null });
    const before = Date.now();
    expect(await routes.probe(created.body.apiKey)).toBe(404);
    const lastUsedAt = Date.parse(await lastUsedAtOf(routes, tenant, created.body.id));
    expect(lastUsedAt).toBeGreaterThanOrEqual(before - 1000);
    expect(lastUsedAt).toBeLessThanOrEqual(Date.now());
  });

  it('revokes a key: 204, then 401 for that key at once, the other keys still work; revoking again is 404', async () => {
    const tenant = uniqueTenant('revoke');
    const first = await createTenant(server.api, tenant);
    const second = (await routes.create(tenant, ADMIN_KEY)).body;
    expect(await routes.probe(second.apiKey)).toBe(404);
    const revoked = await routes.revoke(tenant, second.id, ADMIN_KEY);
    expect(revoked.status).toBe(204);
    expect(revoked.text).toBe('');
    const refused = await server.api.get('/v1/users/nobody', second.apiKey);
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe('invalid_token');
    expect(await routes.probe(first)).toBe(404);
    expect((await routes.list(tenant, first)).body.items.map((item: { id: string }) => item.id)).toEqual([apiKeyId(first)]);

    const again = await routes.revoke(tenant, second.id, ADMIN_KEY);
    expect(again.status).toBe(404);
    expect(again.body.code).toBe('api_key_not_found');
    for (const id of ['AAAAAAAAAAAAAAAA', 'short', 'A'.repeat(64)]) {
      const unknown = await routes.revoke(tenant, id, first);
      expect(unknown.status).toBe(404);
      expect(unknown.body.code).toBe('api_key_not_found');
    }
  });

  it('tells every node of the deployment about a revocation (engine.revocations)', async () => {
    const tenant = uniqueTenant('bus');
    const first = await createTenant(server.api, tenant);
    const second = (await routes.create(tenant, first)).body;
    const heard: unknown[] = [];
    const listener = await server.engine.revocations.listen((revocation) => heard.push(revocation), () => undefined);
    try {
      expect((await routes.revoke(tenant, second.id, first)).status).toBe(204);
      const deadline = Date.now() + 3000;
      while (heard.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(heard).toEqual([{ kind: 'api-key', tenantId: tenant, keyId: second.id }]);
      // A refused revocation publishes nothing.
      expect((await routes.revoke(tenant, second.id, first)).status).toBe(404);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(heard).toHaveLength(1);
    } finally {
      await listener.close();
    }
  });

  it('lets a key revoke itself: 204, then 401', async () => {
    const tenant = uniqueTenant('selfrevoke');
    const first = await createTenant(server.api, tenant);
    const second = (await routes.create(tenant, first)).body;
    expect((await routes.revoke(tenant, apiKeyId(first), first)).status).toBe(204);
    const after = await routes.list(tenant, first);
    expect(after.status).toBe(401);
    expect(after.body.code).toBe('invalid_token');
    expect((await routes.list(tenant, second.apiKey)).body.items.map((item: { id: string }) => item.id)).toEqual([second.id]);
  });

  it("lets the operator give the default tenant a key too (it starts with none)", async () => {
    expect((await routes.list('default', ADMIN_KEY)).body).toEqual({ items: [] });
    const created = await routes.create('default', ADMIN_KEY);
    expect(created.status).toBe(201);
    expect(created.body.apiKey).toMatch(/^sk_default_/);
    expect((await server.api.get(`/v1/users/${dora.id}`, created.body.apiKey)).body.id).toBe(dora.id);
    expect((await routes.revoke('default', created.body.id, created.body.apiKey)).status).toBe(204);
    expect((await routes.list('default', ADMIN_KEY)).body).toEqual({ items: [] });
  });

  it('holds at most 10 live keys: the 11th is 409 too_many_api_keys until one is revoked', async () => {
    const tenant = uniqueTenant('many');
    const first = await createTenant(server.api, tenant);
    const created = [];
    for (let i = 0; i < 9; i++) {
      const response = await routes.create(tenant, first);
      expect(response.status).toBe(201);
      created.push(response.body);
    }
    const over = await routes.create(tenant, ADMIN_KEY);
    expect(over.status).toBe(409);
    expect(over.body.code).toBe('too_many_api_keys');
    expect(over.text).not.toContain('sk_');
    expect((await routes.list(tenant, first)).body.items).toHaveLength(10);
    expect((await routes.revoke(tenant, created[0].id, first)).status).toBe(204);
    expect((await routes.create(tenant, first)).status).toBe(201);
    expect((await routes.create(tenant, first)).status).toBe(409);
  });

  it("answers another tenant's key with 404 tenant_not_found on every route, and changes nothing", async () => {
    const acme = uniqueTenant('acme');
    const globex = uniqueTenant('globex');
    const acmeKey = await createTenant(server.api, acme);
    const globexKey = await createTenant(server.api, globex);
    const responses = [
      await routes.create(acme, globexKey),
      await routes.list(acme, globexKey),
      await routes.revoke(acme, apiKeyId(acmeKey), globexKey),
      await routes.revoke(acme, 'AAAAAAAAAAAAAAAA', globexKey),
    ];
    const withoutInstance = ({ instance: _instance, ...problem }: Record<string, unknown>) => problem;
    for (const response of responses) {
      expect(response.status).toBe(404);
      expect(withoutInstance(response.body)).toEqual(withoutInstance(responses[0]!.body));
      expect(response.body.code).toBe('tenant_not_found');
    }
    expect(await routes.probe(acmeKey)).toBe(404);
    expect((await routes.list(acme, ADMIN_KEY)).body.items).toHaveLength(1);
    // A tenant that does not exist looks the same, to the operator too.
    for (const token of [ADMIN_KEY, globexKey]) {
      for (const response of [await routes.create('nosuch', token), await routes.list('nosuch', token), await routes.revoke('nosuch', 'AAAAAAAAAAAAAAAA', token)]) {
        expect(response.status).toBe(404);
        expect(response.body.code).toBe('tenant_not_found');
      }
    }
  });

  it('refuses missing and bad credentials (401) and user tokens (403)', async () => {
    const tenant = uniqueTenant('guarded');
    const key = await createTenant(server.api, tenant);
    const tampered = key.slice(0, -2) + (key.endsWith('AA') ? 'BB' : 'AA');
    for (const token of [undefined, 'not-a-key', tampered, `${ADMIN_KEY}x`]) {
      for (const response of [await routes.create(tenant, token), await routes.list(tenant, token), await routes.revoke(tenant, apiKeyId(key), token)]) {
        expect(response.status, String(token)).toBe(401);
        expect(['unauthorized', 'invalid_token']).toContain(response.body.code);
      }
    }
    for (const response of [await routes.create(tenant, dora.token), await routes.list(tenant, dora.token), await routes.revoke(tenant, apiKeyId(key), dora.token)]) {
      expect(response.status).toBe(403);
      expect(response.body.code).toBe('forbidden');
    }
    expect((await routes.list(tenant, ADMIN_KEY)).body.items).toHaveLength(1);
  });

  it('refuses malformed tenant ids, key ids and bodies with 400', async () => {
    const tenant = uniqueTenant('shapes');
    const key = await createTenant(server.api, tenant);
    for (const response of [
      await routes.create('Not_A_Tenant', ADMIN_KEY),
      await routes.list('x', ADMIN_KEY),
      await routes.revoke(tenant, 'A'.repeat(65), key),
      await routes.revoke(tenant, 'AAAAAAAAAAAAAAA%2B', key),
      await routes.revoke(tenant, 'AAAAAAAAAAAAAAA.', key),
      await routes.create(tenant, key, { name: 'extra' }),
      await routes.create(tenant, key, []),
    ]) {
      expect(response.status).toBe(400);
      expect(response.body.code).toBe('validation_failed');
    }
    expect((await routes.list(tenant, key)).body.items).toHaveLength(1);
  });
});

describe('tenant API keys of a tenant stored by an earlier version (redis engine)', () => {
  let server: TestServer;
  let routes: ReturnType<typeof keyRoutes>;
  let cleanup: () => Promise<void>;
  let legacy: { apiKey: string; id: string };
  let redis: ReturnType<typeof createTestRedis>;
  /** The key a pod of the previous version accepts for the tenant (it reads only the record's hash). */
  let previousVersionKeyOf: (tenantId: string) => Promise<string | null>;

  beforeAll(async () => {
    const made = await createRedisTestEngine();
    cleanup = made.cleanup;
    redis = createTestRedis();
    previousVersionKeyOf = (tenantId) => readApiKeyHashAsPreviousVersion(redis, made.keyPrefix, tenantId);
    legacy = await writeLegacyTenant(redis, made.keyPrefix, { id: 'oldco', name: 'Old Co', createdAt: Date.UTC(2025, 5, 1) });
    server = await startTestServer({ engine: made.engine });
    routes = keyRoutes(server.api);
  });
  afterAll(async () => {
    await server?.stop();
    await redis?.quit();
    await cleanup?.();
  });

  it('keeps authenticating with its key, lists it, rotates to a new key and revokes the old one', async () => {
    const upserted = await server.api.put('/v1/users/u1', { displayName: 'Old user' }, legacy.apiKey);
    expect(upserted.status).toBe(201);
    const listed = await routes.list('oldco', legacy.apiKey);
    expect(listed.status).toBe(200);
    expect(listed.body.items).toEqual([
      { id: legacy.id, createdAt: '2025-06-01T00:00:00.000Z', lastUsedAt: expect.toSatisfy((v) => v === null || typeof v === 'string') },
    ]);
    const next = await routes.create('oldco', legacy.apiKey);
    expect(next.status).toBe(201);
    // Pods of the previous version (during a rolling upgrade) still accept the old key after it was
    // adopted here; the new key exists only for this version.
    expect(apiKeyMatches(legacy.apiKey, (await previousVersionKeyOf('oldco'))!)).toBe(true);
    expect((await routes.revoke('oldco', legacy.id, next.body.apiKey)).status).toBe(204);
    expect(await routes.probe(legacy.apiKey)).toBe(401);
    expect(await previousVersionKeyOf('oldco')).toBeNull();
    expect(await routes.probe(next.body.apiKey)).toBe(404);
    expect((await routes.list('oldco', ADMIN_KEY)).body.items.map((item: { id: string }) => item.id)).toEqual([next.body.id]);
  });

  it('stores a tenant created now so that pods of the previous version accept its key, until it is revoked', async () => {
    const created = await server.api.post('/v1/tenants', { id: 'newco', name: 'New Co' }, ADMIN_KEY);
    expect(created.status).toBe(201);
    const firstKey: string = created.body.apiKey;
    expect(apiKeyMatches(firstKey, (await previousVersionKeyOf('newco'))!)).toBe(true);
    expect((await routes.revoke('newco', apiKeyId(firstKey), ADMIN_KEY)).status).toBe(204);
    expect(await routes.probe(firstKey)).toBe(401);
    expect(await previousVersionKeyOf('newco')).toBeNull();
  });
});
