/**
 * Presence across gateway nodes.
 *
 *   {presence}:nodes                 zset  nodeId → expiresAt of its last heartbeat (live while now <= expiresAt)
 *   {presence-node:<nodeId>}:users   set   users with a connection on the node, so a sweep finds them
 *   {u:<tenant>:<userId>}:presence   hash  node:<nodeId> → the user's connections there; `online` while
 *                                          announced online; lastSeenAt
 *
 * Two things per user, as in the memory engine: connections per node (`get` answers from these
 * and the registry, so a user whose only node stopped beating reads as offline at once) and the
 * announced state (what cameOnline, wentOffline and sweeps reported last), which makes every
 * transition reported exactly once. The presence scripts run in the user's slot and cannot read
 * the registry on Cluster, so the caller reads the registry first and passes it in with `now`:
 * each script judges node liveness itself, atomically with the user's change.
 *
 * Steps on different slots are ordered so that a crash between them never leaves a user online
 * for a dead node:
 *   - a node's users set is a SUPERSET of the users with connections there: added to before the
 *     connection is counted, removed from only once the user has none there (and re-added if a
 *     concurrent connect counted one again in between);
 *   - a sweep first claims the node (presence-node-claim takes it out of the registry, and only
 *     one caller succeeds; from then on its connections count as dead everywhere), then forgets
 *     its connections user by user (presence-drop-node; exactly one caller sees each go), then
 *     deletes its users set. A sweeper that dies after claiming leaves those users offline in
 *     `get` (their connections name an unregistered node) but unreported, and the dead node's
 *     entries behind (a few bytes per user; node ids are per process start).
 */
import type { EpochMs, TenantId, UserId } from '../../domain/types.js';
import type { Presence, PresenceStore } from '../engine.js';
import type { RedisContext } from './redis-context.js';
import { guard, requireId, requireTime } from './redis-guard.js';
import { asArray, asInteger } from './redis-replies.js';

type WentOffline = { tenantId: TenantId; userId: UserId; lastSeenAt: EpochMs };

/** Users of a node handled per batch while sweeping it (SSCAN COUNT and scripts in flight). */
const SWEEP_BATCH = 500;

const NODE_FIELD = 'node:';

export class RedisPresenceStore implements PresenceStore {
  constructor(private readonly context: RedisContext) {}

  heartbeat(nodeId: string, expiresAt: EpochMs): Promise<void> {
    return guard(async () => {
      requireId(nodeId, 'nodeId');
      requireTime(expiresAt, 'expiresAt');
      await this.context.redis.zadd(this.context.keys.presenceNodes(), expiresAt, nodeId);
    });
  }

  connect(tenantId: TenantId, userId: UserId, nodeId: string, now: EpochMs): Promise<{ cameOnline: boolean; connections: number }> {
    return guard(async () => {
      requireId(userId, 'userId');
      requireId(nodeId, 'nodeId');
      requireTime(now, 'now');
      const { keys, redis, scripts } = this.context;
      // The node's users set first: a sweep of this node must find every user with connections there.
      const [expiresAt] = await Promise.all([
        redis.zscore(keys.presenceNodes(), nodeId),
        redis.sadd(keys.nodeUsers(nodeId), keys.nodeUserMember(tenantId, userId)),
      ]);
      const reply = await scripts.run('presence-connect', [keys.presence(tenantId, userId)], [nodeId, now, expiresAt ?? '']);
      const [cameOnline, connections] = asArray(reply, 'presence-connect');
      return { cameOnline: asInteger(cameOnline, 'presence-connect.cameOnline') === 1, connections: asInteger(connections, 'presence-connect.connections') };
    });
  }

  disconnect(tenantId: TenantId, userId: UserId, nodeId: string, now: EpochMs): Promise<{ wentOffline: boolean }> {
    return guard(async () => {
      requireId(userId, 'userId');
      requireId(nodeId, 'nodeId');
      requireTime(now, 'now');
      const { keys, redis, scripts } = this.context;
      const presence = keys.presence(tenantId, userId);
      const [wentOffline, left] = asArray(await scripts.run('presence-disconnect', [presence], [nodeId, now, ...(await this.registry())]), 'presence-disconnect');
      if (asInteger(left, 'presence-disconnect.left') === 0) {
        // Superset rule: out of the node's set only while the user has no connection there (see above).
        const member = keys.nodeUserMember(tenantId, userId);
        await redis.srem(keys.nodeUsers(nodeId), member);
        if ((await redis.hexists(presence, `${NODE_FIELD}${nodeId}`)) === 1) await redis.sadd(keys.nodeUsers(nodeId), member);
      }
      return { wentOffline: asInteger(wentOffline, 'presence-disconnect.wentOffline') === 1 };
    });
  }

