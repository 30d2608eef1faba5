import type { Principal } from '../auth/principal.js';
import type { ConversationView, Engine, Page } from '../engine/engine.js';
import { highestTargetRole } from '../domain/moderation.js';
import {
  canAddMembers,
  canChangeRole,
  canReact,
  canRemoveMember,
  canUpdateConversation,
} from '../domain/permissions.js';
import { labelViolation, MEMBERS_IN_CONVERSATION_OBJECT, normalizeLabel } from '../domain/rules.js';
import type { Conversation, ConversationId, ConversationType, Member, Role, UserId } from '../domain/types.js';
import { loadAccess, notifyRemoved, requireUser, ROLE_CHANGED } from './conversation-access.js';
import type { Clock, IdGenerator } from './ids.js';
import { pageOf } from './pages.js';
import { refuseViolation, ServiceError } from './service-error.js';

/** A conversation with the first members, as the API shows it. */
export interface ConversationDetail {
  conversation: Conversation;
  members: Member[];
}

export interface ConversationsServiceDeps {
  engine: Engine;
  clock: Clock;
  ids: IdGenerator;
  maxGroupMembers: number;
  /** Conversations one user may be a member of. */
  maxConversationsPerUser: number;
}

export type ConversationsService = ReturnType<typeof createConversationsService>;

const LAST_OWNER = 'The only owner must name another owner before stepping down';

