/**
 * Managing a tenant's identity providers over real sockets: who may (the operator key, the tenant's
 * own key; never another tenant's key nor a user), what is validated, and discovery at PUT.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTinyIssuer, type TinyIssuer } from '../../test-support/openid-provider.js';
import { ADMIN_KEY, createTenant, registerUser, useTestServer, type TestUser } from '../../test-support/server.js';

describe('identity provider routes', () => {
  const handle = useTestServer({ env: { OUTBOUND_ALLOWED_HOSTS: '127.0.0.1' } });
  let issuer: TinyIssuer;
  let acmeKey: string;
  let globexKey: string;
  let user: TestUser;

  beforeAll(async () => {
    issuer = await startTinyIssuer();
    acmeKey = await createTenant(handle.api, 'acme');
    globexKey = await createTenant(handle.api, 'globex');
    user = await registerUser(handle.api);
  });
  afterAll(() => issuer?.close());

  const path = (tenant: string, provider?: string) => `/v1/tenants/${tenant}/identity-providers${provider === undefined ? '' : `/${provider}`}`;
  const put = (tenant: string, provider: string, body: unknown, key = ADMIN_KEY) => handle.api.put(path(tenant, provider), body, key);

  it('creates (201), replaces (200), reads, lists and deletes (204) a provider', async () => {
    const created = await put('acme', 'corp', { issuer: issuer.issuer, audience: 'https://chat.acme.test' }, acmeKey);
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: 'corp',
      issuer: issuer.issuer,
      audience: 'https://chat.acme.test',
      algorithms: ['RS256', 'ES256', 'EdDSA'],
      claims: {},
      jwksUri: `${issuer.issuer}/jwks`,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    const replaced = await put('acme', 'corp', {
      issuer: issuer.issuer,
      audience: 'https://chat.acme.test',
      algorithms: ['ES256'],
      claims: { displayName: 'nickname', username: 'preferred_username' },
    });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ algorithms: ['ES256'], claims: { displayName: 'nickname', username: 'preferred_username' } });
    expect(replaced.body.createdAt).toBe(created.body.createdAt);
    expect((await handle.api.get(path('acme', 'corp'), acmeKey)).body).toEqual(replaced.body);
    expect((await handle.api.get(path('acme'), ADMIN_KEY)).body).toEqual({ items: [replaced.body] });
    expect((await handle.api.delete(path('acme', 'corp'), acmeKey)).status).toBe(204);
    const gone = await handle.api.get(path('acme', 'corp'), acmeKey);
    expect(gone.status).toBe(404);
    expect(gone.body.code).toBe('identity_provider_not_found');
    expect((await handle.api.delete(path('acme', 'corp'), acmeKey)).body.code).toBe('identity_provider_not_found');
    expect((await handle.api.get(path('acme'), acmeKey)).body).toEqual({ items: [] });
  });

  it.each([
    ['an unknown algorithm', { algorithms: ['RS256', 'XX999'] }],
    ['alg none', { algorithms: ['none'] }],
    ['HS256', { algorithms: ['HS256'] }],
    ['no algorithm', { algorithms: [] }],
    ['a repeated algorithm', { algorithms: ['RS256', 'RS256'] }],
    ['an issuer that is not a URL', { issuer: 'not a url' }],
    ['an issuer with a query', { issuer: 'https://idp.example.com/?tenant=1' }],
    ['an audience too long', { audience: 'a'.repeat(513) }],
    ['an unknown field', { extra: true }],
    ['a claim name with spaces', { claims: { displayName: 'display name' } }],
  ])('refuses %s with 400 validation_failed', async (_label, change) => {
    const response = await put('acme', 'invalid', { issuer: issuer.issuer, audience: 'aud-invalid', ...change });
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('validation_failed');
    expect((await handle.api.get(path('acme', 'invalid'), ADMIN_KEY)).status).toBe(404);
  });

  it.each(['Upper', 'has space', 'a'.repeat(65), 'dot.ted'])('refuses the provider id %j with 400', async (id) => {
    const response = await put('acme', encodeURIComponent(id), { issuer: issuer.issuer, audience: 'aud-bad-id' });
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('validation_failed');
  });

  it('refuses an issuer the outbound policy does not allow (400 url_not_allowed), storing nothing', async () => {
    for (const refused of ['https://10.1.2.3', 'http://idp.example.com', 'https://[::1]:8443']) {
      const response = await put('acme', 'refused', { issuer: refused, audience: 'aud-refused' });
      expect(response.status, refused).toBe(400);
      expect(response.body.code).toBe('url_not_allowed');
    }
    expect((await handle.api.get(path('acme', 'refused'), ADMIN_KEY)).status).toBe(404);
  });

  it('refuses an unreachable issuer and one whose metadata names another issuer (400 identity_provider_unreachable)', async () => {
    const closed = await startTinyIssuer();
    await closed.close();
    for (const unreachable of [closed.issuer, `${issuer.issuer}/`, `${issuer.issuer}/nested`]) {
      const response = await put('acme', 'unreachable', { issuer: unreachable, audience: 'aud-unreachable' });
      expect(response.status, unreachable).toBe(400);
      expect(response.body.code).toBe('identity_provider_unreachable');
    }
    expect((await handle.api.get(path('acme', 'unreachable'), ADMIN_KEY)).status).toBe(404);
  });

  it('refuses the same issuer and audience in two tenants (409), allows another audience', async () => {
    expect((await put('acme', 'shared', { issuer: issuer.issuer, audience: 'aud-shared' }, acmeKey)).status).toBe(201);
    const conflict = await put('globex', 'shared', { issuer: issuer.issuer, audience: 'aud-shared' }, globexKey);
    expect(conflict.status).toBe(409);
    expect(conflict.body.code).toBe('identity_provider_conflict');
    expect((await put('globex', 'shared', { issuer: issuer.issuer, audience: 'aud-globex' }, globexKey)).status).toBe(201);
  });

  it('refuses an eleventh provider of one tenant (409 too_many_identity_providers)', async () => {
    await createTenant(handle.api, 'crowded');
    for (let i = 0; i < 10; i++) expect((await put('crowded', `p${i}`, { issuer: issuer.issuer, audience: `crowded-${i}` })).status).toBe(201);
    const response = await put('crowded', 'p10', { issuer: issuer.issuer, audience: 'crowded-10' });
    expect(response.status).toBe(409);
    expect(response.body.code).toBe('too_many_identity_providers');
  });

  it("answers 404 tenant_not_found to another tenant's key and for an unknown tenant", async () => {
    await put('acme', 'private', { issuer: issuer.issuer, audience: 'aud-private' }, acmeKey);
    for (const response of [
      await handle.api.get(path('acme', 'private'), globexKey),
      await handle.api.get(path('acme'), globexKey),
      await handle.api.delete(path('acme', 'private'), globexKey),
      await put('acme', 'intruder', { issuer: issuer.issuer, audience: 'aud-intruder' }, globexKey),
      await handle.api.get(path('nowhere'), ADMIN_KEY),
      await put('nowhere', 'corp', { issuer: issuer.issuer, audience: 'aud-nowhere' }),
    ]) {
      expect(response.status).toBe(404);
      expect(response.body.code).toBe('tenant_not_found');
    }
    expect((await handle.api.get(path('acme', 'private'), acmeKey)).status).toBe(200);
  });

  it('answers 401 without credentials or with a bad key, and 403 to a user token', async () => {
    expect((await handle.api.get(path('acme'))).status).toBe(401);
    expect((await put('acme', 'corp', { issuer: issuer.issuer, audience: 'x' }, 'sk_acme_wrong')).status).toBe(401);
    const asUser = await handle.api.get(path('default'), user.token);
    expect(asUser.status).toBe(403);
  });
});
