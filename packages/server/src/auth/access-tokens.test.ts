import { exportSPKI, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { beforeEach, describe, expect, it } from 'vitest';
import type { TenantId, UserId } from '../domain/types.js';
import { createMemoryEngine } from '../engine/memory/memory-engine.js';
import { createAccessTokens, type AccessTokens } from './access-tokens.js';
import { createSigningKeys, type SigningKeys } from './signing-keys.js';

const ISSUER = 'https://chat.example.com';
const subject = { tenantId: 'default' as TenantId, userId: '01HZX0USER' as UserId };
const T0 = Date.UTC(2030, 0, 1);

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

async function expectInvalid(tokens: AccessTokens, token: string): Promise<void> {
  await expect(tokens.verify(token)).rejects.toMatchObject({
    name: 'ServiceError',
    code: 'invalid_token',
    status: 401,
    detail: 'The token is not valid',
  });
}

describe('access tokens', () => {
  let now: number;
  let signingKeys: SigningKeys;
  let tokens: AccessTokens;

  beforeEach(() => {
    now = T0;
    signingKeys = createSigningKeys({ engine: createMemoryEngine(), clock: () => now });
    tokens = createAccessTokens({ signingKeys, issuer: ISSUER, clock: () => now });
  });

  it('signs EdDSA JWTs with kid and the documented claims, and verifies them', async () => {
    const { token, expiresIn } = await tokens.sign(subject);
    expect(expiresIn).toBe(900);
    const [header, payload] = token.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()) as Record<string, unknown>);
    const { kid } = await signingKeys.current();
    expect(header).toEqual({ alg: 'EdDSA', kid, typ: 'at+jwt' });
    expect(payload).toEqual({
      iss: ISSUER,
      sub: subject.userId,
      tid: subject.tenantId,
      aud: 'parley',
      iat: T0 / 1000,
      exp: T0 / 1000 + 900,
    });
    expect(await tokens.verify(token)).toEqual({ ...subject, issuedAt: T0 / 1000, expiresAt: T0 / 1000 + 900 });
  });

  it('honours a custom lifetime and refuses one out of bounds', async () => {
    const { token, expiresIn } = await tokens.sign(subject, { expiresInSeconds: 3600 });
    expect(expiresIn).toBe(3600);
    expect((await tokens.verify(token)).expiresAt).toBe(T0 / 1000 + 3600);
    await expect(tokens.sign(subject, { expiresInSeconds: 86_401 })).rejects.toThrow(RangeError);
    await expect(tokens.sign(subject, { expiresInSeconds: 1.5 })).rejects.toThrow(RangeError);
  });

  it('accepts a token until expiry plus the clock tolerance, then refuses it', async () => {
    const { token } = await tokens.sign(subject);
    now = T0 + 900_000 + 29_000;
    await expect(tokens.verify(token)).resolves.toMatchObject(subject);
    now += 1000;
    await expectInvalid(tokens, token);
  });

  it('refuses a token issued in the future beyond the tolerance', async () => {
    now = T0 + 120_000;
    const { token } = await tokens.sign(subject);
    now = T0;
    await expectInvalid(tokens, token);
  });

  it('refuses a tampered payload', async () => {
    const { token } = await tokens.sign(subject);
    const [header, , signature] = token.split('.');
    const forged = b64({ iss: ISSUER, sub: 'admin', tid: 'default', aud: 'parley', iat: T0 / 1000, exp: T0 / 1000 + 900 });
    await expectInvalid(tokens, `${header}.${forged}.${signature}`);
  });

  it('refuses a tampered signature', async () => {
    const { token } = await tokens.sign(subject);
    const [header, payload, signature = ''] = token.split('.');
    const middle = Math.floor(signature.length / 2);
    const flipped = signature.slice(0, middle) + (signature[middle] === 'A' ? 'B' : 'A') + signature.slice(middle + 1);
    await expectInvalid(tokens, `${header}.${payload}.${flipped}`);
    await expectInvalid(tokens, `${header}.${payload}.`);
  });

  it('refuses alg none, with or without a kid', async () => {
    const { kid } = await signingKeys.current();
    const payload = b64({ iss: ISSUER, sub: 'u', tid: 'default', aud: 'parley', iat: T0 / 1000, exp: T0 / 1000 + 900 });
    await expectInvalid(tokens, `${b64({ alg: 'none', kid, typ: 'at+jwt' })}.${payload}.`);
    await expectInvalid(tokens, `${b64({ alg: 'none' })}.${payload}.`);
    await expectInvalid(tokens, `${b64({ alg: 'None', kid })}.${payload}.`);
  });

  it('refuses HS256 tokens "signed" with the public key as the HMAC secret', async () => {
    const { kid } = await signingKeys.current();
    const [jwk] = await signingKeys.publicJwks();
    const publicKey = await importJWK(jwk as JWK, 'EdDSA');
    if (publicKey instanceof Uint8Array) throw new Error('expected a CryptoKey');
    const secrets = [
      new TextEncoder().encode(JSON.stringify(jwk)),
      new TextEncoder().encode(await exportSPKI(publicKey)),
      Buffer.from(String(jwk?.x), 'base64url'),
      new TextEncoder().encode(String(jwk?.x)),
    ];
    for (const secret of secrets) {
      const forged = await new SignJWT({ tid: subject.tenantId })
        .setProtectedHeader({ alg: 'HS256', kid, typ: 'at+jwt' })
        .setIssuer(ISSUER)
        .setSubject(subject.userId)
        .setAudience('parley')
        .setIssuedAt(T0 / 1000)
        .setExpirationTime(T0 / 1000 + 900)
        .sign(secret);
      await expectInvalid(tokens, forged);
    }
  });

  it('refuses a wrong issuer and a wrong audience', async () => {
    const other = createAccessTokens({ signingKeys, issuer: 'https://evil.example.com', clock: () => now });
    await expectInvalid(tokens, (await other.sign(subject)).token);

    const { kid, privateKey } = await signingKeys.current();
    const base = () =>
      new SignJWT({ tid: subject.tenantId })
        .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'at+jwt' })
        .setIssuer(ISSUER)
        .setSubject(subject.userId)
        .setIssuedAt(T0 / 1000)
        .setExpirationTime(T0 / 1000 + 900);
    await expectInvalid(tokens, await base().setAudience('someone-else').sign(privateKey));
    await expectInvalid(tokens, await base().sign(privateKey));
    // The control: the same construction with the right audience verifies.
    await expect(tokens.verify(await base().setAudience('parley').sign(privateKey))).resolves.toMatchObject(subject);
  });

  it('refuses tokens missing tid or sub, or with a foreign typ', async () => {
    const { kid, privateKey } = await signingKeys.current();
    const sign = (claims: Record<string, unknown>, typ = 'at+jwt') =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'EdDSA', kid, typ })
        .setIssuer(ISSUER)
        .setAudience('parley')
        .setIssuedAt(T0 / 1000)
        .setExpirationTime(T0 / 1000 + 900)
        .sign(privateKey);
    await expectInvalid(tokens, await sign({ sub: 'u' }));
    await expectInvalid(tokens, await sign({ tid: 'default' }));
    await expectInvalid(tokens, await sign({ sub: 'u', tid: 42 }));
    await expectInvalid(tokens, await sign({ sub: 'u', tid: 'default' }, 'JWT'));
  });

  it('refuses an unknown kid and a key that is not ours under our kid', async () => {
    const { kid } = await signingKeys.current();
    const stranger = await generateKeyPair('EdDSA');
    const sign = (withKid: string) =>
      new SignJWT({ tid: subject.tenantId })
        .setProtectedHeader({ alg: 'EdDSA', kid: withKid, typ: 'at+jwt' })
        .setIssuer(ISSUER)
        .setSubject(subject.userId)
        .setAudience('parley')
        .setIssuedAt(T0 / 1000)
        .setExpirationTime(T0 / 1000 + 900)
        .sign(stranger.privateKey);
    await expectInvalid(tokens, await sign('unknown-kid'));
    await expectInvalid(tokens, await sign(kid));
  });

  it('refuses garbage without revealing why', async () => {
    for (const garbage of ['', 'abc', 'a.b.c', '...', 'x'.repeat(10_000), `${b64({ alg: 'EdDSA' })}.e30.`]) {
      await expectInvalid(tokens, garbage);
    }
  });

  it('verifies on another node sharing the engine', async () => {
    const engine = createMemoryEngine();
    const nodeA = createAccessTokens({ signingKeys: createSigningKeys({ engine, clock: () => now }), issuer: ISSUER, clock: () => now });
    const nodeB = createAccessTokens({ signingKeys: createSigningKeys({ engine, clock: () => now }), issuer: ISSUER, clock: () => now });
    const { token } = await nodeA.sign(subject);
    await expect(nodeB.verify(token)).resolves.toMatchObject(subject);
  });
});
