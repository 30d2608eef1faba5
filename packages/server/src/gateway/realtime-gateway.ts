/**
 * The realtime side of one node: opens connections for either transport, answers client frames,
 * keeps presence (heartbeats, sweeping crashed nodes) and closes everything on shutdown.
 */
import { randomUUID } from 'node:crypto';
import { ERROR_CODES } from '@parley/protocol';
import type { Principal } from '../auth/principal.js';
import type { Engine } from '../engine/engine.js';
import type { ConversationId, TenantId, UserId } from '../domain/types.js';
import type { RealtimeService } from '../services/realtime-service.js';
import { ServiceError } from '../services/service-error.js';
import { Connection, type ConnectionSettings } from './connection.js';
import { decodeCursor } from './cursor.js';
import { Hub } from './hub.js';
import type { RealtimeObserver } from './realtime-observer.js';
import { CloseCodes, type Transport } from './transport.js';

export interface GatewaySettings extends ConnectionSettings {
  /** How often the node proves it is alive and sweeps crashed nodes' presence. */
  presenceIntervalMs: number;
  /** A node not heard from for this long counts as gone. */
  presenceTtlMs: number;
  /** Typing frames one connection may send per `typingWindowMs`; more are dropped. */
  typingLimit: number;
  typingWindowMs: number;
  /** Open connections of one user across nodes; see `open` for how the limit is kept. */
  maxConnectionsPerUser: number;
}

export const DEFAULT_GATEWAY_SETTINGS: GatewaySettings = {
  cursorWindowMs: 30_000,
  maxBufferedBytes: 1024 * 1024,
  retentionMs: 24 * 60 * 60 * 1000,
  maxPendingEvents: 10_000,
  replayBudget: 1000,
  presenceIntervalMs: 5_000,
  presenceTtlMs: 15_000,
  typingLimit: 10,
  typingWindowMs: 10_000,
  maxConnectionsPerUser: 20,
};

export interface RealtimeGatewayDeps {
  engine: Engine;
  realtime: RealtimeService;
  clock: () => number;
  settings: GatewaySettings;
  log: { warn(object: object, message: string): void; error(object: object, message: string): void };
  /** Told what the gateway does, for metrics; default: nobody. */
  observer?: RealtimeObserver;
}

/** What the gateway keeps per connection: held for the connection's whole life, so kept flat. */
interface Session {
  connection: Connection;
  principal: Extract<Principal, { kind: 'user' }>;
  expiry?: NodeJS.Timeout;
  typingWindowStart: number;
  typingCount: number;
}

/** The expiry timer's callback, shared: the connection is the timer's argument, so no closure is kept per connection. */
const closeExpired = (connection: Connection) => connection.close(CloseCodes.unauthorized, 'token expired');

