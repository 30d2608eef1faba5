/**
 * Account deletion: by the user (DELETE /v1/users/me) or by their tenant's back end
 * (DELETE /v1/users/{userId}).
 *
 * Guarantees:
 *   - One atomic engine step erases the profile and credentials (display name, username, which is
 *     free for reuse, metadata, password hash, the user's blocks) and keeps a tombstone, so the id
 *     is never reused and GET /v1/users/{id} shows "Deleted user". From that step on, a token of
 *     the user is refused by any node that has not verified it yet; then a revocation published to
 *     every node evicts it from the caches of those that had, and closes the user's realtime
 *     connections there. Every refresh family of the user is revoked.
 *   - Messages are kept (their senderId names the tombstone). The user leaves every conversation
 *     exactly as a member leaving it would: member.removed is logged, a group's last owner hands
 *     ownership over, and the user's inbox hears member.removed.
 *   - Deleting a deleted user again is 204 and redoes the clean-up (revocation, refresh families,
 *     memberships), so a deletion cut short by a storage failure completes on retry; an id that
 *     never existed is 404 user_not_found. (The user's own token is refused after the first
 *     deletion, so only the tenant key can retry.)
 */
import type { Principal } from '../auth/principal.js';
import type { RefreshTokens } from '../auth/refresh-tokens.js';
import { MAX_MEMBERSHIPS_LISTED, type Engine } from '../engine/engine.js';
import type { ConversationId, TenantId, UserId } from '../domain/types.js';
import { notifyRemoved, requireUser } from './conversation-access.js';
import type { Clock } from './ids.js';
import { ServiceError } from './service-error.js';

export interface AccountsServiceDeps {
  engine: Engine;
  refreshTokens: Pick<RefreshTokens, 'revokeUser'>;
  clock: Clock;
}

/** Conversations left at once while deleting; a user may be in thousands. */
const LEAVE_CONCURRENCY = 16;

export type AccountsService = ReturnType<typeof createAccountsService>;

export function createAccountsService({ engine, refreshTokens, clock }: AccountsServiceDeps) {
  async function deleteAccount(tenantId: TenantId, userId: UserId): Promise<void> {
    const deleted = await engine.users.delete(tenantId, userId, clock());
    if (!deleted && !(await engine.users.findDeleted(tenantId, userId))) throw new ServiceError('user_not_found');
    // Tokens first: nodes that cached one forget it and close the user's connections.
    await engine.revocations.publish({ kind: 'user', tenantId, userId });
    await refreshTokens.revokeUser(tenantId, userId);
    const memberships = await engine.conversations.listMemberships(tenantId, userId, MAX_MEMBERSHIPS_LISTED);
    const pending = memberships.map((membership) => membership.conversationId);
    const workers = Array.from({ length: Math.min(LEAVE_CONCURRENCY, pending.length) }, async () => {
      for (let next = pending.pop(); next !== undefined; next = pending.pop()) await leave(tenantId, next, userId);
    });
    await Promise.all(workers);
  }

  async function leave(tenantId: TenantId, conversationId: ConversationId, userId: UserId): Promise<void> {
    const [member] = await engine.conversations.getMembers(tenantId, conversationId, [userId]);
    if (!member) return;
    // Unbounded, as when a member leaves: the last owner hands over in the same step.
    const outcome = await engine.conversations.removeMember(tenantId, conversationId, userId, clock());
    if (outcome === 'removed') await notifyRemoved(engine, tenantId, conversationId, userId, member.role, clock());
  }

  return {
    /** DELETE /v1/users/me: a user token deletes its own account. */
    async deleteMe(principal: Principal): Promise<void> {
      const caller = requireUser(principal, 'Deleting your account');
      await deleteAccount(caller.tenantId, caller.userId);
    },

    /** DELETE /v1/users/{userId}: the tenant's back end deletes one of its users. */
    async deleteUser(principal: Principal, userId: UserId): Promise<void> {
      if (principal.kind !== 'tenant') throw new ServiceError('forbidden', "Deleting another user's account needs a tenant API key");
      await deleteAccount(principal.tenantId, userId);
    },
  };
}
