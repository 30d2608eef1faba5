/** The moderation rules, case by case: each row is one caller, one target and the expected answer. */
import { describe, expect, it } from 'vitest';
import type { Principal } from '../auth/principal.js';
import {
  canBan,
  canManageModeration,
  canModerateTarget,
  canMute,
  canSeePresence,
  highestTargetRole,
  isMuted,
  isRoleWithin,
  isValidMuteEnd,
  refusalToAct,
  successorOf,
} from './moderation.js';
import { canRemoveMember, type Standing } from './permissions.js';
import type { EventId } from './events.js';
import type { Conversation, ConversationId, EpochMs, Mute, Role, TenantId, UserId } from './types.js';

const tenantId = 'acme' as TenantId;
const me = 'me' as UserId;
const other = 'other' as UserId;
const T = 1_000_000 as EpochMs;

const group: Conversation = {
  tenantId,
  id: 'g' as ConversationId,
  type: 'group',
  title: 'g',
  createdAt: T,
  lastSeq: 0,
  lastActivityAt: T,
  memberCount: 3,
};
const direct: Conversation = { ...group, id: 'd' as ConversationId, type: 'direct', title: null };

function standing(role: Role | null | 'tenant'): Standing {
  if (role === 'tenant') return { principal: { kind: 'tenant', tenantId }, member: null };
  const principal: Principal = { kind: 'user', tenantId, userId: me };
  return {
    principal,
    member: role === null ? null : { userId: me, role, lastReadSeq: 0, joinedAt: T, joinedEventId: '0-0' as EventId },
  };
}

describe('canModerateTarget / canMute / canBan', () => {
  const rows: [caller: Role | null | 'tenant', target: Role | null, self: boolean, expected: boolean][] = [
    ['tenant', 'owner', false, true],
    ['tenant', 'admin', false, true],
    ['tenant', 'member', false, true],
    ['tenant', null, false, true],
    ['owner', 'owner', false, true],
    ['owner', 'admin', false, true],
    ['owner', 'member', false, true],
    ['owner', null, false, true],
    ['owner', 'owner', true, false],
    ['admin', 'owner', false, false],
    ['admin', 'admin', false, false],
    ['admin', 'member', false, true],
    ['admin', null, false, true],
    ['admin', 'admin', true, false],
    ['member', 'member', false, false],
    ['member', null, false, false],
    ['member', 'member', true, false],
    [null, 'member', false, false],
  ];
  it.each(rows)('a %s acting on a %s (self: %s) → %s', (caller, targetRole, self, expected) => {
    const target = { userId: self ? me : other, role: targetRole };
    expect(canModerateTarget(standing(caller), target)).toBe(expected);
    expect(canMute(standing(caller), group, target)).toBe(expected);
    expect(canBan(standing(caller), group, target)).toBe(expected);
  });

  it.each(['tenant', 'owner', 'admin', 'member'] as const)('nobody, not even a %s, mutes or bans in a direct conversation', (caller) => {
    expect(canMute(standing(caller), direct, { userId: other, role: 'member' })).toBe(false);
    expect(canBan(standing(caller), direct, { userId: other, role: 'member' })).toBe(false);
    expect(canManageModeration(standing(caller), direct)).toBe(false);
  });

  it.each([
    ['tenant', true],
    ['owner', true],
    ['admin', true],
    ['member', false],
    [null, false],
  ] as const)('a %s manages (lists) a group’s mutes and bans: %s', (caller, expected) => {
    expect(canManageModeration(standing(caller), group)).toBe(expected);
  });
});

describe('canRemoveMember follows the same rule, and anyone may leave', () => {
  const member = (userId: UserId, role: Role) => ({ userId, role, lastReadSeq: 0, joinedAt: T, joinedEventId: '0-0' as EventId });
  it.each([
    ['tenant', 'owner', false, true],
    ['owner', 'owner', false, true],
    ['owner', 'owner', true, true],
    ['admin', 'owner', false, false],
    ['admin', 'admin', false, false],
    ['admin', 'admin', true, true],
    ['admin', 'member', false, true],
    ['member', 'member', false, false],
    ['member', 'member', true, true],
  ] as const)('a %s removing a %s (self: %s) → %s', (caller, targetRole, self, expected) => {
    expect(canRemoveMember(standing(caller), group, member(self ? me : other, targetRole))).toBe(expected);
    expect(canRemoveMember(standing(caller), direct, member(self ? me : other, targetRole))).toBe(false);
  });
});

