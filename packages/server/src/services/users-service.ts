import type { Principal } from '../auth/principal.js';
import type { DeletedUser, Engine, Presence } from '../engine/engine.js';
import { canSeePresence } from '../domain/moderation.js';
import { labelViolation, normalizeLabel } from '../domain/rules.js';
import type { User, UserId } from '../domain/types.js';
import { requireUser } from './conversation-access.js';
import type { Clock } from './ids.js';
import type { QuotaListener, RateLimiter } from './rate-limiter.js';
import { refuseViolation, ServiceError } from './service-error.js';

export interface UsersServiceDeps {
  engine: Engine;
  clock: Clock;
  rateLimiter: RateLimiter;
}

export type UsersService = ReturnType<typeof createUsersService>;

/** Profiles and blocks. A user sees users of its own tenant only; anything else is 404. */
export function createUsersService({ engine, clock, rateLimiter }: UsersServiceDeps) {
  const requireExisting = async (principal: Principal, userId: UserId): Promise<User> => {
    const user = await engine.users.get(principal.tenantId, userId);
    if (!user) throw new ServiceError('user_not_found');
    return user;
  };

  return {
    async me(principal: Principal): Promise<User> {
      const caller = requireUser(principal, 'Reading your profile');
      return requireExisting(principal, caller.userId);
    },

    /**
     * A user of the caller's tenant, or what remains of a deleted one (so that the senders of kept
     * messages can still be shown); 404 when the id never existed.
     */
    async get(principal: Principal, userId: UserId): Promise<User | DeletedUser> {
      const user = await engine.users.get(principal.tenantId, userId);
      if (user) return user;
      const deleted = await engine.users.findDeleted(principal.tenantId, userId);
      if (!deleted) throw new ServiceError('user_not_found');
      return deleted;
    },

    /**
     * The user of the caller's tenant holding `username` (exact match), as a list of zero or one:
     * how people find each other to start a conversation. Nothing beyond an exact name is searched,
     * so the tenant's users cannot be listed through it; a user's lookups count against
     * USER_LOOKUP, so a username dictionary cannot be tried at full speed either (tenant keys count
     * under SERVER_KEY).
     */
    async findByUsername(principal: Principal, username: string, onQuota?: QuotaListener): Promise<User[]> {
      if (principal.kind === 'user') await rateLimiter.consume('USER_LOOKUP', { tenantId: principal.tenantId, subject: principal.userId }, onQuota);
      const user = await engine.users.findByUsername(principal.tenantId, username);
      return user ? [user] : [];
    },

    async updateMe(principal: Principal, changes: { displayName?: string }): Promise<User> {
      const caller = requireUser(principal, 'Changing your profile');
      const update: { displayName?: string } = {};
      if (changes.displayName !== undefined) {
        const displayName = normalizeLabel(changes.displayName);
        if (displayName === null) throw new ServiceError('validation_failed', 'displayName must not be blank');
        // The same rule as at registration and upsert (identity-service requireLabel).
        refuseViolation('displayName', labelViolation(displayName));
        update.displayName = displayName;
      }
      const user = await engine.users.update(caller.tenantId, caller.userId, update, clock());
      if (!user) throw new ServiceError('user_not_found');
      return user;
    },

    /**
     * Online while the user has a connection on a live node; offline with when they were last seen.
     * Only for users who share a conversation with the caller and have not blocked them (or for
     * the tenant key); anyone else gets the 404 of an unknown id, so presence reveals nothing.
     */
    async presence(principal: Principal, userId: UserId): Promise<Presence> {
      await requireExisting(principal, userId);
      if (principal.kind === 'user' && principal.userId !== userId) {
        const [blockedByTarget, sharesConversation] = await Promise.all([
          engine.users.isBlocked(principal.tenantId, userId, principal.userId),
          engine.conversations.sharesConversation(principal.tenantId, principal.userId, userId),
        ]);
        if (!canSeePresence({ principal }, userId, { blockedByTarget, sharesConversation })) throw new ServiceError('user_not_found');
      }
      const [presence] = await engine.presence.get(principal.tenantId, [userId], clock());
      return presence ?? { status: 'offline', lastSeenAt: null };
    },

    /** Idempotent. Blocking oneself is refused; blocking an unknown user is 404. */
    async block(principal: Principal, userId: UserId): Promise<void> {
      const caller = requireUser(principal, 'Blocking');
      if (userId === caller.userId) throw new ServiceError('validation_failed', 'You cannot block yourself');
      await requireExisting(principal, userId);
      await engine.users.block(caller.tenantId, caller.userId, userId);
    },

    /** Idempotent: unblocking a user who is not blocked succeeds too. */
    async unblock(principal: Principal, userId: UserId): Promise<void> {
      const caller = requireUser(principal, 'Unblocking');
      await engine.users.unblock(caller.tenantId, caller.userId, userId);
    },
  };
}
