/**
 * Presence, on both engines: a user with a live connection is online (GET .../presence and a
 * `presence` event to the users who share a conversation with them); closing their last
 * connection makes them offline with lastSeenAt; closing one of two keeps them online.
 */
import { describe, expect, it } from 'vitest';
import { RFC3339_UTC, createGroup, createTestTenant, expectProblem, openDirect } from '../test-support/conversations.js';
import { ENGINE_KINDS } from '../test-support/engines.js';
import type { RealtimeClient } from '../test-support/realtime-client.js';
import { connectReady, sendMarker, useRealtimeClients } from '../test-support/realtime-fixtures.js';
import { registerUser, useTestServer, type TestUser } from '../test-support/server.js';

describe.each(ENGINE_KINDS)('presence (%s engine)', (kind) => {
  const ctx = useTestServer({ kind });
  const { connect } = useRealtimeClients(() => ctx.url);

  const presenceOf = async (viewer: TestUser, userId: string) => {
    const response = await ctx.api.get(`/v1/users/${userId}/presence`, viewer.token);
    expect(response.status, response.text).toBe(200);
    return response.body;
  };
  const presenceFrames = (client: RealtimeClient, userId: string) => client.frames.filter((f) => f.type === 'presence' && f.userId === userId);

  /** alice and bob share a direct conversation; eve shares nothing with alice. */
  async function people() {
    const [alice, bob, eve] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api), registerUser(ctx.api)]);
    const direct = (await openDirect(ctx.api, bob.token, alice.id)).id as string;
    const eveLine = (await openDirect(ctx.api, bob.token, eve.id)).id as string;
    return { alice, bob, eve, direct, eveLine };
  }

  it('a user never connected is offline with no lastSeenAt', async () => {
    const { alice, bob } = await people();
    expect(await presenceOf(bob, alice.id)).toEqual({ status: 'offline', lastSeenAt: null });
  });

  it('connecting makes the user online for GET and tells the users sharing a conversation (not others)', async () => {
    const { alice, bob, eve, eveLine } = await people();
    const [b, e] = await Promise.all([connect(bob), connect(eve)]);
    const a = await connect(alice);
    expect(await b.waitFor((f) => f.type === 'presence' && f.userId === alice.id)).toEqual({
      type: 'presence',
      userId: alice.id,
      status: 'online',
      lastSeenAt: null,
    });
    expect(await presenceOf(bob, alice.id)).toEqual({ status: 'online', lastSeenAt: null });
    // Presence carries no cursor and the user does not hear their own.
    expect(presenceFrames(b, alice.id)[0]).not.toHaveProperty('cursor');
    await sendMarker(ctx.api, bob.token, eveLine, [e]);
    expect(presenceFrames(e, alice.id)).toEqual([]);
    expect(presenceFrames(a, alice.id)).toEqual([]);
  });

  it('closing the last connection makes the user offline with lastSeenAt, for GET and as an event', async () => {
    const { alice, bob } = await people();
    const b = await connect(bob);
    const a = await connectReady(ctx.url, alice.token, alice.id);
    await b.waitFor((f) => f.type === 'presence' && f.userId === alice.id && f.status === 'online');
    const before = Date.now();
    await a.close();
    const offline = await b.waitFor((f) => f.type === 'presence' && f.userId === alice.id && f.status === 'offline');
    expect(offline).toEqual({ type: 'presence', userId: alice.id, status: 'offline', lastSeenAt: expect.stringMatching(RFC3339_UTC) });
    const lastSeen = Date.parse(offline.lastSeenAt);
    expect(lastSeen).toBeGreaterThanOrEqual(before - 1000);
    expect(lastSeen).toBeLessThanOrEqual(Date.now() + 1000);
    expect(await presenceOf(bob, alice.id)).toEqual({ status: 'offline', lastSeenAt: offline.lastSeenAt });
    // Coming back: online again, lastSeenAt cleared.
    await connect(alice);
    await b.waitForCount((f) => f.type === 'presence' && f.userId === alice.id && f.status === 'online', 2);
    expect(await presenceOf(bob, alice.id)).toEqual({ status: 'online', lastSeenAt: null });
  });

  it('with two connections, closing one keeps the user online and tells nobody', async () => {
    const { alice, bob, direct } = await people();
    const b = await connect(bob);
    const a1 = await connectReady(ctx.url, alice.token, alice.id);
    await b.waitFor((f) => f.type === 'presence' && f.userId === alice.id);
    const a2 = await connect(alice);
    await a1.close();
    expect(await presenceOf(bob, alice.id)).toEqual({ status: 'online', lastSeenAt: null });
    // Alice's remaining connection sends a marker; bob heard exactly one presence change (online).
    await sendMarker(ctx.api, alice.token, direct, [b, a2]);
    expect(presenceFrames(b, alice.id).map((f) => f.status)).toEqual(['online']);
    await a2.close();
    await b.waitFor((f) => f.type === 'presence' && f.userId === alice.id && f.status === 'offline');
    expect((await presenceOf(bob, alice.id)).status).toBe('offline');
  });

  it('a user sharing several conversations hears each presence change once', async () => {
    const { alice, bob, direct } = await people();
    await createGroup(ctx.api, alice.token, [bob.id], 'One');
    await createGroup(ctx.api, bob.token, [alice.id], 'Two');
    const b = await connect(bob);
    const a = await connectReady(ctx.url, alice.token, alice.id);
    await b.waitFor((f) => f.type === 'presence' && f.userId === alice.id);
    await sendMarker(ctx.api, alice.token, direct, [b]);
    await a.close();
    await b.waitFor((f) => f.type === 'presence' && f.userId === alice.id && f.status === 'offline');
    const c = await connect(alice);
    await b.waitForCount((f) => f.type === 'presence' && f.userId === alice.id, 3);
    await sendMarker(ctx.api, alice.token, direct, [b, c]);
    expect(presenceFrames(b, alice.id).map((f) => f.status)).toEqual(['online', 'offline', 'online']);
  });

  it('presence is not visible across tenants', async () => {
    const { alice } = await people();
    const tenant = await createTestTenant(ctx.api);
    const [outsider] = await tenant.users(['outsider']);
    await connect(alice);
    const response = await ctx.api.get(`/v1/users/${alice.id}/presence`, outsider!.token);
    expectProblem(response, 404, 'user_not_found');
  });
});
