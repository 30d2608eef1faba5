import type { Principal } from '../auth/principal.js';
import type { Engine, Membership } from '../engine/engine.js';
import type { EphemeralEvent, EventId } from '../domain/events.js';
import type { ConversationId, EpochMs, Member, TenantId, UserId } from '../domain/types.js';
import { MEMBERS_IN_CONVERSATION_OBJECT } from '../domain/rules.js';
import { loadAccess, refuseIfRestricted, requireUser } from './conversation-access.js';
import type { Clock } from './ids.js';

export interface RealtimeServiceDeps {
  engine: Engine;
  clock: Clock;
  /** The most conversations a realtime connection follows for one user. */
  maxConversationsPerConnection: number;
}

export type { Membership };

export type RealtimeService = ReturnType<typeof createRealtimeService>;

/** What the realtime gateway needs from the core: memberships, event logs, typing and presence. */
export function createRealtimeService({ engine, clock, maxConversationsPerConnection }: RealtimeServiceDeps) {
  /**
   * Every conversation the user is a member of (up to the per-connection limit), with where their
   * membership began in its log: one indexed pass, linear in the user's conversations.
   */
  function memberships(tenantId: TenantId, userId: UserId): Promise<Membership[]> {
    return engine.conversations.listMemberships(tenantId, userId, maxConversationsPerConnection);
  }

  /**
   * The direct conversations of the user with users they blocked: their presence is not published
   * there. (Groups still carry it: a group topic is shared by all its members; see docs/security.md.)
   */
  async function directsWithBlocked(tenantId: TenantId, userId: UserId): Promise<Set<ConversationId>> {
    const blocked = await engine.users.listBlocked(tenantId, userId);
    const directs = await Promise.all(blocked.map((other) => engine.conversations.findDirect(tenantId, userId, other)));
    return new Set(directs.filter((id): id is ConversationId => id !== null));
  }

  /** Publishes a presence change on every conversation of the user (their contacts' topics), but see directsWithBlocked. */
  async function announcePresence(
    tenantId: TenantId,
    userId: UserId,
    status: 'online' | 'offline',
    lastSeenAt: EpochMs | null,
    known?: readonly Membership[] | Promise<readonly Membership[]>,
  ) {
    const event: EphemeralEvent = { type: 'presence', userId, status, lastSeenAt };
    const [conversations, hidden] = await Promise.all([known ?? memberships(tenantId, userId), directsWithBlocked(tenantId, userId)]);
    await Promise.all(
      conversations
        .filter((m) => !hidden.has(m.conversationId))
        .map((m) => engine.pubsub.publishEphemeral(tenantId, m.conversationId, event)),
    );
  }

  return {
    memberships,

    async membership(tenantId: TenantId, conversationId: ConversationId, userId: UserId): Promise<Member | null> {
      const [member] = await engine.conversations.getMembers(tenantId, conversationId, [userId]);
      return member ?? null;
    },

    /** The first members, as conversation objects show them. */
    async firstMembers(tenantId: TenantId, conversationId: ConversationId): Promise<Member[]> {
      return (await engine.conversations.listMembers(tenantId, conversationId, { limit: MEMBERS_IN_CONVERSATION_OBJECT })).items;
    },

    readLog: (tenantId: TenantId, conversationId: ConversationId, after: EventId | null, limit: number) =>
      engine.events.read(tenantId, conversationId, after, limit),
    readInbox: (tenantId: TenantId, userId: UserId, after: EventId | null, limit: number) =>
      engine.events.readInbox(tenantId, userId, after, limit),
    heads: (tenantId: TenantId, conversationIds: readonly ConversationId[]) => engine.events.heads(tenantId, conversationIds),

    /**
     * Tells the other members that the caller is typing. Members only; nothing is stored. A muted
     * user, or one blocked by the other member of a direct conversation, is refused like a send
     * (the gateway answers with an error frame) and nobody hears the typing.
     */
    async typing(principal: Principal, conversationId: ConversationId): Promise<void> {
      const user = requireUser(principal, 'Typing');
      const access = await loadAccess(engine, principal, conversationId);
      await refuseIfRestricted(engine, access, clock());
      await engine.pubsub.publishEphemeral(user.tenantId, conversationId, { type: 'typing', conversationId, userId: user.userId });
    },

    /**
     * A connection opened on this node; tells contacts when the user came online. Resolves with
     * the user's open connections across nodes, this one included. `known`: the user's
     * memberships when the caller reads them anyway (may still be in flight: presence is counted
     * meanwhile, and only the announcement waits for them).
     */
    async connected(
      tenantId: TenantId,
      userId: UserId,
      nodeId: string,
      known?: readonly Membership[] | Promise<readonly Membership[]>,
    ): Promise<number> {
      const { cameOnline, connections } = await engine.presence.connect(tenantId, userId, nodeId, clock());
      if (cameOnline) await announcePresence(tenantId, userId, 'online', null, known);
      return connections;
    },

    /** A connection closed on this node; tells contacts when it was the user's last one. */
    async disconnected(tenantId: TenantId, userId: UserId, nodeId: string): Promise<void> {
      const now = clock();
      const { wentOffline } = await engine.presence.disconnect(tenantId, userId, nodeId, now);
      if (wentOffline) await announcePresence(tenantId, userId, 'offline', now);
    },

    /** Keeps this node counted as alive for `ttlMs`. */
    heartbeat: (nodeId: string, ttlMs: number) => engine.presence.heartbeat(nodeId, clock() + ttlMs),

    /** Turns the users of crashed nodes offline (each dead node is handled by one live node). */
    async sweepDeadNodes(): Promise<number> {
      const offline = await engine.presence.sweepDeadNodes(clock());
      await Promise.all(offline.map((user) => announcePresence(user.tenantId, user.userId, 'offline', user.lastSeenAt)));
      return offline.length;
    },

    /** This node stops cleanly: its users without another connection elsewhere go offline. */
    async leave(nodeId: string): Promise<void> {
      const offline = await engine.presence.removeNode(nodeId, clock());
      await Promise.all(offline.map((user) => announcePresence(user.tenantId, user.userId, 'offline', user.lastSeenAt)));
    },

  };
}
