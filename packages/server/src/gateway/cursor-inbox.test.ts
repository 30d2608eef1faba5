/**
 * The cursor drops the inbox position once the watermark passes it (so group members' cursors
 * agree), and a resume from such a cursor still gets exactly the inbox and conversation events
 * it missed: membership changes just above the watermark, a removal, a new conversation, and
 * nothing it had already seen. Real parts on the memory engine (hub, realtime service,
 * connection), events stamped at chosen times and a one-second cursor window.
 */
import { describe, expect, it } from 'vitest';
import type { EventId } from '../domain/events.js';
import type { ConversationId, UserId } from '../domain/types.js';
import { recordingTransport, TEST_TENANT as tenant, useMemoryHubs } from '../test-support/memory-hub.js';
import { Connection } from './connection.js';
import { decodeCursor } from './cursor.js';

const alice = 'alice' as UserId;
const bob = 'bob' as UserId;
const memoryHub = useMemoryHubs();

describe('a cursor whose inbox position fell below the watermark', () => {
  it('names no inbox, and resuming from it replays exactly the missed inbox and conversation events', async () => {
    const t0 = Date.now() - 60_000;
    let now = t0 + 500;
    const { engine, realtime, hub, message } = memoryHub({ clock: () => now, settings: { cursorWindowMs: 1000 } });
    const frames: any[] = [];
    const transport = recordingTransport((frame) => frames.push(frame));
    const open = async (cursor: string | null) => {
      const connection = new Connection(tenant, alice, transport, hub);
      await hub.register(connection);
      await connection.start(cursor === null ? null : { cursor: decodeCursor(cursor)!, text: cursor }, await realtime.memberships(tenant, alice));
      return connection;
    };
    const group = async (id: string, at: number, members: UserId[]) => {
      const conversation = await engine.conversations.createGroup(tenant, {
        id: id as ConversationId,
        type: 'group',
        title: id,
        createdAt: at,
        members: members.map((userId, i) => ({ userId, role: i === 0 ? 'owner' : 'member' })),
      });
      if (members.includes(alice)) await engine.events.notify(tenant, [alice], { type: 'conversation.created', conversationId: conversation.id, conversation }, at);
      return conversation.id;
    };
    const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

    const g1 = await group('g1', t0, [bob, alice]);
    const g3 = await group('g3', t0, [bob]);
    const first = await open(null);
    expect(decodeCursor(frames[0].cursor)!.inbox).not.toBeNull();

    // Live: a message 2 s later raises the watermark past the inbox's conversation.created.
    await message(g1, bob, t0 + 2000);
    await settle();
    const seen = frames.at(-1);
    expect(seen.type).toBe('message.created');
    const cursor = decodeCursor(seen.cursor)!;
    expect(cursor.watermark).toBe(t0 + 1000);
    expect(cursor.inbox).toBeNull();
    first.close(1000, 'away');
    await hub.unregister(first);

    // While away: an addition 1 ms above the watermark, a removal, a new conversation.
    await engine.conversations.addMembers(tenant, g3, [alice], 'member', t0 + 1001, 100);
    await engine.events.notify(tenant, [alice], { type: 'member.added', conversationId: g3, userId: alice, role: 'member' }, t0 + 1001);
    await message(g3, bob, t0 + 1002);
    await message(g1, bob, t0 + 2200);
    await engine.conversations.removeMember(tenant, g1, alice, t0 + 2500);
    await engine.events.notify(tenant, [alice], { type: 'member.removed', conversationId: g1, userId: alice, role: 'member' }, t0 + 2500);
    await message(g1, bob, t0 + 2600);
    const g2 = await group('g2', t0 + 2700, [bob, alice]);
    await message(g2, bob, t0 + 2800);

    now = t0 + 3000;
    frames.length = 0;
    await open(seen.cursor);
    await message(g2, bob, t0 + 2900);
    await settle();
    const described = frames
      .filter((frame) => frame.type !== 'ready' && frame.type !== 'presence')
      .map((frame) => `${frame.type} ${frame.message?.conversationId ?? frame.conversationId ?? frame.conversation?.id} ${frame.message?.text ?? ''}`.trim());
    expect(described).toEqual([
      'member.added g3',
      'message.created g3 #2',
      'message.created g1 #3',
      'member.removed g1',
      'conversation.created g2',
      'message.created g2 #5',
      'message.created g2 #6',
    ]);
    // The resumed connection's cursor names its inbox again while it is above the watermark.
    expect(decodeCursor(frames.at(-1).cursor)!.inbox).toBe(`${t0 + 2700}-0` as EventId);
  });
});
