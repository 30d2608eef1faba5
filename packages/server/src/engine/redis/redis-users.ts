/**
 * Users: one hash per user and a username index, all in the tenant's slot, so registration
 * (claim the username, store the user) is one script. Metadata is kept as the caller's JSON text
 * and never decoded by Lua, which could not round-trip empty arrays or big numbers.
 * A deleted user's hash keeps only id, createdAt and deletedAt (see user-delete.lua); every read
 * of a user asks for deletedAt too and treats such a hash as absent.
 */
import { externalIdentityKey } from '../../domain/external-identity.js';
import type { EpochMs, ExternalIdentity, TenantId, User, UserId } from '../../domain/types.js';
import type { DeletedUser, NewExternalUser, NewUser, UserStore, UserUpsert } from '../engine.js';
import type { RedisContext } from './redis-context.js';
import { guard, invalid, requireId, requireTime } from './redis-guard.js';
import { asArray, asInteger, asOptionalString, parseUser, unexpected, USER_FIELDS } from './redis-replies.js';
import type { Reply } from './scripts.js';

/** USER_FIELDS, then deletedAt: a live user is parsed from the first ones only. */
const LIVE_USER_FIELDS = [...USER_FIELDS, 'deletedAt'] as const;

function parseLiveUser(tenantId: TenantId, reply: Reply[]): User | null {
  if (reply[USER_FIELDS.length] !== null && reply[USER_FIELDS.length] !== undefined) return null;
  return parseUser(tenantId, reply.slice(0, USER_FIELDS.length));
}

export class RedisUserStore implements UserStore {
  constructor(private readonly context: RedisContext) {}

  register(tenantId: TenantId, user: NewUser): Promise<{ status: 'created'; user: User } | { status: 'username_taken' }> {
    return guard(async () => {
      requireId(user.id, 'user.id');
      requireTime(user.createdAt, 'user.createdAt');
      const { keys, scripts } = this.context;
      const reply = await scripts.run(
        'user-register',
        [keys.usernames(tenantId), keys.user(tenantId, user.id)],
        [user.username, user.id, user.displayName, user.passwordHash, user.createdAt],
      );
      if (reply === 'username_taken') return { status: 'username_taken' };
      if (reply === 'id_taken') throw invalid(`a user with id ${user.id} exists already`);
      if (reply !== 'created') throw unexpected('user-register');
      return {
        status: 'created',
        user: {
          tenantId,
          id: user.id,
          username: user.username,
          displayName: user.displayName,
          metadata: null,
          createdAt: user.createdAt,
          updatedAt: user.createdAt,
        },
      };
    });
  }

  upsert(tenantId: TenantId, input: UserUpsert, now: EpochMs): Promise<{ user: User; created: boolean } | null> {
    return guard(async () => {
      requireId(input.id, 'user.id');
      requireTime(now, 'now');
      const metadata = input.metadata === null ? '' : JSON.stringify(input.metadata);
      const answer = await this.context.scripts.run('user-upsert', [this.context.keys.user(tenantId, input.id)], [input.id, input.displayName, metadata, now]);
      if (answer === 'deleted') return null;
      const reply = asArray(answer, 'user-upsert');
      const user = parseUser(tenantId, reply[1]);
      if (!user) throw unexpected('user-upsert');
      return { user, created: asInteger(reply[0], 'user-upsert') === 1 };
    });
  }

  ensureExternal(tenantId: TenantId, input: NewExternalUser, now: EpochMs): Promise<{ user: User; created: boolean }> {
    return guard(async () => {
      requireId(input.id, 'user.id');
      requireTime(now, 'now');
      const { keys, scripts } = this.context;
      const identity = { provider: input.identity.provider, issuer: input.identity.issuer, subject: input.identity.subject };
      const reply = asArray(
        await scripts.run(
          'user-ensure-external',
          [keys.externalUsers(tenantId), keys.usernames(tenantId), keys.user(tenantId, input.id)],
          [externalIdentityKey(identity), input.id, input.displayName, input.username ?? '', JSON.stringify(identity), now],
        ),
        'user-ensure-external',
      );
      const [status, id] = reply;
      if (status === 'id_taken') throw invalid(`a user with id ${input.id} exists already`);
      if ((status !== 'created' && status !== 'existing') || typeof id !== 'string') throw unexpected('user-ensure-external');
      // The pair and its user are written by one script, so a claimed pair always has its user.
      const user = await this.get(tenantId, id as UserId);
      if (!user) throw unexpected('user-ensure-external');
      return { user, created: status === 'created' };
    });
  }

  get(tenantId: TenantId, id: UserId): Promise<User | null> {
    return guard(async () => parseLiveUser(tenantId, await this.context.redis.hmget(this.context.keys.user(tenantId, id), ...LIVE_USER_FIELDS)));
  }

