/**
 * Tenants and their back ends over real sockets, on both engines: creating tenants with the
 * operator key, upserting users and minting tokens with a tenant API key, and tenant isolation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINE_KINDS } from '../../test-support/engines.js';
import { ADMIN_KEY, createTenant, registerUser, startTestServer, type TestServer, type TestUser } from '../../test-support/server.js';

const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));

let counter = 0;
const uniqueId = (base: string) => `${base}-${++counter}`;

describe.each(ENGINE_KINDS)('tenants and tenant back ends over HTTP (%s engine)', (kind) => {
  let server: TestServer;
  let acmeKey: string;
  let globexKey: string;
  /** A self-registered user of the default tenant. */
  let dora: TestUser;

  beforeAll(async () => {
    server = await startTestServer({ kind });
    acmeKey = await createTenant(server.api, 'acme');
    globexKey = await createTenant(server.api, 'globex');
    dora = await registerUser(server.api, 'dora');
  });
  afterAll(() => server?.stop());

  const createTenantWith = (body: unknown, token?: string) => server.api.post('/v1/tenants', body, token);
  const upsert = (key: string, id: string, body: unknown) => server.api.put(`/v1/users/${encodeURIComponent(id)}`, body, key);
  const getUser = (token: string, id: string) => server.api.get(`/v1/users/${encodeURIComponent(id)}`, token);
  const mint = (key: string, id: string, body?: unknown) =>
    body === undefined
      ? server.api.request('POST', `/v1/users/${encodeURIComponent(id)}/tokens`, { token: key })
      : server.api.post(`/v1/users/${encodeURIComponent(id)}/tokens`, body, key);

  describe('user metadata and reserved ids', () => {
    it('shows metadata to the user and the tenant, never to other users of the tenant', async () => {
      const [owner, other] = [uniqueId('meta-owner'), uniqueId('meta-other')];
      expect((await upsert(acmeKey, owner, { displayName: 'Owner', metadata: { plan: 'gold' } })).status).toBe(201);
      expect((await upsert(acmeKey, other, { displayName: 'Other' })).status).toBe(201);
      const ownerToken = (await mint(acmeKey, owner, {})).body.accessToken;
      const otherToken = (await mint(acmeKey, other, {})).body.accessToken;
      expect((await getUser(ownerToken, owner)).body.metadata).toEqual({ plan: 'gold' });
      expect((await server.api.get('/v1/users/me', ownerToken)).body.metadata).toEqual({ plan: 'gold' });
      expect((await getUser(acmeKey, owner)).body.metadata).toEqual({ plan: 'gold' });
      const seenByOther = await getUser(otherToken, owner);
      expect(seenByOther.status).toBe(200);
      expect(seenByOther.body).toEqual({ id: owner, displayName: 'Owner', createdAt: expect.any(String) });
    });

    it("refuses the user id 'me', which /v1/users/me could never address", async () => {
      const response = await upsert(acmeKey, 'me', { displayName: 'Me' });
      expect(response.status).toBe(400);
      expect(response.body.code).toBe('validation_failed');
      expect((await mint(acmeKey, 'me', {})).status).toBe(400);
    });
  });

  describe('POST /v1/tenants', () => {
    it('creates a tenant with the operator key: 201 {tenant, apiKey} and the key works', async () => {
      const id = uniqueId('initech');
      const response = await createTenantWith({ id, name: '  Initech  ' }, ADMIN_KEY);
      expect(response.status).toBe(201);
      expect(response.body).toEqual({
        tenant: { id, name: 'Initech', createdAt: expect.any(String) },
        apiKey: expect.stringMatching(new RegExp(`^sk_${id}_[A-Za-z0-9_-]{43}$`)),
      });
      // The key authenticates (a 404 for an absent user, not a 401).
      const probe = await getUser(response.body.apiKey, 'nobody');
      expect(probe.status).toBe(404);
      expect(probe.body.code).toBe('user_not_found');
    });

    it('refuses a missing or wrong operator key with 401, before reading the body, and creates nothing', async () => {
      const id = uniqueId('sneaky');
      const wrongAdmin = `${ADMIN_KEY.slice(0, -1)}${ADMIN_KEY.endsWith('x') ? 'y' : 'x'}`;
      for (const token of [undefined, 'not-the-key', wrongAdmin, `${ADMIN_KEY}x`, dora.token, acmeKey]) {
        const response = await createTenantWith({ id, name: 'Sneaky' }, token);
        expect(response.status, String(token)).toBe(401);
        expect(response.body.code).toBe('unauthorized');
        expect(response.text).not.toContain(ADMIN_KEY);
      }
      const garbage = await server.api.request('POST', '/v1/tenants', { body: '{not json', contentType: 'application/json' });
      expect(garbage.status).toBe(401);
      const basic = await server.api.request('POST', '/v1/tenants', {
        json: { id, name: 'Sneaky' },
        headers: { authorization: `Basic ${Buffer.from(`admin:${ADMIN_KEY}`).toString('base64')}` },
      });
      expect(basic.status).toBe(401);
      // Nothing was stored: the id is still free for the operator.
      expect((await createTenantWith({ id, name: 'Sneaky' }, ADMIN_KEY)).status).toBe(201);
    });

    it('answers an existing id with 409 tenant_exists and keeps the first key', async () => {
      const again = await createTenantWith({ id: 'acme', name: 'Acme again' }, ADMIN_KEY);
      expect(again.status).toBe(409);
      expect(again.body.code).toBe('tenant_exists');
      expect(again.text).not.toContain('sk_');
      expect((await getUser(acmeKey, 'nobody')).status).toBe(404);
    });

    it('refuses to create the default tenant (it exists), so POST /v1/tenants hands out no API key for it', async () => {
      const response = await createTenantWith({ id: 'default', name: 'Mine now' }, ADMIN_KEY);
      expect(response.status).toBe(409);
      expect(response.body.code).toBe('tenant_exists');
    });

    it.each([
      ['one character', 'a'],
      ['uppercase', 'Acme2'],
      ['a leading hyphen', '-acme'],
      ['an underscore', 'ac_me'],
      ['64 characters', 'a'.repeat(64)],
      ['a dot', 'ac.me'],
      ['empty', ''],
    ])('refuses an id with %s (400 validation_failed)', async (_why, id) => {
      const response = await createTenantWith({ id, name: 'Bad' }, ADMIN_KEY);
      expect(response.status).toBe(400);
      expect(response.body.code).toBe('validation_failed');
    });

    it('refuses a missing, blank or too long name and unknown fields with 400, creating nothing', async () => {
      const id = uniqueId('named');
      for (const body of [{ id }, { id, name: '   ' }, { id, name: 'n'.repeat(129) }, { id, name: 'Ok', plan: 'gold' }]) {
        const response = await createTenantWith(body, ADMIN_KEY);
        expect(response.status, JSON.stringify(body)).toBe(400);
        expect(response.body.code).toBe('validation_failed');
      }
      expect((await createTenantWith({ id, name: 'n'.repeat(128) }, ADMIN_KEY)).status).toBe(201);
    });
  });

  describe('PUT /v1/users/{userId} (tenant API key)', () => {
    it('creates (201) then updates (200) a user; metadata is replaced, and cleared when absent or null', async () => {
      const id = uniqueId('crm:user@acme');
      const created = await upsert(acmeKey, id, { displayName: 'Uma', metadata: { plan: 'pro', tags: ['a'] } });
      expect(created.status).toBe(201);
      expect(created.body).toEqual({ id, displayName: 'Uma', metadata: { plan: 'pro', tags: ['a'] }, createdAt: expect.any(String) });

      const updated = await upsert(acmeKey, id, { displayName: '  Uma Beta  ', metadata: { plan: 'team', seats: 3 } });
      expect(updated.status).toBe(200);
      expect(updated.body).toEqual({ id, displayName: 'Uma Beta', metadata: { plan: 'team', seats: 3 }, createdAt: created.body.createdAt });
      expect((await getUser(acmeKey, id)).body).toEqual(updated.body);

      const same = await upsert(acmeKey, id, { displayName: 'Uma Beta', metadata: { plan: 'team', seats: 3 } });
      expect(same.status).toBe(200);
      expect(same.body.metadata).toEqual({ plan: 'team', seats: 3 });

      const withoutMetadata = await upsert(acmeKey, id, { displayName: 'Uma' });
      expect(withoutMetadata.status).toBe(200);
      expect(withoutMetadata.body).toEqual({ id, displayName: 'Uma', createdAt: created.body.createdAt });

      await upsert(acmeKey, id, { displayName: 'Uma', metadata: { back: true } });
      const nulled = await upsert(acmeKey, id, { displayName: 'Uma', metadata: null });
      expect(nulled.status).toBe(200);
      expect(nulled.body).not.toHaveProperty('metadata');
      expect((await getUser(acmeKey, id)).body).not.toHaveProperty('metadata');
    });

    it('accepts metadata of exactly 8 KiB as JSON and refuses one byte more, keeping the user as it was', async () => {
      const id = uniqueId('meta');
      // {"k":"…"} is 8 bytes plus the value.
      const atLimit = { k: 'x'.repeat(8192 - 8) };
      expect(Buffer.byteLength(JSON.stringify(atLimit))).toBe(8192);
      const ok = await upsert(acmeKey, id, { displayName: 'Meta', metadata: atLimit });
      expect(ok.status).toBe(201);

      const over = await upsert(acmeKey, id, { displayName: 'Changed', metadata: { k: 'x'.repeat(8192 - 7) } });
      expect(over.status).toBe(400);
      expect(over.body.code).toBe('validation_failed');
      const multibyte = await upsert(acmeKey, id, { displayName: 'Changed', metadata: { k: 'é'.repeat(4093) } });
      expect(multibyte.status).toBe(400);
      const stored = await getUser(acmeKey, id);
      expect(stored.body.displayName).toBe('Meta');
      expect(stored.body.metadata).toEqual(atLimit);
    });

    it('refuses invalid bodies and ids with 400 and stores nothing', async () => {
      const id = uniqueId('invalid');
      for (const body of [
        {},
        { displayName: '' },
        { displayName: '   ' },
        { displayName: 'd'.repeat(65) },
        { displayName: 'bell\u0007' },
        { displayName: 'Ok', metadata: ['not', 'an', 'object'] },
        { displayName: 'Ok', metadata: 'text' },
        { displayName: 'Ok', role: 'admin' },
      ]) {
        const response = await upsert(acmeKey, id, body);
        expect(response.status, JSON.stringify(body)).toBe(400);
        expect(response.body.code).toBe('validation_failed');
      }
      for (const badId of ['has space', 'slash/inside', 'emoji😀', 'semi;colon']) {
        const response = await upsert(acmeKey, badId, { displayName: 'Ok' });
        expect(response.status, badId).toBe(400);
        expect(response.body.code).toBe('validation_failed');
      }
      expect((await getUser(acmeKey, id)).status).toBe(404);
    });

    // Known bug, not fixed here (app.ts is shared): Fastify's router refuses path parameters over
    // 100 characters (maxParamLength) with its own 414 JSON, not problem+json, so ids of 101..128
    // characters, which the contract and the schemas allow, cannot be used in any path.
    it('accepts user ids of up to 128 characters in the path and refuses longer ones with 400', async () => {
      for (const length of [101, 128]) {
        const id = 'u'.repeat(length - 4) + String(1000 + length);
        const created = await upsert(acmeKey, id, { displayName: 'Long' });
        expect(created.status, String(length)).toBe(201);
        expect((await getUser(acmeKey, id)).body.id).toBe(id);
        expect((await mint(acmeKey, id)).status).toBe(201);
      }
      const tooLong = await upsert(acmeKey, 'u'.repeat(129), { displayName: 'Long' });
      expect(tooLong.status).toBe(400);
      expect(tooLong.headers.get('content-type')).toContain('application/problem+json');
      expect(tooLong.body.code).toBe('validation_failed');
    });

    it('is refused to user tokens (403) and to bad keys (401), creating nothing', async () => {
      const id = uniqueId('guarded');
      const asUser = await upsert(dora.token, id, { displayName: 'Nope' });
      expect(asUser.status).toBe(403);
      expect(asUser.body.code).toBe('forbidden');

      await upsert(acmeKey, 'minted-user', { displayName: 'Minted' });
      const mintedToken = (await mint(acmeKey, 'minted-user')).body.accessToken;
      const asTenantUser = await upsert(mintedToken, id, { displayName: 'Nope' });
      expect(asTenantUser.status).toBe(403);
      expect((await mint(mintedToken, 'minted-user')).status).toBe(403);

      const tampered = acmeKey.slice(0, -2) + (acmeKey.endsWith('AA') ? 'BB' : 'AA');
      const acmeSecret = acmeKey.slice('sk_acme_'.length);
      for (const key of [tampered, `sk_globex_${acmeSecret}`, `sk_default_${acmeSecret}`, `sk_nosuch_${acmeSecret}`, acmeKey.slice(0, -1), 'sk_acme']) {
        const response = await upsert(key, id, { displayName: 'Nope' });
        expect(response.status, key).toBe(401);
        expect(['invalid_token', 'unauthorized']).toContain(response.body.code);
        expect(response.text).not.toContain(acmeSecret);
      }
      expect((await getUser(acmeKey, id)).status).toBe(404);
    });
  });

  describe('POST /v1/users/{userId}/tokens (tenant API key)', () => {
    it('mints a token that works on /v1/users/me for that user, with or without a body', async () => {
      const id = uniqueId('mintee');
      await upsert(acmeKey, id, { displayName: 'Minty', metadata: { crm: 7 } });
      for (const body of [undefined, {}]) {
        const minted = await mint(acmeKey, id, body);
        expect(minted.status, JSON.stringify(body)).toBe(201);
        expect(minted.body).toEqual({ accessToken: expect.any(String), expiresIn: 900 });
        const claims = claimsOf(minted.body.accessToken);
        expect(claims).toMatchObject({ sub: id, tid: 'acme' });
        expect(claims.exp - claims.iat).toBe(900);
        const me = await server.api.get('/v1/users/me', minted.body.accessToken);
        expect(me.status).toBe(200);
        expect(me.body).toMatchObject({ id, displayName: 'Minty' });
      }
    });

    it.each([60, 120, 86_400])('honours expiresIn %i', async (expiresIn) => {
      const id = uniqueId('ttl');
      await upsert(acmeKey, id, { displayName: 'Ttl' });
      const minted = await mint(acmeKey, id, { expiresIn });
      expect(minted.status).toBe(201);
      expect(minted.body.expiresIn).toBe(expiresIn);
      const claims = claimsOf(minted.body.accessToken);
      expect(claims.exp - claims.iat).toBe(expiresIn);
      expect((await server.api.get('/v1/users/me', minted.body.accessToken)).body.id).toBe(id);
    });

    it('refuses an expiresIn outside 60..86400 or not an integer with 400', async () => {
      const id = uniqueId('ttlbad');
      await upsert(acmeKey, id, { displayName: 'Ttl' });
      for (const body of [{ expiresIn: 59 }, { expiresIn: 86_401 }, { expiresIn: 90.5 }, { expiresIn: -1 }, { lifetime: 60 }]) {
        const response = await mint(acmeKey, id, body);
        expect(response.status, JSON.stringify(body)).toBe(400);
        expect(response.body.code).toBe('validation_failed');
      }
    });

    it('answers 404 user_not_found for a user not upserted first, with no body and with {}', async () => {
      for (const body of [undefined, {}, { expiresIn: 60 }]) {
        const response = await mint(acmeKey, uniqueId('ghost'), body);
        expect(response.status, JSON.stringify(body)).toBe(404);
        expect(response.body.code).toBe('user_not_found');
      }
      // A self-registered user of another tenant is no user of acme either.
      const other = await mint(acmeKey, dora.id);
      expect(other.status).toBe(404);
      expect(other.body.code).toBe('user_not_found');
    });

    it('is refused to a self-registered user token (403)', async () => {
      const response = await mint(dora.token, dora.id);
      expect(response.status).toBe(403);
      expect(response.body.code).toBe('forbidden');
    });
  });

  describe('tenant isolation', () => {
    it("keeps one tenant's users invisible and untouchable to another tenant's key and tokens", async () => {
      const id = uniqueId('shared-id');
      await upsert(acmeKey, id, { displayName: 'Acme person', metadata: { secret: 'acme-only' } });

      const seen = await getUser(globexKey, id);
      expect(seen.status).toBe(404);
      expect(seen.body.code).toBe('user_not_found');
      expect(seen.text).not.toContain('acme-only');
      const minted = await mint(globexKey, id);
      expect(minted.status).toBe(404);
      expect(minted.body.code).toBe('user_not_found');

      // The same id under globex is globex's own user; acme's is untouched.
      const own = await upsert(globexKey, id, { displayName: 'Globex person' });
      expect(own.status).toBe(201);
      const acmeView = await getUser(acmeKey, id);
      expect(acmeView.body).toMatchObject({ displayName: 'Acme person', metadata: { secret: 'acme-only' } });

      const globexToken = (await mint(globexKey, id)).body.accessToken;
      const globexMe = await server.api.get('/v1/users/me', globexToken);
      expect(globexMe.body).toMatchObject({ id, displayName: 'Globex person' });
      expect(globexMe.body).not.toHaveProperty('metadata');

      // Users see across tenants no more than keys do.
      const acmeOnly = uniqueId('acme-only');
      await upsert(acmeKey, acmeOnly, { displayName: 'Hidden' });
      expect((await getUser(globexToken, acmeOnly)).status).toBe(404);
      expect((await getUser(dora.token, acmeOnly)).status).toBe(404);
      const acmeToken = (await mint(acmeKey, acmeOnly)).body.accessToken;
      expect((await getUser(acmeToken, dora.id)).status).toBe(404);
      expect((await getUser(acmeToken, id)).body.displayName).toBe('Acme person');
    });

    it('refuses a tenant key where only a user makes sense (403)', async () => {
      for (const [method, path, json] of [
        ['GET', '/v1/users/me', undefined],
        ['PATCH', '/v1/users/me', { displayName: 'Bot' }],
        ['PUT', `/v1/users/me/blocks/${encodeURIComponent(dora.id)}`, undefined],
      ] as const) {
        const response = await server.api.request(method, path, { token: acmeKey, ...(json ? { json } : {}) });
        expect(response.status, `${method} ${path}`).toBe(403);
        expect(response.body.code).toBe('forbidden');
      }
    });
  });
});
