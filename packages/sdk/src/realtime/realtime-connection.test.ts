/**
 * The SDK's realtime connection against a real server process, on both engines: resume after a
 * forced disconnect with sends in between (no gap, no duplicate), de-duplication when the
 * server replays what was delivered, `resync.required` answered by a REST catch-up whose
 * overlap with live events is de-duplicated, the Server-Sent Events fallback when WebSockets
 * cannot be constructed (resuming over it too), the injected operations bound to the SDK's own
 * REST client (createParleyClient) with the offline queue, one socket when started twice while
 * the token is slow, a token refresh that gets no answer (retried, not offline), and (Redis) a
 * server restart.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { openDirect, sendMessage } from '../../../server/src/test-support/conversations.js';
import { ENGINE_KINDS } from '../../../server/src/test-support/engines.js';
import type { TenantUser } from '../../../server/src/test-support/conversations.js';
import { createTestNetwork, range, pair, record, restFor, useServerProcess, waitUntil, type ServerHandle, type TestNetwork } from '../test-support/realtime-world.js';
import { createRealtimeConnection, type RealtimeConnection, type RealtimeConnectionOptions } from './connection.js';
import type { WebSocketLike } from './deps.js';
import { restOperationsOf } from './rest-binding.js';
import { createParleyClient } from '../client.js';
import { createOfflineQueue } from '../offline-queue/offline-queue.js';
import { createLocalStore } from '../store/local-store.js';

/** A WebSocket that cannot be constructed, as where a proxy or policy blocks WebSockets. */
class BlockedWebSocket implements WebSocketLike {
  readonly readyState = 3;
  constructor(url: string) {
    throw new Error(`WebSockets are blocked here (${url})`);
  }
  send(): void {}
  close(): void {}
  addEventListener(): void {}
}

