/**
 * A resuming connection streams its replay: it reads each log a page at a time and never holds
 * more than `replayBudget` events at once, however many it missed, while still sending every
 * missed event in order, once, paced by a client that reads slowly. A resume owing more logs than
 * the budget has pages for gets resync.required instead, and the first pages of many owed logs
 * are read in a few concurrent rounds, not one after another. Real parts on the memory engine:
 * the hub, the realtime service (its log reads counted by a wrapper) and the connection, with a
 * transport that plays a slow reader.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ConversationId, MessageId, TenantId, UserId } from '../domain/types.js';
import type { Engine } from '../engine/engine.js';
import { createMemoryEngine } from '../engine/memory/memory-engine.js';
import { createRealtimeService, type RealtimeService } from '../services/realtime-service.js';
import { Connection } from './connection.js';
import { decodeCursor } from './cursor.js';
import { Hub } from './hub.js';
import { DEFAULT_GATEWAY_SETTINGS } from './realtime-gateway.js';
import type { Transport } from './transport.js';

const tenant = 'default' as TenantId;
const alice = 'alice' as UserId;
const bob = 'bob' as UserId;

let engine: Engine;
afterEach(async () => {
  await engine?.close();
});

/**
 * Log reads of the real realtime service, counted: how many, the most at once, and the sequential
 * rounds (a round starts when none was in flight); and the size of each inbox page read.
 */
function countingLogReads(realtime: RealtimeService) {
  const counts = { reads: 0, inFlight: 0, mostInFlight: 0, rounds: 0, inboxPages: [] as number[] };
  const counted: RealtimeService = {
    ...realtime,
    async readInbox(...args) {
      const page = await realtime.readInbox(...args);
      counts.inboxPages.push(page.events.length);
      return page;
    },
    async readLog(...args) {
      counts.reads += 1;
      counts.inFlight += 1;
      if (counts.inFlight === 1) counts.rounds += 1;
      counts.mostInFlight = Math.max(counts.mostInFlight, counts.inFlight);
      try {
        return await realtime.readLog(...args);
      } finally {
        counts.inFlight -= 1;
      }
    },
  };
  return { counted, counts, reset: () => Object.assign(counts, { reads: 0, mostInFlight: 0, rounds: 0, inboxPages: [] }) };
}

/**
 * Alice in `conversations` groups with Bob, a connection that saw their creation (or not, when
 * they are created while she is away), then `messagesEach` messages by Bob in each (interleaved)
 * while she is away, and her resume.
 */
async function resumeAfterGap(options: { conversations: number; messagesEach: number; replayBudget?: number; createdWhileAway?: boolean }) {
  engine = createMemoryEngine();
  const { counted, counts, reset } = countingLogReads(createRealtimeService({ engine, clock: Date.now, maxConversationsPerConnection: 1000 }));
  const settings = { ...DEFAULT_GATEWAY_SETTINGS, replayBudget: options.replayBudget ?? DEFAULT_GATEWAY_SETTINGS.replayBudget, maxBufferedBytes: 64 * 1024 };
  const hub = new Hub({ pubsub: engine.pubsub, realtime: counted, clock: Date.now, settings, onError: (error) => { throw error; } });
  const ids: ConversationId[] = [];
  const createGroups = async () => {
    for (let i = 0; i < options.conversations; i++) {
      const id = `c${i}` as ConversationId;
      const conversation = await engine.conversations.createGroup(tenant, { id, type: 'group', title: id, createdAt: Date.now(), members: [{ userId: bob, role: 'owner' }, { userId: alice, role: 'member' }] });
      // As the conversations service does: Alice hears of it through her inbox.
      await engine.events.notify(tenant, [alice], { type: 'conversation.created', conversationId: id, conversation }, conversation.createdAt);
      ids.push(id);
    }
  };
  if (!options.createdWhileAway) await createGroups();

  // A slow reader: the transport's buffer empties by 16 KB every 5 ms.
  let unread = 0;
  const reader = setInterval(() => (unread = Math.max(0, unread - 16 * 1024)), 5);
  const frames: any[] = [];
  let connection: Connection | undefined;
  const seen = { mostHeld: 0, closedWith: undefined as number | undefined };
  const transport: Transport = {
    kind: 'websocket',
    sendEvent(frame) {
      frames.push(JSON.parse(frame));
      unread += frame.length;
      seen.mostHeld = Math.max(seen.mostHeld, connection?.heldReplayEvents ?? 0);
    },
    sendControl: (frame) => frames.push(JSON.parse(frame)),
    bufferedBytes: () => unread,
    close: (code) => (seen.closedWith = code),
  };
  const open = async (cursor: string | null) => {
    connection = new Connection(tenant, alice, transport, hub);
    await hub.register(connection);
    const memberships = await counted.memberships(tenant, alice);
    await connection.start(cursor === null ? null : { cursor: decodeCursor(cursor)!, text: cursor }, memberships);
    return connection;
  };

  try {
    const first = await open(null);
    const cursor = frames.find((frame) => frame.type === 'ready').cursor as string;
    first.close(1000, 'away');
    await hub.unregister(first);
    if (options.createdWhileAway) await createGroups();
    let n = 0;
    for (let m = 0; m < options.messagesEach; m++) {
      for (const id of ids) {
        n += 1;
        await engine.messages.append(tenant, id, { id: `m${n}` as MessageId, senderId: bob, system: false, text: `${id} #${m + 1} ${'x'.repeat(200)}`, replyTo: null, createdAt: Date.now(), clientMessageId: null }, 60_000);
      }
    }
    frames.length = 0;
    reset();
    const resumed = await open(cursor);
    const afterResume = { closedWith: seen.closedWith, heldAfter: resumed.heldReplayEvents, isClosed: resumed.isClosed };
    resumed.close(1000, 'done');
    await hub.unregister(resumed);
    return { ids, frames, counts, mostHeld: seen.mostHeld, ...afterResume, created: frames.filter((frame) => frame.type === 'message.created') };
  } finally {
    clearInterval(reader);
    await hub.close(1000, 'test over');
  }
}

