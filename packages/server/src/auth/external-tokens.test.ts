/**
 * Tokens of a tenant's external OpenID Connect provider, end to end: a real OpenID Provider
 * (oidc-provider) and a tiny issuer on loopback ports, two Parley nodes on one Redis (each with its
 * own engine and connections, one key prefix). What a user of the provider observes: REST and
 * realtime accept the provider's access tokens as a Parley user of the tenant, the same user on
 * every node; every other token is a 401.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../engine/engine.js';
import { createRedisClient } from '../engine/redis/redis-connection.js';
import { createRedisEngine } from '../engine/redis/redis-engine.js';
import { APP_CLIENT, SERVICE_CLIENT, startOpenIdProvider, startTinyIssuer, type OpenIdProvider, type TinyIssuer } from '../test-support/openid-provider.js';
import { connectReady } from '../test-support/realtime-fixtures.js';
import { createRedisTestEngine, TEST_REDIS_URL } from '../test-support/redis.js';
import { ADMIN_KEY, createTenant, startTestServer, type TestServer } from '../test-support/server.js';

const AUDIENCE = 'https://chat.acme.test/api';
const OUTBOUND = { OUTBOUND_ALLOWED_HOSTS: '127.0.0.1' };
const now = () => Math.floor(Date.now() / 1000);

describe('external OpenID Connect tokens', () => {
  let op: OpenIdProvider;
  let tiny: TinyIssuer;
  let owned: { engine: Engine; keyPrefix: string; cleanup: () => Promise<void> };
  let second: Engine;
  let a: TestServer;
  let b: TestServer;
  let acmeKey: string;
  let globexKey: string;

  beforeAll(async () => {
    [op, tiny, owned] = await Promise.all([startOpenIdProvider({ audience: AUDIENCE }), startTinyIssuer(), createRedisTestEngine()]);
    second = createRedisEngine({ redis: createRedisClient({ url: TEST_REDIS_URL }), keyPrefix: owned.keyPrefix });
    [a, b] = await Promise.all([startTestServer({ engine: owned.engine, env: OUTBOUND }), startTestServer({ engine: second, env: OUTBOUND })]);
    acmeKey = await createTenant(a.api, 'acme');
    globexKey = await createTenant(a.api, 'globex');
    const corp = await a.api.put('/v1/tenants/acme/identity-providers/corp', { issuer: op.issuer, audience: AUDIENCE, algorithms: ['RS256'], claims: { username: 'preferred_username' } }, acmeKey);
    expect(corp.status).toBe(201);
    // A provider whose audience is the app's client id: the provider's ID tokens carry it.
    const app = await a.api.put('/v1/tenants/acme/identity-providers/app-client', { issuer: op.issuer, audience: APP_CLIENT }, acmeKey);
    expect(app.status).toBe(201);
    const tinyProvider = await a.api.put('/v1/tenants/globex/identity-providers/tiny', { issuer: tiny.issuer, audience: 'globex-api', algorithms: ['ES256'] }, globexKey);
    expect(tinyProvider.status).toBe(201);
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await owned?.cleanup();
    await Promise.all([op?.close(), tiny?.close()]);
  });

  /** Polls until `check` holds (other nodes hear of changes asynchronously). */
  async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + 5000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** A token signed with the OpenID Provider's own key: valid unless `claims` or `header` make it not. */
  function forge(claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
    return new SignJWT({ iss: op.issuer, aud: AUDIENCE, sub: `forged-${randomUUID()}`, iat: now(), exp: now() + 300, ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: op.kid, typ: 'at+jwt', ...header })
      .sign(op.privateKey);
  }

  const me = (server: TestServer, token: string) => server.api.get('/v1/users/me', token);

  async function expectRefused(token: string): Promise<void> {
    for (const server of [a, b]) {
      const response = await me(server, token);
      expect(response.status).toBe(401);
      expect(response.body.code).toBe('invalid_token');
    }
  }

  describe('accepted tokens', () => {
    it('accepts a client-credentials token on REST and realtime, as a user of the tenant', async () => {
      const token = await op.clientCredentialsToken();
      const response = await me(a, token);
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ displayName: SERVICE_CLIENT.id, identity: { provider: 'corp', subject: SERVICE_CLIENT.id } });
      const client = await connectReady(b.url, token, response.body.id);
      await client.close();
      // The tenant's back end sees the user; another tenant does not.
      expect((await a.api.get(`/v1/users/${response.body.id}`, acmeKey)).status).toBe(200);
      expect((await a.api.get(`/v1/users/${response.body.id}`, globexKey)).status).toBe(404);
    });

    it('accepts an authorization code + PKCE login, naming the user from its claims', async () => {
      const subject = `alice.${randomUUID().slice(0, 8)}`;
      const { accessToken } = await op.login(subject);
      const response = await me(a, accessToken);
      expect(response.status).toBe(200);
      expect(response.body).toEqual({
        id: expect.any(String),
        username: subject,
        displayName: `Name of ${subject}`,
        createdAt: expect.any(String),
        identity: { provider: 'corp', subject },
      });
      const client = await connectReady(a.url, accessToken, response.body.id);
      await client.close();
    });

    it('is the same user for the same subject: on later logins and on the other node', async () => {
      const subject = `bob-${randomUUID().slice(0, 8)}`;
      const first = await me(a, (await op.login(subject)).accessToken);
      const again = await me(b, (await op.login(subject)).accessToken);
      const forged = await me(b, await forge({ sub: subject }));
      expect(first.status).toBe(200);
      expect(again.body.id).toBe(first.body.id);
      expect(forged.body.id).toBe(first.body.id);
    });

    it('creates one user when first requests of one subject race on both nodes', async () => {
      const subject = `racer-${randomUUID()}`;
      const tokens = await Promise.all(Array.from({ length: 8 }, () => forge({ sub: subject })));
      const responses = await Promise.all(tokens.map((token, i) => me(i % 2 === 0 ? a : b, token)));
      expect(responses.map((r) => r.status)).toEqual(tokens.map(() => 200));
      expect(new Set(responses.map((r) => r.body.id)).size).toBe(1);
    });

    it("keeps a provider's users in its tenant: they never see another tenant's users", async () => {
      const globexUser = await me(a, await tiny.sign({ aud: 'globex-api', sub: 'g-1', exp: now() + 300 }));
      expect(globexUser.status).toBe(200);
      expect(globexUser.body.identity).toEqual({ provider: 'tiny', subject: 'g-1' });
      const acmeToken = await forge({ sub: 'g-1' });
      const acmeUser = await me(a, acmeToken);
      expect(acmeUser.body.id).not.toBe(globexUser.body.id);
      const seen = await a.api.get(`/v1/users/${globexUser.body.id}`, acmeToken);
      expect(seen.status).toBe(404);
    });
  });

  describe('refused tokens (401 on every node)', () => {
    it('refuses a wrong audience, an unknown issuer and an issuer not signing it', async () => {
      await expectRefused(await forge({ aud: 'https://someone-else.test' }));
      await expectRefused(await forge({ iss: 'https://unknown-issuer.test' }));
      await expectRefused(await forge({ iss: tiny.issuer, aud: 'globex-api' }));
    });

    it('refuses expired tokens and tokens not valid yet or issued in the future (beyond 60 s)', async () => {
      await expectRefused(await forge({ iat: now() - 600, exp: now() - 61 }));
      await expectRefused(await forge({ nbf: now() + 120 }));
      await expectRefused(await forge({ iat: now() + 120 }));
      await expectRefused(await forge({ exp: undefined }));
      // Within the leeway, a skewed clock is tolerated.
      expect((await me(a, await forge({ nbf: now() + 30, iat: now() + 30 }))).status).toBe(200);
    });

    it('refuses alg none and HS256 "signed" with the provider\'s public key', async () => {
      const payload = Buffer.from(JSON.stringify({ iss: op.issuer, aud: AUDIENCE, sub: 'attacker', iat: now(), exp: now() + 300 })).toString('base64url');
      const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;
      await expectRefused(none);
      for (const secret of [JSON.stringify(op.publicJwk), op.publicJwk.n!]) {
        const header = Buffer.from(JSON.stringify({ alg: 'HS256', kid: op.kid })).toString('base64url');
        const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
        await expectRefused(`${header}.${payload}.${signature}`);
      }
    });

    it('refuses ID tokens used as access tokens', async () => {
      const { idToken } = await op.login(`carol-${randomUUID().slice(0, 8)}`);
      // Its issuer and audience (the app-client provider) match and its signature verifies.
      await expectRefused(idToken);
      await expectRefused(await forge({ typ: 'ID' }));
      await expectRefused(await forge({ nonce: 'n-0S6_WzA2Mj' }));
      await expectRefused(await forge({ at_hash: 'HK6E_P6Dh8Y93mRNtsDB1Q' }));
    });

    it('refuses a token whose audiences name two providers of one issuer (it has no one tenant)', async () => {
      await expectRefused(await forge({ aud: [AUDIENCE, APP_CLIENT] }));
    });

    it('refuses unknown kids without a refetch storm: 50 of them cost at most one JWKS fetch', async () => {
      // A valid token first, so the key set is fetched and the cooldown runs.
      expect((await me(a, await tiny.sign({ aud: 'globex-api', sub: 'warm', exp: now() + 300 }))).status).toBe(200);
      const before = tiny.jwksRequests();
      const { privateKey } = await generateKeyPair('ES256');
      const tokens = await Promise.all(
        Array.from({ length: 50 }, () => tiny.sign({ aud: 'globex-api', sub: 'attacker', exp: now() + 300 }, { kid: randomUUID(), key: privateKey })),
      );
      const responses = await Promise.all(tokens.map((token) => me(a, token)));
      expect(responses.every((r) => r.status === 401)).toBe(true);
      expect(tiny.jwksRequests() - before).toBeLessThanOrEqual(1);
    });
  });

  describe('provider changes', () => {
    it('refuses the tokens of a provider deleted a moment ago, also tokens accepted (and cached) before', async () => {
      const put = await a.api.put('/v1/tenants/globex/identity-providers/doomed', { issuer: op.issuer, audience: 'doomed-api' }, ADMIN_KEY);
      expect(put.status).toBe(201);
      // The other node hears of the new provider asynchronously.
      const token = await forge({ aud: 'doomed-api', sub: 'doomed-user' });
      await eventually(async () => (await me(b, token)).status === 200, 'node b to accept the new provider');
      expect((await me(a, token)).status).toBe(200);
      expect((await a.api.delete('/v1/tenants/globex/identity-providers/doomed', globexKey)).status).toBe(204);
      expect((await me(a, token)).status).toBe(401);
      await eventually(async () => (await me(b, token)).status === 401, 'node b to refuse the deleted provider');
      expect((await me(a, await forge({ aud: 'doomed-api', sub: 'late-user' }))).status).toBe(401);
    });

    it('verifies tokens of a rotated key after at most one refetch', async () => {
      // A node with a short cooldown, so the test need not wait 30 s after the first fetch.
      const c = await startTestServer({ engine: createRedisEngine({ redis: createRedisClient({ url: TEST_REDIS_URL }), keyPrefix: owned.keyPrefix }), env: OUTBOUND, jwksCooldownMs: 100 });
      try {
        expect((await me(c, await tiny.sign({ aud: 'globex-api', sub: 'before', exp: now() + 300 }))).status).toBe(200);
        await tiny.rotate();
        await new Promise((resolve) => setTimeout(resolve, 150));
        const before = tiny.jwksRequests();
        const rotated = await me(c, await tiny.sign({ aud: 'globex-api', sub: 'after', exp: now() + 300 }));
        expect(rotated.status).toBe(200);
        expect(tiny.jwksRequests() - before).toBe(1);
      } finally {
        await c.stop();
      }
    });
  });
});
