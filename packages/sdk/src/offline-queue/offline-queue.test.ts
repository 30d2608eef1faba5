/**
 * The offline send queue against a real server process, on both engines: messages queued while
 * the network is down are stored exactly once when it returns (flushed by the realtime
 * connection coming back), and the receiver's connection gets each once; an acknowledgement lost in
 * transit is retried with the same clientMessageId and never makes a second copy; a queue
 * recreated over the same storage (a page reload, in memory or Web Storage) sends what was
 * pending, once; permanent refusals fail without endless retries while the rest goes on.
 * "Exactly once" is checked against the REST history, not the queue's own account.
 * Without a server: an attempt still under way when the queue stops writes nothing back.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { historyOf, openDirect } from '../../../server/src/test-support/conversations.js';
import { ENGINE_KINDS } from '../../../server/src/test-support/engines.js';
import type { TenantUser } from '../../../server/src/test-support/conversations.js';
import { createTestNetwork, pair, record, restFor, useServerProcess, waitUntil, type TestNetwork } from '../test-support/realtime-world.js';
import { createRealtimeConnection, type RealtimeConnection } from '../realtime/connection.js';
import type { SendMessageRest } from '../realtime/deps.js';
import { createOfflineQueue, type OfflineQueue, type OfflineQueueOptions } from './offline-queue.js';
import { MemoryQueueStorage, WebStorageQueueStorage, type QueueStorage, type WebStorageArea } from './storage.js';

/** A Web Storage (what `localStorage` is in a browser) kept in a Map. */
function mapWebStorage(): WebStorageArea {
  const values = new Map<string, string>();
  return {
    getItem: (key) => values.get(key) ?? null,
    setItem: (key, value) => void values.set(key, value),
    removeItem: (key) => void values.delete(key),
  };
}

