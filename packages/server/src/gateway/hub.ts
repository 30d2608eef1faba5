/**
 * One node's realtime hub: it keeps this node's connections in memory, follows (subscribes to)
 * exactly the topics they need — each local user's inbox and each conversation a local user is a
 * member of — and hands every message it hears to the local connections it concerns.
 *
 * Each event is parsed once (by the engine's subscriber) and serialised once here, whatever the
 * number of local recipients. Messages are processed one at a time in arrival order, so events of
 * a conversation reach connections in log order even when presenting one needs a read. A message
 * for many connections is handed over DELIVERY_SLICE connections at a time, with a turn of the
 * event loop between slices, so a large group never holds the node (its REST requests, its other
 * sockets) for longer than one slice; the next message waits until the last slice is done.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Engine, Subscriber } from '../engine/engine.js';
import type { EventEnvelope, TopicMessage } from '../domain/events.js';
import type { ConversationId, TenantId } from '../domain/types.js';
import type { RealtimeService } from '../services/realtime-service.js';
import type { Connection, ConnectionHost, ConnectionSettings } from './connection.js';
import { NO_REALTIME_OBSERVER, type RealtimeObserver, type TransportKind } from './realtime-observer.js';
import { CloseCodes } from './transport.js';
import { ephemeralFrame, needsMembers, presentEvent, type PresentedEvent } from './wire-events.js';

export interface HubDeps {
  pubsub: Engine['pubsub'];
  realtime: RealtimeService;
  clock: () => number;
  settings: ConnectionSettings;
  onError: (error: unknown, context: string) => void;
  /** Told what the hub and its connections do, for metrics; default: nobody. */
  observer?: RealtimeObserver;
}

/** Topic messages heard but not yet handed to connections. */
const MAX_QUEUED_MESSAGES = 50_000;
/** Connections handed one message before the hub lets the event loop run (a slice takes about a millisecond). */
export const DELIVERY_SLICE = 128;

/**
 * Calls `hand` for each connection (a copy of the set taken now), yielding to the event loop
 * between slices. Connections closed meanwhile are still called and ignore the message.
 */
async function inSlices(connections: Iterable<Connection>, hand: (connection: Connection) => void): Promise<void> {
  const recipients = [...connections];
  for (let start = 0; start < recipients.length; start += DELIVERY_SLICE) {
    if (start > 0) await nextTurn();
    const end = Math.min(start + DELIVERY_SLICE, recipients.length);
    for (let i = start; i < end; i++) hand(recipients[i]!);
  }
}

const key = (tenantId: TenantId, id: string) => `${tenantId}\u0000${id}`;

export class Hub implements ConnectionHost {
  readonly realtime: RealtimeService;
  readonly clock: () => number;
  readonly settings: ConnectionSettings;
  readonly observer: RealtimeObserver;
  private readonly subscriber: Subscriber;
  private readonly byUser = new Map<string, Set<Connection>>();
  private readonly byConversation = new Map<string, Set<Connection>>();
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;

  constructor(private readonly deps: HubDeps) {
    this.realtime = deps.realtime;
    this.clock = deps.clock;
    this.settings = deps.settings;
    this.observer = deps.observer ?? NO_REALTIME_OBSERVER;
    this.subscriber = deps.pubsub.createSubscriber(
      (message) => {
        // Bounded: a node that falls this far behind its topics lets its clients resume elsewhere
        // (or here, later) from their cursors rather than queueing without limit.
        // A dropped message would be a gap for whoever follows its topic, so they all go.
        if (this.queued >= MAX_QUEUED_MESSAGES) return this.closeAll(CloseCodes.restart, 'node overloaded; resume with your cursor');
        this.queued += 1;
        this.observer.received(message.kind);
        this.queue = this.queue.then(() => this.dispatch(message)).finally(() => (this.queued -= 1));
      },
      // Events published while the subscription was down were not heard: every client resumes
      // from its cursor (on this node or another), which replays them from the logs.
      () => this.closeAll(CloseCodes.restart, 'event stream interrupted; resume with your cursor'),
    );
  }

  get connectionCount(): number {
    let count = 0;
    for (const connections of this.byUser.values()) count += connections.size;
    return count;
  }

