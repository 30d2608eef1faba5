import { describe, expect, it } from 'vitest';
import { createFairLimiter } from './fair-limiter.js';

/** A task that runs until released, recording when it started. */
function gate(started: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>((resolve) => (release = resolve));
  return { task: async () => (started.push(name), done.then(() => name)), release };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('fair limiter', () => {
  it('starts waiting tasks round-robin across sources, oldest first within one', async () => {
    const limit = createFairLimiter({ maxConcurrent: 1, maxQueued: 10, maxQueuedPerSource: 10 });
    const started: string[] = [];
    const gates = ['a0', 'a1', 'a2', 'a3', 'b0', 'c0', 'b1'].map((name) => ({ name, ...gate(started, name) }));
    const results = gates.map(({ name, task }) => limit(name[0]!, task));
    for (let i = 0; i < gates.length; i += 1) {
      await settle();
      gates.find(({ name }) => name === started.at(-1))!.release();
    }
    expect(await Promise.all(results)).toEqual(gates.map(({ name }) => name));
    expect(started).toEqual(['a0', 'a1', 'b0', 'c0', 'a2', 'b1', 'a3']);
  });

  it('caps what one source may queue, so a flood leaves room for everyone else', async () => {
    const limit = createFairLimiter({ maxConcurrent: 2, maxQueued: 64, maxQueuedPerSource: 4 });
    const started: string[] = [];
    const flood = Array.from({ length: 70 }, (_, i) => gate(started, `flood${i}`));
    const floodResults = flood.map(({ task }) => limit('10.0.0.1', task).then(() => 'done', (error: { code?: string }) => error.code));
    const other = gate(started, 'other');
    const otherResult = limit('10.0.0.2', other.task);
    await settle();
    // Two run, four of the flood wait, the rest is refused at once; the other source still gets a place.
    const refused = (await Promise.all(floodResults.slice(6))).filter((code) => code === 'rate_limited');
    expect(refused).toHaveLength(64);
    // The flood was waiting first, so it has the next turn; the other source has the one after.
    flood[0]!.release();
    await settle();
    flood[1]!.release();
    await settle();
    expect(started).toEqual(['flood0', 'flood1', 'flood2', 'other']);
    other.release();
    await expect(otherResult).resolves.toBe('other');
    for (const { release } of flood) release();
    expect((await Promise.all(floodResults.slice(0, 6))).every((result) => result === 'done')).toBe(true);
  });

  it('refuses beyond the total waiting line whatever the source', async () => {
    const limit = createFairLimiter({ maxConcurrent: 1, maxQueued: 2, maxQueuedPerSource: 2 });
    const started: string[] = [];
    const gates = ['a', 'b', 'c', 'd'].map((name) => gate(started, name));
    const results = gates.map(({ task }, i) => limit(`source-${i}`, task).catch((error: { code?: string }) => error.code));
    await settle();
    for (const { release } of gates) release();
    expect(await Promise.all(results)).toEqual(['a', 'b', 'c', 'rate_limited']);
  });
});
