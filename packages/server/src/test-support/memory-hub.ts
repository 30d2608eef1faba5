/**
 * The realtime parts of one node on a memory engine, for gateway tests that drive connections
 * directly: the engine, the realtime service, the hub (closed with the engine after each test),
 * and helpers to append messages at chosen times and to record what a connection is sent.
 */
import { afterEach } from 'vitest';
import type { ConversationId, MessageId, TenantId, UserId } from '../domain/types.js';
import type { Engine } from '../engine/engine.js';
import { createMemoryEngine } from '../engine/memory/memory-engine.js';
import { createRealtimeService, type RealtimeService } from '../services/realtime-service.js';
import type { ConnectionSettings } from '../gateway/connection.js';
import { Hub } from '../gateway/hub.js';
import { DEFAULT_GATEWAY_SETTINGS } from '../gateway/realtime-gateway.js';
import type { Transport } from '../gateway/transport.js';

export const TEST_TENANT = 'default' as TenantId;

export interface MemoryHub {
  engine: Engine;
  realtime: RealtimeService;
  hub: Hub;
  /** Appends message `m<n>` (text `#<n>`, n counting from 1 per node) by `senderId`, stamped `at`. */
  message(conversationId: ConversationId, senderId: UserId, at: number): Promise<unknown>;
}

/** Registers the clean-up (hub, then engine) of every node `memoryHub` makes in this test file. */
export function useMemoryHubs(): (options?: { clock?: () => number; settings?: Partial<ConnectionSettings> }) => MemoryHub {
  const made: MemoryHub[] = [];
  afterEach(async () => {
    for (const { hub, engine } of made.splice(0)) {
      await hub.close(1000, 'test over');
      await engine.close();
    }
  });
  return ({ clock = Date.now, settings = {} } = {}) => {
    const engine = createMemoryEngine();
    const realtime = createRealtimeService({ engine, clock, maxConversationsPerConnection: 1000 });
    const hub = new Hub({ pubsub: engine.pubsub, realtime, clock, settings: { ...DEFAULT_GATEWAY_SETTINGS, ...settings }, onError: (error) => { throw error; } });
    let n = 0;
    const message = (conversationId: ConversationId, senderId: UserId, at: number) =>
      engine.messages.append(TEST_TENANT, conversationId, { id: `m${++n}` as MessageId, senderId, system: false, text: `#${n}`, replyTo: null, createdAt: at, clientMessageId: null }, 60_000);
    const node = { engine, realtime, hub, message };
    made.push(node);
    return node;
  };
}

/** A WebSocket-like transport that hands every frame to `onFrame`, parsed; event frames come as bytes when `onBytes` is given. */
export function recordingTransport(onFrame: (frame: any) => void, onBytes?: (frame: Buffer) => void): Transport {
  return {
    kind: 'websocket',
    sendEvent: (frame) => onFrame(JSON.parse(frame)),
    ...(onBytes ? { sendEventBytes: onBytes } : {}),
    sendControl: (frame) => onFrame(JSON.parse(frame)),
    bufferedBytes: () => 0,
    close: () => undefined,
  };
}
