/**
 * Authentication against a real `node dist/main.js` on both engines, with short-lived access
 * tokens (ACCESS_TOKEN_TTL_SECONDS=60) and no refresh-reuse grace (REFRESH_REUSE_GRACE_SECONDS=0),
 * so a refresh token spent twice revokes the session at once: the hazard single flight avoids.
 * The SDK's clock is moved forward (the server's is not), so "due for refresh" is reached without
 * waiting while the server still holds the real expiry. Refresh counts are the server's own
 * (its /metrics), besides what the SDK sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINE_KINDS } from '../../../server/src/test-support/engines.js';
import { createParleyClient } from '../client.js';
import { ParleyError } from '../errors.js';
import { createAdminClient, createServerClient } from '../server-client.js';
import { ADMIN_KEY, recordingFetch, serverRequestCount, startSdkTestServer, uniqueUsername, type SdkTestServer } from '../test-support/core-fixtures.js';
import { webSessionStorage, type StoredSession } from './session-storage.js';
import type { TokenRequest } from './token-provider.js';

const PASSWORD = 'correct horse battery';

/**
 * Built-in access tokens carry whole seconds (iat, exp): one refreshed within the second it was
 * issued is byte-identical to it. Waiting past that second lets a test tell old from new.
 */
const nextSecond = () => new Promise((resolve) => setTimeout(resolve, 1_050));

/** A clock the test moves forward: real time plus `offsetMs`. */
function testClock(): { now: () => number; advance(ms: number): void } {
  let offsetMs = 0;
  return { now: () => Date.now() + offsetMs, advance: (ms) => (offsetMs += ms) };
}

/** Web Storage over a Map, standing in for `localStorage` shared by tabs. */
function mapStorage(): Storage & { map: Map<string, string> } {
  const map = new Map<string, string>();
  return {
    map,
    get length() {
      return map.size;
    },
    clear: () => map.clear(),
    getItem: (key) => map.get(key) ?? null,
    key: (index) => [...map.keys()][index] ?? null,
    removeItem: (key) => void map.delete(key),
    setItem: (key, value) => void map.set(key, value),
  };
}

