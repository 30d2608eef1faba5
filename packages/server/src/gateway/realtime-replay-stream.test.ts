/**
 * A resuming connection streams its replay: it reads each log a page at a time and holds about
 * `replayBudget` events at once, however many it missed, while still sending every missed event
 * in order, once, paced by a client that reads slowly. Real parts on the memory engine: the hub,
 * the realtime service and the connection, with a transport that plays a slow reader.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ConversationId, MessageId, TenantId, UserId } from '../domain/types.js';
import type { Engine } from '../engine/engine.js';
import { createMemoryEngine } from '../engine/memory/memory-engine.js';
import { createRealtimeService } from '../services/realtime-service.js';
import { Connection } from './connection.js';
import { decodeCursor } from './cursor.js';
import { Hub } from './hub.js';
import { DEFAULT_GATEWAY_SETTINGS } from './realtime-gateway.js';
import type { Transport } from './transport.js';

const tenant = 'default' as TenantId;
const alice = 'alice' as UserId;
const bob = 'bob' as UserId;
const CONVERSATIONS = 3;
const MESSAGES_EACH = 300;

let engine: Engine;
afterEach(async () => {
  await engine?.close();
});

describe('a resuming connection with a large gap', () => {
  it('holds a bounded number of events while replaying every missed one in order, once', async () => {
    engine = createMemoryEngine();
    const realtime = createRealtimeService({ engine, clock: Date.now, maxConversationsPerConnection: 100 });
    const settings = { ...DEFAULT_GATEWAY_SETTINGS, replayBudget: 60, maxBufferedBytes: 64 * 1024 };
    const hub = new Hub({ pubsub: engine.pubsub, realtime, clock: Date.now, settings, onError: (error) => { throw error; } });
    const ids: ConversationId[] = [];
    for (let i = 0; i < CONVERSATIONS; i++) {
      const id = `c${i}` as ConversationId;
      await engine.conversations.createGroup(tenant, { id, type: 'group', title: id, createdAt: Date.now(), members: [{ userId: bob, role: 'owner' }, { userId: alice, role: 'member' }] });
      ids.push(id);
    }

    // A slow reader: the transport's buffer empties by 16 KB every 5 ms.
    let unread = 0;
    const reader = setInterval(() => (unread = Math.max(0, unread - 16 * 1024)), 5);
    const frames: any[] = [];
    let connection: Connection | undefined;
    let mostHeld = 0;
    let closedWith: number | undefined;
    const transport: Transport = {
      sendEvent(frame) {
        frames.push(JSON.parse(frame));
        unread += frame.length;
        mostHeld = Math.max(mostHeld, connection?.heldReplayEvents ?? 0);
      },
      sendControl: (frame) => frames.push(JSON.parse(frame)),
      bufferedBytes: () => unread,
      close: (code) => (closedWith = code),
    };
    const open = async (cursor: string | null) => {
      connection = new Connection(tenant, alice, transport, hub);
      await hub.register(connection);
      const memberships = await realtime.memberships(tenant, alice);
      await connection.start(cursor === null ? null : { cursor: decodeCursor(cursor)!, text: cursor }, memberships);
      return connection;
    };

    try {
      const first = await open(null);
      const cursor = frames.find((frame) => frame.type === 'ready').cursor as string;
      first.close(1000, 'away');
      await hub.unregister(first);

      // Missed while away: interleaved messages in every conversation.
      let n = 0;
      for (let m = 0; m < MESSAGES_EACH; m++) {
        for (const id of ids) {
          n += 1;
          await engine.messages.append(tenant, id, { id: `m${n}` as MessageId, senderId: bob, system: false, text: `${id} #${m + 1} ${'x'.repeat(200)}`, replyTo: null, createdAt: Date.now(), clientMessageId: null }, 60_000);
        }
      }

      frames.length = 0;
      const resumed = await open(cursor);
      expect(closedWith).toBe(1000);
      expect(resumed.isClosed).toBe(false);
      const created = frames.filter((frame) => frame.type === 'message.created');
      for (const id of ids) {
        const seqs = created.filter((frame) => frame.message.conversationId === id).map((frame) => frame.message.seq);
        expect(seqs).toEqual(Array.from({ length: MESSAGES_EACH }, (_, i) => i + 1));
      }
      // Merged in time order across the conversations (within one millisecond, logs are not ordered).
      const times = created.map((frame) => Date.parse(frame.message.createdAt));
      expect(times).toEqual([...times].sort((a, b) => a - b));
      expect(created).toHaveLength(n);
      // Three logs share a budget of 60: a page of 20 each, never the 900 events missed.
      expect(mostHeld).toBeGreaterThan(0);
      expect(mostHeld).toBeLessThanOrEqual(60);
      expect(resumed.heldReplayEvents).toBe(0);
      resumed.close(1000, 'done');
      await hub.unregister(resumed);
    } finally {
      clearInterval(reader);
      await hub.close(1000, 'test over');
    }
  });
});