  /** Open connections of one transport (read when metrics are scraped: it walks every connection). */
  connectionsOver(kind: TransportKind): number {
    let count = 0;
    for (const connections of this.byUser.values()) for (const connection of connections) if (connection.transportKind === kind) count += 1;
    return count;
  }

  get followedConversations(): number {
    return this.byConversation.size;
  }

  /** Adds a connection and follows its user's inbox; call before `connection.start`. */
  async register(connection: Connection): Promise<void> {
    const userKey = key(connection.tenantId, connection.userId);
    let connections = this.byUser.get(userKey);
    if (!connections) {
      connections = new Set();
      this.byUser.set(userKey, connections);
      await this.subscriber.subscribeUsers(connection.tenantId, [connection.userId]);
    }
    connections.add(connection);
  }

  /** Removes a connection and stops following what no other local connection needs. */
  async unregister(connection: Connection): Promise<void> {
    for (const conversationId of connection.following.keys()) this.unfollow(connection, conversationId);
    const userKey = key(connection.tenantId, connection.userId);
    const connections = this.byUser.get(userKey);
    if (!connections?.delete(connection) || connections.size > 0) return;
    this.byUser.delete(userKey);
    await this.subscriber.unsubscribeUsers(connection.tenantId, [connection.userId]).catch((error: unknown) => {
      this.deps.onError(error, 'unsubscribe user');
    });
  }

  async follow(connection: Connection, conversationIds: readonly ConversationId[]): Promise<void> {
    const fresh: ConversationId[] = [];
    for (const conversationId of conversationIds) {
      const topic = key(connection.tenantId, conversationId);
      let followers = this.byConversation.get(topic);
      if (!followers) {
        followers = new Set();
        this.byConversation.set(topic, followers);
        fresh.push(conversationId);
      }
      followers.add(connection);
    }
    if (fresh.length > 0) await this.subscriber.subscribeConversations(connection.tenantId, fresh);
  }

  unfollow(connection: Connection, conversationId: ConversationId): void {
    const topic = key(connection.tenantId, conversationId);
    const followers = this.byConversation.get(topic);
    if (!followers?.delete(connection) || followers.size > 0) return;
    this.byConversation.delete(topic);
    this.subscriber.unsubscribeConversations(connection.tenantId, [conversationId]).catch((error: unknown) => {
      this.deps.onError(error, 'unsubscribe conversation');
    });
  }

  async present(tenantId: TenantId, envelope: EventEnvelope): Promise<PresentedEvent> {
    if (!needsMembers(envelope) || !('conversationId' in envelope.event)) return presentEvent(envelope);
    return presentEvent(envelope, await this.realtime.firstMembers(tenantId, envelope.event.conversationId));
  }

  /** Closes every connection (shutdown: 1012 so clients reconnect elsewhere) and the subscriber. */
  async close(code: number, reason: string): Promise<void> {
    this.closeAll(code, reason);
    await this.subscriber.close();
  }

  /** Closes every connection of the user on this node. */
  closeUser(tenantId: TenantId, userId: string, code: number, reason: string): void {
    for (const connection of [...(this.byUser.get(key(tenantId, userId)) ?? [])]) connection.close(code, reason);
  }

  /** Closes every connection; clients resume from their cursors. */
  closeAll(code: number, reason: string): void {
    for (const connections of [...this.byUser.values()]) for (const connection of [...connections]) connection.close(code, reason);
  }

  private async dispatch(message: TopicMessage): Promise<void> {
    try {
      if (message.kind === 'inbox') {
        const connections = this.byUser.get(key(message.tenantId, message.userId));
        if (!connections?.size) return;
        const presented = await this.present(message.tenantId, message.envelope);
        for (const connection of connections) connection.onInboxEvent(presented);
        return;
      }
      const followers = this.byConversation.get(key(message.tenantId, message.conversationId));
      if (!followers?.size) return;
      if (message.kind === 'event') {
        const presented = await this.present(message.tenantId, message.envelope);
        await inSlices(followers, (connection) => connection.onConversationEvent(message.conversationId, presented));
        return;
      }
      const { event } = message;
      const frame = ephemeralFrame(event);
      await inSlices(followers, (connection) => {
        if (connection.userId === event.userId) return;
        if (event.type === 'typing') connection.sendEphemeral(frame);
        else connection.sendPresence(event.userId, frame);
      });
    } catch (error) {
      this.deps.onError(error, `dispatch ${message.kind}`);
    }
  }
}
