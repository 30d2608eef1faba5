import { randomBytes, scryptSync } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAccessTokens, type AccessTokens } from '../auth/access-tokens.js';
import { apiKeyId, hashApiKey } from '../auth/api-keys.js';
import { createAuthenticator } from '../auth/authenticator.js';
import { createPasswordHasher, type PasswordHasher } from '../auth/passwords.js';
import type { Principal } from '../auth/principal.js';
import { createRefreshTokens } from '../auth/refresh-tokens.js';
import { createSigningKeys } from '../auth/signing-keys.js';
import type { TenantId, UserId } from '../domain/types.js';
import type { Engine } from '../engine/engine.js';
import { createMemoryEngine } from '../engine/memory/memory-engine.js';
import { ENGINE_KINDS, createTestEngine } from '../test-support/engines.js';
import { createTestRateLimiter } from '../test-support/rate-limits.js';
import { createRedisTestEngine } from '../test-support/redis.js';
import { createIdentityService, type IdentityService } from './identity-service.js';
import type { RateLimitSettings } from './rate-limiter.js';
import { ServiceError } from './service-error.js';

const ISSUER = 'https://chat.example.com';
const DEFAULT = 'default' as TenantId;
const T0 = Date.UTC(2030, 0, 1);

interface Setup {
  engine: Engine;
  identity: IdentityService;
  accessTokens: AccessTokens;
  passwords: PasswordHasher;
  calls: { verify: number; dummy: number; hash: number };
}

function setup(
  options: { passwords?: PasswordHasher; selfRegistrationTenants?: string[]; engine?: Engine; rateLimits?: Partial<RateLimitSettings> } = {},
): Setup {
  const engine = options.engine ?? createMemoryEngine();
  const clock = () => T0;
  const inner = options.passwords ?? createPasswordHasher({ cost: 'test' });
  const calls = { verify: 0, dummy: 0, hash: 0 };
  // Counts the hashing work each path does, so equal work is checked without timing flakiness.
  const passwords: PasswordHasher = {
    parameters: inner.parameters,
    hash: (p) => (calls.hash++, inner.hash(p)),
    verify: (p, e) => (calls.verify++, inner.verify(p, e)),
    verifyAgainstDummy: (p) => (calls.dummy++, inner.verifyAgainstDummy(p)),
    needsRehash: (e) => inner.needsRehash(e),
  };
  const signingKeys = createSigningKeys({ engine, clock });
  const accessTokens = createAccessTokens({ signingKeys, issuer: ISSUER, clock });
  let n = 0;
  const identity = createIdentityService({
    engine,
    passwords,
    accessTokens,
    // The clock never moves here, so every reuse would fall in the grace window: these tests pin
    // the strict reuse detection (the window has its own tests in refresh-tokens and accounts-routes).
    refreshTokens: createRefreshTokens({ engine, clock, reuseGraceMs: 0 }),
    signingKeys,
    clock,
    rateLimiter: createTestRateLimiter({ store: engine.rateLimits, clock, ...(options.rateLimits ? { settings: options.rateLimits } : {}) }),
    ids: { user: () => `user-${++n}` as UserId },
    defaultTenant: DEFAULT,
    ...(options.selfRegistrationTenants ? { selfRegistrationTenants: options.selfRegistrationTenants } : {}),
  });
  return { engine, identity, accessTokens, passwords, calls };
}

async function rejection(promise: Promise<unknown>): Promise<ServiceError> {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ServiceError);
  return error as ServiceError;
}