  get(tenantId: TenantId, userIds: readonly UserId[], now: EpochMs): Promise<Presence[]> {
    return guard(async () => {
      requireTime(now, 'now');
      for (const userId of userIds) requireId(userId, 'userId');
      if (userIds.length === 0) return [];
      const { keys, redis } = this.context;
      const [registry, ...hashes] = await Promise.all([
        redis.zrange(keys.presenceNodes(), '0', '-1', 'WITHSCORES'),
        ...userIds.map((userId) => redis.hgetall(keys.presence(tenantId, userId))),
      ]);
      const expiries = new Map<string, number>();
      for (let i = 0; i + 1 < registry.length; i += 2) expiries.set(registry[i] ?? '', Number(registry[i + 1]));
      return hashes.map((hash): Presence => {
        const online = Object.keys(hash).some((field) => {
          if (!field.startsWith(NODE_FIELD)) return false;
          const expiresAt = expiries.get(field.slice(NODE_FIELD.length));
          return expiresAt !== undefined && now <= expiresAt;
        });
        if (online) return { status: 'online', lastSeenAt: null };
        return { status: 'offline', lastSeenAt: hash.lastSeenAt === undefined ? null : asInteger(hash.lastSeenAt, 'presence.lastSeenAt') };
      });
    });
  }

  sweepDeadNodes(now: EpochMs): Promise<WentOffline[]> {
    return guard(async () => {
      requireTime(now, 'now');
      const { keys, redis, scripts } = this.context;
      const expired = await redis.zrangebyscore(keys.presenceNodes(), '-inf', `(${now}`);
      const offline: WentOffline[] = [];
      for (const nodeId of expired) {
        // Another sweeper may have it already, or it renewed its heartbeat since.
        const claimed = asInteger(await scripts.run('presence-node-claim', [keys.presenceNodes()], [nodeId, now]), 'presence-node-claim') === 1;
        if (claimed) offline.push(...(await this.dropNode(nodeId, now)));
      }
      return offline;
    });
  }

  removeNode(nodeId: string, now: EpochMs): Promise<WentOffline[]> {
    return guard(async () => {
      requireId(nodeId, 'nodeId');
      requireTime(now, 'now');
      await this.context.redis.zrem(this.context.keys.presenceNodes(), nodeId);
      return this.dropNode(nodeId, now);
    });
  }

  /** The registry as script arguments: nodeId, expiresAt, ... */
  private registry(): Promise<string[]> {
    return this.context.redis.zrange(this.context.keys.presenceNodes(), '0', '-1', 'WITHSCORES');
  }

  /** Forgets the (unregistered) node's connections user by user, then its users set. */
  private async dropNode(nodeId: string, now: EpochMs): Promise<WentOffline[]> {
    const { keys, redis, scripts } = this.context;
    const registry = await this.registry();
    const offline: WentOffline[] = [];
    let cursor = '0';
    do {
      const [next, members] = await redis.sscan(keys.nodeUsers(nodeId), cursor, 'COUNT', SWEEP_BATCH);
      cursor = next;
      const users = members.flatMap((member) => {
        const user = keys.parseNodeUserMember(member);
        return user ? [user] : [];
      });
      const replies = await Promise.all(
        users.map(({ tenantId, userId }) => scripts.run('presence-drop-node', [keys.presence(tenantId, userId)], [nodeId, now, ...registry])),
      );
      users.forEach((user, i) => {
        if (asInteger(replies[i], 'presence-drop-node') === 1) offline.push({ ...user, lastSeenAt: now });
      });
    } while (cursor !== '0');
    await redis.unlink(keys.nodeUsers(nodeId));
    return offline;
  }
}
