/**
 * Rate limits shared by two `node dist/main.js` processes on one Redis, as operators run them
 * behind a load balancer: a password brute force alternating between the nodes is cut at the
 * account limit, the right password is refused during the lockout, other accounts are not, a
 * retry after Retry-After succeeds; sends are limited per user across nodes while other users
 * keep sending. Real (production) password hashing: the windows are chosen so that its cost
 * cannot blur the counts, and the assertions account for the time that passes.
 * These tests need the build (`npm test` runs it first).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient, type ApiClient, type ApiResponse } from './test-support/api-client.js';
import { expectProblem, openDirect } from './test-support/conversations.js';
import { TEST_REDIS_URL, createTestRedis, deleteKeysWithPrefix, uniqueKeyPrefix } from './test-support/redis.js';
import { startServerProcess, type ServerProcess } from './test-support/server-process.js';

const PASSWORD = 'correct horse battery';
/** 3 failures per 21 s: a unit comes back every 7 s. */
const ACCOUNT_LIMIT = { count: 3, windowSeconds: 21 };
const INTERVAL_MS = (ACCOUNT_LIMIT.windowSeconds * 1000) / ACCOUNT_LIMIT.count;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('rate limits across two nodes on one Redis', () => {
  const keyPrefix = uniqueKeyPrefix();
  const env = {
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: keyPrefix,
    PUBLIC_URL: 'http://parley.test',
    RATE_LIMIT_LOGIN_FAILURES_ACCOUNT: `${ACCOUNT_LIMIT.count}/${ACCOUNT_LIMIT.windowSeconds}s`,
    RATE_LIMIT_SEND: '5/1m',
  };
  let nodes: ServerProcess[] = [];
  let apis: ApiClient[] = [];

  beforeAll(async () => {
    nodes = await Promise.all([startServerProcess(env), startServerProcess(env)]);
    apis = nodes.map((node) => createApiClient(node.url));
  });
  afterAll(async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    const redis = createTestRedis();
    await deleteKeysWithPrefix(redis, keyPrefix);
    redis.disconnect();
  });

  const register = async (api: ApiClient, username: string) => {
    const response = await api.post('/v1/auth/register', { username, password: PASSWORD });
    expect(response.status, response.text).toBe(201);
    return { id: response.body.user.id as string, token: response.body.accessToken as string, username };
  };
  const login = (api: ApiClient, username: string, password: string) => api.post('/v1/auth/login', { username, password });

  it('cuts a brute force alternating between nodes at the account limit, refuses the right password until Retry-After', async () => {
    const [alice, bob] = [await register(apis[0]!, 'alice'), await register(apis[1]!, 'bob')];
    const started = Date.now();
    const answers: ApiResponse[] = [];
    for (let attempt = 0; attempt < 12 && answers.at(-1)?.status !== 429; attempt += 1) {
      answers.push(await login(apis[attempt % 2]!, alice.username, `guess number ${attempt}`));
    }
    const elapsed = Date.now() - started;
    const failures = answers.filter((answer) => answer.status === 401).length;
    // Exactly the limit, plus whatever refilled while the guesses were being hashed.
    expect(failures).toBeGreaterThanOrEqual(ACCOUNT_LIMIT.count);
    expect(failures).toBeLessThanOrEqual(ACCOUNT_LIMIT.count + Math.floor(elapsed / INTERVAL_MS));
    const cut = answers.at(-1)!;
    expectProblem(cut, 429, 'rate_limited');
    expect(cut.headers.get('ratelimit-policy')).toBe(`"login-failures-account";q=3;w=${ACCOUNT_LIMIT.windowSeconds}`);
    const retryAfter = Number(cut.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(INTERVAL_MS / 1000);
    const cutAt = Date.now();

    // The right password, on either node, during the lockout: refused too (no hash is even run).
    for (const api of apis) {
      const right = await login(api, alice.username, PASSWORD);
      if (Date.now() - cutAt < retryAfter * 1000 - 500) expectProblem(right, 429, 'rate_limited');
    }
    // Other accounts log in as usual on both nodes.
    for (const api of apis) expect((await login(api, bob.username, PASSWORD)).status).toBe(200);

    // Honest Retry-After: once it has passed, the right password gets in.
    await sleep(Math.max(0, cutAt + retryAfter * 1000 - Date.now()));
    const after = await login(apis[1]!, alice.username, PASSWORD);
    expect(after.status, after.text).toBe(200);
  }, 120_000);

  it('limits sends per user across both nodes while other users keep sending', async () => {
    const [carol, dave] = [await register(apis[0]!, 'carol'), await register(apis[1]!, 'dave')];
    const direct = await openDirect(apis[0]!, carol.token, dave.id);
    const send = (api: ApiClient, token: string, text: string) => api.post(`/v1/conversations/${direct.id}/messages`, { text }, token);
    const carolSends = [];
    for (let i = 0; i < 5; i += 1) carolSends.push((await send(apis[i % 2]!, carol.token, `carol ${i}`)).status);
    expect(carolSends).toEqual([201, 201, 201, 201, 201]);
    for (const api of apis) {
      const refused = await send(api, carol.token, 'one too many');
      expectProblem(refused, 429, 'rate_limited');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    for (const api of apis) expect((await send(api, dave.token, 'dave goes on')).status).toBe(201);
    const history = await apis[1]!.get(`/v1/conversations/${direct.id}/messages`, dave.token);
    expect(history.body.items.map((message: { text: string }) => message.text)).toEqual([
      'carol 0',
      'carol 1',
      'carol 2',
      'carol 3',
      'carol 4',
      'dave goes on',
      'dave goes on',
    ]);
  }, 60_000);
});
