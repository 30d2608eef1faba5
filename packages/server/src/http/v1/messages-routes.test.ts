/**
 * Sending messages and reading history over HTTP, on both engines: the message shape, seq
 * numbering, text rules, idempotent sends, replies, concurrent sends, and history paging by seq.
 * Every rejected send is followed by a check that nothing was stored.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  RFC3339_UTC,
  conversationOf,
  createGroup,
  expectProblem,
  historyOf,
  openDirect,
  sendMessage,
} from '../../test-support/conversations.js';
import { ENGINE_KINDS } from '../../test-support/engines.js';
import { registerUser, useTestServer, type TestUser } from '../../test-support/server.js';

describe.each(ENGINE_KINDS)('messages over HTTP (%s engine)', (kind) => {
  const ctx = useTestServer({ kind });

  async function pair(): Promise<{ alice: TestUser; bob: TestUser; id: string }> {
    const [alice, bob] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api)]);
    const direct = await openDirect(ctx.api, alice.token, bob.id);
    return { alice, bob, id: direct.id };
  }

  /** What a member observes of the conversation's stored messages. */
  const stored = async (token: string, id: string) => ({
    history: await historyOf(ctx.api, token, id),
    lastSeq: (await conversationOf(ctx.api, token, id)).lastSeq,
  });

  describe('sending', () => {
    it('answers 201 with the full message and numbers messages 1, 2, 3', async () => {
      const { alice, bob, id } = await pair();
      const startedAt = Date.now();
      const first = await ctx.api.post(`/v1/conversations/${id}/messages`, { text: 'hello' }, alice.token);
      expect(first.status).toBe(201);
      expect(first.body).toMatchObject({
        conversationId: id,
        seq: 1,
        senderId: alice.id,
        system: false,
        text: 'hello',
        editedAt: null,
        deletedAt: null,
        replyTo: null,
        reactions: {},
      });
      expect(first.body.id).toEqual(expect.any(String));
      expect(first.body.createdAt).toMatch(RFC3339_UTC);
      expect(Math.abs(Date.parse(first.body.createdAt) - startedAt)).toBeLessThan(60_000);

      const second = await sendMessage(ctx.api, bob.token, id, 'hi');
      const third = await sendMessage(ctx.api, alice.token, id, 'how are you?');
      expect([second.seq, third.seq]).toEqual([2, 3]);
      expect(new Set([first.body.id, second.id, third.id]).size).toBe(3);

      const { history, lastSeq } = await stored(bob.token, id);
      expect(lastSeq).toBe(3);
      expect(history.map((message) => [message.seq, message.senderId, message.text])).toEqual([
        [1, alice.id, 'hello'],
        [2, bob.id, 'hi'],
        [3, alice.id, 'how are you?'],
      ]);
      expect(history[0]).toEqual(first.body);
    });

    it('stores the text trimmed', async () => {
      const { alice, id } = await pair();
      const sent = await sendMessage(ctx.api, alice.token, id, '  \n\t spaced out \n ');
      expect(sent.text).toBe('spaced out');
      expect((await historyOf(ctx.api, alice.token, id))[0].text).toBe('spaced out');
    });

    it('refuses blank text and text over 4,000 characters after trimming (400), storing nothing', async () => {
      const { alice, bob, id } = await pair();
      const before = await stored(bob.token, id);
      for (const text of ['', '   ', '\n\t ', 'x'.repeat(4001), ` ${'x'.repeat(4001)} `, '😀'.repeat(4001)]) {
        expectProblem(await ctx.api.post(`/v1/conversations/${id}/messages`, { text }, alice.token), 400, 'validation_failed', `${text.length} chars`);
      }
      expectProblem(await ctx.api.post(`/v1/conversations/${id}/messages`, {}, alice.token), 400, 'validation_failed', 'no text');
      expectProblem(await ctx.api.post(`/v1/conversations/${id}/messages`, { text: { value: 'hi' } }, alice.token), 400, 'validation_failed', 'object');
      expect(await stored(bob.token, id)).toEqual(before);
      expect(before.lastSeq).toBe(0);
    });

    it('refuses text that is not a string (400) rather than coercing it, storing nothing', async () => {
      const { alice, bob, id } = await pair();
      for (const text of [42, true, null, ['a']]) {
        expectProblem(await ctx.api.post(`/v1/conversations/${id}/messages`, { text }, alice.token), 400, 'validation_failed', JSON.stringify(text));
      }
      expect((await stored(bob.token, id)).lastSeq).toBe(0);
    });

    it('accepts exactly 4,000 characters, surrounded by spaces (201), counting characters not UTF-16 units', async () => {
      const { alice, id } = await pair();
      const text = 'y'.repeat(4000);
      const sent = await ctx.api.post(`/v1/conversations/${id}/messages`, { text: `   ${text}   ` }, alice.token);
      expect(sent.status).toBe(201);
      expect(sent.body.text).toBe(text);
      const emoji = '😀'.repeat(4000);
      const wide = await ctx.api.post(`/v1/conversations/${id}/messages`, { text: emoji }, alice.token);
      expect(wide.status).toBe(201);
      expect(wide.body.text).toBe(emoji);
      expect((await historyOf(ctx.api, alice.token, id)).map((message) => message.text)).toEqual([text, emoji]);
    });

    it('makes a repeated clientMessageId return the original (200, same id and seq), stored once', async () => {
      const { alice, bob, id } = await pair();
      const body = { text: 'once only', clientMessageId: 'client-1' };
      const first = await ctx.api.post(`/v1/conversations/${id}/messages`, body, alice.token);
      expect(first.status).toBe(201);
      const repeat = await ctx.api.post(`/v1/conversations/${id}/messages`, body, alice.token);
      expect(repeat.status).toBe(200);
      expect(repeat.body).toMatchObject({ id: first.body.id, seq: first.body.seq, text: 'once only' });
      // Even with different text, the key decides.
      const changed = await ctx.api.post(`/v1/conversations/${id}/messages`, { ...body, text: 'other text' }, alice.token);
      expect(changed.status).toBe(200);
      expect(changed.body).toMatchObject({ id: first.body.id, seq: 1, text: 'once only' });

      const { history, lastSeq } = await stored(alice.token, id);
      expect(lastSeq).toBe(1);
      expect(history.map((message) => message.id)).toEqual([first.body.id]);

      // Another sender with the same key sends a new message.
      const fromBob = await ctx.api.post(`/v1/conversations/${id}/messages`, body, bob.token);
      expect(fromBob.status).toBe(201);
      expect(fromBob.body).toMatchObject({ seq: 2, senderId: bob.id });
      expect(fromBob.body.id).not.toBe(first.body.id);
      expect((await historyOf(ctx.api, alice.token, id)).map((message) => message.seq)).toEqual([1, 2]);

      expectProblem(
        await ctx.api.post(`/v1/conversations/${id}/messages`, { text: 'x', clientMessageId: 'has spaces' }, alice.token),
        400,
        'validation_failed',
      );
      expect((await stored(alice.token, id)).lastSeq).toBe(2);
    });

    it('concurrent repeats of one clientMessageId store one message', async () => {
      const { alice, id } = await pair();
      const responses = await Promise.all(
        Array.from({ length: 10 }, () => ctx.api.post(`/v1/conversations/${id}/messages`, { text: 'racy', clientMessageId: 'same' }, alice.token)),
      );
      expect(responses.map((response) => response.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
      expect(new Set(responses.map((response) => response.body.id)).size).toBe(1);
      expect((await historyOf(ctx.api, alice.token, id)).map((message) => message.seq)).toEqual([1]);
    });

    it('refuses a blocked user sending into the blocker’s direct conversation (403 blocked), storing nothing', async () => {
      const { alice, bob, id } = await pair();
      await sendMessage(ctx.api, bob.token, id, 'before the block');
      expect((await ctx.api.request('PUT', `/v1/users/me/blocks/${bob.id}`, { token: alice.token })).status).toBe(204);
      const before = await stored(alice.token, id);
      expectProblem(await ctx.api.post(`/v1/conversations/${id}/messages`, { text: 'let me in' }, bob.token), 403, 'blocked');
      expect(await stored(alice.token, id)).toEqual(before);
      // The block is one-way, and groups are not affected.
      expect((await sendMessage(ctx.api, alice.token, id, 'my side')).seq).toBe(2);
      const group = await createGroup(ctx.api, alice.token, [bob.id]);
      expect((await sendMessage(ctx.api, bob.token, group.id, 'in a group')).seq).toBe(1);
    });

    it('answers replyTo naming no message of the conversation with 404 message_not_found, storing nothing', async () => {
      const { alice, bob, id } = await pair();
      const original = await sendMessage(ctx.api, bob.token, id, 'question?');
      const elsewhere = await createGroup(ctx.api, alice.token, [bob.id]);
      const foreign = await sendMessage(ctx.api, alice.token, elsewhere.id, 'in another conversation');
      const before = await stored(alice.token, id);

      for (const replyTo of ['01NOSUCHMESSAGE0000000000', foreign.id]) {
        expectProblem(await ctx.api.post(`/v1/conversations/${id}/messages`, { text: 'answer', replyTo }, alice.token), 404, 'message_not_found', replyTo);
      }
      expect(await stored(alice.token, id)).toEqual(before);

      const reply = await ctx.api.post(`/v1/conversations/${id}/messages`, { text: 'answer', replyTo: original.id }, alice.token);
      expect(reply.status).toBe(201);
      expect(reply.body).toMatchObject({ seq: 2, replyTo: original.id });
      expect((await historyOf(ctx.api, bob.token, id))[1]).toMatchObject({ id: reply.body.id, replyTo: original.id });
    });

    it('gives 100 concurrent sends from several members seq 1..100, each exactly once', async () => {
      const people = await Promise.all(Array.from({ length: 4 }, () => registerUser(ctx.api)));
      const [owner, ...others] = people;
      const group = await createGroup(ctx.api, owner!.token, others.map((user) => user.id));
      const responses = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          ctx.api.post(`/v1/conversations/${group.id}/messages`, { text: `message ${i}` }, people[i % people.length]!.token),
        ),
      );
      expect(responses.every((response) => response.status === 201)).toBe(true);
      expect(responses.map((response) => response.body.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));

      const history = await historyOf(ctx.api, owner!.token, group.id);
      expect(history.map((message) => message.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      expect(history.map((message) => message.text).sort()).toEqual(Array.from({ length: 100 }, (_, i) => `message ${i}`).sort());
      expect(new Set(history.map((message) => message.id)).size).toBe(100);
      // Each response names the message stored under its seq.
      const bySeq = new Map(history.map((message) => [message.seq, message]));
      for (const response of responses) expect(bySeq.get(response.body.seq)).toMatchObject({ id: response.body.id, text: response.body.text });
      expect((await conversationOf(ctx.api, owner!.token, group.id)).lastSeq).toBe(100);
    });
  });

  describe('history', () => {
    let alice: TestUser;
    let id: string;

    beforeAll(async () => {
      const conversation = await pair();
      alice = conversation.alice;
      id = conversation.id;
      for (let i = 1; i <= 5; i += 1) await sendMessage(ctx.api, (i % 2 ? conversation.alice : conversation.bob).token, id, `m${i}`);
    });

    const page = async (query: string) => {
      const response = await ctx.api.get(`/v1/conversations/${id}/messages${query}`, alice.token);
      expect(response.status, response.text).toBe(200);
      return { seqs: response.body.items.map((message: any) => message.seq), hasMore: response.body.hasMore };
    };

    it('without a cursor returns the latest `limit` messages in ascending seq', async () => {
      expect(await page('')).toEqual({ seqs: [1, 2, 3, 4, 5], hasMore: false });
      expect(await page('?limit=2')).toEqual({ seqs: [4, 5], hasMore: true });
      expect(await page('?limit=5')).toEqual({ seqs: [1, 2, 3, 4, 5], hasMore: false });
      const full = await ctx.api.get(`/v1/conversations/${id}/messages?limit=1`, alice.token);
      expect(full.body.items[0]).toMatchObject({ seq: 5, text: 'm5', conversationId: id });
    });

    it('before=<seq> returns the page just before it', async () => {
      expect(await page('?before=1')).toEqual({ seqs: [], hasMore: false });
      expect(await page('?before=2')).toEqual({ seqs: [1], hasMore: false });
      expect(await page('?before=5&limit=2')).toEqual({ seqs: [3, 4], hasMore: true });
      expect(await page('?before=3&limit=2')).toEqual({ seqs: [1, 2], hasMore: false });
      expect(await page('?before=100&limit=3')).toEqual({ seqs: [3, 4, 5], hasMore: true });
    });

    it('after=<seq> returns the first messages after it', async () => {
      expect(await page('?after=0&limit=2')).toEqual({ seqs: [1, 2], hasMore: true });
      expect(await page('?after=3')).toEqual({ seqs: [4, 5], hasMore: false });
      expect(await page('?after=3&limit=2')).toEqual({ seqs: [4, 5], hasMore: false });
      expect(await page('?after=4&limit=1')).toEqual({ seqs: [5], hasMore: false });
      expect(await page('?after=5')).toEqual({ seqs: [], hasMore: false });
      expect(await page('?after=50')).toEqual({ seqs: [], hasMore: false });
    });

    it('refuses both before and after, limits outside 1..100 and non-integers (400)', async () => {
      for (const query of [
        '?before=3&after=1',
        '?limit=0',
        '?limit=101',
        '?limit=-1',
        '?limit=ten',
        '?limit=2.5',
        '?before=1.5',
        '?before=0',
        '?before=abc',
        '?after=-1',
        '?after=1e400',
        '?before=1e400',
        '?after=1e20',
        '?before=99999999999999999999',
        '?colour=red',
      ]) {
        expectProblem(await ctx.api.get(`/v1/conversations/${id}/messages${query}`, alice.token), 400, 'validation_failed', query);
      }
    });

    it('treats seqs far beyond lastSeq as ordinary numbers', async () => {
      expect(await page('?after=1e15')).toEqual({ seqs: [], hasMore: false });
      expect(await page('?after=9007199254740991')).toEqual({ seqs: [], hasMore: false });
      expect(await page('?before=9007199254740991&limit=2')).toEqual({ seqs: [4, 5], hasMore: true });
    });

    it('is empty for a conversation without messages', async () => {
      const { alice: other, id: empty } = await pair();
      const response = await ctx.api.get(`/v1/conversations/${empty}/messages`, other.token);
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ items: [], hasMore: false });
    });
  });
});
