/**
 * Contract of moderation: mutes refuse a user's sends, edits and reactions inside the atomic
 * step (judged against that step's time) and outlive leaving; bans remove and keep out, in one
 * step with the removal; lists page by user id. Also the reads the moderation and block checks
 * rely on: a user's standing (mute, other member), direct lookups, shared conversations, blockers.
 */
import { describe, expect, it } from 'vitest';
import type { ConversationId, UserId } from '../../domain/types.js';
import {
  alice,
  bob,
  carol,
  createGroup,
  dave,
  DEFAULT_TTL_MS,
  erin,
  eventsOf,
  expectEngineError,
  headOf,
  newDirect,
  newMessage,
  send,
  T0,
  TENANT,
  OTHER_TENANT,
  type ContractContext,
} from './fixtures.contract.js';

const limits = { maxEmojiPerMessage: 20, maxReactionsPerUser: 20 };
const MINUTE = 60_000;

export function moderationContract(context: ContractContext): void {
  const direct = async (id: string, first: UserId, second: UserId): Promise<ConversationId> =>
    (await context.engine.conversations.getOrCreateDirect(TENANT, newDirect(id, first, second))).conversation.id;

  describe('mutes', () => {
    it('refuses a muted user’s send, edit and reaction until the mute ends, changing and logging nothing', async () => {
      const { engine } = context;
      const id = await createGroup(engine, 'g1', [alice, bob]);
      const mine = await send(engine, id, bob, { createdAt: T0 });
      expect(await engine.moderation.mute(TENANT, id, { userId: bob, until: T0 + 10 * MINUTE, createdAt: T0 + 1 })).toBe('ok');
      const head = await headOf(engine, id);

      const during = T0 + 5 * MINUTE;
      expect(await engine.messages.append(TENANT, id, newMessage(bob, { createdAt: during }), DEFAULT_TTL_MS)).toEqual({ status: 'muted' });
      expect(await engine.messages.edit(TENANT, id, mine.id, 'changed', during, bob)).toEqual({ status: 'muted' });
      expect(await engine.messages.react(TENANT, id, mine.id, bob, '👍', true, limits, during)).toEqual({ status: 'muted' });
      expect(await eventsOf(engine, id, { after: head })).toEqual([]);
      expect((await engine.messages.get(TENANT, id, mine.id, null))?.text).toBe('hello');
      // Others carry on, and the tenant's back end too.
      await send(engine, id, alice, { createdAt: during });
      await send(engine, id, null, { createdAt: during });

      // The end is exclusive: at `until` the user speaks again.
      const after = T0 + 10 * MINUTE;
      expect(await engine.messages.append(TENANT, id, newMessage(bob, { createdAt: after }), DEFAULT_TTL_MS)).toMatchObject({ status: 'created' });
      expect(await engine.messages.edit(TENANT, id, mine.id, 'changed', after, bob)).toMatchObject({ status: 'ok' });
      expect(await engine.messages.react(TENANT, id, mine.id, bob, '👍', true, limits, after)).toMatchObject({ status: 'ok', changed: true });
    });

    it('holds a mute without end until lifted, across leaving and re-joining; lifting is idempotent', async () => {
      const { engine } = context;
      const id = await createGroup(engine, 'g1', [alice, bob]);
      await engine.moderation.mute(TENANT, id, { userId: bob, until: null, createdAt: T0 });
      await engine.conversations.removeMember(TENANT, id, bob, T0 + 1);
      await engine.conversations.addMembers(TENANT, id, [bob], 'member', T0 + 2, 100);
      const far = T0 + 365 * 24 * 60 * MINUTE;
      expect(await engine.messages.append(TENANT, id, newMessage(bob, { createdAt: far }), DEFAULT_TTL_MS)).toEqual({ status: 'muted' });
      expect(await engine.conversations.getWithMember(TENANT, id, bob)).toMatchObject({ mute: { userId: bob, until: null, createdAt: T0 } });

      expect(await engine.moderation.unmute(TENANT, id, bob)).toBe(true);
      expect(await engine.moderation.unmute(TENANT, id, bob)).toBe(true);
      expect(await engine.conversations.getWithMember(TENANT, id, bob)).toMatchObject({ mute: null });
      expect(await engine.messages.append(TENANT, id, newMessage(bob, { createdAt: far }), DEFAULT_TTL_MS)).toMatchObject({ status: 'created' });
    });

    it('replaces an earlier mute, answers false for an unknown conversation, and stays in its tenant', async () => {
      const { engine } = context;
      const id = await createGroup(engine, 'g1', [alice, bob, carol]);
      await engine.moderation.mute(TENANT, id, { userId: bob, until: null, createdAt: T0 });
      await engine.moderation.mute(TENANT, id, { userId: bob, until: T0 + MINUTE, createdAt: T0 + 1 });
      expect((await engine.conversations.getWithMember(TENANT, id, bob))?.mute).toEqual({ userId: bob, until: T0 + MINUTE, createdAt: T0 + 1 });
      const lastRfc3339Instant = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
      await engine.moderation.mute(TENANT, id, { userId: carol, until: lastRfc3339Instant, createdAt: T0 });
      expect((await engine.conversations.getWithMember(TENANT, id, carol))?.mute?.until).toBe(lastRfc3339Instant);
      expect(await engine.messages.append(TENANT, id, newMessage(carol, { createdAt: T0 + 1 }), DEFAULT_TTL_MS)).toEqual({ status: 'muted' });
      expect(await engine.moderation.mute(TENANT, 'nope' as ConversationId, { userId: bob, until: null, createdAt: T0 })).toBe('not_found');
      expect(await engine.moderation.unmute(TENANT, 'nope' as ConversationId, bob)).toBe(false);
      expect(await engine.moderation.mute(OTHER_TENANT, id, { userId: bob, until: null, createdAt: T0 })).toBe('not_found');
      expect((await engine.moderation.listMutes(OTHER_TENANT, id, { limit: 10 }, T0)).items).toEqual([]);
    });

    it('lists the mutes in force by user id, page by page, leaving ended ones out', async () => {
      const { engine } = context;
      const id = await createGroup(engine, 'g1', [alice, bob, carol, dave, erin]);
      for (const userId of [erin, carol, bob]) await engine.moderation.mute(TENANT, id, { userId, until: null, createdAt: T0 });
      await engine.moderation.mute(TENANT, id, { userId: dave, until: T0 + MINUTE, createdAt: T0 });
      const before = await engine.moderation.listMutes(TENANT, id, { limit: 10 }, T0);
      expect(before.items.map((mute) => mute.userId)).toEqual([bob, carol, dave, erin]);
      const first = await engine.moderation.listMutes(TENANT, id, { limit: 2 }, T0 + 2 * MINUTE);
      expect(first.items.map((mute) => mute.userId)).toEqual([bob, carol]);
      expect(first.nextCursor).not.toBeNull();
      const second = await engine.moderation.listMutes(TENANT, id, { limit: 2, cursor: first.nextCursor ?? '' }, T0 + 2 * MINUTE);
      expect(second).toEqual({ items: [{ userId: erin, until: null, createdAt: T0 }], nextCursor: null });
      await expectEngineError(engine.moderation.listBans(TENANT, id, { limit: 2, cursor: first.nextCursor ?? '' }), 'invalid_cursor');
      await expectEngineError(engine.moderation.listMutes(TENANT, id, { limit: 0 }, T0), 'invalid_argument');
    });

    it('deletes the ended mutes a listing meets, so storage keeps only live ones and listing stays exact', async () => {
      const { engine } = context;
      const id = await createGroup(engine, 'g1', [alice, bob, carol, dave, erin]);
      for (const userId of [bob, dave]) await engine.moderation.mute(TENANT, id, { userId, until: T0 + MINUTE, createdAt: T0 });
      for (const userId of [carol, erin]) await engine.moderation.mute(TENANT, id, { userId, until: null, createdAt: T0 });
      const later = T0 + 2 * MINUTE;
      expect((await engine.moderation.listMutes(TENANT, id, { limit: 10 }, later)).items.map((mute) => mute.userId)).toEqual([carol, erin]);
      // Listed as of before they ended, the ended mutes are gone: the scan deleted them.
      expect((await engine.moderation.listMutes(TENANT, id, { limit: 10 }, T0)).items.map((mute) => mute.userId)).toEqual([carol, erin]);
      expect(await engine.conversations.getWithMember(TENANT, id, bob)).toMatchObject({ mute: null });
      const first = await engine.moderation.listMutes(TENANT, id, { limit: 1 }, later);
      expect(first.items.map((mute) => mute.userId)).toEqual([carol]);
      expect(await engine.moderation.listMutes(TENANT, id, { limit: 1, cursor: first.nextCursor ?? '' }, later)).toEqual({
        items: [{ userId: erin, until: null, createdAt: T0 }],
        nextCursor: null,
      });
      // Muting an ended mute's user again stores the new mute.
      expect(await engine.moderation.mute(TENANT, id, { userId: bob, until: null, createdAt: later })).toBe('ok');
      expect((await engine.moderation.listMutes(TENANT, id, { limit: 10 }, later)).items.map((mute) => mute.userId)).toEqual([bob, carol, erin]);
    });
  });

  describe('role bound (a promotion racing a moderation step)', () => {
    it('refuses to mute a member whose role is above the bound, storing nothing', async () => {
      const { engine } = context;
      const id = await createGroup(engine, 'g1', [alice, bob, carol]);
      await engine.conversations.setRole(TENANT, id, bob, 'admin', T0 + 1, { keepOwner: true });
      const mute = { userId: bob, until: null, createdAt: T0 + 2 };
      expect(await engine.moderation.mute(TENANT, id, mute, { maxRole: 'member' })).toBe('role_changed');
      expect(await engine.moderation.mute(TENANT, id, { ...mute, userId: alice }, { maxRole: 'admin' })).toBe('role_changed');
      expect((await engine.moderation.listMutes(TENANT, id, { limit: 10 }, T0 + 3)).items).toEqual([]);
      // Within the bound, and non-members (any bound), are muted.
      expect(await engine.moderation.mute(TENANT, id, { ...mute, userId: carol }, { maxRole: 'member' })).toBe('ok');
      expect(await engine.moderation.mute(TENANT, id, { ...mute, userId: dave }, { maxRole: 'member' })).toBe('ok');
      expect(await engine.moderation.mute(TENANT, id, mute, { maxRole: 'admin' })).toBe('ok');
      expect(await engine.moderation.mute(TENANT, 'nope' as ConversationId, mute, { maxRole: 'member' })).toBe('not_found');
      expect((await engine.moderation.listMutes(TENANT, id, { limit: 10 }, T0 + 3)).items.map((m) => m.userId)).toEqual([bob, carol, dave]);
    });

    it('refuses to ban a member whose role is above the bound: no ban, nobody removed, nothing logged', async () => {
      const { engine } = context;
      const id = await createGroup(engine, 'g1', [alice, bob, carol]);
      await engine.conversations.setRole(TENANT, id, bob, 'admin', T0 + 1, { keepOwner: true });
      const head = await headOf(engine, id);
      expect(await engine.moderation.ban(TENANT, id, { userId: bob, createdAt: T0 + 2 }, { maxRole: 'member' })).toEqual({ status: 'role_changed' });
      expect(await engine.moderation.ban(TENANT, id, { userId: alice, createdAt: T0 + 2 }, { maxRole: 'admin' })).toEqual({ status: 'role_changed' });
      expect(await eventsOf(engine, id, { after: head })).toEqual([]);
      expect((await engine.conversations.getMembers(TENANT, id, [alice, bob])).map((m) => m.role)).toEqual(['owner', 'admin']);
      expect((await engine.moderation.listBans(TENANT, id, { limit: 10 })).items).toEqual([]);
      // Within the bound: a plain member, and a non-member banned ahead.
      expect(await engine.moderation.ban(TENANT, id, { userId: carol, createdAt: T0 + 3 }, { maxRole: 'member' })).toEqual({ status: 'ok', removedRole: 'member' });
      expect(await engine.moderation.ban(TENANT, id, { userId: dave, createdAt: T0 + 3 }, { maxRole: 'member' })).toEqual({ status: 'ok', removedRole: null });
      expect(await engine.moderation.ban(TENANT, id, { userId: bob, createdAt: T0 + 4 }, { maxRole: 'owner' })).toEqual({ status: 'ok', removedRole: 'admin' });
    });

    it('refuses to remove a member whose role is above the bound, changing and logging nothing', async () => {
      const { engine } = context;
      const id = await createGroup(engine, 'g1', [alice, bob, carol]);
      await engine.conversations.setRole(TENANT, id, bob, 'admin', T0 + 1, { keepOwner: true });
      const head = await headOf(engine, id);
      expect(await engine.conversations.removeMember(TENANT, id, bob, T0 + 2, { maxRole: 'member' })).toBe('role_changed');
      expect(await engine.conversations.removeMember(TENANT, id, alice, T0 + 2, { maxRole: 'admin' })).toBe('role_changed');
      expect(await eventsOf(engine, id, { after: head })).toEqual([]);
      expect((await engine.conversations.getMembers(TENANT, id, [alice, bob])).map((m) => m.role)).toEqual(['owner', 'admin']);
      expect((await engine.conversations.listForUser(TENANT, bob, { limit: 10 })).items).toHaveLength(1);
      expect(await engine.conversations.removeMember(TENANT, id, carol, T0 + 3, { maxRole: 'member' })).toBe('removed');
      expect(await engine.conversations.removeMember(TENANT, id, dave, T0 + 3, { maxRole: 'member' })).toBe('not_found');
      expect(await engine.conversations.removeMember(TENANT, id, alice, T0 + 3, { maxRole: 'owner' })).toBe('removed');
    });
  });

  describe('bans', () => {
    it('removes a member and records the ban in one step; adding them again is refused whole', async () => {
      const { engine } = context;
      const id = await createGroup(engine, 'g1', [alice, bob, carol]);
      const head = await headOf(engine, id);
      expect(await engine.moderation.ban(TENANT, id, { userId: bob, createdAt: T0 + 1 })).toEqual({ status: 'ok', removedRole: 'member' });
      expect(await eventsOf(engine, id, { after: head })).toEqual([{ type: 'member.removed', conversationId: id, userId: bob, role: 'member' }]);
      expect(await engine.conversations.getMembers(TENANT, id, [bob])).toEqual([]);
      expect((await engine.conversations.listForUser(TENANT, bob, { limit: 10 })).items).toEqual([]);

      const afterBan = await headOf(engine, id);
      expect(await engine.conversations.addMembers(TENANT, id, [dave, bob], 'member', T0 + 2, 100)).toEqual({ status: 'banned', userId: bob });
      expect(await engine.conversations.getMembers(TENANT, id, [dave, bob])).toEqual([]);
      expect(await eventsOf(engine, id, { after: afterBan })).toEqual([]);

      expect(await engine.moderation.unban(TENANT, id, bob)).toBe(true);
      expect(await engine.moderation.unban(TENANT, id, bob)).toBe(true);
      expect(await engine.conversations.addMembers(TENANT, id, [bob], 'member', T0 + 3, 100)).toMatchObject({ status: 'ok', added: [bob] });
    });

    it('bans a non-member ahead, keeps the first ban, and answers not_found for an unknown conversation', async () => {
      const { engine } = context;
      const id = await createGroup(engine, 'g1', [alice]);
      const head = await headOf(engine, id);
      expect(await engine.moderation.ban(TENANT, id, { userId: carol, createdAt: T0 + 1 })).toEqual({ status: 'ok', removedRole: null });
      expect(await engine.moderation.ban(TENANT, id, { userId: carol, createdAt: T0 + 2 })).toEqual({ status: 'ok', removedRole: null });
      expect(await eventsOf(engine, id, { after: head })).toEqual([]);
      expect(await engine.moderation.listBans(TENANT, id, { limit: 10 })).toEqual({ items: [{ userId: carol, createdAt: T0 + 1 }], nextCursor: null });
      expect(await engine.conversations.addMembers(TENANT, id, [carol], 'member', T0 + 3, 100)).toEqual({ status: 'banned', userId: carol });
      expect(await engine.moderation.ban(TENANT, 'nope' as ConversationId, { userId: carol, createdAt: T0 })).toEqual({ status: 'not_found' });
      expect(await engine.moderation.unban(TENANT, 'nope' as ConversationId, carol)).toBe(false);
    });

    it('banning the only owner hands ownership on in the same step', async () => {
      const { engine } = context;
      const id = await createGroup(engine, 'g1', [alice, bob, carol]);
      await engine.conversations.setRole(TENANT, id, carol, 'admin', T0 + 1, { keepOwner: true });
      const head = await headOf(engine, id);
      expect(await engine.moderation.ban(TENANT, id, { userId: alice, createdAt: T0 + 2 })).toEqual({ status: 'ok', removedRole: 'owner' });
      expect(await eventsOf(engine, id, { after: head })).toEqual([
        { type: 'member.removed', conversationId: id, userId: alice, role: 'owner' },
        { type: 'member.updated', conversationId: id, userId: carol, role: 'owner' },
      ]);
    });

    it('pages bans by user id', async () => {
      const { engine } = context;
      const id = await createGroup(engine, 'g1', [alice]);
      for (const userId of [erin, bob, dave, carol]) await engine.moderation.ban(TENANT, id, { userId, createdAt: T0 });
      const first = await engine.moderation.listBans(TENANT, id, { limit: 3 });
      expect(first.items.map((ban) => ban.userId)).toEqual([bob, carol, dave]);
      const second = await engine.moderation.listBans(TENANT, id, { limit: 3, cursor: first.nextCursor ?? '' });
      expect(second).toEqual({ items: [{ userId: erin, createdAt: T0 }], nextCursor: null });
    });

    it('never leaves a banned user a member when a ban and an add race', async () => {
      const { engine } = context;
      for (let round = 0; round < 5; round += 1) {
        const id = await createGroup(engine, `race-${round}`, [alice]);
        const [, added] = await Promise.all([
          engine.moderation.ban(TENANT, id, { userId: bob, createdAt: T0 + 1 }),
          engine.conversations.addMembers(TENANT, id, [bob], 'member', T0 + 1, 100),
        ]);
        expect(['ok', 'banned']).toContain(added.status);
        expect(await engine.conversations.getMembers(TENANT, id, [bob])).toEqual([]);
      }
    });
  });

  describe('standing and relations', () => {
    it('reads the other member of a direct conversation with the standing, and finds the pair either way', async () => {
      const { conversations } = context.engine;
      const id = await direct('d1', alice, bob);
      expect(await conversations.getWithMember(TENANT, id, alice)).toMatchObject({ member: { userId: alice }, mute: null, otherMember: bob });
      expect(await conversations.getWithMember(TENANT, id, bob)).toMatchObject({ otherMember: alice });
      expect(await conversations.findDirect(TENANT, bob, alice)).toBe(id);
      expect(await conversations.findDirect(TENANT, alice, carol)).toBeNull();
      expect(await conversations.findDirect(OTHER_TENANT, alice, bob)).toBeNull();
    });

    it('tells whether two users share a conversation now', async () => {
      const { conversations } = context.engine;
      const id = await createGroup(context.engine, 'g1', [alice, bob, carol]);
      expect(await conversations.sharesConversation(TENANT, alice, bob)).toBe(true);
      expect(await conversations.sharesConversation(TENANT, bob, dave)).toBe(false);
      await conversations.removeMember(TENANT, id, bob, T0 + 1);
      expect(await conversations.sharesConversation(TENANT, alice, bob)).toBe(false);
      await direct('d1', bob, dave);
      expect(await conversations.sharesConversation(TENANT, dave, bob)).toBe(true);
      expect(await conversations.sharesConversation(OTHER_TENANT, dave, bob)).toBe(false);
    });

    it('finds who among candidates blocked a user, and lists a user’s blocks', async () => {
      const { users } = context.engine;
      await users.block(TENANT, carol, alice);
      await users.block(TENANT, erin, alice);
      await users.block(TENANT, bob, dave);
      expect(await users.blockersAmong(TENANT, alice, [bob, carol, dave, erin])).toEqual([carol, erin]);
      expect(await users.blockersAmong(TENANT, alice, [])).toEqual([]);
      expect(await users.blockersAmong(OTHER_TENANT, alice, [carol])).toEqual([]);
      await users.block(TENANT, carol, bob);
      expect((await users.listBlocked(TENANT, carol)).sort()).toEqual([alice, bob]);
      expect(await users.listBlocked(TENANT, alice)).toEqual([]);
    });
  });
}
