/**
 * Group members whose cursors agree share one frame: once the watermark is past each member's
 * own inbox position, an event reaches all of them as the same Buffer (built once, not once per
 * recipient). Real hub, realtime service and connections on the memory engine.
 */
import { describe, expect, it } from 'vitest';
import type { ConversationId, UserId } from '../domain/types.js';
import { recordingTransport, TEST_TENANT as tenant, useMemoryHubs } from '../test-support/memory-hub.js';
import { Connection } from './connection.js';

const members = ['u1', 'u2', 'u3'] as UserId[];
const memoryHub = useMemoryHubs();

describe('frames of one event', () => {
  it('are one Buffer for members whose cursors agree, once their inbox positions are below the watermark', async () => {
    const { engine, realtime, hub, message } = memoryHub({ settings: { cursorWindowMs: 1000 } });
    const conversation = await engine.conversations.createGroup(tenant, {
      id: 'g' as ConversationId,
      type: 'group',
      title: 'g',
      createdAt: Date.now() - 10_000,
      members: members.map((userId, i) => ({ userId, role: i === 0 ? 'owner' : 'member' })),
    });
    // Each member hears of the group through their inbox, each at another time (added one by one),
    // inside the window when they connect: each one's cursor names their own inbox position.
    const heard = Date.now() - 500;
    for (const [i, userId] of members.entries()) {
      await engine.events.notify(tenant, [userId], { type: 'conversation.created', conversationId: conversation.id, conversation }, heard + i);
    }
    const received: Buffer[][] = members.map(() => []);
    for (const [i, userId] of members.entries()) {
      const connection = new Connection(tenant, userId, recordingTransport(() => undefined, (frame) => received[i]!.push(frame)), hub);
      await hub.register(connection);
      await connection.start(null, await realtime.memberships(tenant, userId));
    }
    const send = async (at: number) => {
      await message(conversation.id, members[0]!, at);
      await new Promise((resolve) => setTimeout(resolve, 20));
    };
    await send(Date.now());
    await send(Date.now() + 2000);
    const [first, later] = [0, 1].map((index) => received.map((frames) => frames[index]!));
    // The first message: the watermark is below the inbox positions, so every cursor differs.
    expect(new Set(first!.map((frame) => frame.toString('utf8'))).size).toBe(members.length);
    // Two seconds later the watermark is past them: one cursor, one Buffer for everyone.
    expect(later!.every((frame) => frame === later![0])).toBe(true);
    expect(JSON.parse(later![0]!.toString('utf8')).cursor.split('.')[2]).toBe('-');
  });
});