describe('highestTargetRole / isRoleWithin: the bound the engine checks again', () => {
  it.each([
    ['tenant', 'owner'],
    ['owner', 'owner'],
    ['admin', 'member'],
    ['member', null],
    [null, null],
  ] as const)('a %s caller acts on targets up to %s', (caller, bound) => {
    expect(highestTargetRole(standing(caller))).toBe(bound);
  });

  it('agrees with canModerateTarget on every member target', () => {
    for (const caller of ['tenant', 'owner', 'admin'] as const) {
      const bound = highestTargetRole(standing(caller)) ?? undefined;
      for (const role of ['owner', 'admin', 'member'] as const) {
        expect(isRoleWithin(role, bound)).toBe(canModerateTarget(standing(caller), { userId: other, role }));
      }
    }
  });

  it('orders owner > admin > member, and no bound admits any role', () => {
    expect(isRoleWithin('member', 'member')).toBe(true);
    expect(isRoleWithin('admin', 'member')).toBe(false);
    expect(isRoleWithin('owner', 'admin')).toBe(false);
    expect(isRoleWithin('admin', 'owner')).toBe(true);
    expect(isRoleWithin('owner', undefined)).toBe(true);
  });
});

describe('isMuted / isValidMuteEnd', () => {
  const mute = (until: EpochMs | null): Mute => ({ userId: me, until, createdAt: T });
  it.each([
    [null, T, false],
    [mute(null), T + 10 ** 9, true],
    [mute(T + 10), T + 9, true],
    [mute(T + 10), T + 10, false],
    [mute(T + 10), T + 11, false],
  ] as const)('mute %o at %i → %s', (given, now, expected) => {
    expect(isMuted(given, now)).toBe(expected);
  });

  it.each([
    [null, true],
    [T + 1, true],
    [T, false],
    [T - 1, false],
  ] as const)('a mute ending at %o, set at T, is valid: %s', (until, expected) => {
    expect(isValidMuteEnd(until, T)).toBe(expected);
  });
});

describe('refusalToAct', () => {
  const muted: Mute = { userId: me, until: null, createdAt: T };
  it.each([
    ['member', null, false, null],
    ['member', muted, false, 'muted'],
    ['member', null, true, 'blocked'],
    ['member', muted, true, 'blocked'],
    ['owner', muted, false, 'muted'],
    ['tenant', muted, true, null],
  ] as const)('a %s with mute %o, blocked by the other member: %s → %s', (caller, mute, blockedByOtherMember, expected) => {
    expect(refusalToAct(standing(caller), { mute, blockedByOtherMember }, T)).toBe(expected);
  });
});

describe('successorOf', () => {
  const member = (name: string, role: Role) => ({ name, role });
  it.each([
    [[], null],
    [[member('a', 'member')], 'a'],
    [[member('a', 'member'), member('b', 'admin'), member('c', 'admin')], 'b'],
    [[member('a', 'member'), member('b', 'member')], 'a'],
    [[member('a', 'owner'), member('b', 'admin')], 'b'],
  ] as const)('among %o → %s', (members, expected) => {
    expect(successorOf(members)?.name ?? null).toBe(expected);
  });
});

describe('canSeePresence', () => {
  const user = standing('member');
  it.each([
    [standing('tenant'), other, { blockedByTarget: true, sharesConversation: false }, true],
    [user, me, { blockedByTarget: false, sharesConversation: false }, true],
    [user, other, { blockedByTarget: false, sharesConversation: true }, true],
    [user, other, { blockedByTarget: false, sharesConversation: false }, false],
    [user, other, { blockedByTarget: true, sharesConversation: true }, false],
  ] as const)('%# → %s', (caller, target, relation, expected) => {
    expect(canSeePresence(caller, target, relation)).toBe(expected);
  });
});