describe.each(ENGINE_KINDS)('realtime connection against a server process (%s engine)', (kind) => {
  // Logs keep 100 events: a client away for more than that gets resync.required.
  const server: ServerHandle = useServerProcess(kind, { EVENT_RETENTION_MAX_EVENTS: '100' });
  const open: RealtimeConnection[] = [];
  afterEach(() => open.splice(0).forEach((connection) => connection.close()));

  const connect = (user: TenantUser, network: TestNetwork, extra: Partial<RealtimeConnectionOptions> = {}) => {
    const connection = createRealtimeConnection({
      baseUrl: server.url,
      getToken: async () => user.token,
      WebSocket: network.WebSocket,
      fetch: network.fetch,
      rest: restFor(() => server.url, user.token),
      backoff: { baseMs: 50, capMs: 400 },
      ...extra,
    });
    open.push(connection);
    return connection;
  };

  /** Sends `count` messages, `label 1`..., in order. */
  const sendMany = async (token: string, conversationId: string, label: string, count: number) => {
    for (let i = 1; i <= count; i++) await sendMessage(server.api, token, conversationId, `${label} ${i}`);
  };

  it('resumes after a forced disconnect with sends in between: every message once, in order', async () => {
    const [alice, bob] = await pair(server);
    const { id } = await openDirect(server.api, alice.token, bob.id);
    const network = createTestNetwork();
    const connection = connect(bob, network);
    const recorder = record(connection);
    await recorder.waitFor(() => connection.state === 'live', 'live');
    expect(connection.transportKind).toBe('websocket');
    await sendMany(alice.token, id, 'before', 3);
    await recorder.waitFor(() => recorder.seqs(id).length === 3, 'three messages');

    network.cut();
    await recorder.waitFor(() => connection.state === 'reconnecting', 'reconnecting');
    await sendMany(alice.token, id, 'while away', 5);
    network.restore();
    await recorder.waitFor(() => recorder.seqs(id).length >= 8, 'the five missed messages');
    await sendMany(alice.token, id, 'after', 2);
    await recorder.waitFor(() => recorder.seqs(id).length >= 10, 'live messages after the resume');

    expect(recorder.seqs(id)).toEqual(range(1, 10));
    expect(recorder.states).toEqual(['connecting', 'live', 'reconnecting', 'live']);
    // The server replayed them from the cursor: no REST catch-up was needed.
    expect(recorder.events.filter((event) => event.cursor === null)).toEqual([]);
    expect(connection.positions).toEqual({ [id]: 10 });
  });

  it('de-duplicates by (conversationId, seq) what the server replays from an older cursor', async () => {
    const [alice, bob] = await pair(server);
    const { id } = await openDirect(server.api, alice.token, bob.id);
    const first = connect(bob, createTestNetwork());
    const firstRecorder = record(first);
    await firstRecorder.waitFor(() => first.state === 'live', 'live');
    await sendMany(alice.token, id, 'one', 2);
    await firstRecorder.waitFor(() => firstRecorder.seqs(id).length === 2, 'two messages');
    const olderCursor = first.cursor;
    await sendMany(alice.token, id, 'two', 3);
    await firstRecorder.waitFor(() => firstRecorder.seqs(id).length === 5, 'five messages');
    first.close();

    // A page reload that saved its cursor before the last three events but its positions after
    // them (they are saved at different moments): the server replays seqs 3..5 again.
    const network = createTestNetwork();
    const second = connect(bob, network, { cursor: olderCursor, positions: first.positions });
    const secondRecorder = record(second);
    await secondRecorder.waitFor(() => second.state === 'live', 'live');
    await sendMany(alice.token, id, 'three', 1);
    // Events of a conversation arrive in seq order: once seq 6 is here, any replay of 3..5 came before it.
    await secondRecorder.waitFor(() => secondRecorder.seqs(id).includes(6), 'seq 6');
    // The server did offer 3..5 again (so de-duplication was exercised), and they were dropped.
    expect(network.offeredSeqs(id)).toEqual([3, 4, 5, 6]);
    expect(secondRecorder.seqs(id)).toEqual([6]);
  });

  it('resync.required: the missed messages come over REST once, in order, then live ones (overlap de-duplicated)', async () => {
    const [alice, bob] = await pair(server);
    const { id } = await openDirect(server.api, alice.token, bob.id);
    const network = createTestNetwork();
    const rest = restFor(() => server.url, bob.token);
    let reads = 0;
    const connection = connect(bob, network, {
      rest: {
        ...rest,
        // While the catch-up reads, alice sends: one message before the first read (REST returns
        // it and the live stream carries it too) and one after (live only).
        async messagesAfter(conversationId, afterSeq, limit) {
          reads += 1;
          if (reads === 1) await sendMessage(server.api, alice.token, id, 'during catch-up, before the read');
          const page = await rest.messagesAfter(conversationId, afterSeq, limit);
          if (reads === 1) await sendMessage(server.api, alice.token, id, 'during catch-up, after the read');
          return page;
        },
      },
    });
    const recorder = record(connection);
    const resyncs: { missed: number }[] = [];
    connection.on('resync', (resync) => resyncs.push(resync));
    await recorder.waitFor(() => connection.state === 'live', 'live');
    await sendMany(alice.token, id, 'before', 2);
    await recorder.waitFor(() => recorder.seqs(id).length === 2, 'two messages');

    network.cut();
    await recorder.waitFor(() => connection.state === 'reconnecting', 'reconnecting');
    // 110 events: more than the log keeps, so the cursor cannot be replayed.
    for (let batch = 0; batch < 11; batch++) {
      await Promise.all(range(1, 10).map((i) => sendMessage(server.api, alice.token, id, `away ${batch}.${i}`)));
    }
    network.restore();
    await recorder.waitFor(() => resyncs.length === 1 && recorder.seqs(id).length >= 114, 'catch-up and the messages sent during it', 30_000);
    await sendMany(alice.token, id, 'live', 1);
    await recorder.waitFor(() => recorder.seqs(id).includes(115), 'seq 115');

    expect(recorder.seqs(id)).toEqual(range(1, 115));
    const caughtUp = recorder.events.filter((event) => event.cursor === null).map((event) => (event.type === 'message.created' ? event.message.seq : -1));
    expect(caughtUp.slice(0, 110)).toEqual(range(3, 112));
    expect(resyncs).toHaveLength(1);
    expect(resyncs[0]!.missed).toBe(caughtUp.length);
    expect(reads).toBeGreaterThanOrEqual(2);
    // What was delivered is what the server stored.
    const history = (await rest.messagesAfter(id, 0, 100)).items.concat((await rest.messagesAfter(id, 100, 100)).items);
    const delivered = recorder.events.flatMap((event) => (event.type === 'message.created' ? [event.message.id] : []));
    expect(delivered).toEqual(history.map((message) => message.id));
  });

  it('falls back to Server-Sent Events when the WebSocket constructor fails, and resumes over them', async () => {
    const [alice, bob] = await pair(server);
    const { id } = await openDirect(server.api, alice.token, bob.id);
    const network = createTestNetwork();
    const connection = connect(bob, network, { WebSocket: BlockedWebSocket });
    const recorder = record(connection);
    await recorder.waitFor(() => connection.state === 'live', 'live');
    expect(connection.transportKind).toBe('sse');
    await sendMany(alice.token, id, 'over SSE', 2);
    await recorder.waitFor(() => recorder.seqs(id).length === 2, 'two messages');
    // Server-Sent Events flow one way: typing cannot be sent over them.
    expect(connection.sendTyping(id)).toBe(false);

    network.cut();
    await recorder.waitFor(() => connection.state === 'reconnecting', 'reconnecting');
    await sendMany(alice.token, id, 'while away', 3);
    network.restore();
    await sendMany(alice.token, id, 'after', 1);
    await recorder.waitFor(() => recorder.seqs(id).includes(6), 'seq 6');
    expect(recorder.seqs(id)).toEqual(range(1, 6));
    expect(recorder.events.filter((event) => event.cursor === null)).toEqual([]);
    expect(connection.transportKind).toBe('sse');
    expect(network.opened).toEqual({ websocket: 0, sse: 2 });
  });

  it('falls back to Server-Sent Events when WebSockets fail before opening, and sends typing over a WebSocket', async () => {
    const [alice, bob] = await pair(server);
    const { id } = await openDirect(server.api, alice.token, bob.id);
    // A WebSocket that always fails to connect (as through a proxy that refuses upgrades).
    const network = createTestNetwork();
    class RefusedWebSocket extends WebSocket {
      constructor(_url: string) {
        super('ws://127.0.0.1:1/v1/realtime');
      }
    }
    const connection = connect(bob, network, { WebSocket: RefusedWebSocket });
    const recorder = record(connection);
    await recorder.waitFor(() => connection.state === 'live', 'live');
    expect(connection.transportKind).toBe('sse');
    await sendMany(alice.token, id, 'over SSE', 1);
    await recorder.waitFor(() => recorder.seqs(id).length === 1, 'one message');

    // Typing goes over a WebSocket: alice's connection tells bob's.
    const alices = connect(alice, createTestNetwork());
    await record(alices).waitFor(() => alices.state === 'live', 'alice live');
    const typing: string[] = [];
    connection.on('typing', (event) => typing.push(`${event.conversationId}:${event.userId}`));
    expect(alices.sendTyping(id)).toBe(true);
    // Throttled: a second typing frame right away is not sent.
    expect(alices.sendTyping(id)).toBe(false);
    await recorder.waitFor(() => typing.length === 1, 'typing over SSE');
    expect(typing).toEqual([`${id}:${alice.id}`]);
  });

  it('bound to the SDK\'s REST client: queued sends while away, then a resync caught up through it', async () => {
    const [alice, bob] = await pair(server);
    const { id } = await openDirect(server.api, alice.token, bob.id);
    const bobsClient = createParleyClient({ baseUrl: server.url, getToken: async () => bob.token });
    const alicesClient = createParleyClient({ baseUrl: server.url, getToken: async () => alice.token });
    const network = createTestNetwork();
    const connection = connect(bob, network, { getToken: () => bobsClient.getToken(), rest: restOperationsOf(bobsClient) });
    const recorder = record(connection);
    // Bob's local store follows the connection, catch-up included.
    const store = createLocalStore({ userId: bob.id });
    store.follow(connection);
    await recorder.waitFor(() => connection.state === 'live', 'live');
    store.loadConversations(await restOperationsOf(bobsClient).listConversations());
    await sendMany(alice.token, id, 'before', 1);
    await recorder.waitFor(() => recorder.seqs(id).length === 1, 'one message');

    network.cut();
    await recorder.waitFor(() => connection.state === 'reconnecting', 'reconnecting');
    const queue = await createOfflineQueue({ rest: restOperationsOf(alicesClient) });
    for (let i = 1; i <= 101; i++) await queue.send(id, `queued ${i}`);
    await waitUntil(() => queue.pending.length === 0, 'the queue sent everything', 30_000);
    network.restore();
    await recorder.waitFor(() => recorder.seqs(id).length >= 102, 'the catch-up', 30_000);
    expect(recorder.seqs(id)).toEqual(range(1, 102));
    expect(recorder.events.filter((event) => event.cursor === null)).toHaveLength(101);
    expect(queue.messages.map((item) => item.message?.seq)).toEqual(range(2, 102));
    expect(store.messages(id).map((message) => message.seq)).toEqual(range(1, 102));
    expect(store.conversation(id)).toMatchObject({ unreadCount: 102, lastSeq: 102, lastMessage: { text: 'queued 101' } });
  });

  it('started twice while the token is slow (a refresh in flight): one socket to the server', async () => {
    const [, bob] = await pair(server);
    const network = createTestNetwork();
    const slowToken = () => new Promise<string>((resolve) => setTimeout(() => resolve(bob.token), 200));
    const connection = connect(bob, network, { getToken: slowToken });
    connection.start();
    const recorder = record(connection);
    await recorder.waitFor(() => connection.state === 'live', 'live');
    // Both token requests (had there been two) are answered by now.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(network.opened).toEqual({ websocket: 1, sse: 0 });
  });

  it('a token refresh that gets no answer (network down when the token is due) is retried: reconnects once the network is back', async () => {
    let offsetMs = 0;
    const network = createTestNetwork();
    // Built-in sign-in, its refresh going through the same network as the connection.
    const client = createParleyClient({ baseUrl: server.url, fetch: network.fetch, now: () => Date.now() + offsetMs });
    await client.auth!.register({ username: `b2-${Math.random().toString(36).slice(2, 10)}`, password: 'correct horse battery' });
    const connection = createRealtimeConnection({
      baseUrl: server.url,
      getToken: (request) => client.getToken(request),
      WebSocket: network.WebSocket,
      fetch: network.fetch,
      rest: restOperationsOf(client),
      backoff: { baseMs: 50, capMs: 400 },
    });
    open.push(connection);
    const errors: string[] = [];
    connection.on('error', ({ kind }) => errors.push(kind));
    const recorder = record(connection);
    await recorder.waitFor(() => connection.state === 'live', 'live');

    // The laptop sleeps past the token's expiry and wakes before the network is back.
    offsetMs = 16 * 60_000;
    network.cut();
    await waitUntil(() => errors.filter((kind) => kind === 'token').length >= 2, 'two failed refreshes, retried');
    expect(connection.state).toBe('reconnecting');
    expect(await client.auth!.session()).not.toBeNull();
    network.restore();
    await recorder.waitFor(() => connection.state === 'live', 'live again');
    expect(recorder.states).toEqual(['connecting', 'live', 'reconnecting', 'live']);
    expect(errors.every((kind) => kind === 'token')).toBe(true);
  });

  it.runIf(kind === 'redis')('a server restart (1012): reconnects to the new process and resumes from the cursor', async () => {
    const [alice, bob] = await pair(server);
    const { id } = await openDirect(server.api, alice.token, bob.id);
    const connection = connect(bob, createTestNetwork());
    const recorder = record(connection);
    await recorder.waitFor(() => connection.state === 'live', 'live');
    await sendMany(alice.token, id, 'before', 2);
    await recorder.waitFor(() => recorder.seqs(id).length === 2, 'two messages');

    await server.restart();
    await sendMany(alice.token, id, 'after the restart', 3);
    await recorder.waitFor(() => recorder.seqs(id).length >= 5, 'the messages sent while the node restarted', 30_000);
    expect(recorder.seqs(id)).toEqual(range(1, 5));
    expect(recorder.states).toEqual(['connecting', 'live', 'reconnecting', 'live']);
    expect(recorder.events.filter((event) => event.cursor === null)).toEqual([]);
  });
});
