/**
 * A message for more local connections than one delivery slice is handed over a slice at a time,
 * with turns of the event loop in between, and still reaches every connection once, in log order,
 * with the cursor that follows it; ephemeral frames (typing) are sliced the same way. Presence
 * changes are gathered for a short window: every change reaches every other member, a user's
 * repeats within the window as their last state only. Real parts on the memory engine: the hub,
 * the realtime service and the connections, with recording transports.
 */
import { describe, expect, it } from 'vitest';
import type { ConversationId, MessageId, UserId } from '../domain/types.js';
import type { Engine } from '../engine/engine.js';
import { TEST_TENANT as tenant, recordingTransport, useMemoryHubs } from '../test-support/memory-hub.js';
import { Connection } from './connection.js';
import { decodeCursor } from './cursor.js';
import { DELIVERY_SLICE, PRESENCE_BATCH_MS } from './hub.js';

const alice = 'alice' as UserId;
const bob = 'bob' as UserId;
const group = 'g' as ConversationId;

const memoryHub = useMemoryHubs();
let engine: Engine;

async function setUp(connectionCount: number) {
  const node = memoryHub();
  engine = node.engine;
  const { realtime, hub } = node;
  await engine.conversations.createGroup(tenant, { id: group, type: 'group', title: 'big', createdAt: Date.now(), members: [{ userId: bob, role: 'owner' }, { userId: alice, role: 'member' }] });
  const frames: any[][] = [];
  /** Opens one more connection of Alice's; its frames are pushed to `frames`. */
  const open = async () => {
    const received: any[] = [];
    const record = (frame: any) => received.push(frame);
    // Half the transports take bytes, half text: both forms carry the same frames.
    const bytes = frames.length % 2 === 0 ? (frame: Buffer) => record(JSON.parse(frame.toString('utf8'))) : undefined;
    const connection = new Connection(tenant, alice, recordingTransport(record, bytes), hub);
    frames.push(received);
    await hub.register(connection);
    await connection.start(null, await realtime.memberships(tenant, alice));
  };
  for (let i = 0; i < connectionCount; i++) await open();
  const send = (n: number) =>
    engine.messages.append(tenant, group, { id: `m${n}` as MessageId, senderId: bob, system: false, text: `#${n} é😀`, replyTo: null, createdAt: Date.now(), clientMessageId: null }, 60_000);
  return { hub, frames, send, open };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(check()).toBe(true);
}

describe('fan-out to more connections than a slice', () => {
  const count = 2 * DELIVERY_SLICE + 10;

  it('lets the event loop run between slices, and every connection gets every event once, in order, with its cursor', async () => {
    const { hub, frames, send } = await setUp(count);
    const created = (received: any[]) => received.filter((frame) => frame.type === 'message.created');
    // When the first connection gets the first message, a callback waits for the next turn: it
    // runs before the last slice has been handed the message.
    let reachedAtNextTurn: number | undefined;
    const first = frames[0]!;
    const push = first.push.bind(first);
    first.push = (...items: any[]) => {
      if (reachedAtNextTurn === undefined && items.some((frame) => frame.type === 'message.created')) {
        setImmediate(() => (reachedAtNextTurn = frames.filter((received) => created(received).length > 0).length));
        reachedAtNextTurn = -1;
      }
      return push(...items);
    };

    const total = 30;
    await Promise.all(Array.from({ length: total }, (_, i) => send(i + 1)));
    await until(() => frames.every((received) => created(received).length === total));

    expect(reachedAtNextTurn).toBeGreaterThan(0);
    expect(reachedAtNextTurn).toBeLessThan(count);
    for (const received of frames) {
      const events = created(received);
      expect(events.map((frame) => frame.message.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      expect(events.at(-1).message.text).toBe(`#${total} é😀`);
      // Each frame's cursor is a cursor, and the last one is where the connection stands.
      for (const frame of events) expect(decodeCursor(frame.cursor)).not.toBeNull();
    }
    await hub.close(1000, 'test over');
  });

  it('hands typing to every other connection of the group, sliced too', async () => {
    const { hub, frames } = await setUp(count);
    await engine.pubsub.publishEphemeral(tenant, group, { type: 'typing', conversationId: group, userId: bob });
    await until(() => frames.every((received) => received.some((frame) => frame.type === 'typing' && frame.userId === bob)));
    await hub.close(1000, 'test over');
  });
});

describe('presence changes', () => {
  const presence = (userId: string, status: 'online' | 'offline') =>
    engine.pubsub.publishEphemeral(tenant, group, { type: 'presence', userId: userId as UserId, status, lastSeenAt: status === 'offline' ? Date.now() : null });
  const presenceOf = (received: any[]) => received.filter((frame) => frame.type === 'presence').map((frame) => `${frame.userId}:${frame.status}`);

  it('reach every member, gathered: a user who flaps within the window shows only their last state, and later changes still come', async () => {
    const { hub, frames } = await setUp(3);
    const others = Array.from({ length: 50 }, (_, i) => `u${i}`);
    for (const userId of others) await presence(userId, 'online');
    // u0 flaps within the window: its members hear the last state only, once.
    await presence('u0', 'offline');
    await presence('u0', 'online');
    // Alice's own presence is never sent to her.
    await presence(alice, 'online');
    const expected = [...others.slice(1), 'u0'].map((userId) => `${userId}:online`);
    await until(() => frames.every((received) => presenceOf(received).length === expected.length));
    for (const received of frames) expect(presenceOf(received)).toEqual(expected);

    // After the window, a change is a new batch.
    await new Promise((resolve) => setTimeout(resolve, 2 * PRESENCE_BATCH_MS));
    await presence('u0', 'offline');
    await until(() => frames.every((received) => presenceOf(received).length === expected.length + 1));
    for (const received of frames) expect(presenceOf(received).at(-1)).toBe('u0:offline');
    await hub.close(1000, 'test over');
  });

  it('a connection opened after a change, within its window, is not sent it (as without gathering)', async () => {
    const { hub, frames, open } = await setUp(2);
    await presence('u1', 'online');
    // The hub has heard it (the memory engine publishes on the next turns), the window is still open.
    await new Promise((resolve) => setTimeout(resolve, 2));
    await open();
    await until(() => frames.slice(0, 2).every((received) => presenceOf(received).length === 1));
    await new Promise((resolve) => setTimeout(resolve, 2 * PRESENCE_BATCH_MS));
    expect(presenceOf(frames[2]!)).toEqual([]);
    await presence('u2', 'online');
    await until(() => frames.every((received) => presenceOf(received).at(-1) === 'u2:online'));
    await hub.close(1000, 'test over');
  });
});