  getMany(tenantId: TenantId, ids: readonly UserId[]): Promise<(User | null)[]> {
    // One HMGET per user; auto-pipelining sends them together (and per node on Cluster).
    return guard(() => Promise.all(ids.map((id) => this.get(tenantId, id))));
  }

  findByUsername(tenantId: TenantId, username: string): Promise<User | null> {
    return guard(async () => {
      const id = await this.context.redis.hget(this.context.keys.usernames(tenantId), username);
      return id === null ? null : this.get(tenantId, id as UserId);
    });
  }

  findCredentials(tenantId: TenantId, username: string): Promise<{ user: User; passwordHash: string } | null> {
    return guard(async () => {
      const { keys, redis } = this.context;
      const id = await redis.hget(keys.usernames(tenantId), username);
      if (id === null) return null;
      // A claimed username always points at a stored user (both are written by one script).
      const reply = await redis.hmget(keys.user(tenantId, id as UserId), ...LIVE_USER_FIELDS, 'passwordHash');
      const user = parseLiveUser(tenantId, reply);
      const passwordHash = asOptionalString(reply[LIVE_USER_FIELDS.length], 'user.passwordHash');
      return user && passwordHash !== null ? { user, passwordHash } : null;
    });
  }

  update(tenantId: TenantId, id: UserId, changes: { displayName?: string }, now: EpochMs): Promise<User | null> {
    return guard(async () => {
      requireTime(now, 'now');
      const hasName = changes.displayName !== undefined;
      const reply = await this.context.scripts.run(
        'user-update',
        [this.context.keys.user(tenantId, id)],
        [hasName ? '1' : '0', changes.displayName ?? '', now],
      );
      return reply === null ? null : parseUser(tenantId, reply);
    });
  }

  replacePasswordHash(tenantId: TenantId, id: UserId, current: string, next: string, now: EpochMs): Promise<boolean> {
    return guard(async () => {
      requireId(current, 'current');
      requireId(next, 'next');
      requireTime(now, 'now');
      const reply = await this.context.scripts.run('user-password-replace', [this.context.keys.user(tenantId, id)], [current, next, now]);
      return asInteger(reply, 'user-password-replace') === 1;
    });
  }

  delete(tenantId: TenantId, id: UserId, now: EpochMs): Promise<boolean> {
    return guard(async () => {
      requireTime(now, 'now');
      const { keys, scripts, redis } = this.context;
      // A user's identity never changes, so it can be read before the script: Lua would have to
      // re-encode it as the exact JSON text the pair was stored under.
      const identity = await redis.hget(keys.user(tenantId, id), 'identity');
      const pair = identity === null ? '' : externalIdentityKey(JSON.parse(identity) as ExternalIdentity);
      const reply = await scripts.run(
        'user-delete',
        [keys.user(tenantId, id), keys.usernames(tenantId), keys.blocks(tenantId, id), keys.externalUsers(tenantId)],
        [now, pair],
      );
      return asInteger(reply, 'user-delete') === 1;
    });
  }

  findDeleted(tenantId: TenantId, id: UserId): Promise<DeletedUser | null> {
    return guard(async () => {
      const [storedId, createdAt, deletedAt] = await this.context.redis.hmget(this.context.keys.user(tenantId, id), 'id', 'createdAt', 'deletedAt');
      if (storedId === null || storedId === undefined || deletedAt === null || deletedAt === undefined) return null;
      return { id, createdAt: asInteger(createdAt ?? null, 'user.createdAt'), deletedAt: asInteger(deletedAt, 'user.deletedAt') };
    });
  }

  block(tenantId: TenantId, blocker: UserId, blocked: UserId): Promise<void> {
    return guard(async () => {
      await this.context.redis.sadd(this.context.keys.blocks(tenantId, blocker), blocked);
    });
  }

  unblock(tenantId: TenantId, blocker: UserId, blocked: UserId): Promise<void> {
    return guard(async () => {
      await this.context.redis.srem(this.context.keys.blocks(tenantId, blocker), blocked);
    });
  }

  /** One SISMEMBER per candidate; all in the tenant slot, so auto-pipelining sends them together. */
  blockersAmong(tenantId: TenantId, blocked: UserId, candidates: readonly UserId[]): Promise<UserId[]> {
    return guard(async () => {
      const answers = await Promise.all(candidates.map((candidate) => this.context.redis.sismember(this.context.keys.blocks(tenantId, candidate), blocked)));
      return candidates.filter((_, i) => answers[i] === 1);
    });
  }

  listBlocked(tenantId: TenantId, blocker: UserId): Promise<UserId[]> {
    return guard(async () => (await this.context.redis.smembers(this.context.keys.blocks(tenantId, blocker))) as UserId[]);
  }

  isBlocked(tenantId: TenantId, blocker: UserId, blocked: UserId): Promise<boolean> {
    return guard(async () => (await this.context.redis.sismember(this.context.keys.blocks(tenantId, blocker), blocked)) === 1);
  }
}
