/**
 * Contract of event retention: logs and inboxes keep at most `maxEvents` events and drop events
 * older than `maxAgeMs` before the newest, and `trimmed` tells a reader exactly when what it asks
 * for is no longer whole. These tests make engines with a small retention (EngineSetup options).
 */
import { describe, expect, it } from 'vitest';
import type { ConversationEvent, EventId } from '../../domain/events.js';
import type { ConversationId } from '../../domain/types.js';
import type { Engine } from '../engine.js';
import { alice, bob, createGroup, DAY, headOf, send, T0, TENANT, type ContractContext } from './fixtures.contract.js';

export function retentionContract(context: ContractContext): void {
  /** Ids of the log after each change, oldest first. */
  async function logIds(engine: Engine, id: ConversationId, changes: number, at: (i: number) => number): Promise<EventId[]> {
    const ids = [await headOf(engine, id)];
    for (let i = 1; i <= changes; i += 1) {
      await send(engine, id, alice, { createdAt: at(i) });
      ids.push(await headOf(engine, id));
    }
    return ids;
  }

  describe('event retention', () => {
    it('keeps the newest maxEvents events of each log; `trimmed` exactly when dropped events follow `after`', async () => {
      const engine = await context.createEngine({ retention: { maxEvents: 5, maxAgeMs: DAY } });
      const id = await createGroup(engine, 'g1', [alice, bob]);
      const ids = await logIds(engine, id, 9, (i) => T0 + i);
      const idsOf = (page: { events: { id: EventId }[] }) => page.events.map((envelope) => envelope.id);

      const whole = await engine.events.read(TENANT, id, null, 1000);
      expect(idsOf(whole)).toEqual(ids.slice(5));
      expect(whole.trimmed).toBe(true);
      // From the newest dropped event on, nothing is missing.
      const fromLastDropped = await engine.events.read(TENANT, id, ids[4] ?? null, 1000);
      expect({ ids: idsOf(fromLastDropped), trimmed: fromLastDropped.trimmed }).toEqual({ ids: ids.slice(5), trimmed: false });
      const fromEarlier = await engine.events.read(TENANT, id, ids[3] ?? null, 1000);
      expect({ ids: idsOf(fromEarlier), trimmed: fromEarlier.trimmed }).toEqual({ ids: ids.slice(5), trimmed: true });
      const fromFirst = await engine.events.read(TENANT, id, ids[0] ?? null, 2);
      expect(fromFirst.trimmed).toBe(true);
      const fromKept = await engine.events.read(TENANT, id, ids[6] ?? null, 1000);
      expect({ ids: idsOf(fromKept), trimmed: fromKept.trimmed }).toEqual({ ids: ids.slice(7), trimmed: false });
      expect(await engine.events.read(TENANT, id, ids[9] ?? null, 1000)).toEqual({ events: [], trimmed: false });
      expect(await engine.events.heads(TENANT, [id])).toEqual([ids[9]]);

      // Retention is per log: a short log in the same engine is whole.
      const other = await createGroup(engine, 'g2', [alice]);
      await send(engine, other, alice);
      expect(await engine.events.read(TENANT, other, null, 1000)).toMatchObject({ events: [{}, {}], trimmed: false });
    });

    it('is whole below maxEvents and trims from the first event beyond it', async () => {
      const engine = await context.createEngine({ retention: { maxEvents: 3, maxAgeMs: DAY } });
      const id = await createGroup(engine, 'g1', [alice]);
      const ids = await logIds(engine, id, 2, (i) => T0 + i);
      expect(await engine.events.read(TENANT, id, null, 1000)).toMatchObject({ trimmed: false });
      expect((await engine.events.read(TENANT, id, null, 1000)).events.map((envelope) => envelope.id)).toEqual(ids);
      await send(engine, id, alice, { createdAt: T0 + 3 });
      const trimmed = await engine.events.read(TENANT, id, null, 1000);
      expect(trimmed.trimmed).toBe(true);
      expect(trimmed.events.map((envelope) => envelope.id)).toEqual([...ids.slice(1), await headOf(engine, id)]);
      expect((await engine.events.read(TENANT, id, ids[0] ?? null, 1000)).trimmed).toBe(false);
    });

    it('drops events older than maxAgeMs before the newest when a new one arrives', async () => {
      const engine = await context.createEngine({ retention: { maxEvents: 1000, maxAgeMs: 1000 } });
      const id = await createGroup(engine, 'g1', [alice], { createdAt: T0 });
      const [created, early] = await logIds(engine, id, 1, () => T0 + 400);
      expect(await engine.events.read(TENANT, id, null, 1000)).toMatchObject({ events: [{ id: created }, { id: early }], trimmed: false });

      // T0 + 1500 is the newest: everything before T0 + 500 is now too old.
      await send(engine, id, alice, { createdAt: T0 + 1500 });
      const late = await headOf(engine, id);
      const afterCut = await engine.events.read(TENANT, id, null, 1000);
      expect({ ids: afterCut.events.map((envelope) => envelope.id), trimmed: afterCut.trimmed }).toEqual({ ids: [late], trimmed: true });
      expect((await engine.events.read(TENANT, id, created ?? null, 1000)).trimmed).toBe(true);
      expect(await engine.events.read(TENANT, id, early ?? null, 1000)).toMatchObject({ events: [{ id: late }], trimmed: false });

      // Within the age of the newest: kept.
      await send(engine, id, alice, { createdAt: T0 + 1600 });
      expect(await engine.events.read(TENANT, id, early ?? null, 1000)).toMatchObject({
        events: [{ id: late }, { at: T0 + 1600 }],
        trimmed: false,
      });
    });

    it('bounds each inbox the same way', async () => {
      const engine = await context.createEngine({ retention: { maxEvents: 3, maxAgeMs: DAY } });
      const event = (i: number): ConversationEvent => ({
        type: 'member.removed',
        conversationId: `g${i}` as ConversationId,
        userId: alice,
        role: 'member',
      });
      for (let i = 1; i <= 5; i += 1) await engine.events.notify(TENANT, [alice], event(i), T0 + i);
      await engine.events.notify(TENANT, [bob], event(9), T0 + 9);
      const inbox = await engine.events.readInbox(TENANT, alice, null, 1000);
      expect(inbox.trimmed).toBe(true);
      expect(inbox.events.map((envelope) => envelope.event)).toEqual([event(3), event(4), event(5)]);
      const firstKept = inbox.events[0]?.id ?? null;
      expect(await engine.events.readInbox(TENANT, alice, firstKept, 1000)).toMatchObject({ events: [{}, {}], trimmed: false });
      expect(await engine.events.readInbox(TENANT, bob, null, 1000)).toMatchObject({ events: [{ event: event(9) }], trimmed: false });
    });
  });
}
