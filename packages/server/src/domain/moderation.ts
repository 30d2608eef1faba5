/**
 * Moderation rules: who may mute or ban whom, and whether a mute or a block stops an action.
 * Pure functions, so REST and realtime decide identically and the table-driven tests in
 * moderation.test.ts cover every case without I/O.
 */
import type { Conversation, EpochMs, Mute, Role, UserId } from './types.js';
import type { Standing } from './permissions.js';

/**
 * Whether the caller may act on `target` (mute, ban, remove, change the role of). A tenant key
 * acts on anyone; an owner on anyone but themselves; an admin on plain members and on users who
 * are not members (role null); a plain member on nobody. Nobody moderates themselves.
 */
export function canModerateTarget({ principal, member }: Standing, target: { userId: UserId; role: Role | null }): boolean {
  if (principal.kind === 'tenant') return true;
  if (target.userId === principal.userId) return false;
  if (member?.role === 'owner') return true;
  return member?.role === 'admin' && (target.role === null || target.role === 'member');
}

const ROLE_RANK: Readonly<Record<Role, number>> = { member: 0, admin: 1, owner: 2 };

/** Whether `role` is at most `maxRole` (owner > admin > member); no bound admits any role. */
export const isRoleWithin = (role: Role, maxRole: Role | undefined): boolean =>
  maxRole === undefined || ROLE_RANK[role] <= ROLE_RANK[maxRole];

/**
 * The highest role of a target the caller may act on, as canModerateTarget judges (a tenant key
 * or an owner: any; an admin: plain members), or null when they act on nobody else. Passed to the
 * engine's step as its bound, so a promotion between the check and the step is refused there.
 */
export function highestTargetRole({ principal, member }: Standing): Role | null {
  if (principal.kind === 'tenant' || member?.role === 'owner') return 'owner';
  return member?.role === 'admin' ? 'member' : null;
}

/** Mutes and bans exist in groups only: in a direct conversation a block serves instead. */
export const hasModeration = (conversation: Conversation): boolean => conversation.type === 'group';

/** Owners, admins and the tenant key see and change a group's mutes and bans. */
export const canManageModeration = ({ principal, member }: Standing, conversation: Conversation): boolean =>
  hasModeration(conversation) && (principal.kind === 'tenant' || member?.role === 'owner' || member?.role === 'admin');

export const canMute = (standing: Standing, conversation: Conversation, target: { userId: UserId; role: Role | null }): boolean =>
  canManageModeration(standing, conversation) && canModerateTarget(standing, target);

export const canBan = canMute;

/** A mute holds from its creation until `until` (exclusive), or until lifted when `until` is null. */
export function isMuted(mute: Mute | null, now: EpochMs): boolean {
  return mute !== null && (mute.until === null || now < mute.until);
}

/** A mute must end in the future (or never). */
export const isValidMuteEnd = (until: EpochMs | null, now: EpochMs): boolean => until === null || until > now;

/**
 * Why a user may not send, edit, react or type in a conversation right now, or null when they
 * may: muted there, or (direct conversations) blocked by the other member. The tenant key is
 * never refused: it is the tenant's own back end.
 */
export function refusalToAct(
  { principal }: Standing,
  state: { mute: Mute | null; blockedByOtherMember: boolean },
  now: EpochMs,
): 'muted' | 'blocked' | null {
  if (principal.kind === 'tenant') return null;
  if (state.blockedByOtherMember) return 'blocked';
  return isMuted(state.mute, now) ? 'muted' : null;
}

/**
 * Whom a group hands ownership to when its last owner goes: the longest-standing admin, else the
 * longest-standing member. `membersInJoinOrder` excludes the one leaving; null when nobody is left.
 */
export function successorOf<M extends { role: Role }>(membersInJoinOrder: Iterable<M>): M | null {
  let firstMember: M | null = null;
  for (const member of membersInJoinOrder) {
    if (member.role === 'admin') return member;
    if (firstMember === null) firstMember = member;
  }
  return firstMember;
}

/**
 * Whether the caller sees `targetId`'s presence: the tenant key and the user themselves always;
 * another user only while they share a conversation and the target has not blocked them.
 */
export function canSeePresence(
  { principal }: Pick<Standing, 'principal'>,
  targetId: UserId,
  relation: { blockedByTarget: boolean; sharesConversation: boolean },
): boolean {
  if (principal.kind === 'tenant' || principal.userId === targetId) return true;
  return !relation.blockedByTarget && relation.sharesConversation;
}
