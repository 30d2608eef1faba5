/**
 * Who may do what in a conversation: pure functions of the caller and its membership, so REST
 * and realtime decide identically and the rules are tested without I/O.
 *
 * Visibility comes first: a user who is not a member does not see the conversation at all (the
 * services answer 404 before asking any of these). A tenant principal (the tenant's back end)
 * moderates every conversation of its tenant and passes every check.
 */
import type { Principal } from '../auth/principal.js';
import { canModerateTarget } from './moderation.js';
import type { Conversation, Member, Message, TenantId } from './types.js';

/** The caller's standing in one conversation: the member record for users, null for a tenant key. */
export type Standing = { principal: Principal; member: Member | null };

const isModerator = ({ principal, member }: Standing) =>
  principal.kind === 'tenant' || member?.role === 'owner' || member?.role === 'admin';

export const canSee = ({ principal, member }: Standing): boolean => principal.kind === 'tenant' || member !== null;

export const canPost = canSee;

export const canEditMessage = ({ principal }: Standing, message: Message): boolean =>
  principal.kind === 'user' ? message.senderId === principal.userId : message.system;

export const canDeleteMessage = (standing: Standing, message: Message): boolean =>
  isModerator(standing) || (standing.principal.kind === 'user' && message.senderId === standing.principal.userId);

/** Reactions and read positions belong to a user; a tenant key has neither. */
export const canReact = ({ principal, member }: Standing): boolean => principal.kind === 'user' && member !== null;

export const canUpdateConversation = (standing: Standing, conversation: Conversation): boolean =>
  conversation.type === 'group' && isModerator(standing);

export const canAddMembers = canUpdateConversation;

/**
 * Anyone may leave a group; removing someone else follows the moderation rule (canModerateTarget:
 * owners remove anyone, admins plain members only). Direct conversations keep their two members.
 */
export const canRemoveMember = (standing: Standing, conversation: Conversation, target: Member): boolean => {
  if (conversation.type !== 'group') return false;
  const { principal } = standing;
  if (principal.kind === 'user' && target.userId === principal.userId) return true;
  return canModerateTarget(standing, target);
};

export const canChangeRole = ({ principal, member }: Standing, conversation: Conversation): boolean =>
  conversation.type === 'group' && (principal.kind === 'tenant' || member?.role === 'owner');

/** Who administers tenants: the operator (every tenant) or a tenant's back end (its own). */
export type TenantAdministrator = { kind: 'operator' } | { kind: 'tenant'; tenantId: TenantId };

/**
 * True when `administrator` may manage `tenantId`'s keys and identity providers. A false answer is
 * reported as 404 tenant_not_found, exactly like a tenant that does not exist, so another
 * tenant's key learns nothing of it.
 */
export const mayAdministerTenant = (administrator: TenantAdministrator, tenantId: TenantId): boolean =>
  administrator.kind === 'operator' || administrator.tenantId === tenantId;
