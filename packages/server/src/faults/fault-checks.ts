/**
 * What a fault world checks once the traffic has stopped: messages stored exactly once,
 * delivered exactly once to every follower, and every send answered honestly.
 */
import { expect } from 'vitest';
import { isCreatedIn, range, sleep, until } from '../test-support/node-scenarios.js';
import type { Frame } from '../test-support/realtime-client.js';
import { SEND_ATTEMPT_TIMEOUT_MS, type FaultTraffic, type Follower, type SendAttempt } from './fault-traffic.js';

/**
 * Stored exactly once: seqs 1..n, every acknowledged message as acknowledged, no text twice (a
 * retried clientMessageId, or a send without one repeated behind the client's back), nothing that
 * was never sent. `items` is the whole history, oldest first.
 */
export function expectStoredOnce(items: any[], traffic: Pick<FaultTraffic, 'acked' | 'givenUp'>): void {
  expect(items.map((message) => message.seq), 'history seqs').toEqual(range(1, items.length));
  const texts = items.map((message) => message.text as string);
  const twice = texts.filter((text, index) => texts.indexOf(text) !== index);
  expect(twice, 'sends stored twice').toEqual([]);
  expect(texts.filter((text) => !traffic.acked.has(text) && !traffic.givenUp.has(text)), 'stored but never sent').toEqual([]);
  const stored = new Map(items.map((message) => [message.text as string, message]));
  for (const [text, message] of traffic.acked) {
    expect(stored.get(text)?.id, `acknowledged ${text}`).toBe(message.id);
    expect(stored.get(text)?.seq, `seq of ${text}`).toBe(message.seq);
  }
}

/** Every follower has every message of `items` exactly once, in seq order, across its reconnections, and was never told to resync. */
export async function expectDeliveredOnce(followers: Follower[], conversationId: string, items: any[]): Promise<void> {
  const lastSeq = items.length;
  const framesOf = (follower: Follower) => follower.connections.flatMap((client) => client.frames.filter(isCreatedIn(conversationId)));
  await until(`every follower to have ${lastSeq} messages`, () => followers.every((follower) => framesOf(follower).length >= lastSeq), 20_000).catch(
    () => undefined, // the assertions below say who misses what
  );
  // Room for a duplicate to show up. A duplicate later than this would be missed; the seq and id
  // checks below still catch any that has arrived.
  await sleep(300);
  for (const follower of followers) {
    const frames = framesOf(follower);
    expect(frames.map((frame) => frame.message.seq as number), `${follower.user.id}'s seqs`).toEqual(range(1, lastSeq));
    expect(frames.map((frame) => frame.message.id), `${follower.user.id}'s ids`).toEqual(items.map((message) => message.id));
    const resyncs = follower.connections.flatMap((client) => client.frames.filter((frame: Frame) => frame.type === 'resync.required'));
    expect(resyncs, `${follower.user.id} told to resync`).toEqual([]);
  }
}

/**
 * Every failed attempt was answered 503 storage_unavailable in time or, only where the fault cuts
 * client connections, lost its connection. None went unanswered. Returns the failed attempts.
 */
export function expectHonestFailures(attempts: SendAttempt[], cutsClientConnections: boolean): SendAttempt[] {
  const failed = attempts.filter((attempt) => attempt.status !== 200 && attempt.status !== 201);
  expect(failed.filter((attempt) => attempt.failure === 'timeout'), `sends unanswered within ${SEND_ATTEMPT_TIMEOUT_MS} ms`).toEqual([]);
  const unexpected = failed.filter(
    (attempt) => !(attempt.status === 503 && attempt.code === 'storage_unavailable') && !(attempt.failure === 'network' && cutsClientConnections),
  );
  expect(unexpected, 'send answers other than success or 503 storage_unavailable (or a cut, where connections are cut)').toEqual([]);
  return failed;
}