export class RealtimeGateway {
  readonly nodeId = randomUUID();
  readonly hub: Hub;
  private readonly sessions = new Map<Connection, Session>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly deps: RealtimeGatewayDeps) {
    this.hub = new Hub({
      pubsub: deps.engine.pubsub,
      realtime: deps.realtime,
      clock: deps.clock,
      settings: deps.settings,
      onError: (error, context) => deps.log.error({ err: error, context }, 'realtime hub error'),
      ...(deps.observer ? { observer: deps.observer } : {}),
    });
  }

  /** Starts presence heartbeats and sweeps. */
  async start(): Promise<void> {
    const { presenceIntervalMs, presenceTtlMs } = this.deps.settings;
    await this.deps.realtime.heartbeat(this.nodeId, presenceTtlMs);
    let lastBeat = Date.now();
    this.timer = setInterval(() => {
      void (async () => {
        // Silent for longer than the TTL (a stalled process, a Redis outage): other nodes may have
        // swept this one and turned its users offline. Its clients reconnect, which counts them again.
        if (Date.now() - lastBeat > presenceTtlMs) {
          this.deps.log.warn({ silentMs: Date.now() - lastBeat }, 'presence heartbeat lapsed; reconnecting clients');
          this.hub.closeAll(CloseCodes.restart, 'presence lapsed; reconnect');
        }
        await this.deps.realtime.heartbeat(this.nodeId, presenceTtlMs);
        lastBeat = Date.now();
        await this.deps.realtime.sweepDeadNodes();
      })().catch((error: unknown) => this.deps.log.warn({ err: error }, 'presence heartbeat failed'));
    }, presenceIntervalMs);
    this.timer.unref();
  }

  /**
   * Opens a connection for an authenticated user over `transport`, resuming from `cursorText`
   * when given. Resolves once the connection is live (or closed).
   *
   * Connections per user: when this one puts the user above `maxConnectionsPerUser` (counted
   * across nodes), their oldest connections on this node are closed with 4009 — never the new
   * one, so a phone reconnecting is not locked out by its own half-dead sockets (found dead by
   * protocol pings only later). A node holding none of the user's other connections lets the new
   * one in, so a user spread over several nodes may exceed the limit by at most one per node.
   */
  async open(principal: Principal, transport: Transport, cursorText: string | null): Promise<Connection | null> {
    if (principal.kind !== 'user') {
      transport.close(CloseCodes.unauthorized, 'realtime needs a user token');
      return null;
    }
    // A token already expired (the verifier allows some clock skew) gets no `ready` at all.
    if (principal.expiresAt !== undefined && principal.expiresAt <= this.deps.clock()) {
      transport.close(CloseCodes.unauthorized, 'token expired');
      return null;
    }
    const connection = new Connection(principal.tenantId, principal.userId, transport, this.hub);
    const session: Session = { connection, principal, typingWindowStart: 0, typingCount: 0 };
    this.sessions.set(connection, session);
    if (principal.expiresAt !== undefined) {
      const remaining = principal.expiresAt - this.deps.clock();
      session.expiry = setTimeout(closeExpired, Math.max(0, remaining), connection);
      session.expiry.unref();
    }
    try {
      await this.hub.register(connection);
      // Read once (after the inbox is followed, so no membership change slips between): the
      // connection follows these conversations and presence is announced on them. The user is read
      // again too: an account deleted while this connection was being authenticated published its
      // revocation before the connection was registered here, so nothing else would close it.
      // Presence is counted in the same round trips rather than after them: a reconnect storm
      // waits on these steps per connect. A deleted user's count is undone when the close below
      // reaches `closed`, like any connection's.
      const membershipsRead = this.deps.realtime.memberships(principal.tenantId, principal.userId);
      const [user, memberships, connections] = await Promise.all([
        this.deps.engine.users.get(principal.tenantId, principal.userId),
        membershipsRead,
        this.deps.realtime.connected(principal.tenantId, principal.userId, this.nodeId, membershipsRead),
      ]);
      if (!user) {
        connection.close(CloseCodes.unauthorized, 'account deleted');
        return connection;
      }
      this.closeOldest(connection, connections - this.deps.settings.maxConnectionsPerUser);
      const decoded = cursorText === null ? null : decodeCursor(cursorText);
      await connection.start(cursorText === null ? null : decoded ? { cursor: decoded, text: cursorText } : 'invalid', memberships);
    } catch (error) {
      this.deps.log.error({ err: error }, 'realtime connection failed to start');
      connection.close(CloseCodes.restart, 'could not start; reconnect');
    }
    return connection;
  }

  /** The transport closed: forget the connection and update presence. */
  async closed(connection: Connection): Promise<void> {
    const session = this.sessions.get(connection);
    if (!session) return;
    this.sessions.delete(connection);
    clearTimeout(session.expiry);
    connection.close(1000, 'closed');
    await this.hub.unregister(connection);
    if (!this.stopped) {
      await this.deps.realtime
        .disconnected(connection.tenantId, connection.userId, this.nodeId)
        .catch((error: unknown) => this.deps.log.warn({ err: error }, 'presence update failed'));
    }
  }

  /**
   * A frame from the client: `ping` or `typing`; anything else closes with 4400. Never rejects:
   * a refusal is sent to the client as an `error` frame, and so is a storage failure (a Redis
   * stall), which is logged — a client's frame must not be able to take the node down.
   */
  async onClientFrame(connection: Connection, text: string): Promise<void> {
    const session = this.sessions.get(connection);
    if (!session) return;
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      return connection.close(CloseCodes.badFrame, 'frames are JSON');
    }
    const type = typeof frame === 'object' && frame !== null ? (frame as { type?: unknown }).type : undefined;
    if (type === 'ping') return connection.sendControl('{"type":"pong"}');
    if (type === 'typing') {
      const conversationId = (frame as { conversationId?: unknown }).conversationId;
      if (typeof conversationId !== 'string' || conversationId.length === 0 || conversationId.length > 128) {
        return connection.close(CloseCodes.badFrame, 'typing needs a conversationId');
      }
      if (!this.allowTyping(session)) return;
      try {
        await this.deps.realtime.typing(session.principal, conversationId as ConversationId);
      } catch (error) {
        if (error instanceof ServiceError) {
          connection.sendControl(JSON.stringify({ type: 'error', code: error.code, detail: error.detail }));
          return;
        }
        this.deps.log.warn({ err: error }, 'typing frame failed');
        const { title } = ERROR_CODES.storage_unavailable;
        connection.sendControl(JSON.stringify({ type: 'error', code: 'storage_unavailable', detail: title }));
      }
      return;
    }
    connection.close(CloseCodes.badFrame, 'unknown frame type');
  }

  /**
   * The user's account is gone (a revocation heard from any node): their connections on this node
   * close as an expired token's do (4001), so clients stop rather than reconnect.
   */
  closeUser(tenantId: TenantId, userId: UserId): void {
    this.hub.closeUser(tenantId, userId, CloseCodes.unauthorized, 'account deleted');
  }

  /** Shutdown: every client is told to reconnect elsewhere (1012); presence leaves with the node. */
  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    for (const session of this.sessions.values()) clearTimeout(session.expiry);
    await this.hub.close(CloseCodes.restart, 'server shutting down');
    await this.deps.realtime.leave(this.nodeId).catch((error: unknown) => this.deps.log.warn({ err: error }, 'presence leave failed'));
  }

  /** Closes up to `excess` of the user's connections on this node, oldest first, never `newest`. */
  private closeOldest(newest: Connection, excess: number): void {
    for (const { connection } of this.sessions.values()) {
      if (excess <= 0) return;
      if (connection === newest || connection.isClosed || connection.userId !== newest.userId || connection.tenantId !== newest.tenantId) continue;
      connection.close(CloseCodes.tooManyConnections, 'too many connections; this was the oldest');
      excess -= 1;
    }
  }

  private allowTyping(session: Session): boolean {
    const now = this.deps.clock();
    const { typingLimit, typingWindowMs } = this.deps.settings;
    if (now - session.typingWindowStart >= typingWindowMs) {
      session.typingWindowStart = now;
      session.typingCount = 0;
    }
    session.typingCount += 1;
    return session.typingCount <= typingLimit;
  }
}