/** Creating, reading and managing conversations and their members. */
export function createConversationsService({ engine, clock, ids, maxGroupMembers, maxConversationsPerUser }: ConversationsServiceDeps) {
  const firstMembers = async (conversation: Conversation) =>
    (await engine.conversations.listMembers(conversation.tenantId, conversation.id, { limit: MEMBERS_IN_CONVERSATION_OBJECT })).items;

  const detail = async (conversation: Conversation): Promise<ConversationDetail> => ({
    conversation,
    members: await firstMembers(conversation),
  });

  /** Each member hears of the new conversation through their inbox (so also on their other devices). */
  const tellMembersItExists = (conversation: Conversation, userIds: readonly UserId[]) =>
    engine.events.notify(
      conversation.tenantId,
      userIds,
      { type: 'conversation.created', conversationId: conversation.id, conversation },
      conversation.createdAt,
    );

  /** A user may not put into a group anyone who blocked them (403 blocked). */
  const refuseBlockers = async (principal: Principal, userIds: readonly UserId[]) => {
    if (principal.kind !== 'user' || userIds.length === 0) return;
    const [blocker] = await engine.users.blockersAmong(principal.tenantId, principal.userId, userIds);
    if (blocker !== undefined) throw new ServiceError('blocked', `User '${blocker}' does not accept this`);
  };

  /** Fails with 404 user_not_found naming the first id that is not a user of the tenant. */
  const requireUsers = async (principal: Principal, userIds: readonly UserId[]) => {
    const users = await engine.users.getMany(principal.tenantId, userIds);
    const missing = userIds.find((_, index) => users[index] === null);
    if (missing !== undefined) throw new ServiceError('user_not_found', `No user '${missing}' in this tenant`);
  };

  /**
   * Fails with 409 too_many_conversations naming the first of `userIds` already in
   * `maxConversationsPerUser` conversations (other than `conversationId`, which they would not
   * join twice). Counted before the change, not in the same atomic step (the counts live apart
   * from the conversation, in another Redis slot): concurrent additions may overshoot the limit
   * by as many as run at once.
   */
  const requireRoomFor = async (principal: Principal, userIds: readonly UserId[], conversationId?: ConversationId) => {
    const counts = await engine.conversations.countMemberships(principal.tenantId, userIds);
    let full = userIds.filter((_, index) => (counts[index] ?? 0) >= maxConversationsPerUser);
    if (full.length > 0 && conversationId !== undefined) {
      const already = new Set((await engine.conversations.getMembers(principal.tenantId, conversationId, full)).map((m) => m.userId));
      full = full.filter((userId) => !already.has(userId));
    }
    if (full.length > 0) {
      throw new ServiceError('too_many_conversations', `User '${full[0]}' is in ${maxConversationsPerUser} conversations, the most allowed`);
    }
  };

  async function createDirect(principal: Principal, memberIds: UserId[]) {
    // A user names the other party; a tenant back end names both.
    const pair = principal.kind === 'user' ? [principal.userId, ...memberIds] : memberIds;
    const [first, second] = pair;
    if (pair.length !== 2 || first === undefined || second === undefined || first === second) {
      const expected = principal.kind === 'user' ? 'exactly one other user' : 'exactly two distinct users';
      throw new ServiceError('validation_failed', `A direct conversation has ${expected} in members`);
    }
    await requireUsers(principal, pair);
    if (principal.kind === 'user' && (await engine.users.isBlocked(principal.tenantId, second, first))) {
      throw new ServiceError('blocked');
    }
    // Re-opening the pair's existing conversation joins nobody anywhere: no room needed for it.
    if ((await engine.conversations.findDirect(principal.tenantId, first, second)) === null) await requireRoomFor(principal, pair);
    const { conversation, created } = await engine.conversations.getOrCreateDirect(principal.tenantId, {
      id: ids.conversation(),
      type: 'direct',
      title: null,
      createdAt: clock(),
      members: pair.map((userId) => ({ userId, role: 'member' as const })),
    });
    if (created) await tellMembersItExists(conversation, pair);
    return { ...(await detail(conversation)), created };
  }

  async function createGroup(principal: Principal, title: string | undefined, memberIds: UserId[]) {
    const normalizedTitle = title === undefined ? null : normalizeLabel(title);
    if (normalizedTitle === null) throw new ServiceError('validation_failed', 'A group needs a non-blank title');
    refuseViolation('title', labelViolation(normalizedTitle));
    const others = [...new Set(memberIds)].filter((id) => principal.kind !== 'user' || id !== principal.userId);
    const members: { userId: UserId; role: Role }[] = others.map((userId) => ({ userId, role: 'member' }));
    if (principal.kind === 'user') members.unshift({ userId: principal.userId, role: 'owner' });
    if (members.length === 0) throw new ServiceError('validation_failed', 'A group created by a tenant key needs members');
    if (members.length > maxGroupMembers) {
      throw new ServiceError('too_many_members', `A group holds at most ${maxGroupMembers} members`);
    }
    await requireUsers(principal, others);
    await refuseBlockers(principal, others);
    await requireRoomFor(principal, members.map((member) => member.userId));
    const conversation = await engine.conversations.createGroup(principal.tenantId, {
      id: ids.conversation(),
      type: 'group',
      title: normalizedTitle,
      createdAt: clock(),
      members,
    });
    await tellMembersItExists(conversation, members.map((member) => member.userId));
    return { ...(await detail(conversation)), created: true };
  }

  return {
    /** Direct: returns the pair's existing conversation (`created: false`) or a new one. */
    async create(
      principal: Principal,
      input: { type: ConversationType; title?: string; members: string[] },
    ): Promise<ConversationDetail & { created: boolean }> {
      const memberIds = input.members as UserId[];
      if (input.type === 'direct') {
        if (input.title !== undefined) throw new ServiceError('validation_failed', 'A direct conversation has no title');
        return createDirect(principal, memberIds);
      }
      return createGroup(principal, input.title, memberIds);
    },

    /** The caller's conversations, most recent activity first, each with its first members. */
    async list(
      principal: Principal,
      page: { cursor?: string; limit: number },
    ): Promise<Page<ConversationView & { members: Member[] }>> {
      const user = requireUser(principal, 'Listing your conversations');
      const views = await pageOf(() => engine.conversations.listForUser(user.tenantId, user.userId, page));
      const members = await Promise.all(views.items.map((view) => firstMembers(view.conversation)));
      return { ...views, items: views.items.map((view, index) => ({ ...view, members: members[index] ?? [view.member] })) };
    },

    async get(principal: Principal, id: ConversationId): Promise<ConversationDetail> {
      const { conversation } = await loadAccess(engine, principal, id);
      return detail(conversation);
    },

    async update(principal: Principal, id: ConversationId, changes: { title: string }): Promise<ConversationDetail> {
      const access = await loadAccess(engine, principal, id);
      if (!canUpdateConversation(access, access.conversation)) throw new ServiceError('forbidden', 'Only owners and admins of a group change it');
      const title = normalizeLabel(changes.title);
      if (title === null) throw new ServiceError('validation_failed', 'The title must not be blank');
      refuseViolation('title', labelViolation(title));
      const updated = await engine.conversations.update(principal.tenantId, id, { title }, clock());
      if (!updated) throw new ServiceError('conversation_not_found');
      return detail(updated);
    },

    async listMembers(principal: Principal, id: ConversationId, page: { cursor?: string; limit: number }): Promise<Page<Member>> {
      await loadAccess(engine, principal, id);
      return pageOf(() => engine.conversations.listMembers(principal.tenantId, id, page));
    },

    async addMembers(principal: Principal, id: ConversationId, userIds: string[]): Promise<ConversationDetail> {
      const access = await loadAccess(engine, principal, id);
      if (!canAddMembers(access, access.conversation)) throw new ServiceError('forbidden', 'Only owners and admins add members to a group');
      const distinct = [...new Set(userIds)] as UserId[];
      await requireUsers(principal, distinct);
      await refuseBlockers(principal, distinct);
      await requireRoomFor(principal, distinct, id);
      const result = await engine.conversations.addMembers(principal.tenantId, id, distinct, 'member', clock(), maxGroupMembers);
      if (result.status === 'not_found') throw new ServiceError('conversation_not_found');
      if (result.status === 'banned') throw new ServiceError('banned', `User '${result.userId}' is banned from this conversation`);
      if (result.status === 'too_many_members') {
        throw new ServiceError('too_many_members', `A group holds at most ${maxGroupMembers} members`);
      }
      await Promise.all(
        result.added.map((userId) =>
          engine.events.notify(principal.tenantId, [userId], { type: 'member.added', conversationId: id, userId, role: 'member' }, clock()),
        ),
      );
      return detail(result.conversation);
    },

    async removeMember(principal: Principal, id: ConversationId, userId: UserId): Promise<void> {
      const access = await loadAccess(engine, principal, id);
      const [target] = await engine.conversations.getMembers(principal.tenantId, id, [userId]);
      if (!target) throw new ServiceError('member_not_found');
      if (!canRemoveMember(access, access.conversation, target)) throw new ServiceError('forbidden', 'You may not remove this member');
      // The role checked above may change before the removal: the engine refuses a target then
      // above what the caller may act on (leaving oneself is bounded by nothing).
      const leaving = principal.kind === 'user' && principal.userId === userId;
      const bound = leaving ? {} : { maxRole: highestTargetRole(access) ?? 'member' };
      // The last owner leaving (or removed by the tenant key) hands ownership on in the same step.
      const outcome = await engine.conversations.removeMember(principal.tenantId, id, userId, clock(), bound);
      if (outcome === 'not_found') throw new ServiceError('member_not_found');
      if (outcome === 'role_changed') throw new ServiceError('forbidden', ROLE_CHANGED);
      await notifyRemoved(engine, principal.tenantId, id, userId, target.role, clock());
    },

    async setRole(principal: Principal, id: ConversationId, userId: UserId, role: Role): Promise<Member> {
      const access = await loadAccess(engine, principal, id);
      if (!canChangeRole(access, access.conversation)) throw new ServiceError('forbidden', 'Only owners change roles in a group');
      const [target] = await engine.conversations.getMembers(principal.tenantId, id, [userId]);
      if (!target) throw new ServiceError('member_not_found');
      const outcome = await engine.conversations.setRole(principal.tenantId, id, userId, role, clock(), { keepOwner: true });
      if (outcome.status === 'not_found') throw new ServiceError('member_not_found');
      if (outcome.status === 'last_owner') throw new ServiceError('forbidden', LAST_OWNER);
      return outcome.member;
    },

    /** Moves the caller's read position forward (never back); 204 semantics either way. */
    async markRead(principal: Principal, id: ConversationId, seq: number): Promise<{ lastReadSeq: number; changed: boolean }> {
      const access = await loadAccess(engine, principal, id);
      if (!canReact(access)) throw new ServiceError('forbidden', 'Read positions belong to users, not tenant keys');
      const user = requireUser(principal, 'Marking as read');
      const result = await engine.conversations.markRead(user.tenantId, id, user.userId, seq, clock());
      if (!result) throw new ServiceError('conversation_not_found');
      return result;
    },
  };
}
