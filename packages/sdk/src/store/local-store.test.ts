/**
 * The local store kept in sync by a real realtime connection to a server process, on both
 * engines: unread counts and the order by activity follow messages and reads; "seen by" follows
 * members' read receipts; edits, deletes and reactions apply to the stored messages (the user's
 * own reactions keep `me`); applying an event twice changes nothing; a connection resuming from
 * a cursor saved before a REST load of the list does not count the replayed messages again.
 * Without a server: `addMessage` (an acknowledged send) counts once; a throwing subscriber does
 * not stop the others.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createGroup, openDirect, sendMessage } from '../../../server/src/test-support/conversations.js';
import { ENGINE_KINDS } from '../../../server/src/test-support/engines.js';
import type { TenantUser } from '../../../server/src/test-support/conversations.js';
import { pair, restFor, useServerProcess, users, waitUntil } from '../test-support/realtime-world.js';
import { createRealtimeConnection, type RealtimeConnection, type RealtimeEvent } from '../realtime/connection.js';
import type { ConversationListItem, Message } from '../realtime/wire.js';
import { createLocalStore, type LocalStore } from './local-store.js';

describe.each(ENGINE_KINDS)('local store synced by a realtime connection (%s engine)', (kind) => {
  const server = useServerProcess(kind);
  const connections: RealtimeConnection[] = [];
  afterEach(() => connections.splice(0).forEach((connection) => connection.close()));

  /** A store for `user`: conversations loaded over REST, then kept in sync by a live connection. */
  const storeFor = async (user: TenantUser): Promise<{ store: LocalStore; connection: RealtimeConnection; events: RealtimeEvent[] }> => {
    const rest = restFor(() => server.url, user.token);
    const store = createLocalStore({ userId: user.id });
    const connection = createRealtimeConnection({ baseUrl: server.url, getToken: async () => user.token, WebSocket, rest });
    connections.push(connection);
    const events: RealtimeEvent[] = [];
    connection.on('event', (event) => events.push(event));
    store.follow(connection);
    await waitUntil(() => connection.state === 'live', 'live');
    store.loadConversations(await rest.listConversations());
    return { store, connection, events };
  };
  const read = async (user: TenantUser, conversationId: string, seq: number) => {
    const response = await server.api.post(`/v1/conversations/${conversationId}/read`, { seq }, user.token);
    expect(response.status).toBe(204);
  };
  const unread = (store: LocalStore) => Object.fromEntries(store.conversations().map((c) => [c.title ?? 'direct', c.unreadCount]));

  it('unread counts and the order by activity follow messages and reads', async () => {
    const [alice, bob, carol] = await users(server, 3);
    const direct = await openDirect(server.api, alice!.token, bob!.id);
    const group = await createGroup(server.api, alice!.token, [bob!.id, carol!.id], 'group');
    const { store, events } = await storeFor(bob!);
    let notifications = 0;
    store.subscribe(() => (notifications += 1));

    await sendMessage(server.api, alice!.token, direct.id, 'd1');
    await sendMessage(server.api, alice!.token, direct.id, 'd2');
    await sendMessage(server.api, alice!.token, group.id, 'g1');
    await waitUntil(() => store.conversation(group.id)?.unreadCount === 1, 'group unread');
    expect(unread(store)).toEqual({ group: 1, direct: 2 });
    expect(store.conversations().map((c) => c.id)).toEqual([group.id, direct.id]);
    expect(notifications).toBeGreaterThan(0);

    await sendMessage(server.api, alice!.token, direct.id, 'd3');
    await waitUntil(() => store.conversation(direct.id)?.unreadCount === 3, 'direct unread 3');
    expect(store.conversations().map((c) => c.id)).toEqual([direct.id, group.id]);
    expect(store.messages(direct.id).map((m) => m.text)).toEqual(['d1', 'd2', 'd3']);

    // The same event applied again (a duplicate) changes nothing.
    const snapshot = store.conversations();
    store.apply(events.findLast((event) => event.type === 'message.created')!);
    expect(store.conversation(direct.id)?.unreadCount).toBe(3);
    expect(store.messages(direct.id)).toHaveLength(3);
    expect(store.conversations()).toEqual(snapshot);

    // Bob's own message: nothing above his read position is unread any more.
    await sendMessage(server.api, bob!.token, direct.id, 'mine');
    await waitUntil(() => store.messages(direct.id).length === 4, 'own message');
    expect(store.conversation(direct.id)?.unreadCount).toBe(0);

    // Reads (from another of bob's devices: the read event) bring the count down.
    await sendMessage(server.api, alice!.token, group.id, 'g2');
    await waitUntil(() => store.conversation(group.id)?.unreadCount === 2, 'group unread 2');
    await read(bob!, group.id, 1);
    await waitUntil(() => store.conversation(group.id)?.unreadCount === 1, 'group read up to 1');
    await read(bob!, group.id, 2);
    await waitUntil(() => store.conversation(group.id)?.unreadCount === 0, 'group read up to 2');
    // And REST agrees.
    const listed = await restFor(() => server.url, bob!.token).listConversations();
    expect(Object.fromEntries(listed.map((c) => [c.id, c.unreadCount]))).toEqual({ [direct.id]: 0, [group.id]: 0 });
  });

  it('"seen by" follows the members\' read receipts', async () => {
    const [alice, bob, carol] = await users(server, 3);
    const group = await createGroup(server.api, alice!.token, [bob!.id, carol!.id], 'receipts');
    const { store } = await storeFor(alice!);
    await sendMessage(server.api, alice!.token, group.id, 'one');
    await sendMessage(server.api, alice!.token, group.id, 'two');
    await waitUntil(() => store.messages(group.id).length === 2, 'two messages');
    expect(store.seenBy(group.id, 1)).toEqual([]);

    await read(bob!, group.id, 2);
    await read(carol!, group.id, 1);
    await waitUntil(() => store.seenBy(group.id, 1).length === 2, 'both read the first');
    expect(store.seenBy(group.id, 1)).toEqual([bob!.id, carol!.id].sort());
    expect(store.seenBy(group.id, 2)).toEqual([bob!.id]);
    expect(store.readPositions(group.id).get(bob!.id)).toBe(2);
  });

  it('edits, deletes and reactions apply to the stored messages; the user\'s own reactions keep `me`', async () => {
    const [alice, bob] = await pair(server);
    const direct = await openDirect(server.api, alice.token, bob.id);
    const { store } = await storeFor(bob);
    const first = await sendMessage(server.api, alice.token, direct.id, 'first');
    const second = await sendMessage(server.api, alice.token, direct.id, 'second');
    await waitUntil(() => store.messages(direct.id).length === 2, 'two messages');

    expect((await server.api.patch(`/v1/conversations/${direct.id}/messages/${first.id}`, { text: 'first, edited' }, alice.token)).status).toBe(200);
    expect((await server.api.delete(`/v1/conversations/${direct.id}/messages/${second.id}`, alice.token)).status).toBe(204);
    const thumbs = encodeURIComponent('👍');
    expect((await server.api.put(`/v1/conversations/${direct.id}/messages/${first.id}/reactions/${thumbs}`, {}, bob.token)).status).toBe(204);
    await waitUntil(() => store.messages(direct.id)[0]!.reactions['👍'] !== undefined, 'bob\'s reaction');
    expect((await server.api.put(`/v1/conversations/${direct.id}/messages/${first.id}/reactions/${thumbs}`, {}, alice.token)).status).toBe(204);
    await waitUntil(() => store.messages(direct.id)[0]!.reactions['👍']?.count === 2, 'alice\'s reaction');

    const [edited, deleted] = store.messages(direct.id);
    expect(edited).toMatchObject({ seq: 1, text: 'first, edited', editedAt: expect.any(String), reactions: { '👍': { count: 2, me: true } } });
    expect(deleted).toMatchObject({ seq: 2, text: null, deletedAt: expect.any(String) });
    expect(store.conversation(direct.id)?.lastMessage).toMatchObject({ seq: 2, text: null });

    expect((await server.api.delete(`/v1/conversations/${direct.id}/messages/${first.id}/reactions/${thumbs}`, bob.token)).status).toBe(204);
    await waitUntil(() => store.messages(direct.id)[0]!.reactions['👍']?.count === 1, 'bob\'s reaction removed');
    expect(store.messages(direct.id)[0]!.reactions).toEqual({ '👍': { count: 1, me: false } });
  });

  it('a resume from a cursor saved before a REST load of the list does not count the replayed messages again', async () => {
    const [alice, bob] = await pair(server);
    const direct = await openDirect(server.api, alice.token, bob.id);
    await sendMessage(server.api, alice.token, direct.id, 'read before');
    await read(bob, direct.id, 1);
    const rest = restFor(() => server.url, bob.token);
    const connect = (saved: { cursor: string | null; positions: Record<string, number> } = { cursor: null, positions: {} }) => {
      const connection = createRealtimeConnection({ baseUrl: server.url, getToken: async () => bob.token, WebSocket, rest, ...saved });
      connections.push(connection);
      return connection;
    };
    // The first page load: live, its cursor saved; then the tab goes away.
    const first = connect();
    await waitUntil(() => first.state === 'live', 'first live');
    const saved = { cursor: first.cursor, positions: first.positions };
    first.close();
    // (Only messages of others: an own message in the replay would zero the count and hide a double count.)
    for (let i = 1; i <= 4; i++) await sendMessage(server.api, alice.token, direct.id, `away ${i}`);

    // The reload: the list over REST first, then the connection resumes from the saved cursor.
    const store = createLocalStore({ userId: bob.id });
    store.loadConversations(await rest.listConversations());
    expect(store.conversation(direct.id)).toMatchObject({ unreadCount: 4, lastSeq: 5, lastMessage: { text: 'away 4' } });
    const second = connect(saved);
    const replayed: number[] = [];
    second.on('message.created', ({ message }) => replayed.push(message.seq));
    store.follow(second);
    await waitUntil(() => replayed.includes(5), 'the replay up to seq 5');
    // The server did replay them (so the store was tested), and they were not counted again.
    expect(replayed).toEqual([2, 3, 4, 5]);
    expect(store.conversation(direct.id)).toMatchObject({ unreadCount: 4, lastSeq: 5, lastMessage: { text: 'away 4' } });

    // Live messages still count: bob's own (from another device) reads everything, alice's next is unread.
    await sendMessage(server.api, bob.token, direct.id, 'mine, elsewhere');
    await sendMessage(server.api, alice.token, direct.id, 'live');
    await waitUntil(() => store.conversation(direct.id)?.lastSeq === 7, 'seq 7');
    expect(store.conversation(direct.id)).toMatchObject({ unreadCount: 1, lastMessage: { text: 'live' } });
  });

  it('a new conversation arrives by event; one joined later is reported unknown until put', async () => {
    const [alice, bob, carol] = await users(server, 3);
    const older = await openDirect(server.api, alice!.token, bob!.id);
    await sendMessage(server.api, alice!.token, older.id, 'hello');
    const { store } = await storeFor(bob!);
    expect(store.conversations().map((c) => c.id)).toEqual([older.id]);

    const created = await createGroup(server.api, alice!.token, [bob!.id], 'new group');
    await waitUntil(() => store.conversation(created.id) !== undefined, 'conversation.created');
    expect(store.conversations().map((c) => c.id)).toEqual([created.id, older.id]);

    const joined = await createGroup(server.api, carol!.token, [alice!.id], 'joined later');
    expect((await server.api.post(`/v1/conversations/${joined.id}/members`, { userIds: [bob!.id] }, carol!.token)).status).toBe(200);
    await waitUntil(() => store.unknownConversationIds().length === 1, 'member.added for bob');
    expect(store.unknownConversationIds()).toEqual([joined.id]);
    const response = await server.api.get(`/v1/conversations/${joined.id}`, bob!.token);
    store.putConversation(response.body);
    expect(store.unknownConversationIds()).toEqual([]);
    expect(store.conversation(joined.id)?.title).toBe('joined later');
  });
});