describe.each(ENGINE_KINDS)('SDK authentication against a real server (%s engine)', (kind) => {
  let server: SdkTestServer;
  const refreshesSeenByServer = () => serverRequestCount(server.url, 'POST', '/v1/auth/refresh');

  beforeAll(async () => {
    server = await startSdkTestServer(kind, { ACCESS_TOKEN_TTL_SECONDS: '60', REFRESH_REUSE_GRACE_SECONDS: '0' });
  });
  afterAll(() => server?.stop());

  /** Spends a refresh token directly, as a client without single flight would. */
  const rawRefresh = (refreshToken: string) =>
    fetch(`${server.url}/v1/auth/refresh`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken }) });

  it('the hazard: spending one refresh token twice revokes the session (so the tests below can fail)', async () => {
    const client = createParleyClient({ baseUrl: server.url });
    await client.auth!.register({ username: uniqueUsername(), password: PASSWORD });
    const { refreshToken } = (await client.auth!.session())!;
    const statuses = (await Promise.all([rawRefresh(refreshToken), rawRefresh(refreshToken)])).map((response) => response.status).sort();
    expect(statuses).toEqual([200, 401]);
    // The whole family is revoked: the SDK's own refresh now fails and signs out.
    await expect(client.auth!.refresh()).rejects.toMatchObject({ status: 401 });
    expect(await client.auth!.session()).toBeNull();
  });

  it('single flight: concurrent calls that need a refresh share one; all succeed and the server saw one refresh', async () => {
    const clock = testClock();
    const recorder = recordingFetch();
    const client = createParleyClient({ baseUrl: server.url, fetch: recorder.fetch, now: clock.now });
    const user = await client.auth!.register({ username: uniqueUsername(), password: PASSWORD });
    const first = (await client.auth!.session())!;
    expect(first.accessTokenLifetimeMs).toBe(60_000);
    const before = await refreshesSeenByServer();
    await nextSecond();

    clock.advance(45_000); // within half the 60 s lifetime of the expiry: due
    const [me, page, token] = await Promise.all([client.users.me(), client.conversations.list(), client.getToken(), client.users.me()]);
    expect(me.id).toBe(user.id);
    expect(page.items).toEqual([]);

    expect(recorder.sent.filter((request) => request.path === '/v1/auth/refresh')).toHaveLength(1);
    expect((await refreshesSeenByServer()) - before).toBe(1);
    const second = (await client.auth!.session())!;
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(token).toBe(second.accessToken);
    // Every call went out with the new token, none with the old one.
    const calls = recorder.sent.filter((request) => request.path.startsWith('/v1/users') || request.path.startsWith('/v1/conversations'));
    expect(calls.map((request) => request.token)).toEqual(calls.map(() => second.accessToken));

    // Explicit refreshes at once share one request too, and the session survives (no reuse detected).
    const [a, b] = await Promise.all([client.auth!.refresh(), client.auth!.refresh()]);
    expect(a).toBe(b);
    expect((await refreshesSeenByServer()) - before).toBe(2);
    expect((await client.users.me()).id).toBe(user.id);
    expect((await rawRefresh(a.refreshToken)).status).toBe(200);
  });

  it('refreshes before the access token expires, not after a refusal', async () => {
    const clock = testClock();
    const recorder = recordingFetch();
    const client = createParleyClient({ baseUrl: server.url, fetch: recorder.fetch, now: clock.now, refreshMarginMs: 20_000 });
    await client.auth!.login({ username: (await registerUser()).username, password: PASSWORD });
    const first = (await client.auth!.session())!;

    clock.advance(39_000); // 21 s left: not due with a 20 s margin
    await client.users.me();
    expect(recorder.sent.map((request) => request.path)).toEqual(['/v1/auth/login', '/v1/users/me']);

    await nextSecond();
    clock.advance(2_000); // 19 s left: due
    await client.users.me();
    const second = (await client.auth!.session())!;
    expect(second.accessToken).not.toBe(first.accessToken);
    // The refresh went first, and the call carried the new token: no 401 was needed.
    expect(recorder.sent.slice(2).map((request) => [request.path, request.status, request.token])).toEqual([
      ['/v1/auth/refresh', 200, null],
      ['/v1/users/me', 200, second.accessToken],
    ]);
  });

  it('a refused access token is refreshed once and the call retried', async () => {
    const storage = mapStorage();
    const recorder = recordingFetch();
    const client = createParleyClient({ baseUrl: server.url, fetch: recorder.fetch, storage: webSessionStorage(storage) });
    const user = await client.auth!.register({ username: uniqueUsername(), password: PASSWORD });
    // A session whose access token the server refuses (as after a key compromise), refresh token intact.
    const stored = JSON.parse(storage.map.get('parley.session')!) as StoredSession;
    storage.setItem('parley.session', JSON.stringify({ ...stored, accessToken: 'not-a-valid-token' }));
    const reloaded = createParleyClient({ baseUrl: server.url, fetch: recorder.fetch, storage: webSessionStorage(storage) });

    expect((await reloaded.users.me()).id).toBe(user.id);
    expect(recorder.sent.slice(1).map((request) => [request.path, request.status])).toEqual([
      ['/v1/users/me', 401],
      ['/v1/auth/refresh', 200],
      ['/v1/users/me', 200],
    ]);

    // The realtime connection reports a refused token through getToken({refused}): one refresh, a new token.
    const again = createParleyClient({ baseUrl: server.url, fetch: recorder.fetch, storage: webSessionStorage(storage) });
    storage.setItem('parley.session', JSON.stringify({ ...JSON.parse(storage.map.get('parley.session')!), accessToken: 'refused-by-realtime' }));
    const sentBefore = recorder.sent.length;
    const fresh = await again.getToken({ refused: 'refused-by-realtime' });
    expect(fresh).not.toBe('refused-by-realtime');
    expect(recorder.sent.slice(sentBefore).map((request) => [request.path, request.status])).toEqual([['/v1/auth/refresh', 200]]);
  });

  it('signs out when the server refuses the refresh (the password was changed elsewhere), and tells listeners', async () => {
    const clock = testClock();
    const { username } = await registerUser();
    const phone = createParleyClient({ baseUrl: server.url, now: clock.now });
    await phone.auth!.login({ username, password: PASSWORD });
    const changes: (StoredSession | null)[] = [];
    phone.auth!.onSessionChange((session) => changes.push(session));

    const laptop = createParleyClient({ baseUrl: server.url });
    await laptop.auth!.login({ username, password: PASSWORD });
    await laptop.auth!.changePassword({ currentPassword: PASSWORD, newPassword: 'another horse battery' });

    clock.advance(45_000);
    const error = await phone.users.me().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ParleyError);
    expect(error).toMatchObject({ status: 401 });
    expect(await phone.auth!.session()).toBeNull();
    expect(changes).toEqual([null]);
    await expect(phone.users.me()).rejects.toMatchObject({ code: 'not_signed_in' });
    expect((await laptop.users.me()).username).toBe(username);
  });

  it('keeps the session across a reload through the storage; tabs sharing it never spend one refresh token twice', async () => {
    const clock = testClock();
    const storage = mapStorage();
    const recorder = recordingFetch();
    const open = () => createParleyClient({ baseUrl: server.url, fetch: recorder.fetch, now: clock.now, storage: webSessionStorage(storage) });
    const tab1 = open();
    const user = await tab1.auth!.register({ username: uniqueUsername(), password: PASSWORD });
    const tab2 = open(); // a reload, or a second tab: no sign-in
    expect((await tab2.users.me()).id).toBe(user.id);
    const before = await refreshesSeenByServer();

    clock.advance(45_000); // due for both tabs
    await tab1.users.me(); // tab1 refreshes and stores the new pair
    await tab2.users.me(); // tab2 adopts it instead of spending the spent token
    expect((await refreshesSeenByServer()) - before).toBe(1);
    expect((await tab2.auth!.session())!.refreshToken).toBe((await tab1.auth!.session())!.refreshToken);
    // Nothing was revoked: both tabs keep working and can refresh again.
    await tab2.auth!.refresh();
    expect((await tab1.users.me()).id).toBe(user.id);
    expect((await tab2.users.me()).id).toBe(user.id);
  });

  it('a session of another user in the shared storage is not adopted: this tab is signed out, the other keeps its own', async () => {
    const clock = testClock();
    const storage = mapStorage();
    const open = () => createParleyClient({ baseUrl: server.url, now: clock.now, storage: webSessionStorage(storage) });
    const tabOfX = open();
    const x = await tabOfX.auth!.register({ username: uniqueUsername(), password: PASSWORD });
    const changes: (StoredSession | null)[] = [];
    tabOfX.auth!.onSessionChange((session) => changes.push(session));
    clock.advance(45_000); // X's token is due; Y's, issued now, is not
    const tabOfY = open(); // same browser profile, not a private window
    const y = await tabOfY.auth!.register({ username: uniqueUsername(), password: PASSWORD });

    await expect(tabOfX.users.me()).rejects.toMatchObject({ code: 'not_signed_in' });
    expect(await tabOfX.auth!.session()).toBeNull();
    expect(changes).toEqual([null]);
    // The other tab and the stored session are Y's, untouched.
    expect((await tabOfY.users.me()).id).toBe(y.id);
    expect(JSON.parse(storage.map.get('parley.session')!)).toMatchObject({ user: { id: y.id } });
    expect(y.id).not.toBe(x.id);
  });

  it('logout revokes the refresh token on the server and clears the stored session', async () => {
    const storage = mapStorage();
    const client = createParleyClient({ baseUrl: server.url, storage: webSessionStorage(storage) });
    await client.auth!.register({ username: uniqueUsername(), password: PASSWORD });
    const { refreshToken } = (await client.auth!.session())!;
    await client.auth!.logout();
    expect(storage.map.size).toBe(0);
    expect((await rawRefresh(refreshToken)).status).toBe(401);
    await expect(client.users.me()).rejects.toMatchObject({ code: 'not_signed_in', status: 401 });
  });

  it('token-provider hook: asks getToken per request, and once more with {refused} after a 401', async () => {
    const admin = createAdminClient({ baseUrl: server.url, adminKey: ADMIN_KEY });
    const tenantId = `auth-${kind}-${Date.now().toString(36)}`;
    const { apiKey } = await admin.createTenant({ id: tenantId, name: 'Hook tenant' });
    const backEnd = createServerClient({ baseUrl: server.url, apiKey });
    await backEnd.users.upsert('hana', { displayName: 'Hana' });
    const { accessToken } = await backEnd.users.mintToken('hana');

    const asked: (TokenRequest | undefined)[] = [];
    // A stale cached token first; a fresh one when told it was refused.
    const hooked = createParleyClient({
      baseUrl: server.url,
      getToken: async (request) => {
        asked.push(request);
        return request?.refused || asked.length > 2 ? accessToken : 'stale-token';
      },
    });
    expect(hooked.auth).toBeNull();
    expect((await hooked.users.me()).id).toBe('hana');
    expect(asked).toEqual([undefined, { refused: 'stale-token' }, undefined]);
    expect(await hooked.getToken()).toBe(accessToken);
    // The realtime connection, refused (4001), asks the client the same way: the request reaches the hook.
    expect(await hooked.getToken({ refused: 'stale-token' })).toBe(accessToken);
    expect(asked.at(-1)).toEqual({ refused: 'stale-token' });

    // A provider with nothing better: the 401 surfaces after one retry at most, no loop.
    let calls = 0;
    const stuck = createParleyClient({ baseUrl: server.url, getToken: async () => (calls++, 'stale-token') });
    await expect(stuck.users.me()).rejects.toMatchObject({ status: 401 });
    expect(calls).toBe(2);
  });

  async function registerUser(): Promise<{ username: string }> {
    const username = uniqueUsername();
    await createParleyClient({ baseUrl: server.url }).auth!.register({ username, password: PASSWORD });
    return { username };
  }
});
