import type { Principal } from '../auth/principal.js';
import type { Engine, Page } from '../engine/engine.js';
import { canBan, canManageModeration, canMute, hasModeration, highestTargetRole, isValidMuteEnd } from '../domain/moderation.js';
import type { RoleBound } from '../engine/engine.js';
import type { Ban, ConversationId, Mute, UserId } from '../domain/types.js';
import { loadAccess, notifyRemoved, ROLE_CHANGED, type Access } from './conversation-access.js';
import type { Clock } from './ids.js';
import { pageOf } from './pages.js';
import { ServiceError } from './service-error.js';

export interface ModerationServiceDeps {
  engine: Engine;
  clock: Clock;
}

export type ModerationService = ReturnType<typeof createModerationService>;

const DIRECT = 'Direct conversations have no mutes or bans: block the user instead';
const NOT_ON_TARGET = 'Admins act on members only, only owners act on owners, and nobody on themselves';

/**
 * Mutes and bans of group conversations, by owners and admins (never of an owner unless by an
 * owner, never of oneself) or the tenant key. Who may is decided by domain/moderation.ts; the
 * effects are enforced by the engine inside the steps they guard.
 */
export function createModerationService({ engine, clock }: ModerationServiceDeps) {
  /** The caller's access, refused unless they manage this group's mutes and bans. */
  async function managerAccess(principal: Principal, id: ConversationId): Promise<Access> {
    const access = await loadAccess(engine, principal, id);
    if (!hasModeration(access.conversation)) throw new ServiceError('forbidden', DIRECT);
    if (!canManageModeration(access, access.conversation)) throw new ServiceError('forbidden', 'Only owners and admins moderate a group');
    return access;
  }

  /**
   * Checks that the target is a user of the tenant (404 user_not_found) whom the caller may act
   * on, judged by their role here (null when not a member). That role may change before the
   * write: mute and ban pass `bound` to the engine, which refuses a target above it atomically.
   */
  async function requireTarget(access: Access, userId: UserId, may: typeof canMute): Promise<RoleBound> {
    const { principal, conversation } = access;
    const [user, [member]] = await Promise.all([
      engine.users.get(principal.tenantId, userId),
      engine.conversations.getMembers(principal.tenantId, conversation.id, [userId]),
    ]);
    if (!user) throw new ServiceError('user_not_found');
    if (!may(access, conversation, { userId, role: member?.role ?? null })) {
      throw new ServiceError('forbidden', NOT_ON_TARGET);
    }
    return { maxRole: highestTargetRole(access) ?? 'member' };
  }


  const found = (exists: boolean) => {
    if (!exists) throw new ServiceError('conversation_not_found');
  };

  /** Lifts a mute or a ban: the same people may lift it as may set it. */
  async function lift(principal: Principal, id: ConversationId, userId: UserId, may: typeof canMute, remove: () => Promise<boolean>) {
    await requireTarget(await managerAccess(principal, id), userId, may);
    found(await remove());
  }

  return {
    /** Mutes the user until `until` (RFC 3339, in the future) or until lifted; replaces an earlier mute. */
    async mute(principal: Principal, id: ConversationId, userId: UserId, until: string | undefined): Promise<void> {
      const now = clock();
      const end = until === undefined ? null : Date.parse(until);
      if (end !== null && (Number.isNaN(end) || !isValidMuteEnd(end, now))) {
        throw new ServiceError('validation_failed', 'until must be an RFC 3339 time in the future');
      }
      const access = await managerAccess(principal, id);
      const bound = await requireTarget(access, userId, canMute);
      const result = await engine.moderation.mute(principal.tenantId, id, { userId, until: end, createdAt: now }, bound);
      if (result === 'role_changed') throw new ServiceError('forbidden', ROLE_CHANGED);
      found(result === 'ok');
    },

    /** Idempotent. */
    unmute: (principal: Principal, id: ConversationId, userId: UserId): Promise<void> =>
      lift(principal, id, userId, canMute, () => engine.moderation.unmute(principal.tenantId, id, userId)),

    async listMutes(principal: Principal, id: ConversationId, page: { cursor?: string; limit: number }): Promise<Page<Mute>> {
      await managerAccess(principal, id);
      return pageOf(() => engine.moderation.listMutes(principal.tenantId, id, page, clock()));
    },

    /** Removes the user if a member (they hear member.removed in their inbox) and keeps them out. */
    async ban(principal: Principal, id: ConversationId, userId: UserId): Promise<void> {
      const access = await managerAccess(principal, id);
      const bound = await requireTarget(access, userId, canBan);
      const now = clock();
      const result = await engine.moderation.ban(principal.tenantId, id, { userId, createdAt: now }, bound);
      if (result.status === 'not_found') throw new ServiceError('conversation_not_found');
      if (result.status === 'role_changed') throw new ServiceError('forbidden', ROLE_CHANGED);
      if (result.removedRole !== null) await notifyRemoved(engine, principal.tenantId, id, userId, result.removedRole, now);
    },

    /** Idempotent. The user is not re-added: they may be added again. */
    unban: (principal: Principal, id: ConversationId, userId: UserId): Promise<void> =>
      lift(principal, id, userId, canBan, () => engine.moderation.unban(principal.tenantId, id, userId)),

    async listBans(principal: Principal, id: ConversationId, page: { cursor?: string; limit: number }): Promise<Page<Ban>> {
      await managerAccess(principal, id);
      return pageOf(() => engine.moderation.listBans(principal.tenantId, id, page));
    },
  };
}
