/**
 * PresenceStore in memory. Every method runs without an await, so each is atomic, and a sweep
 * claims a dead node by deleting it in the same step that reads it: two sweeps never both see it.
 *
 * Two things are kept per user:
 *   - connections: how many the user has on each node. `get` answers from these and the nodes'
 *     heartbeats, so a user whose only node stopped beating reads as offline at once;
 *   - the announced state (online, or offline since lastSeenAt): what `cameOnline`, `wentOffline`
 *     and the sweeps reported last. Each report flips it, so every "went offline" pairs with an
 *     earlier "came online" and no transition is reported twice: a user whose node died and who
 *     then disconnects there, or reconnects elsewhere, is not reported by a later sweep again.
 * A node is live while `now <= expiresAt`; sweeps claim nodes with `expiresAt < now`.
 */
import type { EpochMs, TenantId, UserId } from '../../domain/types.js';
import type { Presence, PresenceStore } from '../engine.js';

interface UserPresence {
  tenantId: TenantId;
  userId: UserId;
  /** nodeId → connections of the user on it (always > 0; a node with none is removed). */
  connections: Map<string, number>;
  /** The announced state. */
  online: boolean;
  lastSeenAt: EpochMs | null;
}

type WentOffline = { tenantId: TenantId; userId: UserId; lastSeenAt: EpochMs };

function userKey(tenantId: TenantId, userId: UserId): string {
  return JSON.stringify([tenantId, userId]);
}

export class MemoryPresenceStore implements PresenceStore {
  /** nodeId → the instant its last heartbeat keeps it alive until. */
  private readonly nodes = new Map<string, EpochMs>();
  /** nodeId → keys of the users with a connection on it. */
  private readonly usersByNode = new Map<string, Set<string>>();
  private readonly users = new Map<string, UserPresence>();

  async heartbeat(nodeId: string, expiresAt: EpochMs): Promise<void> {
    this.nodes.set(nodeId, expiresAt);
  }

  /** `cameOnline` when the user was announced offline and the connection is on a live node. */
  async connect(tenantId: TenantId, userId: UserId, nodeId: string, now: EpochMs): Promise<{ cameOnline: boolean; connections: number }> {
    const key = userKey(tenantId, userId);
    let user = this.users.get(key);
    if (!user) {
      user = { tenantId, userId, connections: new Map(), online: false, lastSeenAt: null };
      this.users.set(key, user);
    }
    user.connections.set(nodeId, (user.connections.get(nodeId) ?? 0) + 1);
    let onNode = this.usersByNode.get(nodeId);
    if (!onNode) {
      onNode = new Set();
      this.usersByNode.set(nodeId, onNode);
    }
    onNode.add(key);
    let connections = 0;
    for (const count of user.connections.values()) connections += count;
    if (user.online || !this.isLive(nodeId, now)) return { cameOnline: false, connections };
    user.online = true;
    return { cameOnline: true, connections };
  }

  /** A disconnect without a connection on the node changes nothing. */
  async disconnect(tenantId: TenantId, userId: UserId, nodeId: string, now: EpochMs): Promise<{ wentOffline: boolean }> {
    const key = userKey(tenantId, userId);
    const user = this.users.get(key);
    const count = user?.connections.get(nodeId);
    if (!user || count === undefined) return { wentOffline: false };
    if (count > 1) user.connections.set(nodeId, count - 1);
    else this.forgetConnections(key, user, nodeId);
    return { wentOffline: this.settle(user, now) };
  }

  async get(tenantId: TenantId, userIds: readonly UserId[], now: EpochMs): Promise<Presence[]> {
    return userIds.map((userId) => {
      const user = this.users.get(userKey(tenantId, userId));
      if (user && this.hasLiveConnection(user, now)) return { status: 'online', lastSeenAt: null };
      return { status: 'offline', lastSeenAt: user?.lastSeenAt ?? null };
    });
  }

  async sweepDeadNodes(now: EpochMs): Promise<WentOffline[]> {
    const dead = [...this.nodes].filter(([, expiresAt]) => expiresAt < now).map(([nodeId]) => nodeId);
    return dead.flatMap((nodeId) => this.claim(nodeId, now));
  }

  async removeNode(nodeId: string, now: EpochMs): Promise<WentOffline[]> {
    return this.claim(nodeId, now);
  }

  /** Forgets the node and its connections; returns the users who went offline with it. */
  private claim(nodeId: string, now: EpochMs): WentOffline[] {
    this.nodes.delete(nodeId);
    const keys = this.usersByNode.get(nodeId) ?? new Set<string>();
    this.usersByNode.delete(nodeId);
    const wentOffline: WentOffline[] = [];
    for (const key of keys) {
      const user = this.users.get(key);
      if (!user) continue;
      this.forgetConnections(key, user, nodeId);
      if (this.settle(user, now)) wentOffline.push({ tenantId: user.tenantId, userId: user.userId, lastSeenAt: now });
    }
    return wentOffline;
  }

  /**
   * After connections went away: a user announced online without a live connection left is now
   * offline since `now`. True when that happened.
   */
  private settle(user: UserPresence, now: EpochMs): boolean {
    if (!user.online || this.hasLiveConnection(user, now)) return false;
    user.online = false;
    user.lastSeenAt = now;
    return true;
  }

  private forgetConnections(key: string, user: UserPresence, nodeId: string): void {
    user.connections.delete(nodeId);
    const onNode = this.usersByNode.get(nodeId);
    onNode?.delete(key);
    if (onNode?.size === 0) this.usersByNode.delete(nodeId);
  }

  private hasLiveConnection(user: UserPresence, now: EpochMs): boolean {
    for (const nodeId of user.connections.keys()) if (this.isLive(nodeId, now)) return true;
    return false;
  }

  private isLive(nodeId: string, now: EpochMs): boolean {
    const expiresAt = this.nodes.get(nodeId);
    return expiresAt !== undefined && now <= expiresAt;
  }
}
