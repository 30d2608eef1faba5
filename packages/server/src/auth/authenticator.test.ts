import { beforeEach, describe, expect, it } from 'vitest';
import type { TenantId, UserId } from '../domain/types.js';
import type { Engine } from '../engine/engine.js';
import { createMemoryEngine } from '../engine/memory/memory-engine.js';
import { ServiceError } from '../services/service-error.js';
import { createAccessTokens, type AccessTokens } from './access-tokens.js';
import { apiKeyId, generateApiKey } from './api-keys.js';
import { createAuthenticator, MAX_CACHE_AGE_MS, unverifiedIssuer, type Authenticator, type CredentialVerifier } from './authenticator.js';
import { createSigningKeys } from './signing-keys.js';
import { createTestRateLimiter } from '../test-support/rate-limits.js';
import { ENGINE_KINDS, createTestEngine } from '../test-support/engines.js';
import { RATE_LIMITS } from '../services/rate-limiter.js';

const ISSUER = 'https://chat.example.com';
const acme = 'acme' as TenantId;
const globex = 'globex' as TenantId;
const bob = 'bob' as UserId;

describe('authenticator', () => {
  let engine: Engine;
  let accessTokens: AccessTokens;
  let auth: Authenticator;
  let acmeKey: string;
  let globexKey: string;

  beforeEach(async () => {
    engine = createMemoryEngine();
    accessTokens = createAccessTokens({ signingKeys: createSigningKeys({ engine, clock: Date.now }), issuer: ISSUER, clock: Date.now });
    auth = createAuthenticator({ engine, accessTokens, rateLimiter: createTestRateLimiter() });
    const a = generateApiKey(acme);
    const g = generateApiKey(globex);
    await engine.tenants.create({ id: acme, name: 'Acme', createdAt: 0 }, { id: a.id, hash: a.hash, createdAt: 0 });
    await engine.tenants.create({ id: globex, name: 'Globex', createdAt: 0 }, { id: g.id, hash: g.hash, createdAt: 0 });
    acmeKey = a.apiKey;
    globexKey = g.apiKey;
    // A user token authenticates only while its user exists.
    for (const [tenantId, userId] of [[acme, bob], [acme, 'carol'], [acme, 'dave'], [globex, bob], [globex, 'ext-user']] as const) {
      await engine.users.upsert(tenantId, { id: userId as UserId, displayName: userId, metadata: null }, 0);
    }
  });

  const expectCode = (promise: Promise<unknown>, code: string) => expect(promise).rejects.toMatchObject({ name: 'ServiceError', code });

  it('forgets the verified tokens a revocation names, and all of them when told to', async () => {
    let verifications = 0;
    const counting: AccessTokens = {
      ...accessTokens,
      issuer: accessTokens.issuer,
      verify: (token) => {
        verifications += 1;
        return accessTokens.verify(token);
      },
    };
    const cached = createAuthenticator({ engine, accessTokens: counting, rateLimiter: createTestRateLimiter() });
    const carol = 'carol' as UserId;
    const bobs = (await accessTokens.sign({ tenantId: acme, userId: bob })).token;
    const carols = (await accessTokens.sign({ tenantId: acme, userId: carol })).token;
    const globexBobs = (await accessTokens.sign({ tenantId: globex, userId: bob })).token;
    const authenticateAll = async () => {
      for (const token of [bobs, carols, globexBobs]) await cached.authenticate(token);
    };
    await authenticateAll();
    expect(verifications).toBe(3);
    // Only acme's bob is verified again: not carol, not the bob of another tenant.
    cached.forget({ kind: 'user', tenantId: acme, userId: bob });
    await authenticateAll();
    expect(verifications).toBe(4);
    // Kinds that name nothing cached here change nothing.
    cached.forget({ kind: 'signing-keys' });
    cached.forget({ kind: 'api-key', tenantId: acme, keyId: 'k' });
    cached.forget({ kind: 'identity-provider', tenantId: acme, providerId: 'sso' }); // built-in tokens have no provider
    await authenticateAll();
    expect(verifications).toBe(4);
    cached.forgetAll();
    await authenticateAll();
    expect(verifications).toBe(7);
  });

  it('forgets the tokens of an identity provider when it changes', async () => {
    let verifications = 0;
    const external: CredentialVerifier = {
      claims: (token) => token.startsWith('ext.'),
      verify: async (token) => {
        verifications += 1;
        return { kind: 'user', tenantId: acme, userId: token.slice(4) as UserId, expiresAt: Date.now() + 60_000, providerId: 'sso' };
      },
    };
    const cached = createAuthenticator({ engine, accessTokens, rateLimiter: createTestRateLimiter(), externalVerifiers: [external] });
    await cached.authenticate('ext.dave');
    await cached.authenticate('ext.dave');
    expect(verifications).toBe(1);
    cached.forget({ kind: 'identity-provider', tenantId: globex, providerId: 'sso' }); // another tenant's provider
    await cached.authenticate('ext.dave');
    expect(verifications).toBe(1);
    cached.forget({ kind: 'identity-provider', tenantId: acme, providerId: 'sso' });
    await cached.authenticate('ext.dave');
    expect(verifications).toBe(2);
  });

  it('verifies a token once and remembers it only until it expires, and never a tampered copy', async () => {
    let now = Date.now();
    let verifications = 0;
    const counting: AccessTokens = {
      ...accessTokens,
      issuer: accessTokens.issuer,
      sign: (subject, options) => accessTokens.sign(subject, options),
      verify: (token) => {
        verifications += 1;
        return accessTokens.verify(token);
      },
    };
    const cached = createAuthenticator({ engine, accessTokens: counting, rateLimiter: createTestRateLimiter(), clock: () => now });
    const { token } = await accessTokens.sign({ tenantId: acme, userId: bob }, { expiresInSeconds: 60 });
    const first = await cached.authenticate(`Bearer ${token}`);
    await expect(cached.authenticate(token)).resolves.toEqual(first);
    expect(verifications).toBe(1);
    // A different string (a flipped signature character) is verified, and refused.
    const tampered = `${token.slice(0, -2)}${token.at(-2) === 'A' ? 'B' : 'A'}${token.at(-1)}`;
    await expectCode(cached.authenticate(tampered), 'invalid_token');
    expect(verifications).toBe(2);
    // Past its expiry (by the authenticator's clock) the remembered answer is dropped: verified again.
    now = first.kind === 'user' ? first.expiresAt! + 1 : now;
    await cached.authenticate(token);
    expect(verifications).toBe(3);
  });

  it('trusts a remembered token for a minute at most, so a revocation it never heard of ends within a minute', async () => {
    let now = Date.now();
    let verifications = 0;
    const counting: AccessTokens = {
      ...accessTokens,
      verify: (token) => {
        verifications += 1;
        return accessTokens.verify(token);
      },
    };
    // The clock only moves the cache: the real clock still verifies the (15-minute) token.
    const cached = createAuthenticator({ engine, accessTokens: counting, rateLimiter: createTestRateLimiter(), clock: () => now });
    const { token } = await accessTokens.sign({ tenantId: acme, userId: bob });
    await cached.authenticate(token);
    now += MAX_CACHE_AGE_MS - 1;
    await cached.authenticate(token);
    expect(verifications).toBe(1);
    // The user was deleted, and this node missed the revocation: a minute on, the token is refused.
    await engine.users.delete(acme, bob, 1);
    now += 1;
    await expectCode(cached.authenticate(token), 'invalid_token');
    expect(verifications).toBe(2);
  });

  it("refuses a token of a user who does not exist or was deleted, at once where it was verified before", async () => {
    const ghost = (await accessTokens.sign({ tenantId: acme, userId: 'ghost' as UserId })).token;
    await expectCode(auth.authenticate(ghost), 'invalid_token');
    const bobs = (await accessTokens.sign({ tenantId: acme, userId: bob })).token;
    await expect(auth.authenticate(bobs)).resolves.toMatchObject({ kind: 'user', userId: bob });
    await engine.users.delete(acme, bob, 1);
    // The deleting node publishes a revocation; each node's listener calls forget.
    auth.forget({ kind: 'user', tenantId: acme, userId: bob });
    await expectCode(auth.authenticate(bobs), 'invalid_token');
    // globex's bob is another user.
    await expect(auth.authenticate((await accessTokens.sign({ tenantId: globex, userId: bob })).token)).resolves.toMatchObject({ tenantId: globex });
  });

  it('caches nothing verified across a revocation (it may have read the user just before its deletion)', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow: AccessTokens = {
      ...accessTokens,
      issuer: accessTokens.issuer,
      verify: async (token) => {
        const verified = await accessTokens.verify(token);
        await gate;
        return verified;
      },
    };
    const cached = createAuthenticator({ engine, accessTokens: slow, rateLimiter: createTestRateLimiter() });
    const carols = (await accessTokens.sign({ tenantId: acme, userId: 'carol' as UserId })).token;
    const pending = cached.authenticate(carols);
    cached.forget({ kind: 'user', tenantId: acme, userId: 'carol' as UserId });
    release();
    await pending;
    await engine.users.delete(acme, 'carol' as UserId, 1);
    await expectCode(cached.authenticate(carols), 'invalid_token');
  });

  it('needs a credential', async () => {
    for (const missing of [undefined, '', '   ', 'Bearer', 'Bearer   ']) await expectCode(auth.authenticate(missing), 'unauthorized');
    await expectCode(auth.authenticate(`Basic ${Buffer.from('a:b').toString('base64')}`), 'unauthorized');
  });

  it('turns a tenant API key into a tenant principal', async () => {
    await expect(auth.authenticate(`Bearer ${acmeKey}`)).resolves.toEqual({ kind: 'tenant', tenantId: acme });
    await expect(auth.authenticate(`bearer ${globexKey}`)).resolves.toEqual({ kind: 'tenant', tenantId: globex });
  });

  it('refuses a wrong secret, a transplanted key, an unknown tenant and malformed keys', async () => {
    const acmeSecret = acmeKey.slice('sk_acme_'.length);
    const wrong = `sk_acme_${acmeSecret.startsWith('A') ? 'B' : 'A'}${acmeSecret.slice(1)}`;
    for (const key of [
      wrong,
      `sk_globex_${acmeSecret}`, // acme's secret presented as globex's
      `sk_initech_${acmeSecret}`, // no such tenant
      'sk_acme',
      'sk_acme_short',
      `sk_ACME_${acmeSecret}`,
    ]) {
      await expectCode(auth.authenticate(`Bearer ${key}`), 'invalid_token');
    }
  });

  it('accepts every live key of a tenant and refuses a revoked one from the very next call', async () => {
    const second = generateApiKey(acme);
    expect(await engine.tenants.createApiKey(acme, { id: second.id, hash: second.hash, createdAt: 1 }, 10)).toBe('created');
    await expect(auth.authenticate(`Bearer ${second.apiKey}`)).resolves.toEqual({ kind: 'tenant', tenantId: acme });
    await expect(auth.authenticate(`Bearer ${acmeKey}`)).resolves.toEqual({ kind: 'tenant', tenantId: acme });
    await engine.tenants.revokeApiKey(acme, second.id);
    await expectCode(auth.authenticate(`Bearer ${second.apiKey}`), 'invalid_token');
    await expect(auth.authenticate(`Bearer ${acmeKey}`)).resolves.toEqual({ kind: 'tenant', tenantId: acme });
    // A key whose id is live but whose secret differs (same id, forged rest) is refused too.
    await expectCode(auth.authenticate(`Bearer ${acmeKey.slice(0, -1)}${acmeKey.endsWith('A') ? 'B' : 'A'}`), 'invalid_token');
  });

  it('refuses a tenant that has no key', async () => {
    await engine.tenants.create({ id: 'keyless' as TenantId, name: 'K', createdAt: 0 }, null);
    const { apiKey } = generateApiKey('keyless' as TenantId);
    await expectCode(auth.authenticate(`Bearer ${apiKey}`), 'invalid_token');
  });

  it('turns a built-in access token into a user principal, from a header or bare', async () => {
    const { token } = await accessTokens.sign({ tenantId: acme, userId: bob });
    await expect(auth.authenticate(`Bearer ${token}`)).resolves.toEqual({ kind: 'user', tenantId: acme, userId: bob, expiresAt: expect.any(Number) });
    await expect(auth.authenticate(token)).resolves.toEqual({ kind: 'user', tenantId: acme, userId: bob, expiresAt: expect.any(Number) });
  });

  it('refuses tokens no verifier claims, and bad built-in tokens', async () => {
    const foreign = createAccessTokens({ signingKeys: createSigningKeys({ engine: createMemoryEngine(), clock: Date.now }), issuer: 'https://idp.example.org', clock: Date.now });
    const { token: foreignToken } = await foreign.sign({ tenantId: acme, userId: bob });
    // Our issuer, but signed by a key we do not hold.
    const impostor = createAccessTokens({ signingKeys: createSigningKeys({ engine: createMemoryEngine(), clock: Date.now }), issuer: ISSUER, clock: Date.now });
    const { token: impostorToken } = await impostor.sign({ tenantId: acme, userId: bob });
    for (const token of [foreignToken, impostorToken, 'garbage', 'a.b.c', 'two words here']) {
      await expectCode(auth.authenticate(`Bearer ${token}`), 'invalid_token');
    }
    await expectCode(auth.authenticate('two words'), 'unauthorized');
    await expectCode(auth.authenticate(`Bearer sk_acme_${'a'.repeat(9000)}`), 'invalid_token');
  });

  it('routes tokens of other issuers to further verifiers (the OIDC extension point)', async () => {
    const external: CredentialVerifier = {
      claims: (token) => unverifiedIssuer(token) === 'https://idp.example.org',
      verify: async () => ({ kind: 'user', tenantId: globex, userId: 'ext-user' as UserId }),
    };
    const extended = createAuthenticator({ engine, accessTokens, rateLimiter: createTestRateLimiter(), externalVerifiers: [external] });
    const foreign = createAccessTokens({ signingKeys: createSigningKeys({ engine: createMemoryEngine(), clock: Date.now }), issuer: 'https://idp.example.org', clock: Date.now });
    const { token } = await foreign.sign({ tenantId: acme, userId: bob });
    await expect(extended.authenticate(`Bearer ${token}`)).resolves.toEqual({ kind: 'user', tenantId: globex, userId: 'ext-user' });
    const { token: ours } = await accessTokens.sign({ tenantId: acme, userId: bob });
    await expect(extended.authenticate(`Bearer ${ours}`)).resolves.toMatchObject({ userId: bob });
  });

  it('lets storage failures through instead of calling them bad tokens', async () => {
    const broken = createAuthenticator({
      engine: { users: engine.users, tenants: Object.assign(Object.create(engine.tenants) as Engine['tenants'], { getApiKey: () => Promise.reject(new Error('storage down')) }) },
      accessTokens,
      rateLimiter: createTestRateLimiter(),
    });
    const error = await broken.authenticate(`Bearer ${acmeKey}`).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(ServiceError);
    expect(error).toMatchObject({ message: 'storage down' });
  });

  it('never puts the credential into an error', async () => {
    const error = await auth.authenticate(`Bearer ${acmeKey}x`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServiceError);
    expect(JSON.stringify(error)).not.toContain(acmeKey);
    expect(String((error as Error).message)).not.toContain(acmeKey);
  });

  it.each(ENGINE_KINDS)('counts SERVER_KEY only for a key that verified: a wrong key writes nothing (%s engine)', async (kind) => {
    const { engine: limits, cleanup } = await createTestEngine(kind);
    try {
      const policy = { count: 3, windowMs: 10_000 };
      const counted = createAuthenticator({ engine, accessTokens, rateLimiter: createTestRateLimiter({ store: limits.rateLimits, settings: { SERVER_KEY: policy } }) });
      const keyOf = (key: string) => ({ limit: RATE_LIMITS.SERVER_KEY.id, tenantId: acme, subject: apiKeyId(key) });
      const garbage = Array.from({ length: 5 }, () => generateApiKey(acme).apiKey);
      for (const key of garbage) await expectCode(counted.authenticate(`Bearer ${key}`), 'invalid_token');
      for (const key of garbage) expect((await limits.rateLimits.peek(keyOf(key), policy, Date.now())).remaining).toBe(3);
      await counted.authenticate(`Bearer ${acmeKey}`);
      expect((await limits.rateLimits.peek(keyOf(acmeKey), policy, Date.now())).remaining).toBe(2);
    } finally {
      await cleanup();
    }
  });
});
