/**
 * Access-token verification as a client (or an attacker) meets it over HTTP, on both engines:
 * every forged, tampered, expired or foreign token is a 401, and only a genuine one gets through.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINE_KINDS, createTestEngine } from '../../test-support/engines.js';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../../test-support/server.js';

const ISSUER = 'https://chat.example.test';
const MINUTE = 60_000;

const encode = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
const decode = (part: string | undefined) => JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8'));

function partsOf(token: string) {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  return { header, payload, signature, claims: decode(payload), protectedHeader: decode(header) };
}

describe.each(ENGINE_KINDS)('access tokens over HTTP (%s engine)', (kind) => {
  let server: TestServer;
  /** Another node of the same engine whose clock is `clockOffset` away from the real one. */
  let skewed: TestServer;
  let clockOffset = 0;
  /** A server with its own engine, hence its own signing key, and the same issuer URL. */
  let foreign: TestServer;
  let cleanupEngine: () => Promise<void>;
  let alice: TestUser;
  let bob: TestUser;

  beforeAll(async () => {
    const owned = await createTestEngine(kind);
    cleanupEngine = owned.cleanup;
    server = await startTestServer({ engine: owned.engine, env: { PUBLIC_URL: ISSUER } });
    skewed = await startTestServer({ engine: owned.engine, env: { PUBLIC_URL: ISSUER }, clock: () => Date.now() + clockOffset });
    foreign = await startTestServer({ kind, env: { PUBLIC_URL: ISSUER } });
    alice = await registerUser(server.api, 'alice');
    bob = await registerUser(server.api, 'bob');
  });
  afterAll(async () => {
    await server?.stop();
    await skewed?.stop();
    await foreign?.stop();
    await cleanupEngine?.();
  });

  const me = (token: string | undefined, api = server.api) => api.get('/v1/users/me', token);

  /** Asserts a 401 problem with one of the credential codes, revealing nothing of the token. */
  async function expectRejected(token: string, why: string) {
    const response = await me(token);
    expect(response.status, why).toBe(401);
    expect(response.headers.get('content-type'), why).toContain('application/problem+json');
    expect(response.body.code, why).toBe('invalid_token');
    expect(response.text, why).not.toContain(token);
  }

  /** Signs claims with the server's own private key, read from storage: only the claims are wrong. */
  async function signWithServerKey(claims: Record<string, unknown>, header: Record<string, unknown> = {}) {
    const [stored] = await server.engine.signingKeys.list(Date.now());
    const privateKey = await importJWK(stored!.privateJwk as JWK, 'EdDSA');
    return new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', kid: stored!.kid, typ: 'at+jwt', ...header }).sign(privateKey);
  }

  const now = () => Math.floor(Date.now() / 1000);
  const genuineClaims = () => ({ iss: ISSUER, aud: 'parley', sub: alice.id, tid: 'default', iat: now(), exp: now() + 600 });

  it('accepts a genuine token (the control for every rejection below)', async () => {
    const response = await me(alice.token);
    expect(response.status).toBe(200);
    expect(response.body.id).toBe(alice.id);
    // Tokens crafted with the server key and the right claims pass too, so the helper is sound.
    const crafted = await me(await signWithServerKey(genuineClaims()));
    expect(crafted.status).toBe(200);
    expect(crafted.body.id).toBe(alice.id);
  });

  it('refuses alg "none" tokens carrying a genuine payload', async () => {
    const { payload, signature, protectedHeader } = partsOf(alice.token);
    const variants = [
      `${encode({ alg: 'none', typ: 'JWT' })}.${payload}.`,
      `${encode({ alg: 'none', typ: 'at+jwt', kid: protectedHeader.kid })}.${payload}.`,
      `${encode({ alg: 'none', typ: 'JWT' })}.${payload}.${signature}`,
      `${encode({ alg: 'None', typ: 'JWT' })}.${payload}.`,
      `${encode({ alg: 'NONE', kid: protectedHeader.kid })}.${payload}.`,
    ];
    for (const token of variants) await expectRejected(token, token.split('.')[0]!);
  });

  it("refuses a payload changed to another user's id with the signature kept", async () => {
    const { header, payload, signature, claims } = partsOf(alice.token);
    expect((await me(bob.token)).body.id).toBe(bob.id);
    await expectRejected(`${header}.${encode({ ...claims, sub: bob.id })}.${signature}`, 'sub');
    await expectRejected(`${header}.${encode({ ...claims, tid: 'other-tenant' })}.${signature}`, 'tid');
    await expectRejected(`${header}.${encode({ ...claims, exp: claims.exp + 86_400 })}.${signature}`, 'exp');
    // Even the same claims re-encoded differently (key order) no longer match the signature.
    const reordered = Object.fromEntries(Object.entries(claims).reverse());
    expect(encode(reordered)).not.toBe(payload);
    await expectRejected(`${header}.${encode(reordered)}.${signature}`, 'reordered');
  });

  it('refuses a tampered or borrowed signature', async () => {
    const { header, payload, signature } = partsOf(alice.token);
    const flipped = (signature[0] === 'A' ? 'B' : 'A') + signature.slice(1);
    await expectRejected(`${header}.${payload}.${flipped}`, 'flipped');
    await expectRejected(`${header}.${payload}.${partsOf(bob.token).signature}`, "bob's signature");
    await expectRejected(`${header}.${payload}.`, 'no signature');
    await expectRejected(`${header}.${payload}.${signature}${signature}`, 'doubled');
  });

  it('refuses HS256 tokens "signed" with the public key as the HMAC secret', async () => {
    const jwks = (await server.api.get('/.well-known/jwks.json')).body.keys as Record<string, string>[];
    const jwk = jwks[0]!;
    const claims = genuineClaims();
    const secrets: (string | Buffer)[] = [JSON.stringify(jwk), jwk.x!, Buffer.from(jwk.x!, 'base64url')];
    for (const secret of secrets) {
      for (const header of [
        { alg: 'HS256', typ: 'JWT' },
        { alg: 'HS256', typ: 'at+jwt', kid: jwk.kid },
      ]) {
        const unsigned = `${encode(header)}.${encode(claims)}`;
        const mac = createHmac('sha256', secret).update(unsigned).digest('base64url');
        await expectRejected(`${unsigned}.${mac}`, `${header.alg} ${typeof secret}`);
      }
    }
  });

  it("refuses tokens signed with an attacker's key, even naming the real kid or embedding the key", async () => {
    const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const attackerJwk = await exportJWK(publicKey);
    const realKid = partsOf(alice.token).protectedHeader.kid as string;
    const claims = genuineClaims();
    for (const header of [
      { alg: 'EdDSA', typ: 'at+jwt', kid: realKid },
      { alg: 'EdDSA', typ: 'at+jwt', kid: 'attacker' },
      { alg: 'EdDSA', typ: 'at+jwt', kid: realKid, jwk: attackerJwk },
      { alg: 'EdDSA', typ: 'at+jwt' },
    ]) {
      const token = await new SignJWT(claims).setProtectedHeader(header).sign(privateKey);
      await expectRejected(token, JSON.stringify(Object.keys(header)));
    }
  });

  it('refuses a token of another server with its own signing key (and that server accepts it)', async () => {
    const stranger = await registerUser(foreign.api, 'stranger');
    expect((await me(stranger.token, foreign.api)).status).toBe(200);
    expect(partsOf(stranger.token).claims.iss).toBe(ISSUER);
    await expectRejected(stranger.token, 'foreign key');
    // Nor does the foreign server take ours.
    const reverse = await me(alice.token, foreign.api);
    expect(reverse.status).toBe(401);
    expect(reverse.body.code).toBe('invalid_token');
  });

  it('accepts a token another node of the same engine signed, and refuses it once expired', async () => {
    clockOffset = -10 * MINUTE;
    const recent = await registerUser(skewed.api, 'recent');
    expect(partsOf(recent.token).claims.iat).toBeLessThan(now() - 9 * 60);
    const fresh = await me(recent.token);
    expect(fresh.status).toBe(200);
    expect(fresh.body.id).toBe(recent.id);

    // Signed 16 minutes ago with the default 15-minute lifetime: expired a minute ago (beyond the 30 s tolerance).
    clockOffset = -16 * MINUTE;
    const stale = await registerUser(skewed.api, 'stale');
    expect(partsOf(stale.token).claims.exp).toBeLessThan(now() - 45);
    await expectRejected(stale.token, 'expired');
    // The user is fine: signing in now gives a working token.
    const again = await server.api.post('/v1/auth/login', { username: 'stale', password: 'correct horse battery' });
    expect((await me(again.body.accessToken)).body.id).toBe(stale.id);
  });

  it('refuses a token issued in the future beyond the clock tolerance', async () => {
    clockOffset = 5 * MINUTE;
    const early = await registerUser(skewed.api, 'early');
    expect((await me(early.token, skewed.api)).status).toBe(200);
    await expectRejected(early.token, 'iat in the future');
  });

  it('refuses tokens signed with the real key whose claims are wrong', async () => {
    const good = genuineClaims();
    const { iss: _iss, ...withoutIss } = good;
    const { tid: _tid, ...withoutTid } = good;
    const { exp: _exp, ...withoutExp } = good;
    const { sub: _sub, ...withoutSub } = good;
    const cases: [string, Record<string, unknown>, Record<string, unknown>?][] = [
      ['another audience', { ...good, aud: 'someone-else' }],
      ['another issuer', { ...good, iss: 'https://evil.example' }],
      ['no issuer', withoutIss],
      ['no tenant', withoutTid],
      ['an empty subject', { ...good, sub: '' }],
      ['no subject', withoutSub],
      ['no expiry', withoutExp],
      ['expired', { ...good, iat: now() - 3600, exp: now() - 60 }],
      ['a plain JWT typ', good, { typ: 'JWT' }],
      ['an unknown kid', good, { kid: 'no-such-kid' }],
    ];
    for (const [why, claims, header] of cases) await expectRejected(await signWithServerKey(claims, header), why);
  });

  it('answers a missing or non-Bearer Authorization with 401', async () => {
    const missing = await me(undefined);
    expect(missing.status).toBe(401);
    expect(missing.body.code).toBe('unauthorized');
    for (const authorization of [
      `Basic ${Buffer.from('alice:correct horse battery').toString('base64')}`,
      `Basic ${alice.token}`,
      `Token ${alice.token}`,
      'Bearer',
      'Bearer   ',
    ]) {
      const response = await server.api.request('GET', '/v1/users/me', { headers: { authorization } });
      expect(response.status, authorization).toBe(401);
      expect(['unauthorized', 'invalid_token'], authorization).toContain(response.body.code);
    }
    for (const authorization of ['Bearer garbage', 'Bearer a.b.c', `Bearer ${alice.token} extra`, `Bearer ${randomBytes(9000).toString('base64url')}`]) {
      const response = await server.api.request('GET', '/v1/users/me', { headers: { authorization } });
      expect(response.status, authorization.slice(0, 40)).toBe(401);
      expect(['unauthorized', 'invalid_token']).toContain(response.body.code);
    }
    // The scheme is case-insensitive (RFC 9110), so this is the genuine token working.
    const lower = await server.api.request('GET', '/v1/users/me', { headers: { authorization: `bearer ${alice.token}` } });
    expect(lower.status).toBe(200);
  });
});