const seqsIn = (created: any[], id: ConversationId) => created.filter((frame) => frame.message.conversationId === id).map((frame) => frame.message.seq);
const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe('a resuming connection with a large gap', () => {
  it('holds a bounded number of events while replaying every missed one in order, once', async () => {
    const { ids, created, mostHeld, closedWith, isClosed, heldAfter } = await resumeAfterGap({ conversations: 3, messagesEach: 300, replayBudget: 60 });
    expect(closedWith).toBe(1000);
    expect(isClosed).toBe(false);
    for (const id of ids) expect(seqsIn(created, id)).toEqual(oneTo(300));
    // Merged in time order across the conversations (within one millisecond, logs are not ordered).
    const times = created.map((frame) => Date.parse(frame.message.createdAt));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(created).toHaveLength(900);
    // Three logs share a budget of 60: a page of 20 each, never the 900 events missed.
    expect(mostHeld).toBeGreaterThan(0);
    expect(mostHeld).toBeLessThanOrEqual(60);
    expect(heldAfter).toBe(0);
  });

  it('as many owed logs as the budget has minimal pages for: a smaller page each, every event replayed, never more than the budget held', async () => {
    // Six logs share 60: a page of 10 each (a fixed page of 20 would hold 120).
    const { ids, frames, created, mostHeld } = await resumeAfterGap({ conversations: 6, messagesEach: 30, replayBudget: 60 });
    expect(frames.some((frame) => frame.type === 'resync.required')).toBe(false);
    for (const id of ids) expect(seqsIn(created, id)).toEqual(oneTo(30));
    expect(mostHeld).toBeGreaterThan(0);
    expect(mostHeld).toBeLessThanOrEqual(60);
  });

  it('more owed logs than the budget has minimal pages for: resync.required, nothing replayed or held', async () => {
    // Seven logs cannot each get a page of 10 within 60.
    const { frames, created, mostHeld, counts, isClosed } = await resumeAfterGap({ conversations: 7, messagesEach: 30, replayBudget: 60 });
    expect(frames.map((frame) => frame.type)).toEqual(['ready', 'resync.required']);
    expect(created).toHaveLength(0);
    expect(mostHeld).toBe(0);
    expect(counts.reads).toBe(0);
    expect(isClosed).toBe(false);
  });

  it('an inbox since the cursor larger than the budget: resync.required, the inbox read no further than the budget', async () => {
    // Twenty conversations created while away put twenty events in her inbox, over a budget of five.
    const { frames, created, mostHeld, counts } = await resumeAfterGap({ conversations: 20, messagesEach: 1, replayBudget: 5, createdWhileAway: true });
    expect(frames.map((frame) => frame.type)).toEqual(['ready', 'resync.required']);
    expect(created).toHaveLength(0);
    expect(mostHeld).toBe(0);
    expect(counts.reads).toBe(0);
    // The plan stops reading the inbox one event past the budget; the resync then positions the
    // cursor at the inbox's end (reading it through, a page at a time, holding none of it).
    expect(counts.inboxPages).toEqual([6, 20]);
  });
});

describe('a resume owing many conversations', () => {
  it('reads their first pages concurrently, in a bounded number of sequential rounds', async () => {
    const { ids, created, counts } = await resumeAfterGap({ conversations: 90, messagesEach: 1 });
    for (const id of ids) expect(seqsIn(created, id)).toEqual([1]);
    expect(counts.reads).toBe(90);
    // Not 90 round trips one after another: two batches at most, each bounded.
    expect(counts.rounds).toBeLessThanOrEqual(2);
    expect(counts.mostInFlight).toBeGreaterThan(1);
    expect(counts.mostInFlight).toBeLessThanOrEqual(64);
  });
});
