/**
 * A connection that joins a conversation catches up on its log from the join, then goes live.
 * Presenting a conversation event needs a read (its first members); live events that arrive while
 * the caught-up events are being presented must wait for them, or the position would move past
 * the rest of the log and those events would be dropped as already sent. Real parts on the memory
 * engine (hub, realtime service, connection), with the members' read slowed down.
 */
import { describe, expect, it } from 'vitest';
import type { ConversationId, UserId } from '../domain/types.js';
import { TEST_TENANT as tenant, recordingTransport, useMemoryHubs } from '../test-support/memory-hub.js';
import { Connection } from './connection.js';

const alice = 'alice' as UserId;
const bob = 'bob' as UserId;
const group = 'g' as ConversationId;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const memoryHub = useMemoryHubs();

describe('catching up after a join', () => {
  it('delivers the log from the join and the live events heard meanwhile once each, in order, when presenting the log takes reads', async () => {
    const { engine, realtime, hub, message } = memoryHub();
    // Reads the catch-up waits on are slow, as over a busy network (the hub and its connections
    // hold this very service).
    const { membership, firstMembers } = realtime;
    realtime.membership = async (...args) => (await pause(30), membership(...args));
    realtime.firstMembers = async (...args) => (await pause(60), firstMembers(...args));
    const frames: any[] = [];
    const transport = recordingTransport((frame) => frames.push(frame));
    const connection = new Connection(tenant, alice, transport, hub);
    await hub.register(connection);
    await connection.start(null, []);
    await engine.conversations.createGroup(tenant, { id: group, type: 'group', title: 'before', createdAt: Date.now(), members: [{ userId: bob, role: 'owner' }] });
    // Messages m1, m2 in order (memory-hub numbers them per node).
    const send = () => message(group, bob, Date.now());

    // Alice joins; her connection starts catching up (the membership read is slow), while the
    // group is renamed and a message sent: both are in the log it reads.
    await engine.conversations.addMembers(tenant, group, [alice], 'member', Date.now(), 100);
    await engine.events.notify(tenant, [alice], { type: 'member.added', conversationId: group, userId: alice, role: 'member' }, Date.now());
    await engine.conversations.update(tenant, group, { title: 'after' }, Date.now());
    await send();
    // Presenting the rename (a read of its members) is under way: a live message arrives.
    await pause(50);
    await send();
    const expected = ['conversation.updated', 'm1', 'm2'];
    const seen = () => frames.filter((frame) => frame.type === 'conversation.updated' || frame.type === 'message.created').map((frame) => (frame.type === 'message.created' ? frame.message.id : frame.type));
    for (let i = 0; i < 100 && seen().length < expected.length; i++) await pause(10);
    await pause(100);
    expect(seen()).toEqual(expected);
  });
});
