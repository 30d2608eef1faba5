/**
 * Regression (issue 6, "one client locks everyone out of login and registration"): with one
 * global password queue, 70 wrong logins in flight made a correct login and a registration
 * answer 429. Now the queue is fair between client IPs, so a flood from one IP cannot. Real
 * scrypt cost (a few hundred ms per hash), several client IPs simulated with TRUST_PROXY and
 * X-Forwarded-For, rate limits generous so only the queue is tested.
 */
import { describe, expect, it } from 'vitest';
import { registerUser, useTestServer } from '../test-support/server.js';

const PASSWORD = 'correct horse battery';

describe('password hashing queue under a login flood from one IP', () => {
  const ctx = useTestServer({ env: { TRUST_PROXY: 'true' }, passwordCost: 'production' });

  it("does not make another IP's correct login or registration fail", async () => {
    const { api } = ctx;
    const alice = await registerUser(api);
    const from = (ip: string) => ({ 'x-forwarded-for': ip });
    const flood = Array.from({ length: 70 }, (_, i) =>
      api.request('POST', '/v1/auth/login', { json: { username: `nobody${i}`, password: 'wrong password' }, headers: from('203.0.113.66') }),
    );
    // Let the flood reach the queue first.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const [login, registration] = await Promise.all([
      api.request('POST', '/v1/auth/login', { json: { username: alice.username, password: PASSWORD }, headers: from('198.51.100.1') }),
      api.request('POST', '/v1/auth/register', { json: { username: `fair_${Date.now().toString(36)}`, password: PASSWORD }, headers: from('198.51.100.2') }),
    ]);
    expect(login.status, login.text).toBe(200);
    expect(registration.status, registration.text).toBe(201);
    // The flood itself got its share and fast refusals for the rest, never a hang or a 500.
    const statuses = (await Promise.all(flood)).map((response) => response.status);
    expect(statuses.every((status) => status === 401 || status === 429)).toBe(true);
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThan(50);
  }, 120_000);
});