describe.each(ENGINE_KINDS)('offline queue against a server process (%s engine)', (kind) => {
  const server = useServerProcess(kind);
  const queues: OfflineQueue[] = [];
  const connections: RealtimeConnection[] = [];
  afterEach(() => {
    queues.splice(0).forEach((queue) => queue.stop());
    connections.splice(0).forEach((open) => open.close());
  });
  const connection = (user: TenantUser, network: TestNetwork) => {
    const opened = createRealtimeConnection({
      baseUrl: server.url,
      getToken: async () => user.token,
      WebSocket: network.WebSocket,
      fetch: network.fetch,
      rest: restFor(() => server.url, user.token),
      backoff: { baseMs: 50, capMs: 400 },
    });
    connections.push(opened);
    return opened;
  };

  const queueOf = async (rest: SendMessageRest, options: Partial<OfflineQueueOptions> = {}) => {
    const queue = await createOfflineQueue({ rest, backoff: { baseMs: 20, capMs: 200 }, ...options });
    queues.push(queue);
    return queue;
  };
  const allSettled = (queue: OfflineQueue) => () => queue.messages.every((item) => item.status !== 'pending');
  const texts = async (token: string, conversationId: string) => (await historyOf(server.api, token, conversationId)).map((m) => m.text as string);

  it('messages queued while the network is down are stored exactly once, in order, when it returns; the receiver gets each once', async () => {
    const [alice, bob] = await pair(server);
    const { id } = await openDirect(server.api, alice.token, bob.id);
    const network = createTestNetwork();
    // Bob watches from another network; alice's queue and her realtime connection share hers,
    // and her connection coming back live is what flushes the queue.
    const bobs = connection(bob, createTestNetwork());
    const bobsRecorder = record(bobs);
    const alices = connection(alice, network);
    await waitUntil(() => bobs.state === 'live' && alices.state === 'live', 'both live');
    const queue = await queueOf(restFor(() => server.url, alice.token, network.fetch), {
      backoff: { baseMs: 60_000, capMs: 60_000 },
      scheduler: { random: () => 0.999 },
    });
    queue.flushWhenConnected(alices);

    network.cut();
    await waitUntil(() => alices.state === 'reconnecting', 'alice reconnecting');
    const queued = [];
    for (let i = 1; i <= 5; i++) queued.push(await queue.send(id, `offline ${i}`));
    await waitUntil(() => queue.messages[0]!.attempts === 1, 'first attempt failed');
    expect(queue.pending).toHaveLength(5);
    // In order: nothing behind the first message is attempted while it waits.
    expect(queue.messages.map((item) => item.attempts)).toEqual([1, 0, 0, 0, 0]);
    expect(new Set(queued.map((item) => item.clientMessageId)).size).toBe(5);

    // The queue's retry is a minute away: only the reconnect can flush it this soon.
    network.restore();
    await waitUntil(allSettled(queue), 'every message sent');
    expect(queue.messages.map((item) => item.status)).toEqual(['sent', 'sent', 'sent', 'sent', 'sent']);
    expect(await texts(alice.token, id)).toEqual(['offline 1', 'offline 2', 'offline 3', 'offline 4', 'offline 5']);
    expect(queue.messages.map((item) => item.message!.seq)).toEqual([1, 2, 3, 4, 5]);
    await bobsRecorder.waitFor(() => bobsRecorder.seqs(id).length === 5, 'bob received them');
    expect(bobsRecorder.seqs(id)).toEqual([1, 2, 3, 4, 5]);
  });

  it('an acknowledgement lost in transit is retried with the same clientMessageId: never a second copy', async () => {
    const [alice, bob] = await pair(server);
    const { id } = await openDirect(server.api, alice.token, bob.id);
    const rest = restFor(() => server.url, alice.token);
    const attemptsById = new Map<string, number>();
    const queue = await queueOf({
      async sendMessage(conversationId, body) {
        const attempts = (attemptsById.get(body.clientMessageId) ?? 0) + 1;
        attemptsById.set(body.clientMessageId, attempts);
        const message = await rest.sendMessage(conversationId, body);
        // The first answer of each message is lost: the server stored it, the client never hears.
        // (As the SDK reports it: status 0, no answer.)
        if (attempts === 1) throw Object.assign(new TypeError('fetch failed (connection reset)'), { status: 0 });
        return message;
      },
    });
    for (let i = 1; i <= 3; i++) await queue.send(id, `lossy ${i}`);
    await waitUntil(allSettled(queue), 'every message sent');
    expect(queue.messages.map((item) => item.attempts)).toEqual([2, 2, 2]);
    const history = await historyOf(server.api, alice.token, id);
    expect(history.map((m) => m.text)).toEqual(['lossy 1', 'lossy 2', 'lossy 3']);
    expect(queue.messages.map((item) => item.message!.id)).toEqual(history.map((m) => m.id));
  });

  it.each([
    ['in memory', (): QueueStorage => new MemoryQueueStorage()],
    ['in Web Storage', (): QueueStorage => new WebStorageQueueStorage(mapWebStorage())],
  ])('a queue recreated over the same storage (%s) sends what was pending, once', async (_label, newStorage) => {
    const [alice, bob] = await pair(server);
    const { id } = await openDirect(server.api, alice.token, bob.id);
    const storage = newStorage();
    const rest = restFor(() => server.url, alice.token);
    // The first page: its first send reaches the server, then the page is closed before the
    // answer arrives; the two messages behind it were never attempted.
    let reached = 0;
    const first = await queueOf(
      {
        async sendMessage(conversationId, body) {
          await rest.sendMessage(conversationId, body);
          reached += 1;
          return new Promise(() => {});
        },
      },
      { storage },
    );
    const queued = [await first.send(id, 'reload 1'), await first.send(id, 'reload 2'), await first.send(id, 'reload 3')];
    await waitUntil(() => reached === 1, 'the first send reached the server');
    first.stop();

    const second = await queueOf(rest, { storage });
    expect(second.pending.map((item) => item.clientMessageId)).toEqual(queued.map((item) => item.clientMessageId));
    await waitUntil(allSettled(second), 'every message sent after the reload');
    expect(await texts(alice.token, id)).toEqual(['reload 1', 'reload 2', 'reload 3']);
    // Acknowledged messages leave storage: a third page has nothing to send.
    const third = await queueOf(rest, { storage });
    expect(third.messages).toEqual([]);
  });

  it('a permanent refusal fails the message after one attempt and the next ones go on; 429 and 5xx are retried', async () => {
    const [alice, bob] = await pair(server);
    const { id } = await openDirect(server.api, alice.token, bob.id);
    const rest = restFor(() => server.url, alice.token);
    let transientLeft = 2;
    const queue = await queueOf({
      async sendMessage(conversationId, body) {
        if (body.text === 'transient' && transientLeft-- > 0) {
          throw Object.assign(new Error(transientLeft === 1 ? 'rate limited' : 'bad gateway'), {
            status: transientLeft === 1 ? 429 : 502,
            retryAfterSeconds: transientLeft === 1 ? 0.05 : null,
          });
        }
        return rest.sendMessage(conversationId, body);
      },
    });
    const tooLong = await queue.send(id, 'x'.repeat(4001));
    const notAMember = await queue.send('no-such-conversation', 'lost');
    await queue.send(id, 'transient');
    await queue.send(id, 'fine');
    await waitUntil(allSettled(queue), 'every message settled');

    expect(queue.messages.map((item) => [item.status, item.attempts, item.lastError?.status])).toEqual([
      ['failed', 1, 400],
      ['failed', 1, 404],
      ['sent', 3, undefined],
      ['sent', 1, undefined],
    ]);
    await expect(queue.settled(tooLong.clientMessageId)).rejects.toMatchObject({ status: 400 });
    expect(await texts(alice.token, id)).toEqual(['transient', 'fine']);

    // Retried by hand it fails again (still too long); discarded, it is forgotten.
    await queue.retry(notAMember.clientMessageId);
    await waitUntil(() => queue.failed.length === 2 && queue.pending.length === 0, 'the retry failed');
    expect(queue.failed.find((item) => item.clientMessageId === notAMember.clientMessageId)!.attempts).toBe(2);
    await queue.discard(tooLong.clientMessageId);
    await queue.discard(notAMember.clientMessageId);
    expect(queue.messages.map((item) => item.text)).toEqual(['transient', 'fine']);
  });

  it('two tabs over one storage keep each other\'s messages; a later page sends both, once', async () => {
    const [alice, bob] = await pair(server);
    const { id } = await openDirect(server.api, alice.token, bob.id);
    const storage = new WebStorageQueueStorage(mapWebStorage());
    const network = createTestNetwork();
    network.cut();
    const tabA = await queueOf(restFor(() => server.url, alice.token, network.fetch), { storage });
    const tabB = await queueOf(restFor(() => server.url, alice.token, network.fetch), { storage });
    await tabA.send(id, 'from tab A');
    await tabB.send(id, 'from tab B');
    // Tab A writes again (an attempt failed): tab B's message must survive it.
    await waitUntil(() => tabA.messages[0]!.attempts >= 2, 'tab A retried');
    tabA.stop();
    tabB.stop();

    network.restore();
    const later = await queueOf(restFor(() => server.url, alice.token), { storage });
    // Across tabs the order is the time queued, to the millisecond: these two may share one.
    expect(later.pending.map((item) => item.text).sort()).toEqual(['from tab A', 'from tab B']);
    await waitUntil(allSettled(later), 'both sent');
    expect((await texts(alice.token, id)).sort()).toEqual(['from tab A', 'from tab B']);
  });
});

describe('offline queue stopped with an attempt under way', () => {
  it('writes nothing to the storage after stop(): a key removed at sign-out stays removed', async () => {
    const storage = new MemoryQueueStorage();
    let fail: (error: Error) => void = () => {};
    // A send the network has not answered yet; it fails after the queue was stopped.
    const rest: SendMessageRest = { sendMessage: () => new Promise((_resolve, reject) => (fail = reject)) };
    const queue = await createOfflineQueue({ rest, storage, storageKey: 'outbox.x' });
    await queue.send('c1', 'a secret draft');
    expect(storage.get('outbox.x')).toContain('a secret draft');

    // Explicit sign-out: stop, then remove the user's outbox.
    queue.stop();
    storage.remove('outbox.x');
    fail(Object.assign(new Error('fetch failed'), { status: 0 }));
    await waitUntil(() => queue.messages[0]?.lastError !== undefined, 'the attempt ended');
    await new Promise((resolve) => setImmediate(resolve));
    expect(storage.get('outbox.x')).toBeNull();
  });
});
