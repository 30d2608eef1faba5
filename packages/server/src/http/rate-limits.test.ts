/**
 * The named rate limits as a client sees them, on both engines: 429 `rate_limited` problems
 * with an honest Retry-After, the RateLimit-Policy / RateLimit fields on limited operations,
 * who is counted (user, account, client IP under TRUST_PROXY or not, tenant key), and that the
 * defaults leave normal bursts alone. Time moves by a clock offset, never by sleeping.
 */
import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { RATE_LIMITS, RATE_LIMIT_NAMES } from '../services/rate-limiter.js';
import type { ApiResponse } from '../test-support/api-client.js';
import { createTestTenant, expectProblem, openDirect, sendMessage } from '../test-support/conversations.js';
import { ENGINE_KINDS, type EngineKind } from '../test-support/engines.js';
import { attemptRefusedUpgrade, connectReady, connectSse } from '../test-support/realtime-fixtures.js';
import { registerUser, startTestServer, type TestServer } from '../test-support/server.js';

const PASSWORD = 'correct horse battery';
const DEFAULT_LIMITS = Object.fromEntries(RATE_LIMIT_NAMES.map((name) => [`RATE_LIMIT_${name}`, RATE_LIMITS[name].default]));

let servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((server) => server.stop()));
  servers = [];
});

/** A server whose clock runs `offset.ms` ahead of the wall clock. */
async function serverWith(kind: EngineKind, env: Record<string, string>) {
  const offset = { ms: 0 };
  const server = await startTestServer({ kind, env, clock: () => Date.now() + offset.ms });
  servers.push(server);
  return { server, api: server.api, offset };
}

function expectRateLimited(response: ApiResponse, limit: string, quota: number, windowSeconds: number): number {
  expectProblem(response, 429, 'rate_limited');
  const retryAfter = response.headers.get('retry-after') ?? '';
  expect(retryAfter).toMatch(/^[1-9][0-9]*$/);
  expect(response.headers.get('ratelimit-policy')).toBe(`"${limit}";q=${quota};w=${windowSeconds}`);
  expect(response.headers.get('ratelimit')).toMatch(new RegExp(`^"${limit}";r=0;t=[0-9]+$`));
  return Number(retryAfter);
}

const login = (api: TestServer['api'], username: string, password: string, ip?: string) =>
  api.request('POST', '/v1/auth/login', { json: { username, password }, headers: ip ? { 'x-forwarded-for': ip } : {} });

const register = (api: TestServer['api'], username: string, ip?: string) =>
  api.request('POST', '/v1/auth/register', { json: { username, password: PASSWORD }, headers: ip ? { 'x-forwarded-for': ip } : {} });

