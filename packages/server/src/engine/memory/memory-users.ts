/** UserStore in memory: users, the username index and block lists, per tenant. */
import { externalIdentityKey } from '../../domain/external-identity.js';
import type { EpochMs, TenantId, User, UserId } from '../../domain/types.js';
import type { DeletedUser, NewExternalUser, NewUser, UserStore, UserUpsert } from '../engine.js';
import { EngineError } from '../errors.js';
import { TenantScoped } from './tenant-scoped.js';

interface UserRecord {
  user: User;
  /** Null for users upserted by a tenant back end: they have no built-in credentials. */
  passwordHash: string | null;
}

interface TenantUsers {
  byId: Map<UserId, UserRecord>;
  /** Ids of deleted users: taken for good, shown as deleted. */
  deleted: Map<UserId, DeletedUser>;
  idByUsername: Map<string, UserId>;
  /** externalIdentityKey (provider, issuer, subject) → the user created on its first sight. */
  idByExternal: Map<string, UserId>;
  /** blocker → the users they block. */
  blocked: Map<UserId, Set<UserId>>;
}

function copyUser(user: User): User {
  return {
    ...user,
    metadata: user.metadata === null ? null : structuredClone(user.metadata),
    ...(user.identity ? { identity: { ...user.identity } } : {}),
  };
}

export class MemoryUserStore implements UserStore {
  private readonly tenants = new TenantScoped<TenantUsers>(() => ({
    byId: new Map(),
    deleted: new Map(),
    idByUsername: new Map(),
    idByExternal: new Map(),
    blocked: new Map(),
  }));

  async register(
    tenantId: TenantId,
    input: NewUser,
  ): Promise<{ status: 'created'; user: User } | { status: 'username_taken' }> {
    const users = this.tenants.write(tenantId);
    if (users.idByUsername.has(input.username)) return { status: 'username_taken' };
    if (users.byId.has(input.id) || users.deleted.has(input.id)) throw new EngineError('invalid_argument', `user id ${input.id} is already used`);
    const user: User = {
      tenantId,
      id: input.id,
      username: input.username,
      displayName: input.displayName,
      metadata: null,
      createdAt: input.createdAt,
      updatedAt: input.createdAt,
    };
    users.byId.set(user.id, { user, passwordHash: input.passwordHash });
    users.idByUsername.set(input.username, user.id);
    return { status: 'created', user: copyUser(user) };
  }

  async upsert(tenantId: TenantId, input: UserUpsert, now: EpochMs): Promise<{ user: User; created: boolean } | null> {
    const users = this.tenants.write(tenantId);
    if (users.deleted.has(input.id)) return null;
    const metadata = input.metadata === null ? null : structuredClone(input.metadata);
    const existing = users.byId.get(input.id);
    if (existing) {
      existing.user = { ...existing.user, displayName: input.displayName, metadata, updatedAt: now };
      return { user: copyUser(existing.user), created: false };
    }
    const user: User = {
      tenantId,
      id: input.id,
      username: null,
      displayName: input.displayName,
      metadata,
      createdAt: now,
      updatedAt: now,
    };
    users.byId.set(user.id, { user, passwordHash: null });
    return { user: copyUser(user), created: true };
  }

  async ensureExternal(tenantId: TenantId, input: NewExternalUser, now: EpochMs): Promise<{ user: User; created: boolean }> {
    const users = this.tenants.write(tenantId);
    const pair = externalIdentityKey(input.identity);
    const knownId = users.idByExternal.get(pair);
    const known = knownId === undefined ? undefined : users.byId.get(knownId);
    if (known) return { user: copyUser(known.user), created: false };
    if (users.byId.has(input.id)) throw new EngineError('invalid_argument', `user id ${input.id} is already used`);
    const username = input.username !== null && !users.idByUsername.has(input.username) ? input.username : null;
    const user: User = {
      tenantId,
      id: input.id,
      username,
      displayName: input.displayName,
      metadata: null,
      createdAt: now,
      updatedAt: now,
      identity: { provider: input.identity.provider, issuer: input.identity.issuer, subject: input.identity.subject },
    };
    users.byId.set(user.id, { user, passwordHash: null });
    users.idByExternal.set(pair, user.id);
    if (username !== null) users.idByUsername.set(username, user.id);
    return { user: copyUser(user), created: true };
  }

