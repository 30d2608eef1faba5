import type { Principal } from '../auth/principal.js';
import type { Engine } from '../engine/engine.js';
import { refusalToAct } from '../domain/moderation.js';
import { canSee, type Standing } from '../domain/permissions.js';
import type { Conversation, ConversationId, EpochMs, Mute, Role, TenantId, UserId } from '../domain/types.js';
import { ServiceError } from './service-error.js';

/** The 403 when a target was promoted between the service's check and the engine's step (`role_changed`). */
export const ROLE_CHANGED = 'The member’s role changed: admins act on members only, only owners act on owners';

/** The caller's standing in a conversation with what decides whether they may act there. */
export type Access = Standing & { conversation: Conversation; mute: Mute | null; otherMember: UserId | null };

/**
 * Loads a conversation as the caller sees it, in one engine round trip. A conversation that does
 * not exist and one the caller may not see give the same 404, so ids reveal nothing.
 */
export async function loadAccess(engine: Engine, principal: Principal, id: ConversationId): Promise<Access> {
  if (principal.kind === 'tenant') {
    const conversation = await engine.conversations.get(principal.tenantId, id);
    if (conversation) return { principal, member: null, conversation, mute: null, otherMember: null };
  } else {
    const found = await engine.conversations.getWithMember(principal.tenantId, id, principal.userId);
    if (found && canSee({ principal, member: found.member })) return { principal, ...found };
  }
  throw new ServiceError('conversation_not_found');
}

/**
 * Refuses (403 `muted` or `blocked`) a send, edit, reaction or typing by a user muted in the
 * conversation or blocked by the other member of a direct conversation. The mute was read with
 * the access; a block costs one read, in direct conversations only. Sends, edits and reactions
 * are checked against mutes again inside their atomic step, so a mute set in between still holds.
 */
export async function refuseIfRestricted(engine: Engine, access: Access, now: EpochMs): Promise<void> {
  const { principal, otherMember } = access;
  const blockedByOtherMember =
    principal.kind === 'user' && otherMember !== null && (await engine.users.isBlocked(principal.tenantId, otherMember, principal.userId));
  const refusal = refusalToAct(access, { mute: access.mute, blockedByOtherMember }, now);
  if (refusal !== null) throw new ServiceError(refusal);
}

/** The removed user hears of it through their inbox: they no longer follow the conversation. */
export function notifyRemoved(engine: Engine, tenantId: TenantId, id: ConversationId, userId: UserId, role: Role, at: EpochMs): Promise<void> {
  return engine.events.notify(tenantId, [userId], { type: 'member.removed', conversationId: id, userId, role }, at);
}

/** The user behind a principal, or 403 for a tenant key where only a user makes sense. */
export function requireUser(principal: Principal, action: string): Extract<Principal, { kind: 'user' }> {
  if (principal.kind !== 'user') throw new ServiceError('forbidden', `${action} needs a user token, not a tenant key`);
  return principal;
}