describe.each(ENGINE_KINDS)('rate limits (%s engine)', (kind) => {
  it('SEND: counts sends, edits and reactions per user, refuses beyond with nothing stored, others go on', async () => {
    const { api, offset } = await serverWith(kind, { RATE_LIMIT_SEND: '4/10s' });
    const [alice, bob] = await Promise.all([registerUser(api), registerUser(api)]);
    const direct = await openDirect(api, alice.token, bob.id);
    const path = `/v1/conversations/${direct.id}/messages`;

    const first = await api.post(path, { text: 'one' }, alice.token);
    expect(first.status).toBe(201);
    expect(first.headers.get('ratelimit-policy')).toBe('"send";q=4;w=10');
    expect(first.headers.get('ratelimit')).toBe('"send";r=3;t=3');
    await sendMessage(api, alice.token, direct.id, 'two');
    expect((await api.patch(`${path}/${first.body.id}`, { text: 'one, edited' }, alice.token)).status).toBe(200);
    expect((await api.put(`${path}/${first.body.id}/reactions/${encodeURIComponent('👍')}`, {}, alice.token)).status).toBe(204);

    const retryAfter = expectRateLimited(await api.post(path, { text: 'three' }, alice.token), 'send', 4, 10);
    expect(retryAfter).toBeLessThanOrEqual(3); // one unit every 2.5 s, less what passed since the first send
    expectRateLimited(await api.patch(`${path}/${first.body.id}`, { text: 'again' }, alice.token), 'send', 4, 10);
    expectRateLimited(await api.delete(`${path}/${first.body.id}/reactions/${encodeURIComponent('👍')}`, alice.token), 'send', 4, 10);
    // Bob keeps sending; alice's refused send stored nothing.
    await sendMessage(api, bob.token, direct.id, 'from bob');
    const history = await api.get(path, bob.token);
    expect(history.body.items.map((message: { text: string }) => message.text)).toEqual(['one, edited', 'two', 'from bob']);
    // Reading is not limited.
    expect((await api.get(path, alice.token)).status).toBe(200);

    offset.ms += retryAfter * 1000;
    expect((await api.post(path, { text: 'three' }, alice.token)).status).toBe(201);
  });

  it('LOGIN_FAILURES_ACCOUNT: cuts guessing at the limit, then refuses the right password too, until Retry-After', async () => {
    const { api, offset } = await serverWith(kind, { RATE_LIMIT_LOGIN_FAILURES_ACCOUNT: '3/1h' });
    const [alice, bob] = await Promise.all([registerUser(api), registerUser(api)]);
    for (let i = 0; i < 3; i += 1) {
      const wrong = await login(api, alice.username, 'not the password');
      expectProblem(wrong, 401, 'invalid_credentials');
      expect(wrong.headers.get('ratelimit')).toContain(`"login-failures-account";r=${2 - i};`);
    }
    const retryAfter = expectRateLimited(await login(api, alice.username, 'not the password'), 'login-failures-account', 3, 3600);
    expect(retryAfter).toBe(1200);
    expectRateLimited(await login(api, alice.username, PASSWORD), 'login-failures-account', 3, 3600);
    // Another account is untouched, and a success advertises the failures it has left.
    const other = await login(api, bob.username, PASSWORD);
    expect(other.status).toBe(200);
    expect(other.headers.get('ratelimit')).toContain('"login-failures-account";r=3;t=0');

    offset.ms += (retryAfter - 1) * 1000;
    expectRateLimited(await login(api, alice.username, PASSWORD), 'login-failures-account', 3, 3600);
    offset.ms += 1000;
    expect((await login(api, alice.username, PASSWORD)).status).toBe(200);
  });

  it('LOGIN_FAILURES_*: of logins sent together at most the limit are 401, the rest 429 naming the limit that refused', async () => {
    const { api } = await serverWith(kind, { RATE_LIMIT_LOGIN_FAILURES_ACCOUNT: '3/1m', RATE_LIMIT_LOGIN_FAILURES_IP: '3/1m', TRUST_PROXY: 'true' });
    const alice = await registerUser(api);
    // One account from many IPs: only the account limit adds them up.
    const guesses = await Promise.all(Array.from({ length: 12 }, (_, i) => login(api, alice.username, `wrong password ${i}`, `203.0.113.${i + 1}`)));
    expect(guesses.filter((answer) => answer.status === 401)).toHaveLength(3);
    for (const refused of guesses.filter((answer) => answer.status !== 401)) expectRateLimited(refused, 'login-failures-account', 3, 60);
    expectRateLimited(await login(api, alice.username, PASSWORD, '203.0.113.99'), 'login-failures-account', 3, 60);
    // Many accounts from one IP: only the IP limit adds them up.
    const sprayed = await Promise.all(Array.from({ length: 12 }, (_, i) => login(api, `nobody${i}`, 'wrong password', '198.51.100.7')));
    expect(sprayed.filter((answer) => answer.status === 401)).toHaveLength(3);
    for (const refused of sprayed.filter((answer) => answer.status !== 401)) expectRateLimited(refused, 'login-failures-ip', 3, 60);
  });

  it('LOGIN_FAILURES_*: a right password counts no failure (the unit counted up front is given back)', async () => {
    const { api } = await serverWith(kind, { RATE_LIMIT_LOGIN_FAILURES_ACCOUNT: '3/1m', RATE_LIMIT_LOGIN_FAILURES_IP: '3/1m', TRUST_PROXY: 'true' });
    const alice = await registerUser(api);
    for (let i = 0; i < 2; i += 1) expectProblem(await login(api, alice.username, 'not the password', '192.0.2.5'), 401, 'invalid_credentials');
    for (let i = 0; i < 3; i += 1) {
      const right = await login(api, alice.username, PASSWORD, '192.0.2.5');
      expect(right.status).toBe(200);
      expect(right.headers.get('ratelimit')).toMatch(/^"login-failures-account";r=1;t=[0-9]+, "login-failures-ip";r=1;t=[0-9]+$/);
    }
    // The third failure is still checked (401); only then is the limit exceeded.
    expectProblem(await login(api, alice.username, 'not the password', '192.0.2.5'), 401, 'invalid_credentials');
    expectRateLimited(await login(api, alice.username, PASSWORD, '192.0.2.6'), 'login-failures-account', 3, 60);
  });

  it('LOGIN_FAILURES_IP: counts failures per client IP; with TRUST_PROXY, X-Forwarded-For names the client', async () => {
    const { api } = await serverWith(kind, { RATE_LIMIT_LOGIN_FAILURES_IP: '3/1h', RATE_LIMIT_LOGIN_FAILURES_ACCOUNT: '100000/1d', TRUST_PROXY: 'true' });
    const alice = await registerUser(api);
    // Different usernames: only the per-IP limit can add them up.
    for (let i = 0; i < 3; i += 1) {
      const wrong = await login(api, `nobody${i}`, 'wrong password', '203.0.113.1');
      expectProblem(wrong, 401, 'invalid_credentials');
      // Both limits of a login, as one list per field.
      expect(wrong.headers.get('ratelimit-policy')).toBe('"login-failures-account";q=100000;w=86400, "login-failures-ip";q=3;w=3600');
      expect(wrong.headers.get('ratelimit')).toMatch(new RegExp(`^"login-failures-account";r=99999;t=1, "login-failures-ip";r=${2 - i};t=[0-9]+$`));
    }
    expectRateLimited(await login(api, 'nobody9', 'wrong password', '203.0.113.1'), 'login-failures-ip', 3, 3600);
    expectRateLimited(await login(api, alice.username, PASSWORD, '203.0.113.1'), 'login-failures-ip', 3, 3600);
    expect((await login(api, alice.username, PASSWORD, '203.0.113.2')).status).toBe(200);
    expectProblem(await login(api, 'nobody9', 'wrong password', '203.0.113.2'), 401, 'invalid_credentials');
  });

  it('LOGIN_FAILURES_IP: without TRUST_PROXY, X-Forwarded-For is ignored (the socket address counts)', async () => {
    const { api } = await serverWith(kind, { RATE_LIMIT_LOGIN_FAILURES_IP: '3/1h' });
    for (let i = 0; i < 3; i += 1) expectProblem(await login(api, `nobody${i}`, 'wrong password', `198.51.100.${i}`), 401, 'invalid_credentials');
    expectRateLimited(await login(api, 'nobody9', 'wrong password', '198.51.100.99'), 'login-failures-ip', 3, 3600);
  });

  it('LOGIN_FAILURES_IP: with TRUST_PROXY naming the proxy, what a client writes into X-Forwarded-For is not believed', async () => {
    // The test client plays a proxy on 127.0.0.1 that appends the address it saw, as nginx and
    // cloud load balancers do; the client forges a new leftmost entry on every attempt.
    const { api } = await serverWith(kind, { RATE_LIMIT_LOGIN_FAILURES_IP: '3/1h', TRUST_PROXY: '127.0.0.1' });
    const attempt = (i: number, seen: string) => login(api, `nobody${i}`, 'wrong password', `203.0.113.${i}, ${seen}`);
    for (let i = 0; i < 3; i += 1) expectProblem(await attempt(i, '198.51.100.7'), 401, 'invalid_credentials');
    expectRateLimited(await attempt(9, '198.51.100.7'), 'login-failures-ip', 3, 3600);
    expectProblem(await attempt(10, '198.51.100.8'), 401, 'invalid_credentials');
  });

  it('REGISTER_IP: counts registrations per client IP', async () => {
    const { api, offset } = await serverWith(kind, { RATE_LIMIT_REGISTER_IP: '2/1h', TRUST_PROXY: 'true' });
    const stamp = Date.now().toString(36);
    const first = await register(api, `reg1_${stamp}`, '192.0.2.1');
    expect(first.status).toBe(201);
    expect(first.headers.get('ratelimit')).toBe('"register-ip";r=1;t=1800');
    expect((await register(api, `reg2_${stamp}`, '192.0.2.1')).status).toBe(201);
    const retryAfter = expectRateLimited(await register(api, `reg3_${stamp}`, '192.0.2.1'), 'register-ip', 2, 3600);
    expect((await register(api, `reg3_${stamp}`, '192.0.2.2')).status).toBe(201);
    // Nothing was created by the refused registration: the name was free for the other client.
    offset.ms += retryAfter * 1000;
    expect((await register(api, `reg4_${stamp}`, '192.0.2.1')).status).toBe(201);
  });

  it('SERVER_KEY: counts every call of a tenant key, per key; a wrong key is 401 whatever the count', async () => {
    const { api } = await serverWith(kind, { RATE_LIMIT_SERVER_KEY: '3/10s' });
    const [acme, globex] = await Promise.all([createTestTenant(api), createTestTenant(api)]);
    const call = (key: string) => api.put('/v1/users/u1', { displayName: 'U' }, key);
    const answers = [await call(acme.key), await call(acme.key), await call(acme.key)];
    expect(answers.map((answer) => answer.status)).toEqual([201, 200, 200]);
    expect(answers.map((answer) => answer.headers.get('ratelimit'))).toEqual(['"server-key";r=2;t=4', '"server-key";r=1;t=7', '"server-key";r=0;t=10']);
    expectRateLimited(await call(acme.key), 'server-key', 3, 10);
    expectRateLimited(await api.get('/v1/users/u1', acme.key), 'server-key', 3, 10);
    expect((await call(globex.key)).status).toBe(201);
    expectProblem(await call(`${acme.key.slice(0, -4)}AAAA`), 401, 'invalid_token');
  });

  it('REALTIME_CONNECT: WebSocket and SSE opens count per user; a refused upgrade is a 429 problem with Retry-After', async () => {
    const { server, api } = await serverWith(kind, { RATE_LIMIT_REALTIME_CONNECT: '2/1m' });
    const [alice, bob] = await Promise.all([registerUser(api), registerUser(api)]);
    const upgraded = new WebSocket(new URL('/v1/realtime', server.url.replace(/^http/, 'ws')), { headers: { authorization: `Bearer ${alice.token}` } });
    const upgrade = await new Promise<IncomingMessage>((resolve, reject) => {
      upgraded.once('upgrade', resolve);
      upgraded.once('error', reject);
    });
    expect(upgrade.headers['ratelimit']).toBe('"realtime-connect";r=1;t=30');
    const stream = await connectSse(server.url, { token: alice.token });
    expect(stream.response.status).toBe(200);
    expect(stream.response.headers.get('ratelimit')).toBe('"realtime-connect";r=0;t=60');

    const refused = await attemptRefusedUpgrade(server.url, { headers: { authorization: `Bearer ${alice.token}` } });
    expect(refused.opened, 'a socket was opened').toBe(false);
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ status: 429, code: 'rate_limited' });
    expect(refused.headers['retry-after']).toBe('30');
    expect(refused.headers['ratelimit-policy']).toBe('"realtime-connect";q=2;w=60');
    const refusedStream = await connectSse(server.url, { token: alice.token });
    expect(refusedStream.response.status).toBe(429);
    expect(refusedStream.response.headers.get('retry-after')).toBe('30');
    // Bob is counted apart; alice's open connections are not affected.
    const bobSocket = await connectReady(server.url, bob.token, bob.id);
    await bobSocket.close();
    upgraded.close();
    await stream.close();
  });

  it('defaults leave normal use alone: fast typing, a reconnecting phone, a back end syncing users', async () => {
    const { server, api } = await serverWith(kind, DEFAULT_LIMITS);
    const [alice, bob] = await Promise.all([registerUser(api), registerUser(api)]);
    const direct = await openDirect(api, alice.token, bob.id);
    // Someone typing fast: 40 short messages back to back.
    for (let i = 0; i < 40; i += 1) await sendMessage(api, alice.token, direct.id, `line ${i}`);
    // A phone on a flaky network: 15 reconnects in a row.
    for (let i = 0; i < 15; i += 1) {
      const client = await connectReady(server.url, bob.token, bob.id);
      await client.close();
    }
    // A back end syncing 600 users (in batches of 50 at once).
    const tenant = await createTestTenant(api);
    await tenant.upsert(Array.from({ length: 600 }, (_, i) => `sync-${i}`));
    // A user mistyping a password twice still logs in.
    await login(api, alice.username, 'typo typo typo');
    await login(api, alice.username, 'typo again!');
    expect((await login(api, alice.username, PASSWORD)).status).toBe(200);
  });
});
