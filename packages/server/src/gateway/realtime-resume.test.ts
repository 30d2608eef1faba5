/**
 * Resuming with a cursor, on both engines: a client that reconnects with the last cursor it saw
 * gets exactly what it missed, in order, before anything live, with no gaps and no duplicates,
 * across conversations and while new events keep coming; a cursor that cannot be honoured (not
 * a cursor, older than retention, or whose events retention dropped) yields `resync.required`
 * and the connection carries on live.
 */
import { describe, expect, it } from 'vitest';
import { createGroup, openDirect, sendMessage } from '../test-support/conversations.js';
import { ENGINE_KINDS, type EngineKind } from '../test-support/engines.js';
import { createRedisTestEngine } from '../test-support/redis.js';
import type { ApiClient } from '../test-support/api-client.js';
import type { Frame, RealtimeClient } from '../test-support/realtime-client.js';
import { connectRealtime } from '../test-support/realtime-client.js';
import { aboutConversation, connectReady, durable, sendMarker, seqsOf, useRealtimeClients } from '../test-support/realtime-fixtures.js';
import { registerUser, startTestServer, useTestServer, type TestUser } from '../test-support/server.js';
import { createMemoryEngine } from '../engine/memory/memory-engine.js';
import type { Engine, EventRetention } from '../engine/engine.js';

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** A test engine with the given retention (the factories of startTestServer use the default). */
async function engineWithRetention(kind: EngineKind, retention: EventRetention): Promise<{ engine: Engine; cleanup: () => Promise<void> }> {
  if (kind === 'memory') {
    const engine = createMemoryEngine({ retention });
    return { engine, cleanup: () => engine.close() };
  }
  return createRedisTestEngine({ retention });
}

