/**
 * OWASP API Security Top 10 (2023) — API2:2023 Broken Authentication, over real sockets on both
 * engines: forged, tampered, expired and foreign tokens are refused with 401 on REST, at the
 * WebSocket upgrade (header and query) and on Server-Sent Events; a verified token stops working
 * when it expires even though the server remembers verified tokens; a spent refresh token
 * revokes its whole family; a failed login does not tell an unknown user from a wrong password.
 * Every secured operation of the served document answers 401 without a token, with garbage and
 * with an expired token (on real objects, route by route: api1-object-level-authorization.test.ts).
 */
import { exportSPKI, generateKeyPair, importJWK, SignJWT, type JWK, type JWTHeaderParameters } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem } from '../test-support/conversations.js';
import { ENGINE_KINDS } from '../test-support/engines.js';
import { exampleOf, fetchServedDocument, fillPath, operationsOf, type Operation } from '../test-support/openapi-operations.js';
import { attemptRefusedUpgrade, connectSse } from '../test-support/realtime-fixtures.js';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../test-support/server.js';

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const decode = (part: string): Record<string, any> => JSON.parse(Buffer.from(part, 'base64url').toString()) as Record<string, any>;

describe.each(ENGINE_KINDS)('API2:2023 Broken Authentication (%s engine)', (kind) => {
  let server: TestServer;
  let other: TestServer;
  let clockOffset = 0;
  let alice: TestUser;
  let bob: TestUser;
  /** Label → a token that must be refused. */
  const forged = new Map<string, string>();

  beforeAll(async () => {
    server = await startTestServer({ kind, clock: () => Date.now() + clockOffset });
    // Another deployment, with its own signing key and the same issuer URL.
    other = await startTestServer({ kind: 'memory' });
    alice = await registerUser(server.api);
    bob = await registerUser(server.api);
    const [headerPart, payloadPart, signaturePart] = alice.token.split('.') as [string, string, string];
    const header = decode(headerPart) as JWTHeaderParameters;
    const claims = decode(payloadPart);
    const jwks = (await server.api.get('/.well-known/jwks.json')).body.keys as JWK[];
    const jwk = jwks.find((key) => key.kid === header.kid)!;

    forged.set('alg none', `${b64({ ...header, alg: 'none' })}.${payloadPart}.`);
    forged.set('alg none without a signature part', `${b64({ alg: 'none' })}.${payloadPart}`);
    const publicKey = await importJWK(jwk, 'EdDSA');
    if (publicKey instanceof Uint8Array) throw new Error('expected a CryptoKey');
    const hmacSecrets: [string, Uint8Array][] = [
      ['the JWK', new TextEncoder().encode(JSON.stringify(jwk))],
      ['the SPKI PEM', new TextEncoder().encode(await exportSPKI(publicKey))],
      ['the raw key', Buffer.from(String(jwk.x), 'base64url')],
    ];
    for (const [label, secret] of hmacSecrets) {
      forged.set(`HS256 keyed with ${label}`, await new SignJWT(claims).setProtectedHeader({ ...header, alg: 'HS256' }).sign(secret));
    }
    forged.set("tampered payload (bob's sub on alice's signature)", `${headerPart}.${b64({ ...claims, sub: bob.id })}.${signaturePart}`);
    forged.set('tampered signature', `${headerPart}.${payloadPart}.${signaturePart.slice(0, -4)}${signaturePart.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`);
    const stranger = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    forged.set('foreign issuer (own key, same kid)', await new SignJWT({ ...claims, iss: 'https://idp.evil.example' }).setProtectedHeader(header).sign(stranger.privateKey));
    forged.set('same issuer, signed by a stranger key', await new SignJWT(claims).setProtectedHeader(header).sign(stranger.privateKey));
    forged.set('a token of another deployment', (await registerUser(other.api)).token);
    // Issued 20 minutes ago with the default 15-minute lifetime: expired 5 minutes ago.
    clockOffset = -20 * 60_000;
    forged.set('expired 5 minutes ago', (await server.api.post('/v1/auth/refresh', { refreshToken: alice.refreshToken })).body.accessToken);
    clockOffset = 0;
    alice.refreshToken = '';
  });
  afterAll(async () => {
    await server?.stop();
    await other?.stop();
  });

  it('has every forged token ready', () => {
    expect([...forged.values()].every((token) => typeof token === 'string' && token.length > 0)).toBe(true);
    expect(forged.size).toBe(11);
  });

  it('refuses each forged token with 401 invalid_token on REST', async () => {
    for (const [label, token] of forged) expectProblem(await server.api.get('/v1/users/me', token), 401, 'invalid_token', label);
  });

  it('refuses each forged token at the WebSocket upgrade (header and query) and on SSE, before any event', async () => {
    for (const [label, token] of forged) {
      for (const attempt of [{ headers: { authorization: `Bearer ${token}` } }, { query: { access_token: token } }]) {
        const refused = await attemptRefusedUpgrade(server.url, attempt);
        expect({ status: refused.status, code: refused.body?.code, opened: refused.opened }, label).toEqual({ status: 401, code: 'invalid_token', opened: false });
      }
      const sse = await connectSse(server.url, { token });
      expect(sse.response.status, label).toBe(401);
      await sse.close();
    }
  });

  it('answers 401 without a token, with garbage and with an expired token on every secured operation of the served document', async () => {
    const document = await fetchServedDocument(server.api);
    // An upgrade endpoint (it declares 426) authenticates at the upgrade, tested above; a plain GET only learns to upgrade.
    const isUpgrade = (operation: Operation) => '426' in (document.paths[operation.path]?.[operation.method.toLowerCase()]?.responses ?? {});
    const operations = operationsOf(document).filter((operation) => operation.secured && !isUpgrade(operation));
    expect(operations.length).toBeGreaterThanOrEqual(20);
    const expired = forged.get('expired 5 minutes ago')!;
    for (const operation of operations) {
      const path = fillPath(operation, Object.fromEntries(operation.pathParameters.map((parameter) => [parameter.name, 'x1'])));
      const body = operation.bodySchema ? exampleOf(operation.bodySchema) : undefined;
      for (const [label, token] of [['no token', undefined], ['garbage', 'garbage'], ['expired', expired]] as const) {
        const response = await server.api.request(operation.method, path, { ...(token ? { token } : {}), ...(body !== undefined ? { json: body } : {}) });
        expect(response.status, `${operation.label}, ${label}: ${response.text}`).toBe(401);
        expect(response.headers.get('content-type'), `${operation.label}, ${label}`).toContain('application/problem+json');
      }
    }
  });

  it('stops accepting a verified (and remembered) token once it expires', async () => {
    const user = await registerUser(server.api);
    expect((await server.api.get('/v1/users/me', user.token)).status).toBe(200);
    clockOffset = 16 * 60_000;
    try {
      expectProblem(await server.api.get('/v1/users/me', user.token), 401, 'invalid_token');
      expect((await attemptRefusedUpgrade(server.url, { headers: { authorization: `Bearer ${user.token}` } })).status).toBe(401);
    } finally {
      clockOffset = 0;
    }
  });

  it('revokes the whole family when a spent refresh token is presented again', async () => {
    const user = await registerUser(server.api);
    const first = await server.api.post('/v1/auth/refresh', { refreshToken: user.refreshToken });
    expect(first.status).toBe(200);
    // Past REFRESH_REUSE_GRACE_SECONDS (10 s), within which a second tab may still use it once.
    clockOffset = 11_000;
    const reuse = await server.api.post('/v1/auth/refresh', { refreshToken: user.refreshToken }).finally(() => (clockOffset = 0));
    expectProblem(reuse, 401, 'invalid_refresh_token', 'the spent token');
    expectProblem(await server.api.post('/v1/auth/refresh', { refreshToken: first.body.refreshToken }), 401, 'invalid_refresh_token', 'the newest token of the revoked family');
  });

  it('answers a wrong password and an unknown user identically', async () => {
    const wrongPassword = await server.api.post('/v1/auth/login', { username: alice.username, password: 'not the password' });
    const unknownUser = await server.api.post('/v1/auth/login', { username: 'nobody_at_all', password: 'not the password' });
    expectProblem(wrongPassword, 401, 'invalid_credentials');
    expect(unknownUser.body).toEqual(wrongPassword.body);
  });
});
