/**
 * Account lifecycle over real sockets, on both engines, as a client observes it: changing the
 * password (POST /v1/auth/password), deleting an account (DELETE /v1/users/me and, by the tenant
 * key, DELETE /v1/users/{userId}), and two tabs refreshing with one refresh token.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TenantId, UserId } from '../../domain/types.js';
import { ENGINE_KINDS } from '../../test-support/engines.js';
import { startTinyIssuer, type TinyIssuer } from '../../test-support/openid-provider.js';
import { connectRealtime } from '../../test-support/realtime-client.js';
import { useRealtimeClients } from '../../test-support/realtime-fixtures.js';
import { allMembers, createGroup, createTestTenant, expectProblem, historyOf, openDirect, sendMessage, type TestTenant } from '../../test-support/conversations.js';
import { registerUser, startTestServer, useTestServer, type TestServer } from '../../test-support/server.js';

const PASSWORD = 'correct horse battery';
const NEW_PASSWORD = 'staple battery horse';

describe.each(ENGINE_KINDS)('accounts over HTTP (%s engine)', (kind) => {
  const handle = useTestServer({ kind });
  const realtime = useRealtimeClients(() => handle.url);
  const api = () => handle.api;
  const login = (username: string, password: string) => api().post('/v1/auth/login', { username, password });
  const refresh = (refreshToken: string) => api().post('/v1/auth/refresh', { refreshToken });
  const changePassword = (token: string, body: unknown) => api().post('/v1/auth/password', body, token);

  describe('POST /v1/auth/password', () => {
    it('answers a new session, signs every other session out, and the new password is the one that works', async () => {
      const user = await registerUser(api());
      const otherDevice = await login(user.username, PASSWORD);
      expect(otherDevice.status).toBe(200);

      const changed = await changePassword(user.token, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD });
      expect(changed.status).toBe(200);
      expect(changed.body).toEqual({
        user: { id: user.id, username: user.username, displayName: user.username, createdAt: expect.any(String) },
        accessToken: expect.any(String),
        refreshToken: expect.any(String),
        expiresIn: 900,
      });
      // Every earlier refresh family is revoked, the caller's own included; the new session lives.
      expectProblem(await refresh(otherDevice.body.refreshToken), 401, 'invalid_refresh_token');
      expectProblem(await refresh(user.refreshToken), 401, 'invalid_refresh_token');
      expect((await refresh(changed.body.refreshToken)).status).toBe(200);
      expect((await api().get('/v1/users/me', changed.body.accessToken)).status).toBe(200);

      expectProblem(await login(user.username, PASSWORD), 401, 'invalid_credentials');
      expect((await login(user.username, NEW_PASSWORD)).status).toBe(200);
    });

    it('refuses a wrong current password with 403 invalid_password and changes nothing', async () => {
      const user = await registerUser(api());
      const response = await changePassword(user.token, { currentPassword: 'not the password', newPassword: NEW_PASSWORD });
      expectProblem(response, 403, 'invalid_password');
      expect((await refresh(user.refreshToken)).status).toBe(200);
      expect((await login(user.username, PASSWORD)).status).toBe(200);
    });

    it('validates the new password as registration does (400)', async () => {
      const user = await registerUser(api());
      for (const body of [
        { currentPassword: PASSWORD, newPassword: 'short' },
        { currentPassword: PASSWORD, newPassword: 'x'.repeat(129) },
        { currentPassword: PASSWORD },
        { newPassword: NEW_PASSWORD },
        { currentPassword: PASSWORD, newPassword: NEW_PASSWORD, extra: 1 },
      ]) {
        expectProblem(await changePassword(user.token, body), 400, 'validation_failed', JSON.stringify(body));
      }
      expect((await login(user.username, PASSWORD)).status).toBe(200);
    });

    it('answers 403 password_not_set for a user without a password, 403 for a tenant key, 401 without a token', async () => {
      const tenant = await createTestTenant(api());
      const [upserted] = await tenant.users(['no-password']);
      expectProblem(await changePassword(upserted!.token, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }), 403, 'password_not_set');
      expectProblem(await changePassword(tenant.key, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }), 403, 'forbidden');
      expectProblem(await api().post('/v1/auth/password', { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }), 401, 'unauthorized');
    });
  });

  describe('DELETE /v1/users/me', () => {
    it('erases the account: tokens refused, username free, shown as a deleted user, messages kept, conversations left', async () => {
      const owner = await registerUser(api());
      const friend = await registerUser(api());
      const group = await createGroup(api(), owner.token, [friend.id], 'Doomed owner');
      const direct = await openDirect(api(), owner.token, friend.id);
      const sent = await sendMessage(api(), owner.token, group.id, 'kept after deletion');
      await api().put(`/v1/users/me/blocks/${friend.id}`, undefined, owner.token);
      const socket = await realtime.connect(owner);

      const deleted = await api().delete('/v1/users/me', owner.token);
      expect(deleted.status).toBe(204);

      expectProblem(await api().get('/v1/users/me', owner.token), 401, 'invalid_token');
      expectProblem(await refresh(owner.refreshToken), 401, 'invalid_refresh_token');
      expectProblem(await login(owner.username, PASSWORD), 401, 'invalid_credentials');
      expect(await socket.closed).toEqual({ code: 4001, reason: 'account deleted' });

      const shown = await api().get(`/v1/users/${owner.id}`, friend.token);
      expect(shown.status).toBe(200);
      expect(shown.body).toEqual({ id: owner.id, displayName: 'Deleted user', createdAt: expect.any(String), deleted: true });

      // Messages stay, from the deleted id; the friend now owns the group alone.
      const history = await historyOf(api(), friend.token, group.id);
      expect(history.find((message) => message.id === sent.id)).toMatchObject({ senderId: owner.id, text: 'kept after deletion' });
      expect(await allMembers(api(), friend.token, group.id)).toEqual([expect.objectContaining({ userId: friend.id, role: 'owner' })]);
      expect((await allMembers(api(), friend.token, direct.id)).map((member) => member.userId)).toEqual([friend.id]);
      // A deleted user cannot be added back or messaged directly.
      expectProblem(await api().post(`/v1/conversations/${group.id}/members`, { userIds: [owner.id] }, friend.token), 404, 'user_not_found');

      // The username is free for someone new, who is another user.
      const successor = await registerUser(api(), owner.username);
      expect(successor.id).not.toBe(owner.id);
    });

    it('closes a connection whose token was verified before a deletion whose revocation it missed', async () => {
      const user = await registerUser(api());
      expect((await api().get('/v1/users/me', user.token)).status).toBe(200); // verified and cached
      // The deletion as a racing node leaves it: stored, its revocation not yet heard here.
      await handle.server.engine.users.delete('default' as TenantId, user.id as UserId, Date.now());
      const client = realtime.track(await connectRealtime(handle.url, { token: user.token }));
      expect(await client.closed).toEqual({ code: 4001, reason: 'account deleted' });
      expect(client.frames.some((frame) => frame.type === 'ready')).toBe(false);
    });

    it('is for user tokens: a tenant key gets 403', async () => {
      const tenant = await createTestTenant(api());
      expectProblem(await api().delete('/v1/users/me', tenant.key), 403, 'forbidden');
    });
  });

  describe('DELETE /v1/users/{userId} (tenant key)', () => {
    let tenant: TestTenant;
    beforeAll(async () => {
      tenant = await createTestTenant(api());
    });

    it('deletes a user of the tenant (204, again 204), refuses its tokens, and never reuses the id', async () => {
      const [gone, stays] = await tenant.users(['gone', 'stays']);
      const socket = await realtime.connect(gone!);
      const first = await api().delete('/v1/users/gone', tenant.key);
      expect(first.status).toBe(204);
      expect(await socket.closed).toMatchObject({ code: 4001 });
      expectProblem(await api().get('/v1/users/me', gone!.token), 401, 'invalid_token');
      expect((await api().get('/v1/users/me', stays!.token)).status).toBe(200);
      expect((await api().delete('/v1/users/gone', tenant.key)).status).toBe(204);

      expect((await api().get('/v1/users/gone', tenant.key)).body).toMatchObject({ id: 'gone', displayName: 'Deleted user', deleted: true });
      expectProblem(await api().put('/v1/users/gone', { displayName: 'Back again' }, tenant.key), 409, 'user_deleted');
      expectProblem(await api().post('/v1/users/gone/tokens', {}, tenant.key), 404, 'user_not_found');
      expectProblem(await api().get('/v1/users/gone/presence', stays!.token), 404, 'user_not_found');
    });

    it('answers 404 user_not_found for an unknown id and for a user of another tenant', async () => {
      const other = await createTestTenant(api());
      await other.upsert(['elsewhere']);
      expectProblem(await api().delete('/v1/users/never-existed', tenant.key), 404, 'user_not_found');
      expectProblem(await api().delete('/v1/users/elsewhere', tenant.key), 404, 'user_not_found');
      const untouched = await api().get('/v1/users/elsewhere', other.key);
      expect(untouched.body).toMatchObject({ id: 'elsewhere' });
      expect(untouched.body.deleted).toBeUndefined();
    });

    it("refuses user tokens (403) and bad ids (400)", async () => {
      const [caller, target] = await tenant.users(['caller', 'target']);
      expectProblem(await api().delete(`/v1/users/${target!.id}`, caller!.token), 403, 'forbidden');
      expectProblem(await api().delete(`/v1/users/${caller!.id}`, caller!.token), 403, 'forbidden');
      expectProblem(await api().delete(`/v1/users/${'x'.repeat(129)}`, tenant.key), 400, 'validation_failed');
      expectProblem(await api().delete('/v1/users/target'), 401, 'unauthorized');
      expect((await api().get('/v1/users/me', target!.token)).status).toBe(200);
    });
  });

  describe('refreshing with one token from two tabs', () => {
    it('lets both concurrent refreshes succeed, and both new tokens keep working', async () => {
      const user = await registerUser(api());
      const [tabA, tabB] = await Promise.all([refresh(user.refreshToken), refresh(user.refreshToken)]);
      expect([tabA.status, tabB.status]).toEqual([200, 200]);
      expect(tabA.body.refreshToken).not.toBe(tabB.body.refreshToken);
      const [nextA, nextB] = await Promise.all([refresh(tabA.body.refreshToken), refresh(tabB.body.refreshToken)]);
      expect([nextA.status, nextB.status]).toEqual([200, 200]);
    });
  });
});

describe('the refresh grace window over HTTP', () => {
  let now = Date.now();
  let server: TestServer;
  let strict: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ clock: () => now, env: { REFRESH_REUSE_GRACE_SECONDS: '5' } });
    strict = await startTestServer({ env: { REFRESH_REUSE_GRACE_SECONDS: '0' } });
  });
  afterAll(async () => {
    await server?.stop();
    await strict?.stop();
  });

  it('revokes the family when the spent token comes back after the window', async () => {
    const user = await registerUser(server.api);
    const first = await server.api.post('/v1/auth/refresh', { refreshToken: user.refreshToken });
    now += 5_001;
    expectProblem(await server.api.post('/v1/auth/refresh', { refreshToken: user.refreshToken }), 401, 'invalid_refresh_token');
    expectProblem(await server.api.post('/v1/auth/refresh', { refreshToken: first.body.refreshToken }), 401, 'invalid_refresh_token');
  });

  it('with REFRESH_REUSE_GRACE_SECONDS=0, a second refresh with one token revokes the family', async () => {
    const user = await registerUser(strict.api);
    const first = await strict.api.post('/v1/auth/refresh', { refreshToken: user.refreshToken });
    expect(first.status).toBe(200);
    expectProblem(await strict.api.post('/v1/auth/refresh', { refreshToken: user.refreshToken }), 401, 'invalid_refresh_token');
    expectProblem(await strict.api.post('/v1/auth/refresh', { refreshToken: first.body.refreshToken }), 401, 'invalid_refresh_token');
  });
});

describe('password change and the failed-login limit', () => {
  const handle = useTestServer({ env: { RATE_LIMIT_LOGIN_FAILURES_ACCOUNT: '3/15m' } });

  it('counts a wrong current password as a failed login: a stolen access token cannot brute-force the password', async () => {
    const user = await registerUser(handle.api);
    for (let i = 0; i < 3; i++) {
      expectProblem(await handle.api.post('/v1/auth/password', { currentPassword: `guess-${i}`, newPassword: NEW_PASSWORD }, user.token), 403, 'invalid_password');
    }
    // Over the limit: even the right password is refused, for the change and for login alike.
    expectProblem(await handle.api.post('/v1/auth/password', { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, user.token), 429, 'rate_limited');
    expectProblem(await handle.api.post('/v1/auth/login', { username: user.username, password: PASSWORD }), 429, 'rate_limited');
  });

  it('gives the unit back when the current password is right', async () => {
    const user = await registerUser(handle.api);
    let token = user.token;
    let password = PASSWORD;
    for (let i = 0; i < 5; i++) {
      const next = `${NEW_PASSWORD}-${i}`;
      const changed = await handle.api.post('/v1/auth/password', { currentPassword: password, newPassword: next }, token);
      expect(changed.status).toBe(200);
      token = changed.body.accessToken;
      password = next;
    }
  });
});

describe('deleting a user of an external identity provider', () => {
  let issuer: TinyIssuer;
  let server: TestServer;
  beforeAll(async () => {
    issuer = await startTinyIssuer();
    server = await startTestServer({ env: { OUTBOUND_ALLOWED_HOSTS: '127.0.0.1', OIDC_ISSUER: issuer.issuer, OIDC_AUDIENCE: 'b2c-app', OIDC_ALGORITHMS: 'ES256' } });
  });
  afterAll(async () => {
    await server?.stop();
    await issuer?.close();
  });

  it("unlinks the provider's subject: the same identity signs in again as a new, empty user", async () => {
    const subject = `google-oauth2|${randomUUID()}`;
    const token = await issuer.sign({ aud: 'b2c-app', sub: subject, name: 'Dana', exp: Math.floor(Date.now() / 1000) + 300 });
    const before = await server.api.get('/v1/users/me', token);
    expect(before.body).toMatchObject({ displayName: 'Dana', identity: { provider: 'oidc', subject } });
    expect((await server.api.delete('/v1/users/me', token)).status).toBe(204);

    const after = await server.api.get('/v1/users/me', token);
    expect(after.status).toBe(200);
    expect(after.body.id).not.toBe(before.body.id);
    expect(after.body).toMatchObject({ displayName: 'Dana', identity: { provider: 'oidc', subject } });
    expect((await server.api.get(`/v1/users/${before.body.id}`, token)).body).toMatchObject({ id: before.body.id, displayName: 'Deleted user', deleted: true });
  });
});