describe.each(ENGINE_KINDS)('realtime resume (%s engine)', (kind) => {
  const ctx = useTestServer({ kind });
  const clients = useRealtimeClients(() => ctx.url);

  const connect = async (user: { id: string; token: string }, cursor?: string, url = ctx.url) => {
    const client = await connectReady(url, user.token, user.id, cursor ? { cursor } : {});
    clients.track(client);
    return client;
  };

  /** Durable frames after `ready`, as "type:seq" for messages and type otherwise. */
  const describeEvents = (frames: readonly Frame[]) =>
    durable(frames).map((f) => (f.type.startsWith('message.') ? `${f.type}:${f.message.conversationId}:${f.message.seq}` : `${f.type}:${f.conversationId ?? f.conversation?.id}`));

  it('gets exactly the 25 messages missed, in seq order, before live ones', async () => {
    const [alice, bob] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api)]);
    const { id } = await openDirect(ctx.api, alice.token, bob.id);
    const first = await connect(bob);
    for (const text of ['seen 1', 'seen 2']) await sendMessage(ctx.api, alice.token, id, text);
    await first.waitForCount((f) => f.type === 'message.created', 2);
    const cursor = first.lastCursor()!;
    await first.close();

    for (let i = 1; i <= 25; i++) await sendMessage(ctx.api, alice.token, id, `missed ${i}`);
    const resumed = await connect(bob, cursor);
    await resumed.waitForCount((f) => f.type === 'message.created', 25);
    const live = await sendMessage(ctx.api, alice.token, id, 'live');
    await resumed.waitFor((f) => f.type === 'message.created' && f.message.id === live.id);

    expect(resumed.frames[0]!.type).toBe('ready');
    expect(seqsOf(resumed.frames, id)).toEqual(range(3, 28));
    expect(messageTexts(resumed.frames)).toEqual([...range(1, 25).map((i) => `missed ${i}`), 'live']);
    // Nothing else: no resync, no repeat of what the cursor had seen.
    expect(resumed.frames.filter((f) => f.type !== 'ready' && f.type !== 'presence').map((f) => f.type)).toEqual(Array(26).fill('message.created'));
    for (const frame of durable(resumed.frames)) expect(frame.cursor).toEqual(expect.any(String));
  });

  it('resumes from the ready cursor of a connection that saw nothing', async () => {
    const [alice, bob] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api)]);
    const { id } = await openDirect(ctx.api, alice.token, bob.id);
    await sendMessage(ctx.api, alice.token, id, 'before the first connection');
    const first = await connect(bob);
    const cursor = first.frames[0]!.cursor as string;
    await first.close();
    for (let i = 1; i <= 5; i++) await sendMessage(ctx.api, alice.token, id, `while away ${i}`);

    const resumed = await connect(bob, cursor);
    await sendMarker(ctx.api, alice.token, id, [resumed]);
    expect(seqsOf(resumed.frames, id)).toEqual(range(2, 7));
    expect(resumed.frames.some((f) => f.type === 'resync.required')).toBe(false);
  });

  it('resumes with a cursor taken from a resumed connection, repeatedly, without gaps or repeats', async () => {
    const [alice, bob] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api)]);
    const { id } = await openDirect(ctx.api, alice.token, bob.id);
    let client = await connect(bob);
    let seq = 0;
    const seen: number[] = [];
    for (let round = 0; round < 4; round++) {
      const cursor = client.lastCursor()!;
      seen.push(...seqsOf(client.frames, id));
      await client.close();
      for (let i = 0; i < 3; i++) seq = (await sendMessage(ctx.api, alice.token, id, `round ${round}.${i}`)).seq;
      client = await connect(bob, cursor);
      await client.waitFor((f) => f.type === 'message.created' && f.message.seq === seq);
    }
    seen.push(...seqsOf(client.frames, id));
    expect(seen).toEqual(range(1, 12));
  });

  it('replays across several conversations: every kind of event, each conversation in order, left ones up to the removal, new ones from creation', async () => {
    const [alice, bob, carol, dave] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api), registerUser(ctx.api), registerUser(ctx.api)]);
    const direct = (await openDirect(ctx.api, alice.token, bob.id)).id as string;
    const club = (await createGroup(ctx.api, alice.token, [bob.id, carol.id], 'Club')).id as string;
    const side = (await createGroup(ctx.api, carol.token, [bob.id], 'Side')).id as string;
    const first = await connect(bob);
    for (const [id, token] of [
      [direct, alice.token],
      [club, carol.token],
      [side, carol.token],
    ] as const) {
      await sendMessage(ctx.api, token, id, 'seen');
    }
    await first.waitForCount((f) => f.type === 'message.created', 3);
    const cursor = first.lastCursor()!;
    await first.close();

    // While bob is away: interleaved activity in all three, and a new group.
    const d2 = await sendMessage(ctx.api, alice.token, direct, 'direct 2');
    const c2 = await sendMessage(ctx.api, carol.token, club, 'club 2');
    await sendMessage(ctx.api, carol.token, side, 'side 2');
    await ctx.api.patch(`/v1/conversations/${club}/messages/${c2.id}`, { text: 'club 2 edited' }, carol.token);
    await ctx.api.put(`/v1/conversations/${direct}/messages/${d2.id}/reactions/${encodeURIComponent('❤️')}`, undefined, alice.token);
    await sendMessage(ctx.api, alice.token, direct, 'direct 3');
    await ctx.api.post(`/v1/conversations/${club}/read`, { seq: 2 }, alice.token);
    await ctx.api.post(`/v1/conversations/${club}/members`, { userIds: [dave.id] }, alice.token);
    await ctx.api.patch(`/v1/conversations/${side}`, { title: 'Side, renamed' }, carol.token);
    await sendMessage(ctx.api, carol.token, side, 'side 3');
    await ctx.api.delete(`/v1/conversations/${side}/members/${bob.id}`, carol.token);
    await sendMessage(ctx.api, carol.token, side, 'side 4, after bob left');
    const fresh = (await createGroup(ctx.api, dave.token, [bob.id], 'Fresh')).id as string;
    await sendMessage(ctx.api, dave.token, fresh, 'fresh 1');
    await sendMessage(ctx.api, carol.token, club, 'club 3');

    const resumed = await connect(bob, cursor);
    const liveDirect = await sendMessage(ctx.api, alice.token, direct, 'live direct');
    await sendMessage(ctx.api, dave.token, fresh, 'live fresh');
    await resumed.waitFor((f) => f.type === 'message.created' && f.message.id === liveDirect.id);
    await resumed.waitFor((f) => f.type === 'message.created' && f.message.text === 'live fresh');

    const events = describeEvents(resumed.frames);
    const of = (id: string) => events.filter((e) => e.includes(`:${id}`));
    expect(of(direct)).toEqual([`message.created:${direct}:2`, `reaction.added:${direct}`, `message.created:${direct}:3`, `message.created:${direct}:4`]);
    expect(of(club)).toEqual([
      `message.created:${club}:2`,
      `message.updated:${club}:2`,
      `read:${club}`,
      `member.added:${club}`,
      `message.created:${club}:3`,
    ]);
    expect(of(side)).toEqual([`message.created:${side}:2`, `conversation.updated:${side}`, `message.created:${side}:3`, `member.removed:${side}`]);
    expect(of(fresh)).toEqual([`conversation.created:${fresh}`, `message.created:${fresh}:1`, `message.created:${fresh}:2`]);
    expect(events).toHaveLength(4 + 5 + 4 + 3);
    // The live messages came after every replayed one.
    const firstLive = durable(resumed.frames).findIndex((f) => f.message?.text === 'live direct');
    expect(firstLive).toBeGreaterThanOrEqual(durable(resumed.frames).length - 2);
    expect(resumed.frames.some((f) => f.type === 'resync.required')).toBe(false);
  });

  it('loses nothing and repeats nothing when messages keep coming while it reconnects', async () => {
    const [alice, bob, carol] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api), registerUser(ctx.api)]);
    const club = (await createGroup(ctx.api, alice.token, [bob.id, carol.id], 'Busy')).id as string;
    const direct = (await openDirect(ctx.api, alice.token, bob.id)).id as string;
    let client = await connect(bob);
    const seenClub: number[] = [];
    const seenDirect: number[] = [];
    let sentClub = 0;
    let sentDirect = 0;
    for (let round = 0; round < 4; round++) {
      const cursor = client.lastCursor()!;
      seenClub.push(...seqsOf(client.frames, club));
      seenDirect.push(...seqsOf(client.frames, direct));
      await client.close();
      // Senders run before, during and after the reconnection and its replay.
      const senders = [alice, carol].map(async (sender) => {
        for (let i = 0; i < 12; i++) {
          await sendMessage(ctx.api, sender.token, club, `round ${round} from ${sender.username} ${i}`);
          sentClub += 1;
        }
      });
      const directSender = (async () => {
        for (let i = 0; i < 6; i++) {
          await sendMessage(ctx.api, alice.token, direct, `direct ${round}.${i}`);
          sentDirect += 1;
        }
      })();
      await new Promise((resolve) => setImmediate(resolve));
      client = await connect(bob, cursor);
      await Promise.all([...senders, directSender]);
      await client.waitFor((f) => f.type === 'message.created' && f.message.conversationId === club && f.message.seq === sentClub);
      await client.waitFor((f) => f.type === 'message.created' && f.message.conversationId === direct && f.message.seq === sentDirect);
    }
    await sendMarker(ctx.api, alice.token, club, [client]);
    seenClub.push(...seqsOf(client.frames, club));
    seenDirect.push(...seqsOf(client.frames, direct));
    expect(seenClub).toEqual(range(1, sentClub + 1));
    expect(seenDirect).toEqual(range(1, sentDirect));
  });

  it('conversations created while it reconnects are announced exactly once each, and followed', async () => {
    const [alice, bob] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api)]);
    const first = await connect(bob);
    const cursor = first.lastCursor()!;
    await first.close();
    const creating = Promise.all(Array.from({ length: 12 }, (_, i) => createGroup(ctx.api, alice.token, [bob.id], `New ${i}`)));
    const resumed = await connect(bob, cursor);
    const groups = await creating;
    await resumed.waitForCount((f) => f.type === 'conversation.created', groups.length);
    for (const group of groups) await sendMessage(ctx.api, alice.token, group.id, `hello ${group.title}`);
    await resumed.waitForCount((f) => f.type === 'message.created', groups.length);
    await sendMarker(ctx.api, alice.token, groups[0].id, [resumed]);
    for (const group of groups) {
      expect(resumed.frames.filter((f) => f.type === 'conversation.created' && f.conversation.id === group.id), group.id).toHaveLength(1);
      expect(seqsOf(resumed.frames, group.id), group.id).toEqual(group === groups[0] ? [1, 2] : [1]);
    }
  });

  it('left while away: replays the conversation up to the removal, then nothing of it', async () => {
    const [alice, bob] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api)]);
    const club = (await createGroup(ctx.api, alice.token, [bob.id], 'Club')).id as string;
    const direct = (await openDirect(ctx.api, alice.token, bob.id)).id as string;
    const first = await connect(bob);
    await sendMessage(ctx.api, alice.token, club, 'seen');
    await first.waitFor((f) => f.type === 'message.created');
    const cursor = first.lastCursor()!;
    await first.close();
    await sendMessage(ctx.api, alice.token, club, 'before removal 1');
    await sendMessage(ctx.api, alice.token, club, 'before removal 2');
    await ctx.api.delete(`/v1/conversations/${club}/members/${bob.id}`, alice.token);
    await sendMessage(ctx.api, alice.token, club, 'after removal');
    const resumed = await connect(bob, cursor);
    await sendMarker(ctx.api, alice.token, direct, [resumed]);
    expect(describeEvents(resumed.frames).filter((e) => e.includes(club))).toEqual([
      `message.created:${club}:2`,
      `message.created:${club}:3`,
      `member.removed:${club}`,
    ]);
  });

  it('removed and added back while away: replays up to the removal, the removal, the addition, then what followed it', async () => {
    const [alice, bob] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api)]);
    const club = (await createGroup(ctx.api, alice.token, [bob.id], 'Club')).id as string;
    const first = await connect(bob);
    await sendMessage(ctx.api, alice.token, club, 'seen');
    await first.waitFor((f) => f.type === 'message.created');
    const cursor = first.lastCursor()!;
    await first.close();
    await sendMessage(ctx.api, alice.token, club, 'before removal');
    await ctx.api.delete(`/v1/conversations/${club}/members/${bob.id}`, alice.token);
    await sendMessage(ctx.api, alice.token, club, 'while removed');
    await ctx.api.post(`/v1/conversations/${club}/members`, { userIds: [bob.id] }, alice.token);
    await sendMessage(ctx.api, alice.token, club, 'back again');
    const resumed = await connect(bob, cursor);
    await sendMarker(ctx.api, alice.token, club, [resumed]);
    expect(describeEvents(resumed.frames).filter((e) => e.includes(club))).toEqual([
      `message.created:${club}:2`,
      `member.removed:${club}`,
      `member.added:${club}`,
      `message.created:${club}:4`,
      `message.created:${club}:5`,
    ]);
  });

  it('added while away: replays the addition and what followed it, none of the history before it', async () => {
    const [alice, bob, carol] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api), registerUser(ctx.api)]);
    const club = (await createGroup(ctx.api, alice.token, [carol.id], 'Club')).id as string;
    const direct = (await openDirect(ctx.api, alice.token, bob.id)).id as string;
    await sendMessage(ctx.api, alice.token, club, 'long before bob');
    const first = await connect(bob);
    const cursor = first.lastCursor()!;
    await first.close();
    await sendMessage(ctx.api, alice.token, club, 'just before bob');
    await ctx.api.post(`/v1/conversations/${club}/members`, { userIds: [bob.id] }, alice.token);
    await sendMessage(ctx.api, carol.token, club, 'welcome bob');
    const resumed = await connect(bob, cursor);
    await sendMarker(ctx.api, alice.token, direct, [resumed]);
    expect(describeEvents(resumed.frames).filter((e) => e.includes(club))).toEqual([`member.added:${club}`, `message.created:${club}:3`]);
  });

  it('added and removed again while away: replays only what happened while a member, never the history before', async () => {
    const [alice, bob, carol] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api), registerUser(ctx.api)]);
    const club = (await createGroup(ctx.api, alice.token, [carol.id], 'Club')).id as string;
    const direct = (await openDirect(ctx.api, alice.token, bob.id)).id as string;
    const first = await connect(bob);
    const cursor = first.lastCursor()!;
    await first.close();
    await sendMessage(ctx.api, alice.token, club, 'secret, before bob joined');
    await ctx.api.post(`/v1/conversations/${club}/members`, { userIds: [bob.id] }, alice.token);
    await sendMessage(ctx.api, carol.token, club, 'while bob is a member');
    await ctx.api.delete(`/v1/conversations/${club}/members/${bob.id}`, alice.token);
    await sendMessage(ctx.api, alice.token, club, 'secret, after bob left');
    const resumed = await connect(bob, cursor);
    await sendMarker(ctx.api, alice.token, direct, [resumed]);
    const texts = resumed.frames.filter((f) => f.type === 'message.created' && f.message.conversationId === club).map((f) => f.message.text);
    expect(texts).not.toContain('secret, before bob joined');
    expect(texts).not.toContain('secret, after bob left');
    expect(describeEvents(resumed.frames).filter((e) => e.includes(club))).toEqual([
      `member.added:${club}`,
      `message.created:${club}:2`,
      `member.removed:${club}`,
    ]);
  });

  // Found by the model-based test (model/model-regressions.test.ts): the removal dropped the
  // conversation's position from the cursor, so a resume owing the conversation again replayed it
  // from the watermark, events seen before the removal included.
  it('removed and added back while online, then removed while away: nothing seen comes again, what followed the re-addition does', async () => {
    const [alice, bob] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api)]);
    const club = (await createGroup(ctx.api, alice.token, [bob.id], 'Club')).id as string;
    const first = await connect(bob);
    await sendMessage(ctx.api, alice.token, club, 'seen');
    await first.waitFor((f) => f.type === 'message.created');
    await ctx.api.delete(`/v1/conversations/${club}/members/${bob.id}`, alice.token);
    await first.waitFor((f) => f.type === 'member.removed');
    await ctx.api.post(`/v1/conversations/${club}/members`, { userIds: [bob.id] }, alice.token);
    await first.waitFor((f) => f.type === 'member.added');
    const cursor = first.lastCursor()!;
    await first.close();
    await sendMessage(ctx.api, alice.token, club, 'missed while a member');
    await ctx.api.delete(`/v1/conversations/${club}/members/${bob.id}`, alice.token);
    const resumed = await connect(bob, cursor);
    const { id: direct } = await openDirect(ctx.api, alice.token, bob.id);
    await sendMarker(ctx.api, alice.token, direct, [resumed]);
    expect(describeEvents(resumed.frames).filter((e) => e.includes(club))).toEqual([`message.created:${club}:2`, `member.removed:${club}`]);
  });

  // Found by the model-based test: the conversation was owed from the watermark, from before the addition.
  it('added while online, removed while away: the resume sends what followed the addition and the removal, nothing from before', async () => {
    const [alice, bob, carol] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api), registerUser(ctx.api)]);
    const club = (await createGroup(ctx.api, alice.token, [bob.id], 'Club')).id as string;
    await sendMessage(ctx.api, alice.token, club, 'secret, before carol joined');
    const first = await connect(carol);
    await ctx.api.post(`/v1/conversations/${club}/members`, { userIds: [carol.id] }, alice.token);
    await first.waitFor((f) => f.type === 'member.added');
    const cursor = first.lastCursor()!;
    await first.close();
    await sendMessage(ctx.api, bob.token, club, 'while carol is away');
    await ctx.api.delete(`/v1/conversations/${club}/members/${carol.id}`, alice.token);
    const resumed = await connect(carol, cursor);
    const { id: direct } = await openDirect(ctx.api, alice.token, carol.id);
    await sendMarker(ctx.api, alice.token, direct, [resumed]);
    expect(describeEvents(resumed.frames).filter((e) => e.includes(club))).toEqual([`message.created:${club}:2`, `member.removed:${club}`]);
  });

  // Found by the model-based test: the log was replayed from the latest addition only.
  it('added, removed and added again while away: replays both memberships, nothing from before the first or between them', async () => {
    const [alice, bob, carol] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api), registerUser(ctx.api)]);
    const club = (await createGroup(ctx.api, alice.token, [bob.id], 'Club')).id as string;
    const first = await connect(carol);
    const cursor = first.lastCursor()!;
    await first.close();
    await sendMessage(ctx.api, alice.token, club, 'secret, before carol joined');
    await ctx.api.post(`/v1/conversations/${club}/members`, { userIds: [carol.id] }, alice.token);
    await sendMessage(ctx.api, bob.token, club, 'first membership');
    await ctx.api.delete(`/v1/conversations/${club}/members/${carol.id}`, alice.token);
    await sendMessage(ctx.api, alice.token, club, 'secret, while carol was out');
    await ctx.api.post(`/v1/conversations/${club}/members`, { userIds: [carol.id] }, alice.token);
    await sendMessage(ctx.api, bob.token, club, 'second membership');
    const resumed = await connect(carol, cursor);
    await sendMarker(ctx.api, alice.token, club, [resumed]);
    expect(describeEvents(resumed.frames).filter((e) => e.includes(club))).toEqual([
      `member.added:${club}`,
      `message.created:${club}:2`,
      `member.removed:${club}`,
      `member.added:${club}`,
      `message.created:${club}:4`,
      `message.created:${club}:5`,
    ]);
  });

  // Found by the model-based test: the replay stopped at the first removal and caught up from the latest addition only.
  it('removed and added back twice while away: replays what came during the middle membership too', async () => {
    const [alice, bob] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api)]);
    const club = (await createGroup(ctx.api, alice.token, [bob.id], 'Club')).id as string;
    await sendMessage(ctx.api, alice.token, club, 'seen');
    const first = await connect(bob);
    const cursor = first.lastCursor()!;
    await first.close();
    await ctx.api.delete(`/v1/conversations/${club}/members/${bob.id}`, alice.token);
    await ctx.api.post(`/v1/conversations/${club}/members`, { userIds: [bob.id] }, alice.token);
    await sendMessage(ctx.api, alice.token, club, 'during the middle membership');
    await ctx.api.delete(`/v1/conversations/${club}/members/${bob.id}`, alice.token);
    await sendMessage(ctx.api, alice.token, club, 'secret, while bob was out');
    await ctx.api.post(`/v1/conversations/${club}/members`, { userIds: [bob.id] }, alice.token);
    const resumed = await connect(bob, cursor);
    await sendMarker(ctx.api, alice.token, club, [resumed]);
    expect(describeEvents(resumed.frames).filter((e) => e.includes(club))).toEqual([
      `member.removed:${club}`,
      `member.added:${club}`,
      `message.created:${club}:2`,
      `member.removed:${club}`,
      `member.added:${club}`,
      `message.created:${club}:4`,
    ]);
  });

  it('removed while online, resumed, added back and removed again: the second resume repeats nothing seen before the first removal', async () => {
    const [alice, bob] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api)]);
    const club = (await createGroup(ctx.api, alice.token, [bob.id], 'Club')).id as string;
    const first = await connect(bob);
    await sendMessage(ctx.api, alice.token, club, 'seen');
    await first.waitFor((f) => f.type === 'message.created');
    await ctx.api.delete(`/v1/conversations/${club}/members/${bob.id}`, alice.token);
    await first.waitFor((f) => f.type === 'member.removed');
    await first.close();
    // The resumed connection is not in the club: its cursor must still say how far bob saw it.
    const second = await connect(bob, first.lastCursor()!);
    await ctx.api.post(`/v1/conversations/${club}/members`, { userIds: [bob.id] }, alice.token);
    await second.waitFor((f) => f.type === 'member.added');
    await second.close();
    await ctx.api.delete(`/v1/conversations/${club}/members/${bob.id}`, alice.token);
    const third = await connect(bob, second.lastCursor()!);
    const { id: direct } = await openDirect(ctx.api, alice.token, bob.id);
    await sendMarker(ctx.api, alice.token, direct, [third]);
    expect(describeEvents(third.frames).filter((e) => e.includes(club))).toEqual([`member.removed:${club}`]);
  });

  it('left while away, with the last messages in the same millisecond as the removal: they are still replayed, before it', async () => {
    let frozen: number | null = null;
    const clocked = await startTestServer({ kind, clock: () => frozen ?? Date.now() });
    try {
      const [alice, bob] = await Promise.all([registerUser(clocked.api), registerUser(clocked.api)]);
      const club = (await createGroup(clocked.api, alice.token, [bob.id], 'Club')).id as string;
      const direct = (await openDirect(clocked.api, alice.token, bob.id)).id as string;
      const first = await connectReady(clocked.url, bob.token, bob.id);
      await sendMessage(clocked.api, alice.token, club, 'seen');
      await first.waitFor((f) => f.type === 'message.created');
      const cursor = first.lastCursor()!;
      await first.close();
      // A busy millisecond: two messages and the removal.
      frozen = Date.now() + 5;
      await sendMessage(clocked.api, alice.token, club, 'same ms 1');
      await sendMessage(clocked.api, alice.token, club, 'same ms 2');
      expect((await clocked.api.delete(`/v1/conversations/${club}/members/${bob.id}`, alice.token)).status).toBe(204);
      frozen = null;
      const resumed = await connectReady(clocked.url, bob.token, bob.id, { cursor });
      try {
        await sendMarker(clocked.api, alice.token, direct, [resumed]);
        expect(describeEvents(resumed.frames).filter((e) => e.includes(club))).toEqual([
          `message.created:${club}:2`,
          `message.created:${club}:3`,
          `member.removed:${club}`,
        ]);
      } finally {
        await resumed.close();
      }
    } finally {
      await clocked.stop();
    }
  });

  // KNOWN BUG, pinned: the cursor names every conversation with an event in the last
  // REALTIME_CURSOR_WINDOW_MS (30 s), so a user active in ~400 conversations gets a ~17 kB cursor
  // (carried by every frame) that the server cannot take back: the upgrade request line passes
  // Node's 16 kB header limit (431), and beyond 500 conversations decodeCursor refuses it anyway.
  // Remove `.fails` once cursors are bounded.
  it('a cursor from a user active in 400 conversations at once still resumes', async () => {
    const [alice, bob] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api)]);
    const groups: any[] = [];
    for (let i = 0; i < 400; i += 50) groups.push(...(await Promise.all(Array.from({ length: 50 }, () => createGroup(ctx.api, alice.token, [bob.id], 'Busy')))));
    const first = await connect(bob);
    for (let i = 0; i < groups.length; i += 50) await Promise.all(groups.slice(i, i + 50).map((group) => sendMessage(ctx.api, alice.token, group.id, 'hi')));
    await first.waitForCount((f) => f.type === 'message.created', groups.length);
    const cursor = first.lastCursor()!;
    await first.close();
    const missed = await sendMessage(ctx.api, alice.token, groups[0].id, 'missed');
    const resumed = await connect(bob, cursor);
    expect((await resumed.waitFor((f) => f.type === 'message.created' || f.type === 'resync.required')).message).toEqual(missed);
  });

  describe('cursors that cannot be honoured', () => {
    const expectResyncThenLive = async (client: RealtimeClient, api: ApiClient, sender: TestUser, conversationId: string) => {
      await client.waitFor((f) => f.type === 'resync.required');
      expect(client.frames.slice(0, 2).map((f) => f.type)).toEqual(['ready', 'resync.required']);
      expect(client.frames[1]).toEqual({ type: 'resync.required' });
      // Nothing was replayed; live events flow.
      const live = await sendMessage(api, sender.token, conversationId, 'after resync');
      const frame = await client.waitFor((f) => f.type === 'message.created');
      expect(frame.message).toEqual(live);
      expect(client.frames.filter((f) => f.type === 'message.created')).toHaveLength(1);
      return client;
    };

    it.each([
      ['not a cursor', 'garbage'],
      ['an unknown version', 'c9.1700000000000.-'],
      ['a non-numeric watermark', 'c1.abc.-'],
      ['a malformed inbox position', 'c1.1700000000000.not-an-id'],
      ['a malformed conversation position', 'c1.1700000000000.-.conv~xyz'],
      ['an empty cursor', '.'],
    ])('%s → ready, resync.required, then live events', async (_label, cursor) => {
      const [alice, bob] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api)]);
      const { id } = await openDirect(ctx.api, alice.token, bob.id);
      await sendMessage(ctx.api, alice.token, id, 'before');
      await expectResyncThenLive(await connect(bob, cursor), ctx.api, alice, id);
    });

    it('a cursor from before the retention window → resync.required, then live events', async () => {
      let offset = 0;
      const clocked = await startTestServer({ kind, clock: () => Date.now() + offset });
      try {
        // Bob was last connected 25 hours ago (retention is 24 hours).
        offset = -25 * 60 * 60 * 1000;
        const [alice, bob] = await Promise.all([registerUser(clocked.api), registerUser(clocked.api)]);
        const { id } = await openDirect(clocked.api, alice.token, bob.id);
        const old = await connectReady(clocked.url, bob.token, bob.id);
        await sendMessage(clocked.api, alice.token, id, 'a day ago');
        await old.waitFor((f) => f.type === 'message.created');
        const cursor = old.lastCursor()!;
        await old.close();

        offset = 0;
        const login = async (user: TestUser) => {
          const response = await clocked.api.post('/v1/auth/login', { username: user.username, password: 'correct horse battery' });
          expect(response.status).toBe(200);
          return { ...user, token: response.body.accessToken as string };
        };
        const [alice2, bob2] = await Promise.all([login(alice), login(bob)]);
        await sendMessage(clocked.api, alice2.token, id, 'today');
        const resumed = await connectReady(clocked.url, bob2.token, bob.id, { cursor });
        try {
          await expectResyncThenLive(resumed, clocked.api, alice2, id);
        } finally {
          await resumed.close();
        }
      } finally {
        await clocked.stop();
      }
    });

    it('more missed events than retention keeps (EVENT_RETENTION_MAX_EVENTS=100) → resync.required; fewer → full replay', async () => {
      const { engine, cleanup } = await engineWithRetention(kind, { maxEvents: 100, maxAgeMs: 24 * 60 * 60 * 1000 });
      const small = await startTestServer({ engine, env: { EVENT_RETENTION_MAX_EVENTS: '100' } });
      try {
        const [alice, bob] = await Promise.all([registerUser(small.api), registerUser(small.api)]);
        const { id } = await openDirect(small.api, alice.token, bob.id);

        // Missing 90 events: within retention, replayed whole.
        const first = await connectReady(small.url, bob.token, bob.id);
        await sendMessage(small.api, alice.token, id, 'seen');
        await first.waitFor((f) => f.type === 'message.created');
        const within = first.lastCursor()!;
        await first.close();
        for (let i = 0; i < 90; i++) await sendMessage(small.api, alice.token, id, `within ${i}`);
        const replayed = await connectReady(small.url, bob.token, bob.id, { cursor: within });
        await replayed.waitForCount((f) => f.type === 'message.created', 90);
        const beyond = replayed.lastCursor()!;
        await replayed.close();
        expect(seqsOf(replayed.frames, id)).toEqual(range(2, 91));
        expect(replayed.frames.some((f) => f.type === 'resync.required')).toBe(false);

        // Missing 130: the oldest of them are gone, so nothing is replayed.
        for (let i = 0; i < 130; i++) await sendMessage(small.api, alice.token, id, `beyond ${i}`);
        const resumed = await connectReady(small.url, bob.token, bob.id, { cursor: beyond });
        try {
          await expectResyncThenLive(resumed, small.api, alice, id);
        } finally {
          await resumed.close();
        }
      } finally {
        await small.stop();
        await cleanup();
      }
    });
  });

  it('a cursor stays usable after its connection saw only other conversations', async () => {
    const [alice, bob, carol] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api), registerUser(ctx.api)]);
    const busy = (await openDirect(ctx.api, alice.token, bob.id)).id as string;
    const quiet = (await openDirect(ctx.api, carol.token, bob.id)).id as string;
    const first = await connect(bob);
    for (let i = 0; i < 3; i++) await sendMessage(ctx.api, alice.token, busy, `busy ${i}`);
    await first.waitForCount((f) => f.type === 'message.created', 3);
    const cursor = first.lastCursor()!;
    await first.close();
    await sendMessage(ctx.api, carol.token, quiet, 'quiet 1');
    await sendMessage(ctx.api, alice.token, busy, 'busy 3');
    const resumed = await connect(bob, cursor);
    await resumed.waitForCount((f) => f.type === 'message.created', 2);
    await sendMarker(ctx.api, carol.token, quiet, [resumed]);
    expect(seqsOf(resumed.frames, quiet)).toEqual([1, 2]);
    expect(seqsOf(resumed.frames, busy)).toEqual([4]);
    expect(resumed.frames.filter((f) => aboutConversation(f, busy) || aboutConversation(f, quiet))).toHaveLength(3);
  });

  it('resuming does not disturb a connection of the same user that stayed online', async () => {
    const [alice, bob] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api)]);
    const { id } = await openDirect(ctx.api, alice.token, bob.id);
    const stays = await connect(bob);
    const leaves = await connect(bob);
    await sendMessage(ctx.api, alice.token, id, 'both');
    await leaves.waitFor((f) => f.type === 'message.created');
    const cursor = leaves.lastCursor()!;
    await leaves.close();
    for (let i = 0; i < 5; i++) await sendMessage(ctx.api, alice.token, id, `one ${i}`);
    const back = await connect(bob, cursor);
    await sendMarker(ctx.api, alice.token, id, [stays, back]);
    expect(seqsOf(stays.frames, id)).toEqual(range(1, 7));
    expect(seqsOf(back.frames, id)).toEqual(range(2, 7));
  });

  it('the resumed connection is live for typing as well (typing is never replayed)', async () => {
    const [alice, bob] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api)]);
    const { id } = await openDirect(ctx.api, alice.token, bob.id);
    const a = await connect(alice);
    const first = await connect(bob);
    a.send({ type: 'typing', conversationId: id });
    await first.waitFor((f) => f.type === 'typing');
    const cursor = first.lastCursor()!;
    await first.close();
    const resumed = await connectRealtime(ctx.url, { token: bob.token, cursor });
    clients.track(resumed);
    await resumed.waitFor((f) => f.type === 'ready');
    await sendMarker(ctx.api, alice.token, id, [resumed]);
    expect(resumed.frames.filter((f) => f.type === 'typing')).toEqual([]);
    a.send({ type: 'typing', conversationId: id });
    expect(await resumed.waitFor((f) => f.type === 'typing')).toEqual({ type: 'typing', conversationId: id, userId: alice.id });
  });
});

function messageTexts(frames: readonly Frame[]): string[] {
  return frames.filter((f) => f.type === 'message.created').map((f) => f.message.text as string);
}
