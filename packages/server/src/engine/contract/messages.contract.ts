/** Contract of appending messages: gapless seq under concurrency, idempotency, refusals. */
import { describe, expect, it } from 'vitest';
import type { ConversationId, MessageId, UserId } from '../../domain/types.js';
import {
  alice,
  bob,
  carol,
  createGroup,
  DEFAULT_TTL_MS,
  newDirect,
  newMessage,
  nextMessageId,
  range,
  send,
  seqsOf,
  T0,
  TENANT,
  type ContractContext,
} from './fixtures.contract.js';

export function messagesContract(context: ContractContext): void {
  async function lastSeq(id: ConversationId): Promise<number | undefined> {
    return (await context.engine.conversations.get(TENANT, id))?.lastSeq;
  }

  describe('append', () => {
    it('stores the message with the next seq and moves the conversation activity', async () => {
      const { messages, conversations } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice, bob]);
      const input = newMessage(alice, { text: 'first', createdAt: T0 + 7, clientMessageId: 'c-1' });
      const result = await messages.append(TENANT, id, input, DEFAULT_TTL_MS);
      const expected = {
        id: input.id,
        conversationId: id,
        seq: 1,
        senderId: alice,
        system: false,
        text: 'first',
        createdAt: T0 + 7,
        editedAt: null,
        deletedAt: null,
        replyTo: null,
        reactions: {},
        myReactions: [],
      };
      expect(result).toEqual({ status: 'created', message: expected });
      expect(await messages.get(TENANT, id, input.id, bob)).toEqual(expected);
      expect(await conversations.get(TENANT, id)).toMatchObject({ lastSeq: 1, lastActivityAt: T0 + 7 });
      const second = await send(context.engine, id, bob, { createdAt: T0 + 8 });
      expect(second.seq).toBe(2);
      expect(await conversations.get(TENANT, id)).toMatchObject({ lastSeq: 2, lastActivityAt: T0 + 8 });
    });

    it('gives 200 concurrent appends the seqs 1..200, each exactly once', async () => {
      const id = await createGroup(context.engine, 'g1', [alice, bob, carol]);
      const senders = [alice, bob, carol];
      const results = await Promise.all(
        range(1, 200).map((i) =>
          context.engine.messages.append(TENANT, id, newMessage(senders[i % 3] ?? alice, { text: `m${i}` }), DEFAULT_TTL_MS),
        ),
      );
      const seqs = results.map((result) => (result.status === 'created' ? result.message.seq : -1));
      expect([...seqs].sort((a, b) => a - b)).toEqual(range(1, 200));
      expect(await lastSeq(id)).toBe(200);
      const newest = await context.engine.messages.history(TENANT, id, { limit: 100 }, null);
      const oldest = await context.engine.messages.history(TENANT, id, { before: 101, limit: 100 }, null);
      expect(seqsOf([...oldest.items, ...newest.items])).toEqual(range(1, 200));
      expect([newest.hasMore, oldest.hasMore]).toEqual([true, false]);
    });

    it('numbers each conversation on its own under concurrency', async () => {
      const first = await createGroup(context.engine, 'g1', [alice]);
      const second = await createGroup(context.engine, 'g2', [alice]);
      const results = await Promise.all(
        range(1, 60).map((i) =>
          context.engine.messages.append(TENANT, i % 2 === 0 ? first : second, newMessage(alice), DEFAULT_TTL_MS),
        ),
      );
      for (const id of [first, second]) {
        const seqs = results.flatMap((result) =>
          result.status === 'created' && result.message.conversationId === id ? [result.message.seq] : [],
        );
        expect(seqs.sort((a, b) => a - b)).toEqual(range(1, 30));
      }
    });

    it('stores a system message without a sender or membership', async () => {
      const id = await createGroup(context.engine, 'g1', [alice]);
      const message = await send(context.engine, id, null, { text: 'moderated' });
      expect(message).toMatchObject({ senderId: null, system: true, seq: 1, text: 'moderated' });
    });

    it('stores a reply to a message of the same conversation', async () => {
      const id = await createGroup(context.engine, 'g1', [alice, bob]);
      const original = await send(context.engine, id, alice);
      const reply = await send(context.engine, id, bob, { replyTo: original.id });
      expect(reply.replyTo).toBe(original.id);
      expect(await context.engine.messages.get(TENANT, id, reply.id, null)).toMatchObject({ replyTo: original.id });
    });

    it('refuses unknown conversations, outsiders and unknown replies, storing nothing', async () => {
      const { messages } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice]);
      const other = await createGroup(context.engine, 'g2', [alice]);
      const elsewhere = await send(context.engine, other, alice);
      const append = (conversationId: ConversationId, input: ReturnType<typeof newMessage>) =>
        messages.append(TENANT, conversationId, input, DEFAULT_TTL_MS);
      expect(await append('nope' as ConversationId, newMessage(alice))).toEqual({ status: 'conversation_not_found' });
      expect(await append(id, newMessage(bob))).toEqual({ status: 'not_member' });
      expect(await append(id, newMessage(alice, { replyTo: 'm-missing' as MessageId }))).toEqual({ status: 'reply_not_found' });
      expect(await append(id, newMessage(alice, { replyTo: elsewhere.id }))).toEqual({ status: 'reply_not_found' });
      expect(await lastSeq(id)).toBe(0);
      expect(await messages.history(TENANT, id, { limit: 100 }, null)).toEqual({ items: [], hasMore: false });
      expect(await context.engine.conversations.get(TENANT, 'nope' as ConversationId)).toBeNull();
    });

    it('refuses a sender the other member of a direct conversation blocks, storing nothing, until unblocked', async () => {
      const { messages, users, conversations } = context.engine;
      const { conversation: direct } = await conversations.getOrCreateDirect(TENANT, newDirect('d1', alice, bob));
      await send(context.engine, direct.id, alice);
      await users.block(TENANT, bob, alice);
      const refused = newMessage(alice, { clientMessageId: 'k' });
      expect(await messages.append(TENANT, direct.id, refused, DEFAULT_TTL_MS)).toEqual({ status: 'blocked' });
      expect(await lastSeq(direct.id)).toBe(1);
      // One direction only: the blocker still sends.
      expect((await send(context.engine, direct.id, bob)).seq).toBe(2);
      await users.unblock(TENANT, bob, alice);
      expect(await messages.append(TENANT, direct.id, { ...refused, id: nextMessageId() }, DEFAULT_TTL_MS)).toMatchObject({ status: 'created', message: { seq: 3 } });
    });

    it('refuses a blocked sender in a direct conversation opened after the block, and never in a group', async () => {
      const { messages, users, conversations } = context.engine;
      await users.block(TENANT, bob, alice);
      const { conversation: direct } = await conversations.getOrCreateDirect(TENANT, newDirect('d1', bob, alice));
      expect(await messages.append(TENANT, direct.id, newMessage(alice), DEFAULT_TTL_MS)).toEqual({ status: 'blocked' });
      expect(await lastSeq(direct.id)).toBe(0);
      const group = await createGroup(context.engine, 'g1', [bob, alice]);
      expect((await send(context.engine, group, alice)).seq).toBe(1);
    });

    it('finds the block of a user whose id needs escaping in key names', async () => {
      const { messages, users, conversations } = context.engine;
      // Tenant back ends choose user ids: the blocks set's name escapes them (redis-keys.ts).
      const blocker = "b:ob/ü 1+(x)*'~!" as UserId;
      const { conversation: direct } = await conversations.getOrCreateDirect(TENANT, newDirect('d1', blocker, alice));
      expect((await send(context.engine, direct.id, alice)).seq).toBe(1);
      await users.block(TENANT, blocker, alice);
      expect(await messages.append(TENANT, direct.id, newMessage(alice), DEFAULT_TTL_MS)).toEqual({ status: 'blocked' });
      await users.unblock(TENANT, blocker, alice);
      expect((await send(context.engine, direct.id, alice)).seq).toBe(2);
    });

    it('follows the last of racing blocks and unblocks of a pair', async () => {
      const { messages, users, conversations } = context.engine;
      const { conversation: direct } = await conversations.getOrCreateDirect(TENANT, newDirect('d1', alice, bob));
      for (let round = 0; round < 10; round++) {
        await Promise.all(range(1, 6).map((i) => ((i + round) % 2 === 0 ? users.block(TENANT, bob, alice) : users.unblock(TENANT, bob, alice))));
        const blocked = await users.isBlocked(TENANT, bob, alice);
        const result = await messages.append(TENANT, direct.id, newMessage(alice), DEFAULT_TTL_MS);
        expect(result.status).toBe(blocked ? 'blocked' : 'created');
      }
    });

    it('counts a rate-limit unit with the append: refused, nothing is counted or stored; allowed, the unit stays counted whatever the append answers', async () => {
      const { messages, rateLimits } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice]);
      const key = { limit: 'send', tenantId: TENANT, subject: alice };
      const unit = { key, policy: { count: 2, windowMs: 60_000 }, now: T0 };
      const first = await messages.appendCounted(TENANT, id, newMessage(alice), DEFAULT_TTL_MS, unit);
      expect(first).toMatchObject({ decision: { allowed: true, remaining: 1 }, result: { status: 'created', message: { seq: 1 } } });
      const outsider = await messages.appendCounted(TENANT, id, newMessage(bob), DEFAULT_TTL_MS, unit);
      expect(outsider).toMatchObject({ decision: { allowed: true, remaining: 0 }, result: { status: 'not_member' } });
      const refused = await messages.appendCounted(TENANT, id, newMessage(alice), DEFAULT_TTL_MS, unit);
      expect(refused.result).toBeNull();
      expect(refused.decision).toMatchObject({ allowed: false, remaining: 0 });
      expect(refused.decision.retryAfterMs).toBeGreaterThan(0);
      expect(await lastSeq(id)).toBe(1);
      // The refusal counted nothing: the first unit comes back exactly when it would have.
      const later = { ...unit, now: T0 + refused.decision.retryAfterMs };
      expect((await rateLimits.peek(key, unit.policy, later.now)).allowed).toBe(true);
      expect(await messages.appendCounted(TENANT, id, newMessage(alice), DEFAULT_TTL_MS, later)).toMatchObject({ result: { status: 'created', message: { seq: 2 } } });
    });

    it('does not spend an idempotency key on a refused append', async () => {
      const { messages } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice]);
      const refused = newMessage(alice, { clientMessageId: 'k', replyTo: 'm-missing' as MessageId });
      expect((await messages.append(TENANT, id, refused, DEFAULT_TTL_MS)).status).toBe('reply_not_found');
      const retried = await messages.append(TENANT, id, newMessage(alice, { clientMessageId: 'k' }), DEFAULT_TTL_MS);
      expect(retried).toMatchObject({ status: 'created', message: { seq: 1 } });
    });

    it('gets a message only from its own conversation', async () => {
      const { messages } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice]);
      const other = await createGroup(context.engine, 'g2', [alice]);
      const sent = await send(context.engine, id, alice);
      expect(await messages.get(TENANT, id, sent.id, null)).toEqual(sent);
      expect(await messages.get(TENANT, other, sent.id, null)).toBeNull();
      expect(await messages.get(TENANT, id, 'm-missing' as MessageId, null)).toBeNull();
      expect(await messages.get(TENANT, 'nope' as ConversationId, sent.id, null)).toBeNull();
    });
  });

  describe('idempotent append', () => {
    it('returns the original message for a repeated clientMessageId', async () => {
      const { messages } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice]);
      const first = await messages.append(TENANT, id, newMessage(alice, { clientMessageId: 'k1', text: 'once' }), DEFAULT_TTL_MS);
      if (first.status !== 'created') throw new Error(first.status);
      const repeat = newMessage(alice, { clientMessageId: 'k1', text: 'twice', createdAt: T0 + 1000 });
      expect(await messages.append(TENANT, id, repeat, DEFAULT_TTL_MS)).toEqual({ status: 'duplicate', message: first.message });
      expect(await lastSeq(id)).toBe(1);
      expect(await messages.get(TENANT, id, repeat.id, null)).toBeNull();
    });

    it('keeps the key for the whole window', async () => {
      const { messages } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice]);
      const ttl = 60_000;
      await messages.append(TENANT, id, newMessage(alice, { clientMessageId: 'k1', createdAt: T0 }), ttl);
      const late = await messages.append(TENANT, id, newMessage(alice, { clientMessageId: 'k1', createdAt: T0 + ttl - 1 }), ttl);
      expect(late).toMatchObject({ status: 'duplicate', message: { seq: 1 } });
    });

    it('keeps different senders, conversations and keys apart, and never dedupes without a key', async () => {
      const { messages } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice, bob]);
      const other = await createGroup(context.engine, 'g2', [alice]);
      const statuses = [];
      for (const [conversationId, input] of [
        [id, newMessage(alice, { clientMessageId: 'same' })],
        [id, newMessage(bob, { clientMessageId: 'same' })],
        [other, newMessage(alice, { clientMessageId: 'same' })],
        [id, newMessage(alice, { clientMessageId: 'different' })],
        [id, newMessage(alice)],
        [id, newMessage(alice)],
      ] as const) {
        statuses.push((await messages.append(TENANT, conversationId, input, DEFAULT_TTL_MS)).status);
      }
      expect(statuses).toEqual(['created', 'created', 'created', 'created', 'created', 'created']);
      expect(await lastSeq(id)).toBe(5);
    });

    it('creates exactly one message from concurrent repeats of one key', async () => {
      const { messages } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice]);
      const results = await Promise.all(
        range(1, 20).map(() => messages.append(TENANT, id, newMessage(alice, { clientMessageId: 'k1' }), DEFAULT_TTL_MS)),
      );
      expect(results.filter((result) => result.status === 'created')).toHaveLength(1);
      expect(results.filter((result) => result.status === 'duplicate')).toHaveLength(19);
      const ids = new Set(results.map((result) => ('message' in result ? result.message.id : null)));
      expect(ids.size).toBe(1);
      expect(await lastSeq(id)).toBe(1);
    });

    it('dedupes sends without a sender by clientMessageId, in one scope per conversation', async () => {
      const { messages } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice]);
      const other = await createGroup(context.engine, 'g2', [alice]);
      const first = await messages.append(TENANT, id, newMessage(null, { clientMessageId: 'sys-1', text: 'once' }), DEFAULT_TTL_MS);
      if (first.status !== 'created') throw new Error(first.status);
      const repeat = newMessage(null, { clientMessageId: 'sys-1', text: 'twice', createdAt: T0 + 1000 });
      expect(await messages.append(TENANT, id, repeat, DEFAULT_TTL_MS)).toEqual({ status: 'duplicate', message: first.message });
      expect(await messages.get(TENANT, id, repeat.id, null)).toBeNull();
      // A user's key, another system key, or the same key in another conversation is another send.
      const statuses = [];
      for (const [conversationId, input] of [
        [id, newMessage(alice, { clientMessageId: 'sys-1' })],
        [id, newMessage(null, { clientMessageId: 'sys-2' })],
        [other, newMessage(null, { clientMessageId: 'sys-1' })],
        [id, newMessage(null)],
        [id, newMessage(null)],
      ] as const) {
        statuses.push((await messages.append(TENANT, conversationId, input, DEFAULT_TTL_MS)).status);
      }
      expect(statuses).toEqual(['created', 'created', 'created', 'created', 'created']);
      expect(await lastSeq(id)).toBe(5);
      expect(await messages.append(TENANT, id, newMessage(alice, { clientMessageId: 'sys-1' }), DEFAULT_TTL_MS)).toMatchObject({
        status: 'duplicate',
        message: { seq: 2, senderId: alice },
      });
    });

    it('creates exactly one message from concurrent system repeats of one key', async () => {
      const { messages } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice]);
      const results = await Promise.all(
        range(1, 20).map(() => messages.append(TENANT, id, newMessage(null, { clientMessageId: 'sys-k' }), DEFAULT_TTL_MS)),
      );
      expect(results.filter((result) => result.status === 'created')).toHaveLength(1);
      expect(results.filter((result) => result.status === 'duplicate')).toHaveLength(19);
      expect(await lastSeq(id)).toBe(1);
    });

    it('returns the original in its current state (edited)', async () => {
      const { messages } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice]);
      const original = await send(context.engine, id, alice, { clientMessageId: 'k1' });
      await messages.edit(TENANT, id, original.id, 'edited', T0 + 5, alice);
      const repeat = await messages.append(TENANT, id, newMessage(alice, { clientMessageId: 'k1' }), DEFAULT_TTL_MS);
      expect(repeat).toMatchObject({ status: 'duplicate', message: { id: original.id, text: 'edited', editedAt: T0 + 5 } });
    });
  });
}