describe('identity service', () => {
  let s: Setup;
  beforeEach(() => {
    s = setup();
  });

  describe('register', () => {
    it('creates the user in the default tenant and signs them in', async () => {
      const session = await s.identity.register({ username: 'alice', password: 'wonderland!' });
      expect(session.user).toMatchObject({ tenantId: DEFAULT, username: 'alice', displayName: 'alice', metadata: null });
      expect(session.expiresIn).toBe(900);
      expect(await s.accessTokens.verify(session.accessToken)).toMatchObject({ tenantId: DEFAULT, userId: session.user.id });
      expect(session.refreshToken).toMatch(/^rt1\./);
      expect(await s.engine.tenants.get(DEFAULT)).toMatchObject({ id: DEFAULT });
      // Only a hash is stored.
      const stored = await s.engine.users.findCredentials(DEFAULT, 'alice');
      expect(stored?.passwordHash).toMatch(/^scrypt\$/);
      expect(stored?.passwordHash).not.toContain('wonderland!');
    });

    it('keeps a given display name, trimmed', async () => {
      const { user } = await s.identity.register({ username: 'bob', password: 'password1', displayName: '  Bob B.  ' });
      expect(user.displayName).toBe('Bob B.');
    });

    it('refuses a taken username with username_taken, also under concurrency', async () => {
      await s.identity.register({ username: 'alice', password: 'password1' });
      expect((await rejection(s.identity.register({ username: 'alice', password: 'password2' }))).code).toBe('username_taken');
      const raced = await Promise.allSettled(
        Array.from({ length: 4 }, () => s.identity.register({ username: 'carol', password: 'password1' })),
      );
      expect(raced.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    });

    const invalidInputs: [string, Record<string, unknown>][] = [
      ['username too short', { username: 'ab', password: 'password1' }],
      ['username too long', { username: 'a'.repeat(33), password: 'password1' }],
      ['username with capitals', { username: 'Alice', password: 'password1' }],
      ['username with spaces', { username: 'al ice', password: 'password1' }],
      ['username not a string', { username: 42, password: 'password1' }],
      ['password too short', { username: 'alice', password: 'seven77' }],
      ['password too long', { username: 'alice', password: 'p'.repeat(129) }],
      ['password missing', { username: 'alice' }],
      ['display name blank', { username: 'alice', password: 'password1', displayName: '   ' }],
      ['display name too long', { username: 'alice', password: 'password1', displayName: 'd'.repeat(65) }],
      ['display name with control characters', { username: 'alice', password: 'password1', displayName: 'a\u0000b' }],
      ['display name with a bidi override', { username: 'alice', password: 'password1', displayName: 'Bob\u202Egnirts' }],
      ['display name with a bidi isolate', { username: 'alice', password: 'password1', displayName: 'Bob\u2067x\u2069' }],
      ['display name with a lone surrogate', { username: 'alice', password: 'password1', displayName: 'Bob\uD800' }],
      ['password with a lone surrogate', { username: 'alice', password: 'password1\uDC00' }],
      ['tenant malformed', { username: 'alice', password: 'password1', tenant: 'Not_A_Tenant' }],
    ];
    for (const [name, input] of invalidInputs) {
      it(`refuses ${name} with validation_failed and stores nothing`, async () => {
        const error = await rejection(s.identity.register(input as never));
        expect(error.code).toBe('validation_failed');
        expect(error.status).toBe(400);
        expect(s.calls.hash).toBe(0);
        expect(await s.engine.users.findCredentials(DEFAULT, 'alice')).toBeNull();
        if (typeof input.password === 'string') expect(error.detail).not.toContain(input.password);
      });
    }

    it('accepts passwords of exactly 8 and 128 characters, counting characters not bytes', async () => {
      await s.identity.register({ username: 'eight', password: 'p'.repeat(8) });
      await s.identity.register({ username: 'max', password: '\u{1F600}'.repeat(128) });
      await expect(s.identity.login({ username: 'max', password: '\u{1F600}'.repeat(128) })).resolves.toBeTruthy();
    });

    it('refuses an unknown tenant exactly like a closed one, without hashing', async () => {
      await s.identity.createTenant({ id: 'acme', name: 'Acme' });
      const unknown = await rejection(s.identity.register({ username: 'alice', password: 'password1', tenant: 'nowhere' }));
      const closed = await rejection(s.identity.register({ username: 'alice', password: 'password1', tenant: 'acme' }));
      expect({ code: unknown.code, detail: unknown.detail }).toEqual({ code: 'forbidden', detail: 'This tenant does not allow self-registration' });
      expect({ code: closed.code, detail: closed.detail }).toEqual({ code: unknown.code, detail: unknown.detail });
      expect(s.calls.hash).toBe(0);
      // Even a tenant the operator opened but never created answers the same.
      const listed = setup({ selfRegistrationTenants: ['default', 'planned'] });
      const planned = await rejection(listed.identity.register({ username: 'alice', password: 'password1', tenant: 'planned' }));
      expect({ code: planned.code, detail: planned.detail }).toEqual({ code: unknown.code, detail: unknown.detail });
    });

    it('keeps tenants created by the operator closed to self-registration unless configured', async () => {
      await s.identity.createTenant({ id: 'acme', name: 'Acme' });
      const closed = await rejection(s.identity.register({ username: 'alice', password: 'password1', tenant: 'acme' }));
      expect(closed.code).toBe('forbidden');
      expect(s.calls.hash).toBe(0);

      const open = setup({ selfRegistrationTenants: ['default', 'acme'] });
      await open.identity.createTenant({ id: 'acme', name: 'Acme' });
      const { user } = await open.identity.register({ username: 'alice', password: 'password1', tenant: 'acme' });
      expect(user.tenantId).toBe('acme');
    });
  });

  describe('login', () => {
    beforeEach(async () => {
      await s.identity.register({ username: 'alice', password: 'wonderland!' });
      s.calls.hash = 0;
    });

    it('signs in with the right password', async () => {
      const session = await s.identity.login({ username: 'alice', password: 'wonderland!' });
      expect(session.user.username).toBe('alice');
      expect(await s.accessTokens.verify(session.accessToken)).toMatchObject({ userId: session.user.id });
    });

    it('answers the same error after the same work for an unknown user and a wrong password', async () => {
      const wrong = await rejection(s.identity.login({ username: 'alice', password: 'not-the-password' }));
      expect(s.calls).toMatchObject({ verify: 1, dummy: 0 });
      const unknown = await rejection(s.identity.login({ username: 'mallory', password: 'not-the-password' }));
      expect(s.calls).toMatchObject({ verify: 1, dummy: 1 });
      const otherTenant = await rejection(s.identity.login({ username: 'alice', password: 'wonderland!', tenant: 'acme' }));
      const impossibleName = await rejection(s.identity.login({ username: 'NOT VALID', password: 'whatever' }));
      expect(s.calls).toMatchObject({ verify: 1, dummy: 3 });
      for (const error of [unknown, otherTenant, impossibleName]) {
        expect({ code: error.code, status: error.status, detail: error.detail, headers: error.headers }).toEqual({
          code: wrong.code,
          status: wrong.status,
          detail: wrong.detail,
          headers: wrong.headers,
        });
      }
      expect(wrong.code).toBe('invalid_credentials');
    });

    it('refuses non-string input with validation_failed', async () => {
      expect((await rejection(s.identity.login({ username: 'alice', password: 12345678 } as never))).code).toBe('validation_failed');
      expect((await rejection(s.identity.login({ username: 'alice', password: 'p'.repeat(129) }))).code).toBe('validation_failed');
    });
  });

  it('takes as long for an unknown user as for a wrong password, at production cost', async () => {
    const production = setup({ passwords: createPasswordHasher() });
    await production.identity.register({ username: 'alice', password: 'wonderland!' });
    const time = async (username: string) => {
      const start = performance.now();
      await rejection(production.identity.login({ username, password: 'not-the-password' }));
      return performance.now() - start;
    };
    const wrong = Math.min(await time('alice'), await time('alice'));
    const unknown = Math.min(await time('mallory'), await time('mallory'));
    // Without the dummy check an unknown user would answer in ~1 ms against ~300 ms.
    expect(unknown).toBeGreaterThan(wrong * 0.5);
    expect(unknown).toBeLessThan(wrong * 3);
  }, 60_000);

  describe('refresh and logout', () => {
    it('rotates the refresh token and returns a new pair', async () => {
      const first = await s.identity.register({ username: 'alice', password: 'password1' });
      const second = await s.identity.refresh(first.refreshToken);
      expect(second.refreshToken).not.toBe(first.refreshToken);
      expect(second.user).toEqual(first.user);
      expect(await s.accessTokens.verify(second.accessToken)).toMatchObject({ userId: first.user.id });
    });

    it('revokes the family when a spent token is reused: the newest token fails too', async () => {
      const first = await s.identity.register({ username: 'alice', password: 'password1' });
      const second = await s.identity.refresh(first.refreshToken);
      expect((await rejection(s.identity.refresh(first.refreshToken))).code).toBe('invalid_refresh_token');
      expect((await rejection(s.identity.refresh(second.refreshToken))).code).toBe('invalid_refresh_token');
    });

    it('lets exactly one of two concurrent refreshes with one token succeed', async () => {
      const { refreshToken } = await s.identity.register({ username: 'alice', password: 'password1' });
      const results = await Promise.allSettled([s.identity.refresh(refreshToken), s.identity.refresh(refreshToken)]);
      const winners = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      expect(winners).toHaveLength(1);
      // The loser presented a spent generation, which the store treats as reuse: the family is
      // revoked, so the winner's new token is dead too. Conservative with the grace window off (as here).
      expect((await rejection(s.identity.refresh(winners[0]?.refreshToken ?? ''))).code).toBe('invalid_refresh_token');
    });

    it('logout revokes the family; repeating it is harmless; malformed tokens are refused', async () => {
      const session = await s.identity.register({ username: 'alice', password: 'password1' });
      await s.identity.logout(session.refreshToken);
      await s.identity.logout(session.refreshToken);
      expect((await rejection(s.identity.refresh(session.refreshToken))).code).toBe('invalid_refresh_token');
      expect((await rejection(s.identity.logout('not-a-token'))).code).toBe('invalid_refresh_token');
      expect((await rejection(s.identity.refresh('not-a-token'))).code).toBe('invalid_refresh_token');
      expect((await rejection(s.identity.refresh(''))).code).toBe('validation_failed');
      // Other sessions of the same user live on.
      const other = await s.identity.login({ username: 'alice', password: 'password1' });
      await expect(s.identity.refresh(other.refreshToken)).resolves.toBeTruthy();
    });
  });

  describe('password change', () => {
    const user = (session: { user: { id: string } }) => ({ kind: 'user' as const, tenantId: DEFAULT, userId: session.user.id as UserId });

    it('stores the new password hashed with the current parameters, replacing an old-parameter hash', async () => {
      const registered = await s.identity.register({ username: 'alice', password: 'password1' });
      // A hash with other scrypt parameters (N=2^11), as an earlier version would have stored it.
      const stored = await s.engine.users.findCredentials(DEFAULT, 'alice');
      const [prefix, , , , saltText, keyText] = stored!.passwordHash.split('$');
      const salt = randomBytes(Buffer.from(saltText!, 'base64url').length);
      const key = scryptSync('password1', salt, Buffer.from(keyText!, 'base64url').length, { N: 2 ** 11, r: 8, p: 1 });
      const legacy = [prefix, 2 ** 11, 8, 1, salt.toString('base64url'), key.toString('base64url')].join('$');
      expect(s.passwords.needsRehash(legacy)).toBe(true);
      expect(await s.engine.users.replacePasswordHash(DEFAULT, user(registered).userId, stored!.passwordHash, legacy, T0)).toBe(true);
      const hashesBefore = s.calls.hash;
      await s.identity.changePassword(user(registered), { currentPassword: 'password1', newPassword: 'password2' });
      expect(s.calls.hash).toBe(hashesBefore + 1);
      const after = await s.engine.users.findCredentials(DEFAULT, 'alice');
      expect(after!.passwordHash).not.toBe(legacy);
      expect(s.passwords.needsRehash(after!.passwordHash)).toBe(false);
      expect(await s.passwords.verify('password2', after!.passwordHash)).toBe(true);
    });

    it('lets exactly one of two concurrent changes from the same password win', async () => {
      const registered = await s.identity.register({ username: 'alice', password: 'password1' });
      const results = await Promise.allSettled([
        s.identity.changePassword(user(registered), { currentPassword: 'password1', newPassword: 'password-a' }),
        s.identity.changePassword(user(registered), { currentPassword: 'password1', newPassword: 'password-b' }),
      ]);
      expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
      const lost = results.find((result) => result.status === 'rejected');
      expect(lost?.status === 'rejected' && lost.reason).toMatchObject({ code: 'invalid_password' });
    });

    it('refuses a tenant key (403 forbidden) and a deleted user (404), naming the field of a bad password', async () => {
      const registered = await s.identity.register({ username: 'alice', password: 'password1' });
      expect((await rejection(s.identity.changePassword({ kind: 'tenant', tenantId: DEFAULT }, { currentPassword: 'password1', newPassword: 'password2' }))).code).toBe('forbidden');
      const tooShort = await rejection(s.identity.changePassword(user(registered), { currentPassword: 'password1', newPassword: 'short' }));
      expect(tooShort).toMatchObject({ code: 'validation_failed', detail: expect.stringContaining('newPassword') });
      await s.engine.users.delete(DEFAULT, user(registered).userId, T0);
      expect((await rejection(s.identity.changePassword(user(registered), { currentPassword: 'password1', newPassword: 'password2' }))).code).toBe('user_not_found');
    });
  });

  describe('tenants and their back ends', () => {
    let acme: Principal;
    let acmeKey: string;

    beforeEach(async () => {
      const created = await s.identity.createTenant({ id: 'acme', name: ' Acme Corp ' });
      acmeKey = created.apiKey;
      acme = { kind: 'tenant', tenantId: created.tenant.id };
      expect(created.tenant).toEqual({ id: 'acme', name: 'Acme Corp', createdAt: T0 });
    });

    it('stores only the hash of the API key, which then authenticates', async () => {
      expect(acmeKey).toMatch(/^sk_acme_/);
      expect(await s.engine.tenants.getApiKey('acme' as TenantId, apiKeyId(acmeKey))).toEqual({ id: apiKeyId(acmeKey), hash: hashApiKey(acmeKey), createdAt: T0 });
      const auth = createAuthenticator({ engine: s.engine, accessTokens: s.accessTokens, rateLimiter: createTestRateLimiter() });
      await expect(auth.authenticate(`Bearer ${acmeKey}`)).resolves.toEqual(acme);
    });

    it('refuses an existing tenant id with tenant_exists, keeping the first key', async () => {
      expect((await rejection(s.identity.createTenant({ id: 'acme', name: 'Again' }))).code).toBe('tenant_exists');
      expect(await s.engine.tenants.getApiKey('acme' as TenantId, apiKeyId(acmeKey))).toEqual({ id: apiKeyId(acmeKey), hash: hashApiKey(acmeKey), createdAt: T0 });
    });

    it('refuses invalid tenant ids and names', async () => {
      for (const input of [
        { id: 'a', name: 'Too short' },
        { id: '-acme', name: 'Leading dash' },
        { id: 'Acme', name: 'Capital' },
        { id: 'ac_me', name: 'Underscore' },
        { id: 'a'.repeat(64), name: 'Too long' },
        { id: 'fine', name: '' },
        { id: 'fine', name: 'n'.repeat(129) },
      ]) {
        expect((await rejection(s.identity.createTenant(input))).code).toBe('validation_failed');
      }
      expect(await s.engine.tenants.get('fine' as TenantId)).toBeNull();
    });

    it('upserts users of its own tenant: created, then replaced', async () => {
      const first = await s.identity.upsertUser(acme, 'ext:42@crm', { displayName: 'Dana', metadata: { plan: 'pro' } });
      expect(first.created).toBe(true);
      expect(first.user).toMatchObject({ tenantId: 'acme', id: 'ext:42@crm', username: null, displayName: 'Dana', metadata: { plan: 'pro' } });
      const second = await s.identity.upsertUser(acme, 'ext:42@crm', { displayName: 'Dana D.' });
      expect(second).toMatchObject({ created: false, user: { displayName: 'Dana D.', metadata: null } });
    });

    it('refuses invalid upserts with validation_failed and stores nothing', async () => {
      const cases: [string, unknown][] = [
        ['bad/id', { displayName: 'x' }],
        ['', { displayName: 'x' }],
        ['i'.repeat(129), { displayName: 'x' }],
        ['ok', { displayName: '' }],
        ['ok', { displayName: 'd'.repeat(65) }],
        ['ok', { displayName: 'x', metadata: ['an', 'array'] }],
        ['ok', { displayName: 'x', metadata: 'text' }],
        ['ok', { displayName: 'x', metadata: { blob: 'b'.repeat(8 * 1024) } }],
        ['ok', { displayName: 'x\u202E' }],
        ['ok', { displayName: 'x', metadata: { nested: { list: ['fine', 'lone \uD800'] } } }],
      ];
      for (const [userId, input] of cases) {
        expect((await rejection(s.identity.upsertUser(acme, userId, input as never))).code).toBe('validation_failed');
      }
      const malformed = await rejection(s.identity.upsertUser(acme, 'ok', { displayName: 'x', metadata: { nested: { list: ['lone \uD800'] } } }));
      expect(malformed.detail).toBe('metadata.nested.list[0] must be well-formed Unicode (no lone surrogates)');
      expect(await s.engine.users.get('acme' as TenantId, 'ok' as UserId)).toBeNull();
      // Exactly at the limit is fine.
      const blob = 'b'.repeat(8 * 1024 - JSON.stringify({ blob: '' }).length);
      await expect(s.identity.upsertUser(acme, 'ok', { displayName: 'x', metadata: { blob } })).resolves.toMatchObject({ created: true });
    });

    it('mints tokens for its users that authenticate as them', async () => {
      await s.identity.upsertUser(acme, 'u1', { displayName: 'U1' });
      const minted = await s.identity.mintToken(acme, 'u1', 3600);
      expect(minted.expiresIn).toBe(3600);
      const verified = await s.accessTokens.verify(minted.accessToken);
      expect(verified).toMatchObject({ tenantId: 'acme', userId: 'u1' });
      expect(verified.expiresAt - verified.issuedAt).toBe(3600);
      const auth = createAuthenticator({ engine: s.engine, accessTokens: s.accessTokens, rateLimiter: createTestRateLimiter() });
      await expect(auth.authenticate(`Bearer ${minted.accessToken}`)).resolves.toEqual({ kind: 'user', tenantId: 'acme', userId: 'u1', expiresAt: expect.any(Number) });
      expect((await s.identity.mintToken(acme, 'u1')).expiresIn).toBe(900);
    });

    it('refuses to mint for absent users, other tenants\' users, or with a bad lifetime', async () => {
      expect((await rejection(s.identity.mintToken(acme, 'ghost'))).code).toBe('user_not_found');
      const { user } = await s.identity.register({ username: 'alice', password: 'password1' });
      expect((await rejection(s.identity.mintToken(acme, user.id))).code).toBe('user_not_found');
      await s.identity.upsertUser(acme, 'u1', { displayName: 'U1' });
      for (const bad of [59, 86_401, 1.5, Number.NaN]) {
        expect((await rejection(s.identity.mintToken(acme, 'u1', bad))).code).toBe('validation_failed');
      }
    });

    it('refuses user principals for tenant operations', async () => {
      const { user } = await s.identity.register({ username: 'alice', password: 'password1' });
      const asUser: Principal = { kind: 'user', tenantId: user.tenantId, userId: user.id };
      expect((await rejection(s.identity.upsertUser(asUser, 'x', { displayName: 'x' }))).code).toBe('forbidden');
      expect((await rejection(s.identity.mintToken(asUser, user.id))).code).toBe('forbidden');
    });
  });

  describe('provider metadata', () => {
    it('publishes the public signing keys, which verify issued tokens', async () => {
      const session = await s.identity.register({ username: 'alice', password: 'password1' });
      const { keys } = await s.identity.jwks();
      expect(keys).toHaveLength(1);
      const [key] = keys;
      expect(key).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
      expect(key).not.toHaveProperty('d');
      const header = JSON.parse(Buffer.from(session.accessToken.split('.')[0] ?? '', 'base64url').toString()) as { kid: string };
      expect(key?.kid).toBe(header.kid);
    });

    it('describes the issuer', () => {
      expect(s.identity.openidConfiguration()).toMatchObject({
        issuer: ISSUER,
        jwks_uri: `${ISSUER}/.well-known/jwks.json`,
        token_endpoint: `${ISSUER}/v1/auth/login`,
        id_token_signing_alg_values_supported: ['EdDSA'],
      });
    });
  });
});

/** The same flows on the Redis engine (REDIS_URL, default the local 6379), under a fresh key prefix. */
describe('identity service on the redis engine', () => {
  let redis: Awaited<ReturnType<typeof createRedisTestEngine>>;
  let s: Setup;

  beforeEach(async () => {
    redis = await createRedisTestEngine();
    s = setup({ engine: redis.engine });
  });

  afterEach(async () => {
    await redis.cleanup();
  });

  it('registers, logs in, rotates, and revokes the family on reuse', async () => {
    const registered = await s.identity.register({ username: 'alice', password: 'wonderland!' });
    expect((await rejection(s.identity.register({ username: 'alice', password: 'another-one' }))).code).toBe('username_taken');
    expect((await rejection(s.identity.login({ username: 'alice', password: 'wrong-password' }))).code).toBe('invalid_credentials');
    const session = await s.identity.login({ username: 'alice', password: 'wonderland!' });
    expect(session.user.id).toBe(registered.user.id);
    const next = await s.identity.refresh(session.refreshToken);
    expect((await rejection(s.identity.refresh(session.refreshToken))).code).toBe('invalid_refresh_token');
    expect((await rejection(s.identity.refresh(next.refreshToken))).code).toBe('invalid_refresh_token');
    // The registration's own family is independent and still alive; logout ends it.
    const other = await s.identity.refresh(registered.refreshToken);
    await s.identity.logout(other.refreshToken);
    expect((await rejection(s.identity.refresh(other.refreshToken))).code).toBe('invalid_refresh_token');
  });

  it('lets exactly one of concurrent refreshes with one token succeed', async () => {
    const { refreshToken } = await s.identity.register({ username: 'alice', password: 'password1' });
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => s.identity.refresh(refreshToken)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });

  it('shares one signing key between nodes, and tenant keys and minted tokens authenticate', async () => {
    const nodeB = setup({ engine: redis.engine });
    const session = await s.identity.register({ username: 'alice', password: 'password1' });
    await expect(nodeB.accessTokens.verify(session.accessToken)).resolves.toMatchObject({ userId: session.user.id });
    expect((await nodeB.identity.jwks()).keys).toEqual((await s.identity.jwks()).keys);

    const { tenant, apiKey } = await s.identity.createTenant({ id: 'acme', name: 'Acme' });
    const auth = createAuthenticator({ engine: redis.engine, accessTokens: nodeB.accessTokens, rateLimiter: createTestRateLimiter() });
    const principal = await auth.authenticate(`Bearer ${apiKey}`);
    expect(principal).toEqual({ kind: 'tenant', tenantId: tenant.id });
    await s.identity.upsertUser(principal, 'crm-7', { displayName: 'Seven', metadata: { tier: 2 } });
    const minted = await s.identity.mintToken(principal, 'crm-7', 120);
    await expect(auth.authenticate(`Bearer ${minted.accessToken}`)).resolves.toEqual({ kind: 'user', tenantId: 'acme', userId: 'crm-7', expiresAt: expect.any(Number) });
    await expect(auth.authenticate(`Bearer ${apiKey.slice(0, -1)}${apiKey.endsWith('A') ? 'B' : 'A'}`)).rejects.toMatchObject({ code: 'invalid_token' });
  });
});

/**
 * Failed-login limits with checks that take a while (as real hashes do), so many attempts are in
 * flight together: counting must happen before the hash, or every attempt in flight gets checked.
 */
describe.each(ENGINE_KINDS)('login failure limits with attempts in flight (%s engine)', (kind) => {
  let owned: Awaited<ReturnType<typeof createTestEngine>>;
  let s: Setup;
  const threePerMinute = { count: 3, windowMs: 60_000 };

  beforeEach(async () => {
    owned = await createTestEngine(kind);
    const inner = createPasswordHasher({ cost: 'test' });
    const slowly = <T>(work: () => Promise<T>) => new Promise((resolve) => setTimeout(resolve, 30)).then(work);
    const slow: PasswordHasher = {
      ...inner,
      verify: (p, e, source) => slowly(() => inner.verify(p, e, source)),
      verifyAgainstDummy: (p, source) => slowly(() => inner.verifyAgainstDummy(p, source)),
    };
    s = setup({ engine: owned.engine, passwords: slow, rateLimits: { LOGIN_FAILURES_ACCOUNT: threePerMinute, LOGIN_FAILURES_IP: threePerMinute } });
    await s.identity.register({ username: 'alice', password: 'wonderland!' });
  });

  afterEach(async () => {
    await owned.cleanup();
  });

  const codes = async (attempts: Promise<unknown>[]) =>
    (await Promise.allSettled(attempts)).map((result) => (result.status === 'rejected' ? (result.reason as ServiceError).code : 'ok')).sort();

  it('checks at most the account limit of concurrent wrong logins; the rest are 429 before hashing', async () => {
    const attempts = Array.from({ length: 12 }, (_, i) => s.identity.login({ username: 'alice', password: `guess-${i}-wrong` }, { ip: `203.0.113.${i}` }));
    expect(await codes(attempts)).toEqual([...Array(3).fill('invalid_credentials'), ...Array(9).fill('rate_limited')]);
    expect(s.calls.verify).toBe(3);
    expect((await rejection(s.identity.login({ username: 'alice', password: 'wonderland!' }, { ip: '203.0.113.99' }))).code).toBe('rate_limited');
  });

  it('checks at most the IP limit of concurrent wrong logins from one IP, across accounts', async () => {
    const attempts = Array.from({ length: 12 }, (_, i) => s.identity.login({ username: `nobody${i}`, password: 'guess-wrong' }, { ip: '198.51.100.7' }));
    expect(await codes(attempts)).toEqual([...Array(3).fill('invalid_credentials'), ...Array(9).fill('rate_limited')]);
    expect(s.calls.dummy).toBe(3);
    // The refused attempts gave back the account units they had counted: those accounts are untouched.
    expect((await s.engine.rateLimits.peek({ limit: 'login-failures-account', tenantId: DEFAULT, subject: 'nobody11' }, threePerMinute, T0)).remaining).toBeGreaterThanOrEqual(2);
    expect((await rejection(s.identity.login({ username: 'alice', password: 'wonderland!' }, { ip: '198.51.100.7' }))).code).toBe('rate_limited');
  });

  it('counts no failure for the right password: the unit counted up front is given back', async () => {
    const client = { ip: '192.0.2.5' };
    for (let i = 0; i < 2; i += 1) expect((await rejection(s.identity.login({ username: 'alice', password: 'not-the-password' }, client))).code).toBe('invalid_credentials');
    const rights = await codes(Array.from({ length: 5 }, () => s.identity.login({ username: 'alice', password: 'wonderland!' }, client)));
    // The one unit left admits one attempt at a time; a right password gives it back.
    expect(rights.filter((code) => code === 'ok').length).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 3; i += 1) expect((await s.identity.login({ username: 'alice', password: 'wonderland!' }, client)).user.username).toBe('alice');
    expect((await rejection(s.identity.login({ username: 'alice', password: 'not-the-password' }, client))).code).toBe('invalid_credentials');
    expect((await rejection(s.identity.login({ username: 'alice', password: 'wonderland!' }, client))).code).toBe('rate_limited');
  });
});
