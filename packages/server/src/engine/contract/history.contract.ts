/** Contract of history paging by seq, at every edge. */
import { describe, expect, it } from 'vitest';
import type { ConversationId } from '../../domain/types.js';
import type { HistoryQuery } from '../engine.js';
import {
  alice,
  createGroup,
  expectEngineError,
  range,
  sendMany,
  seqsOf,
  TENANT,
  type ContractContext,
} from './fixtures.contract.js';

export function historyContract(context: ContractContext): void {
  /** A page as [seqs, hasMore], to compare whole answers at once. */
  async function page(id: ConversationId, query: HistoryQuery): Promise<[number[], boolean]> {
    const result = await context.engine.messages.history(TENANT, id, query, null);
    return [seqsOf(result.items), result.hasMore];
  }

  async function tenMessages(): Promise<ConversationId> {
    const id = await createGroup(context.engine, 'g1', [alice]);
    await sendMany(context.engine, id, alice, 10);
    return id;
  }

  describe('history', () => {
    it('without a cursor returns the newest messages in ascending seq', async () => {
      const id = await tenMessages();
      expect(await page(id, { limit: 3 })).toEqual([[8, 9, 10], true]);
      expect(await page(id, { limit: 1 })).toEqual([[10], true]);
      expect(await page(id, { limit: 9 })).toEqual([range(2, 10), true]);
      expect(await page(id, { limit: 10 })).toEqual([range(1, 10), false]);
      expect(await page(id, { limit: 100 })).toEqual([range(1, 10), false]);
    });

    it('pages backwards with before, hasMore exact at the start', async () => {
      const id = await tenMessages();
      expect(await page(id, { before: 8, limit: 3 })).toEqual([[5, 6, 7], true]);
      expect(await page(id, { before: 5, limit: 3 })).toEqual([[2, 3, 4], true]);
      expect(await page(id, { before: 4, limit: 3 })).toEqual([[1, 2, 3], false]);
      expect(await page(id, { before: 3, limit: 3 })).toEqual([[1, 2], false]);
      expect(await page(id, { before: 2, limit: 1 })).toEqual([[1], false]);
      expect(await page(id, { before: 1, limit: 3 })).toEqual([[], false]);
    });

    it('reads before a seq beyond lastSeq as the newest page', async () => {
      const id = await tenMessages();
      expect(await page(id, { before: 11, limit: 3 })).toEqual([[8, 9, 10], true]);
      expect(await page(id, { before: 1000, limit: 3 })).toEqual([[8, 9, 10], true]);
      expect(await page(id, { before: 1000, limit: 100 })).toEqual([range(1, 10), false]);
    });

    it('pages forwards with after, hasMore exact at the end', async () => {
      const id = await tenMessages();
      expect(await page(id, { after: 0, limit: 3 })).toEqual([[1, 2, 3], true]);
      expect(await page(id, { after: 6, limit: 3 })).toEqual([[7, 8, 9], true]);
      expect(await page(id, { after: 7, limit: 3 })).toEqual([[8, 9, 10], false]);
      expect(await page(id, { after: 9, limit: 3 })).toEqual([[10], false]);
      expect(await page(id, { after: 10, limit: 3 })).toEqual([[], false]);
      expect(await page(id, { after: 1000, limit: 3 })).toEqual([[], false]);
      expect(await page(id, { after: 0, limit: 100 })).toEqual([range(1, 10), false]);
    });

    it('returns full message objects, deleted ones included as tombstones', async () => {
      const id = await createGroup(context.engine, 'g1', [alice]);
      const sent = await sendMany(context.engine, id, alice, 3);
      const target = sent[1];
      if (!target) throw new Error('expected three messages');
      const deleted = await context.engine.messages.delete(TENANT, id, target.id, target.createdAt + 1);
      const result = await context.engine.messages.history(TENANT, id, { limit: 10 }, alice);
      expect(result.items).toEqual([sent[0], deleted, sent[2]]);
      expect(result.items[1]).toMatchObject({ seq: 2, text: null });
    });

    it('is empty for an empty or unknown conversation in every direction', async () => {
      const id = await createGroup(context.engine, 'g1', [alice]);
      for (const conversationId of [id, 'nope' as ConversationId]) {
        expect(await page(conversationId, { limit: 10 })).toEqual([[], false]);
        expect(await page(conversationId, { before: 5, limit: 10 })).toEqual([[], false]);
        expect(await page(conversationId, { after: 0, limit: 10 })).toEqual([[], false]);
      }
    });

    it('refuses out-of-range limits and both before and after', async () => {
      const id = await tenMessages();
      const history = (query: HistoryQuery) => context.engine.messages.history(TENANT, id, query, null);
      await expectEngineError(history({ limit: 0 }), 'invalid_argument');
      await expectEngineError(history({ limit: 101 }), 'invalid_argument');
      await expectEngineError(history({ before: 5, after: 2, limit: 10 }), 'invalid_argument');
    });
  });
}
