/**
 * A connection drops a copy of the presence state it last sent for a user (the same change comes
 * once per shared conversation) while it remembers it, and an idle one forgets those states after
 * PRESENCE_MEMORY_MS, so it holds none. Real hub and connection on the memory engine.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { TenantId, UserId } from '../domain/types.js';
import type { Engine } from '../engine/engine.js';
import { createMemoryEngine } from '../engine/memory/memory-engine.js';
import { createRealtimeService } from '../services/realtime-service.js';
import { Connection } from './connection.js';
import { Hub, PRESENCE_MEMORY_MS } from './hub.js';
import { DEFAULT_GATEWAY_SETTINGS } from './realtime-gateway.js';
import type { Transport } from './transport.js';

const tenant = 'default' as TenantId;
const alice = 'alice' as UserId;
const bob = 'bob' as UserId;

let engine: Engine;
afterEach(async () => {
  vi.useRealTimers();
  await engine?.close();
});

describe('presence de-dup memory', () => {
  it('drops copies of the last state sent while remembered, and sends it again once forgotten after the idle sweep', async () => {
    engine = createMemoryEngine();
    const realtime = createRealtimeService({ engine, clock: Date.now, maxConversationsPerConnection: 1000 });
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
    const hub = new Hub({ pubsub: engine.pubsub, realtime, clock: Date.now, settings: DEFAULT_GATEWAY_SETTINGS, onError: (error) => { throw error; } });
    const sent: string[] = [];
    const transport: Transport = {
      kind: 'websocket',
      sendEvent: () => undefined,
      sendControl: (frame) => sent.push(frame),
      bufferedBytes: () => 0,
      close: () => undefined,
    };
    const connection = new Connection(tenant, alice, transport, hub);
    try {
      await hub.register(connection);
      await connection.start(null, []);
      sent.length = 0;
      const online = JSON.stringify({ type: 'presence', userId: bob, status: 'online', lastSeenAt: null });
      connection.sendPresence(bob, online);
      connection.sendPresence(bob, online);
      expect(sent).toEqual([online]);

      // A sweep within the memory keeps the state (it was sent since); the next one forgets it.
      vi.advanceTimersByTime(PRESENCE_MEMORY_MS);
      connection.sendPresence(bob, online);
      expect(sent).toEqual([online]);
      vi.advanceTimersByTime(PRESENCE_MEMORY_MS);
      connection.sendPresence(bob, online);
      expect(sent).toEqual([online, online]);
    } finally {
      connection.close(1000, 'done');
      await hub.unregister(connection);
      await hub.close(1000, 'test over');
    }
  });
});