  async get(tenantId: TenantId, id: UserId): Promise<User | null> {
    const record = this.tenants.read(tenantId)?.byId.get(id);
    return record ? copyUser(record.user) : null;
  }

  async getMany(tenantId: TenantId, ids: readonly UserId[]): Promise<(User | null)[]> {
    const users = this.tenants.read(tenantId);
    return ids.map((id) => {
      const record = users?.byId.get(id);
      return record ? copyUser(record.user) : null;
    });
  }

  async findByUsername(tenantId: TenantId, username: string): Promise<User | null> {
    const users = this.tenants.read(tenantId);
    const id = users?.idByUsername.get(username);
    const record = id === undefined ? undefined : users?.byId.get(id);
    return record ? copyUser(record.user) : null;
  }

  async findCredentials(tenantId: TenantId, username: string): Promise<{ user: User; passwordHash: string } | null> {
    const users = this.tenants.read(tenantId);
    const id = users?.idByUsername.get(username);
    const record = id === undefined ? undefined : users?.byId.get(id);
    if (!record || record.passwordHash === null) return null;
    return { user: copyUser(record.user), passwordHash: record.passwordHash };
  }

  async update(tenantId: TenantId, id: UserId, changes: { displayName?: string }, now: EpochMs): Promise<User | null> {
    const record = this.tenants.read(tenantId)?.byId.get(id);
    if (!record) return null;
    record.user = {
      ...record.user,
      displayName: changes.displayName ?? record.user.displayName,
      updatedAt: now,
    };
    return copyUser(record.user);
  }

  async replacePasswordHash(tenantId: TenantId, id: UserId, current: string, next: string, now: EpochMs): Promise<boolean> {
    const record = this.tenants.read(tenantId)?.byId.get(id);
    if (!record || record.passwordHash === null || record.passwordHash !== current) return false;
    record.passwordHash = next;
    record.user = { ...record.user, updatedAt: now };
    return true;
  }

  async delete(tenantId: TenantId, id: UserId, now: EpochMs): Promise<boolean> {
    const users = this.tenants.read(tenantId);
    const record = users?.byId.get(id);
    if (!users || !record) return false;
    users.byId.delete(id);
    if (record.user.username !== null) users.idByUsername.delete(record.user.username);
    if (record.user.identity) {
      const pair = externalIdentityKey(record.user.identity);
      if (users.idByExternal.get(pair) === id) users.idByExternal.delete(pair);
    }
    users.blocked.delete(id);
    users.deleted.set(id, { id, createdAt: record.user.createdAt, deletedAt: now });
    return true;
  }

  async findDeleted(tenantId: TenantId, id: UserId): Promise<DeletedUser | null> {
    const deleted = this.tenants.read(tenantId)?.deleted.get(id);
    return deleted ? { ...deleted } : null;
  }

  async block(tenantId: TenantId, blocker: UserId, blocked: UserId): Promise<void> {
    const users = this.tenants.write(tenantId);
    let blockedByBlocker = users.blocked.get(blocker);
    if (!blockedByBlocker) {
      blockedByBlocker = new Set();
      users.blocked.set(blocker, blockedByBlocker);
    }
    blockedByBlocker.add(blocked);
  }

  async unblock(tenantId: TenantId, blocker: UserId, blocked: UserId): Promise<void> {
    const users = this.tenants.read(tenantId);
    const blockedByBlocker = users?.blocked.get(blocker);
    blockedByBlocker?.delete(blocked);
    if (blockedByBlocker?.size === 0) users?.blocked.delete(blocker);
  }

  async isBlocked(tenantId: TenantId, blocker: UserId, blocked: UserId): Promise<boolean> {
    return this.blocks(tenantId, blocker, blocked);
  }

  /** isBlocked without a promise, so the message store's append checks it inside its atomic step. */
  blocks(tenantId: TenantId, blocker: UserId, blocked: UserId): boolean {
    return this.tenants.read(tenantId)?.blocked.get(blocker)?.has(blocked) ?? false;
  }

  async blockersAmong(tenantId: TenantId, blocked: UserId, candidates: readonly UserId[]): Promise<UserId[]> {
    const users = this.tenants.read(tenantId);
    return candidates.filter((candidate) => users?.blocked.get(candidate)?.has(blocked) ?? false);
  }

  async listBlocked(tenantId: TenantId, blocker: UserId): Promise<UserId[]> {
    return [...(this.tenants.read(tenantId)?.blocked.get(blocker) ?? [])];
  }
}
