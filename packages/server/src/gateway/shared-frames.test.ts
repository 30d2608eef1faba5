/**
 * Group members whose cursors agree share one frame: once the watermark is past each member's
 * own inbox position, an event reaches all of them as the same Buffer (built once, not once per
 * recipient). Real hub, realtime service and connections on the memory engine.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ConversationId, MessageId, TenantId, UserId } from '../domain/types.js';
import type { Engine } from '../engine/engine.js';
import { createMemoryEngine } from '../engine/memory/memory-engine.js';
import { createRealtimeService } from '../services/realtime-service.js';
import { Connection } from './connection.js';
import { Hub } from './hub.js';
import { DEFAULT_GATEWAY_SETTINGS } from './realtime-gateway.js';
import type { Transport } from './transport.js';

const tenant = 'default' as TenantId;
const members = ['u1', 'u2', 'u3'] as UserId[];

let engine: Engine;
afterEach(async () => {
  await engine?.close();
});

describe('frames of one event', () => {
  it('are one Buffer for members whose cursors agree, once their inbox positions are below the watermark', async () => {
    engine = createMemoryEngine();
    const realtime = createRealtimeService({ engine, clock: Date.now, maxConversationsPerConnection: 1000 });
    const settings = { ...DEFAULT_GATEWAY_SETTINGS, cursorWindowMs: 1000 };
    const hub = new Hub({ pubsub: engine.pubsub, realtime, clock: Date.now, settings, onError: (error) => { throw error; } });
    const created = Date.now() - 10_000;
    const conversation = await engine.conversations.createGroup(tenant, {
      id: 'g' as ConversationId,
      type: 'group',
      title: 'g',
      createdAt: created,
      members: members.map((userId, i) => ({ userId, role: i === 0 ? 'owner' : 'member' })),
    });
    // Each member hears of the group through their inbox, each at another time (added one by one),
    // inside the window when they connect: each one's cursor names their own inbox position.
    const heard = Date.now() - 500;
    for (const [i, userId] of members.entries()) {
      await engine.events.notify(tenant, [userId], { type: 'conversation.created', conversationId: conversation.id, conversation }, heard + i);
    }
    const received: Buffer[][] = members.map(() => []);
    const connections = members.map((userId, i) => {
      const transport: Transport = {
        kind: 'websocket',
        sendEvent: () => undefined,
        sendEventBytes: (frame) => received[i]!.push(frame),
        sendControl: () => undefined,
        bufferedBytes: () => 0,
        close: () => undefined,
      };
      return new Connection(tenant, userId, transport, hub);
    });
    try {
      for (const connection of connections) {
        await hub.register(connection);
        await connection.start(null, await realtime.memberships(tenant, connection.userId));
      }
      let n = 0;
      const send = async (at: number) => {
        await engine.messages.append(tenant, conversation.id, { id: `m${++n}` as MessageId, senderId: members[0]!, system: false, text: `#${n}`, replyTo: null, createdAt: at, clientMessageId: null }, 60_000);
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
    } finally {
      for (const connection of connections) {
        connection.close(1000, 'done');
        await hub.unregister(connection);
      }
      await hub.close(1000, 'test over');
    }
  });
});
