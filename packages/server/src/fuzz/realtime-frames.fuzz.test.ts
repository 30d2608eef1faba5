/**
 * Realtime client frames fuzzed over real WebSockets, on both engines (frames from
 * ./frame-arbitraries.ts). Each run opens a fresh socket for a member (alice) or a non-member
 * (mallory) of a group, sends 1–4 generated frames, then a ping. Properties:
 * - the socket closes at the first frame the protocol does not accept, with the documented code
 *   (4400, or the WebSocket layer's 1009 too large / 1007 not UTF-8); otherwise it stays open and
 *   the ping is answered, every frame it got being a known type (an `error` carries a known code);
 * - the server stays up, and a second socket (bob's, a member) keeps receiving events: a message
 *   alice sends after each run reaches it;
 * - nobody hears typing from a conversation the sender is not in.
 *
 * FUZZ_RUNS (default 30 runs per engine) and FUZZ_SEED (default random) as for the route fuzzer.
 */
import { ERROR_CODES } from '@parley/protocol';
import fc from 'fast-check';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGroup, createTestTenant, uniqueTenantId, type TenantUser } from '../test-support/conversations.js';
import { ENGINE_KINDS } from '../test-support/engines.js';
import type { RealtimeClient } from '../test-support/realtime-client.js';
import { connectReady, sendMarker } from '../test-support/realtime-fixtures.js';
import { startTestServer, type TestServer } from '../test-support/server.js';
import { expectedOutcome, frameArbitrary, type ClientFrame } from './frame-arbitraries.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 30);
const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);

/** Frame types the server sends on a connection. */
const SERVER_FRAME_TYPE = /^(ready|pong|error|typing|presence|resync\.required|message\.\w+|reaction\.\w+|conversation\.\w+|member\.\w+|read)$/;

/**
 * What became of the socket: its close code, or 'kept' once it answered every ping (those among
 * the frames, and one sent after them, so every frame before it has been read).
 */
async function outcomeOf(client: RealtimeClient, pingsSent: number): Promise<'kept' | number> {
  const closed = client.closed.then(({ code }) => code);
  if (client.socket.readyState === WebSocket.OPEN) client.send({ type: 'ping' });
  const answered = client.waitForCount((frame) => frame.type === 'pong', pingsSent + 1, 10_000).then(() => 'kept' as const);
  return Promise.race([closed, answered.catch(() => closed)]);
}

const isPing = (frame: ClientFrame) => expectedOutcome(frame) === 'kept' && (JSON.parse(frame.data.toString()) as { type: unknown }).type === 'ping';

describe.each(ENGINE_KINDS)('realtime client frames fuzzed (%s engine)', (kind) => {
  let server: TestServer;
  let alice: TenantUser;
  let bob: TenantUser;
  let mallory: TenantUser;
  let group: string;
  let malloryGroup: string;
  let observer: RealtimeClient;

  beforeAll(async () => {
    server = await startTestServer({ kind });
    const tenant = await createTestTenant(server.api, uniqueTenantId());
    [alice, bob, mallory] = (await tenant.users(['alice', 'bob', 'mallory'])) as [TenantUser, TenantUser, TenantUser];
    group = (await createGroup(server.api, alice.token, [bob.id], 'Fuzzed')).id;
    // mallory's own conversation (with bob): the typing she may send; the group is the one she must not reach.
    malloryGroup = (await createGroup(server.api, mallory.token, [bob.id], 'Mallory')).id;
    observer = await connectReady(server.url, bob.token, bob.id);
  }, 60_000);
  afterAll(async () => {
    await observer?.close();
    await server?.stop();
  });

  it(
    'closes with the documented code or ignores every frame; the server and other sockets carry on',
    async () => {
      const sender = fc.constantFrom('alice', 'mallory');
      const scenario = sender.chain((who) =>
        fc.record({
          who: fc.constant(who),
          frames: fc.array(frameArbitrary(who === 'alice' ? { own: group, foreign: malloryGroup } : { own: malloryGroup, foreign: group }), { minLength: 1, maxLength: 4 }),
        }),
      );
      await fc.assert(
        fc.asyncProperty(scenario, async ({ who, frames }) => {
          const user = who === 'alice' ? alice : mallory;
          const client = await connectReady(server.url, user.token, user.id);
          try {
            const expected = frames.map(expectedOutcome);
            const firstClose = expected.find((outcome) => outcome !== 'kept') ?? 'kept';
            for (const frame of frames) sendFrame(client, frame);
            const outcome = await outcomeOf(client, frames.filter(isPing).length);
            const where = `${who} sent ${frames.map((frame) => frame.description).join(' | ')}; got ${JSON.stringify(client.frames.slice(-3)).slice(0, 400)}`;
            expect(outcome, where).toBe(firstClose);
            for (const frame of client.frames) {
              expect(frame.type, where).toMatch(SERVER_FRAME_TYPE);
              if (frame.type === 'error') expect(Object.keys(ERROR_CODES), where).toContain(frame.code);
            }
          } finally {
            await client.close();
          }
          // The server carries on, and bob's socket still receives what happens in his conversation.
          expect((await server.api.get('/health/live')).status).toBe(200);
          await sendMarker(server.api, alice.token, group, [observer]);
          const overheard = observer.frames.filter((frame) => frame.type === 'typing' && frame.userId === mallory.id && frame.conversationId === group);
          expect(overheard, 'typing from a conversation mallory is not in reached its members').toEqual([]);
        }),
        { numRuns: RUNS, seed: SEED },
      );
    },
    60_000 + RUNS * 2_000,
  );
});

function sendFrame(client: RealtimeClient, frame: ClientFrame): void {
  if (client.socket.readyState !== WebSocket.OPEN) return;
  client.socket.send(frame.data, { binary: frame.binary });
}
