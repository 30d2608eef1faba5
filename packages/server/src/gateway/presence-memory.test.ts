/**
 * A connection drops a copy of the presence state it last sent for a user (the same change comes
 * once per shared conversation) while it remembers it, and an idle one forgets those states after
 * PRESENCE_MEMORY_MS, so it holds none. Real hub and connection on the memory engine.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { UserId } from '../domain/types.js';
import { recordingTransport, TEST_TENANT as tenant, useMemoryHubs } from '../test-support/memory-hub.js';
import { Connection } from './connection.js';
import { PRESENCE_MEMORY_MS } from './hub.js';

const alice = 'alice' as UserId;
const bob = 'bob' as UserId;
const memoryHub = useMemoryHubs();
afterEach(() => {
  vi.useRealTimers();
});

describe('presence de-dup memory', () => {
  it('drops copies of the last state sent while remembered, and sends it again once forgotten after the idle sweep', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
    const { hub } = memoryHub();
    const sent: any[] = [];
    const connection = new Connection(tenant, alice, recordingTransport((frame) => sent.push(frame)), hub);
    await hub.register(connection);
    await connection.start(null, []);
    sent.length = 0;
    const online = JSON.stringify({ type: 'presence', userId: bob, status: 'online', lastSeenAt: null });
    connection.sendPresence(bob, online);
    connection.sendPresence(bob, online);
    expect(sent).toHaveLength(1);

    // A sweep within the memory keeps the state (it was sent since); the next one forgets it.
    vi.advanceTimersByTime(PRESENCE_MEMORY_MS);
    connection.sendPresence(bob, online);
    expect(sent).toHaveLength(1);
    vi.advanceTimersByTime(PRESENCE_MEMORY_MS);
    connection.sendPresence(bob, online);
    expect(sent).toEqual([JSON.parse(online), JSON.parse(online)]);
  });
});
