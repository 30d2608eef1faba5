/**
 * POST /v1/admin/signing-keys/rotate over real sockets, on both engines: only the operator key
 * rotates; afterwards new tokens carry the new kid, tokens of the replaced key keep working, the
 * JWKS publishes both until the replaced key retires, and the number of published keys is capped.
 */
import { describe, expect, it } from 'vitest';
import { MAX_MINTED_LIFETIME_SECONDS } from '../../auth/access-tokens.js';
import { ENGINE_KINDS } from '../../test-support/engines.js';
import { ADMIN_KEY, createTenant, registerUser, useTestServer } from '../../test-support/server.js';
import { MAX_PUBLISHED_SIGNING_KEYS } from '../../services/signing-keys-service.js';

const ROTATE = '/v1/admin/signing-keys/rotate';
const kidOf = (token: string): string => JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')).kid;

describe.each(ENGINE_KINDS)('POST /v1/admin/signing-keys/rotate (%s engine)', (kind) => {
  let clockOffset = 0;
  const handle = useTestServer({ kind, clock: () => Date.now() + clockOffset });
  const rotate = (token?: string) => handle.api.request('POST', ROTATE, token ? { token } : {});
  const jwksKids = async (): Promise<string[]> => (await handle.api.get('/.well-known/jwks.json')).body.keys.map((key: { kid: string }) => key.kid);

  it('refuses every credential but the operator key with 401, and changes nothing', async () => {
    const user = await registerUser(handle.api);
    const tenantKey = await createTenant(handle.api, `rotate-${kind}`);
    const before = await jwksKids();
    for (const token of [undefined, user.token, tenantKey, 'not-the-operator-key', `${ADMIN_KEY}x`]) {
      const response = await rotate(token);
      expect(response.status, String(token)).toBe(401);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      expect(response.body.code).toBe('unauthorized');
    }
    expect(await jwksKids()).toEqual(before);
    expect(kidOf((await registerUser(handle.api)).token)).toBe(before[0]);
  });

  it('makes a new key sign; tokens of the replaced key keep working; the JWKS lists both, the new one first', async () => {
    const alice = await registerUser(handle.api);
    const oldKid = kidOf(alice.token);
    const startedAt = Date.now();
    const response = await rotate(ADMIN_KEY);
    expect(response.status).toBe(201);
    const { kid, createdAt, previous } = response.body;
    expect(kid).not.toBe(oldKid);
    expect(Date.parse(createdAt)).toBeGreaterThanOrEqual(startedAt - 1000);
    expect(previous).toEqual([{ kid: oldKid, retiresAt: expect.any(String) }]);
    // Published at least as long as the longest-lived token signed just before the rotation.
    expect(Date.parse(previous[0].retiresAt)).toBeGreaterThan(startedAt + MAX_MINTED_LIFETIME_SECONDS * 1000);

    const bob = await registerUser(handle.api);
    expect(kidOf(bob.token)).toBe(kid);
    const refreshed = await handle.api.post('/v1/auth/refresh', { refreshToken: alice.refreshToken });
    expect(kidOf(refreshed.body.accessToken)).toBe(kid);
    for (const token of [alice.token, bob.token, refreshed.body.accessToken]) {
      expect((await handle.api.get('/v1/users/me', token)).status).toBe(200);
    }
    expect(await jwksKids()).toEqual([kid, oldKid]);
  });

  it(`refuses a rotation beyond ${MAX_PUBLISHED_SIGNING_KEYS} published keys with 429 and Retry-After, changing nothing`, async () => {
    while ((await jwksKids()).length < MAX_PUBLISHED_SIGNING_KEYS) expect((await rotate(ADMIN_KEY)).status).toBe(201);
    const before = await jwksKids();
    const signing = kidOf((await registerUser(handle.api)).token);
    const refused = await rotate(ADMIN_KEY);
    expect(refused.status).toBe(429);
    expect(refused.body.code).toBe('rate_limited');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(MAX_MINTED_LIFETIME_SECONDS - 3600);
    expect(await jwksKids()).toEqual(before);
    expect(kidOf((await registerUser(handle.api)).token)).toBe(signing);
  });

  it('stops publishing replaced keys once they retire, and rotates again', async () => {
    const current = (await jwksKids())[0]!;
    clockOffset = (MAX_MINTED_LIFETIME_SECONDS + 3600) * 1000;
    expect(await jwksKids()).toEqual([current]);
    const response = await rotate(ADMIN_KEY);
    expect(response.status).toBe(201);
    expect(response.body.previous.map((key: { kid: string }) => key.kid)).toEqual([current]);
  });
});
