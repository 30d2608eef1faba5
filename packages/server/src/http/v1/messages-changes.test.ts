/**
 * Editing, deleting and reacting to messages over HTTP, on both engines: who may do what, the
 * resulting message as members see it, and that every refused change leaves history unchanged.
 */
import { describe, expect, it } from 'vitest';
import {
  RFC3339_UTC,
  conversationList,
  createGroup,
  expectProblem,
  historyOf,
  sendMessage,
  setRole,
} from '../../test-support/conversations.js';
import { ENGINE_KINDS } from '../../test-support/engines.js';
import { registerUser, useTestServer, type TestUser } from '../../test-support/server.js';

describe.each(ENGINE_KINDS)('message changes over HTTP (%s engine)', (kind) => {
  const ctx = useTestServer({ kind });

  /** A group with an owner, an admin and two plain members, and one message from `author`. */
  async function room() {
    const [owner, admin, author, other] = await Promise.all(Array.from({ length: 4 }, () => registerUser(ctx.api)));
    const group = await createGroup(ctx.api, owner!.token, [admin!.id, author!.id, other!.id]);
    await setRole(ctx.api, owner!.token, group.id, admin!.id, 'admin');
    const message = await sendMessage(ctx.api, author!.token, group.id, 'original text');
    return { owner: owner!, admin: admin!, author: author!, other: other!, id: group.id as string, message };
  }

  const messagePath = (id: string, messageId: string) => `/v1/conversations/${id}/messages/${messageId}`;
  const reactionPath = (id: string, messageId: string, emoji: string) =>
    `${messagePath(id, messageId)}/reactions/${encodeURIComponent(emoji)}`;
  const react = (token: string, path: string, method: 'PUT' | 'DELETE' = 'PUT') => ctx.api.request(method, path, { token });
  const only = async (token: string, id: string) => {
    const history = await historyOf(ctx.api, token, id);
    expect(history).toHaveLength(1);
    return history[0];
  };

  describe('editing', () => {
    it('lets the sender edit (200): the text is replaced (trimmed) and editedAt set', async () => {
      const { author, other, id, message } = await room();
      const response = await ctx.api.patch(messagePath(id, message.id), { text: '  edited text  ' }, author.token);
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ id: message.id, seq: 1, senderId: author.id, text: 'edited text', deletedAt: null, createdAt: message.createdAt });
      expect(response.body.editedAt).toMatch(RFC3339_UTC);
      expect(Date.parse(response.body.editedAt)).toBeGreaterThanOrEqual(Date.parse(message.createdAt));
      expect(await only(other.token, id)).toMatchObject({ id: message.id, text: 'edited text', editedAt: response.body.editedAt });
    });

    it('refuses everyone but the sender (403), owners included, and changes nothing', async () => {
      const { owner, admin, other, id, message } = await room();
      const before = await only(owner.token, id);
      for (const user of [other, admin, owner]) {
        expectProblem(await ctx.api.patch(messagePath(id, message.id), { text: 'not yours' }, user.token), 403, 'forbidden', user.id);
      }
      expect(await only(owner.token, id)).toEqual(before);
      expect(before).toMatchObject({ text: 'original text', editedAt: null });
    });

    it('refuses blank or too long text (400) and an unknown message (404), changing nothing', async () => {
      const { author, id, message } = await room();
      const before = await only(author.token, id);
      for (const text of ['', '   ', 'z'.repeat(4001)]) {
        expectProblem(await ctx.api.patch(messagePath(id, message.id), { text }, author.token), 400, 'validation_failed', `${text.length} chars`);
      }
      expectProblem(await ctx.api.patch(messagePath(id, '01NOSUCHMESSAGE0000000000'), { text: 'new' }, author.token), 404, 'message_not_found');
      expect(await only(author.token, id)).toEqual(before);
    });

    it('refuses editing a deleted message (409 message_deleted)', async () => {
      const { author, id, message } = await room();
      expect((await ctx.api.delete(messagePath(id, message.id), author.token)).status).toBe(204);
      const before = await only(author.token, id);
      expectProblem(await ctx.api.patch(messagePath(id, message.id), { text: 'resurrected' }, author.token), 409, 'message_deleted');
      expect(await only(author.token, id)).toEqual(before);
      expect(before).toMatchObject({ text: null, editedAt: null });
    });
  });

  describe('deleting', () => {
    it('lets the sender delete (204): history keeps the seq, text null, deletedAt set, reactions cleared', async () => {
      const { author, other, id, message } = await room();
      const after = await sendMessage(ctx.api, other.token, id, 'a later message');
      expect((await react(other.token, reactionPath(id, message.id, '👍'))).status).toBe(204);

      const response = await ctx.api.delete(messagePath(id, message.id), author.token);
      expect(response.status).toBe(204);
      expect(response.text).toBe('');
      const history = await historyOf(ctx.api, other.token, id);
      expect(history.map((entry) => entry.seq)).toEqual([1, 2]);
      expect(history[0]).toMatchObject({ id: message.id, seq: 1, senderId: author.id, text: null, reactions: {} });
      expect(history[0].deletedAt).toMatch(RFC3339_UTC);
      expect(history[1]).toMatchObject({ id: after.id, text: 'a later message', deletedAt: null });
    });

    it('lets owners and admins delete others’ messages (204)', async () => {
      const { owner, admin, author, id, message } = await room();
      const second = await sendMessage(ctx.api, author.token, id, 'second');
      expect((await ctx.api.delete(messagePath(id, message.id), owner.token)).status).toBe(204);
      expect((await ctx.api.delete(messagePath(id, second.id), admin.token)).status).toBe(204);
      const history = await historyOf(ctx.api, author.token, id);
      expect(history.map((entry) => [entry.seq, entry.text, entry.deletedAt === null])).toEqual([
        [1, null, false],
        [2, null, false],
      ]);
    });

    it('refuses a plain member deleting another’s message (403), and an admin deleting the owner’s is allowed', async () => {
      const { owner, admin, other, id, message } = await room();
      const before = await only(owner.token, id);
      expectProblem(await ctx.api.delete(messagePath(id, message.id), other.token), 403, 'forbidden');
      expect(await only(owner.token, id)).toEqual(before);

      const fromOwner = await sendMessage(ctx.api, owner.token, id, 'owner speaking');
      expect((await ctx.api.delete(messagePath(id, fromOwner.id), admin.token)).status).toBe(204);
      expect((await historyOf(ctx.api, owner.token, id))[1]).toMatchObject({ seq: 2, text: null });
    });

    it('is idempotent: deleting twice answers 204 and keeps the first deletedAt', async () => {
      const { author, id, message } = await room();
      expect((await ctx.api.delete(messagePath(id, message.id), author.token)).status).toBe(204);
      const first = await only(author.token, id);
      expect((await ctx.api.delete(messagePath(id, message.id), author.token)).status).toBe(204);
      expect(await only(author.token, id)).toEqual(first);
      expectProblem(await ctx.api.delete(messagePath(id, '01NOSUCHMESSAGE0000000000'), author.token), 404, 'message_not_found');
    });

    it('shows a deleted last message without its text in the conversation list', async () => {
      const { author, other, id, message } = await room();
      expect((await ctx.api.delete(messagePath(id, message.id), author.token)).status).toBe(204);
      const item = (await conversationList(ctx.api, other.token)).find((entry) => entry.id === id);
      expect(item.lastMessage).toMatchObject({ id: message.id, seq: 1, text: null });
      expect(item.lastMessage.deletedAt).toMatch(RFC3339_UTC);
    });
  });

  describe('reactions', () => {
    it('adds a reaction (204): {count, me} as each member sees it; adding twice counts once', async () => {
      const { author, other, id, message } = await room();
      const path = reactionPath(id, message.id, '👍');
      const added = await react(other.token, path);
      expect(added.status).toBe(204);
      expect(added.text).toBe('');
      expect((await only(other.token, id)).reactions).toEqual({ '👍': { count: 1, me: true } });
      expect((await only(author.token, id)).reactions).toEqual({ '👍': { count: 1, me: false } });

      expect((await react(other.token, path)).status).toBe(204);
      expect((await only(other.token, id)).reactions).toEqual({ '👍': { count: 1, me: true } });

      expect((await react(author.token, path)).status).toBe(204);
      expect((await only(other.token, id)).reactions).toEqual({ '👍': { count: 2, me: true } });
      expect((await only(author.token, id)).reactions).toEqual({ '👍': { count: 2, me: true } });
    });

    it('removes a reaction (204) until it is gone; removing an absent one is 204 too', async () => {
      const { author, other, id, message } = await room();
      const path = reactionPath(id, message.id, '🎉');
      await react(other.token, path);
      await react(author.token, path);
      expect((await react(other.token, path, 'DELETE')).status).toBe(204);
      expect((await only(other.token, id)).reactions).toEqual({ '🎉': { count: 1, me: false } });
      expect((await only(author.token, id)).reactions).toEqual({ '🎉': { count: 1, me: true } });
      expect((await react(author.token, path, 'DELETE')).status).toBe(204);
      expect((await only(author.token, id)).reactions).toEqual({});
      expect((await react(author.token, path, 'DELETE')).status).toBe(204);
      expect((await only(other.token, id)).reactions).toEqual({});
    });

    it('takes URL-encoded emoji, sequences included, and keeps them apart', async () => {
      const { other, author, id, message } = await room();
      const emoji = ['❤️', '👍🏽', '👨‍👩‍👧', '🇫🇷'];
      for (const each of emoji) expect((await react(other.token, reactionPath(id, message.id, each))).status, each).toBe(204);
      expect((await only(author.token, id)).reactions).toEqual(Object.fromEntries(emoji.map((each) => [each, { count: 1, me: false }])));
    });

    it('refuses an invalid emoji (400) and stores nothing', async () => {
      const { other, author, id, message } = await room();
      for (const invalid of ['x'.repeat(20), ' ', '👍 👍', '\t', 'a\u0000b']) {
        expectProblem(await react(other.token, reactionPath(id, message.id, invalid)), 400, 'validation_failed', JSON.stringify(invalid));
      }
      expect((await only(author.token, id)).reactions).toEqual({});
    });

    it('limits reactions: 20 per user per message, 50 distinct emoji per message (409 too_many_reactions)', async () => {
      const { owner, admin, author, other, id, message } = await room();
      const emoji = Array.from({ length: 51 }, (_, i) => String.fromCodePoint(0x1f600 + i));
      const put = (user: TestUser, each: string) => react(user.token, reactionPath(id, message.id, each));
      for (const each of emoji.slice(0, 20)) expect((await put(owner, each)).status).toBe(204);
      expectProblem(await put(owner, emoji[20]!), 409, 'too_many_reactions', 'owner 21st');
      // Re-adding one of one's own reactions is not a new one.
      expect((await put(owner, emoji[0]!)).status).toBe(204);
      for (const each of emoji.slice(20, 40)) expect((await put(admin, each)).status).toBe(204);
      for (const each of emoji.slice(40, 50)) expect((await put(author, each)).status).toBe(204);
      expectProblem(await put(other, emoji[50]!), 409, 'too_many_reactions', '51st emoji');
      // An emoji already on the message is still open to everyone.
      expect((await put(other, emoji[0]!)).status).toBe(204);
      const reactions = (await only(other.token, id)).reactions;
      expect(Object.keys(reactions)).toHaveLength(50);
      expect(reactions[emoji[0]!]).toEqual({ count: 2, me: true });
      expect(reactions[emoji[50]!]).toBeUndefined();
    });

    it('refuses reacting to a deleted message (409) and to an unknown one (404)', async () => {
      const { author, other, id, message } = await room();
      expect((await ctx.api.delete(messagePath(id, message.id), author.token)).status).toBe(204);
      expectProblem(await react(other.token, reactionPath(id, message.id, '👍')), 409, 'message_deleted');
      expect((await only(other.token, id)).reactions).toEqual({});
      expectProblem(await react(other.token, reactionPath(id, '01NOSUCHMESSAGE0000000000', '👍')), 404, 'message_not_found');
      expectProblem(await react(other.token, reactionPath(id, '01NOSUCHMESSAGE0000000000', '👍'), 'DELETE'), 404, 'message_not_found');
    });
  });

  it('a member removed from the group can no longer edit, delete or react (404)', async () => {
    const { owner, author, id, message } = await room();
    expect((await ctx.api.delete(`/v1/conversations/${id}/members/${author.id}`, owner.token)).status).toBe(204);
    const before = await only(owner.token, id);
    expectProblem(await ctx.api.patch(messagePath(id, message.id), { text: 'after leaving' }, author.token), 404, 'conversation_not_found');
    expectProblem(await ctx.api.delete(messagePath(id, message.id), author.token), 404, 'conversation_not_found');
    expectProblem(await react(author.token, reactionPath(id, message.id, '👍')), 404, 'conversation_not_found');
    expect(await only(owner.token, id)).toEqual(before);
  });

  it('keeps the sender’s read position and lastSeq when a message is edited or deleted', async () => {
    const [alice, bob] = await Promise.all([registerUser(ctx.api), registerUser(ctx.api)]);
    const group = await createGroup(ctx.api, alice.token, [bob.id]);
    const message = await sendMessage(ctx.api, alice.token, group.id, 'one');
    await sendMessage(ctx.api, alice.token, group.id, 'two');
    await ctx.api.patch(messagePath(group.id, message.id), { text: 'uno' }, alice.token);
    await ctx.api.delete(messagePath(group.id, message.id), alice.token);
    const item = (await conversationList(ctx.api, bob.token)).find((entry) => entry.id === group.id);
    expect(item).toMatchObject({ lastSeq: 2, unreadCount: 2, lastMessage: { seq: 2, text: 'two' } });
  });

  it.each(['PATCH', 'DELETE'] as const)('%s by a user of the same tenant outside the group → 404', async (method) => {
    const { author, id, message } = await room();
    const outsider: TestUser = await registerUser(ctx.api);
    const response = await ctx.api.request(method, messagePath(id, message.id), {
      token: outsider.token,
      ...(method === 'PATCH' ? { json: { text: 'x' } } : {}),
    });
    expectProblem(response, 404, 'conversation_not_found');
    expect(await only(author.token, id)).toMatchObject({ text: 'original text', deletedAt: null, editedAt: null });
  });
});