describe('local store without a server', () => {
  const message = (seq: number, senderId: string): Message => ({
    id: `m${seq}`,
    conversationId: 'c1',
    seq,
    senderId,
    system: false,
    text: `text ${seq}`,
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString(),
    editedAt: null,
    deletedAt: null,
    replyTo: null,
    reactions: {},
  });
  const listItem: ConversationListItem = {
    id: 'c1',
    type: 'direct',
    title: null,
    members: [
      { userId: 'alice', role: 'member', lastReadSeq: 3, joinedAt: '2026-01-01T00:00:00.000Z' },
      { userId: 'bob', role: 'member', lastReadSeq: 1, joinedAt: '2026-01-01T00:00:00.000Z' },
    ],
    memberCount: 2,
    createdAt: '2026-01-01T00:00:00.000Z',
    lastSeq: 3,
    lastActivityAt: message(3, 'alice').createdAt,
    lastMessage: message(3, 'alice'),
    unreadCount: 2,
  };

  it('forgetMessages drops what is held of one conversation, keeping its list entry; a later page fills it again', () => {
    const store = createLocalStore({ userId: 'bob' });
    store.loadConversations([listItem]);
    store.loadMessages('c1', [message(1, 'alice'), message(2, 'bob'), message(3, 'alice')]);
    let notified = 0;
    store.subscribe(() => notified++);
    store.forgetMessages('c1');
    expect(store.messages('c1')).toEqual([]);
    expect(store.conversation('c1')).toMatchObject({ lastSeq: 3, unreadCount: 2, lastMessage: { seq: 3 } });
    expect(notified).toBe(1);
    store.forgetMessages('c1');
    expect(notified).toBe(1);
    store.loadMessages('c1', [message(3, 'alice')]);
    expect(store.messages('c1').map((m) => m.seq)).toEqual([3]);
  });

  it('addMessage (the queue\'s acknowledged send) counts as its message.created would; the event that follows changes nothing', () => {
    const store = createLocalStore({ userId: 'bob' });
    store.loadConversations([listItem]);
    store.addMessage(message(4, 'bob'));
    expect(store.conversation('c1')).toMatchObject({ unreadCount: 0, lastSeq: 4, lastMessage: { seq: 4, senderId: 'bob' } });
    expect(store.messages('c1').map((m) => m.seq)).toEqual([4]);
    const snapshot = store.conversation('c1');
    store.apply({ type: 'message.created', cursor: 'c', message: message(4, 'bob') });
    expect(store.conversation('c1')).toEqual(snapshot);
    store.apply({ type: 'message.created', cursor: 'c', message: message(5, 'alice') });
    expect(store.conversation('c1')).toMatchObject({ unreadCount: 1, lastSeq: 5 });
  });
});

describe('local store subscribers', () => {
  it('a subscriber that throws does not stop the others nor the caller; its error is reported', () => {
    const errors: unknown[] = [];
    const store = createLocalStore({ userId: 'bob', onListenerError: (error) => errors.push(error) });
    const calls: string[] = [];
    store.subscribe(() => calls.push('first'));
    store.subscribe(() => {
      throw new Error('a broken view');
    });
    store.subscribe(() => calls.push('third'));
    expect(() => store.loadConversations([])).not.toThrow();
    expect(calls).toEqual(['first', 'third']);
    expect(errors).toEqual([new Error('a broken view')]);
  });
});
