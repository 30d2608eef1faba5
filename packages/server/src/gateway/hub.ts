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
 *
 * Presence changes are gathered per conversation for PRESENCE_BATCH_MS and handed over together
 * (a user's repeats within the window collapse to their last state), so each socket gets a
 * window's presence frames in one write: a group of n members coming online costs n² frames
 * (the API's presence is per user) but about n²/k writes, k the changes per window.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Engine, Subscriber } from '../engine/engine.js';
import type { EventEnvelope, TopicMessage } from '../domain/events.js';
import type { ConversationId, TenantId, UserId } from '../domain/types.js';
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
/** Frames handed to connections before the hub lets the event loop run (a slice takes about a millisecond). */
export const DELIVERY_SLICE = 128;
/** How long presence changes of a conversation are gathered before its followers get them. */
export const PRESENCE_BATCH_MS = 20;
/**
 * How long a connection remembers the presence states it was sent, to drop the copies of one
 * change that come through other shared conversations (within a batch window or so of the first).
 */
export const PRESENCE_MEMORY_MS = 5_000;
/** A conversation's gathered presence changes are handed over at once when they concern this many users. */
const MAX_PRESENCE_BATCH = 1000;

/** Presence changes heard for one conversation and not yet handed over: user → their last frame, and when it was heard. */
interface PresenceBatch {
  frames: Map<UserId, { frame: string; heard: number }>;
  timer: NodeJS.Timeout;
}

/**
 * Calls `hand` for each connection (a copy of the set taken now), yielding to the event loop
 * between slices of `perSlice` connections. Connections closed meanwhile are still called and
 * ignore what they are handed.
 */
async function inSlices(connections: Iterable<Connection>, hand: (connection: Connection) => void, perSlice = DELIVERY_SLICE): Promise<void> {
  const recipients = [...connections];
  for (let start = 0; start < recipients.length; start += perSlice) {
    if (start > 0) await nextTurn();
    const end = Math.min(start + perSlice, recipients.length);
    for (let i = start; i < end; i++) hand(recipients[i]!);
  }
}

const key = (tenantId: TenantId, id: string) => `${tenantId}\u0000${id}`;

/** A user's connections on the node: most users have one, held as is rather than in a Set (~150 bytes). */
type UserConnections = Connection | Set<Connection>;
const each = (connections: UserConnections | undefined): Iterable<Connection> =>
  connections === undefined ? [] : connections instanceof Set ? connections : [connections];
const countOf = (connections: UserConnections) => (connections instanceof Set ? connections.size : 1);

export class Hub implements ConnectionHost {
  readonly realtime: RealtimeService;
  readonly clock: () => number;
  readonly settings: ConnectionSettings;
  readonly observer: RealtimeObserver;
  private readonly subscriber: Subscriber;
  private readonly byUser = new Map<string, UserConnections>();
  private readonly byConversation = new Map<string, Set<Connection>>();
  private queue: Promise<void> = Promise.resolve();
  private presenceQueue: Promise<void> = Promise.resolve();
  private queued = 0;
  private readonly presenceBatches = new Map<string, PresenceBatch>();
  /** Orders registrations and presence changes: a connection gets only the changes heard after it registered, as without batching. */
  private sequence = 0;
  private readonly registeredAt = new WeakMap<Connection, number>();
  /** Lets idle connections drop the presence states they remember (a sweep per node, not a timer per connection). */
  private readonly presenceSweep = setInterval(() => {
    const before = Date.now() - PRESENCE_MEMORY_MS;
    for (const connections of this.byUser.values()) for (const connection of each(connections)) connection.forgetPresenceBefore(before);
  }, PRESENCE_MEMORY_MS).unref();

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
        this.observer.received(message.kind);
        this.enqueue(() => this.dispatch(message));
      },
      // Events published while the subscription was down were not heard: every client resumes
      // from its cursor (on this node or another), which replays them from the logs.
      () => this.closeAll(CloseCodes.restart, 'event stream interrupted; resume with your cursor'),
    );
  }

  get connectionCount(): number {
    let count = 0;
    for (const connections of this.byUser.values()) count += countOf(connections);
    return count;
  }

  /** Open connections of one transport (read when metrics are scraped: it walks every connection). */
  connectionsOver(kind: TransportKind): number {
    let count = 0;
    for (const connections of this.byUser.values()) for (const connection of each(connections)) if (connection.transportKind === kind) count += 1;
    return count;
  }

  get followedConversations(): number {
    return this.byConversation.size;
  }

  /** Adds a connection and follows its user's inbox; call before `connection.start`. */
  async register(connection: Connection): Promise<void> {
    this.registeredAt.set(connection, ++this.sequence);
    const userKey = key(connection.tenantId, connection.userId);
    const connections = this.byUser.get(userKey);
    if (connections === undefined) this.byUser.set(userKey, connection);
    else if (connections instanceof Set) connections.add(connection);
    else if (connections !== connection) this.byUser.set(userKey, new Set([connections, connection]));
    // Every connection waits for the subscription, not only the user's first: the subscriber
    // shares one SUBSCRIBE among them, and a connection must not read its memberships before
    // its inbox is heard (a join in between would be missed).
    try {
      await this.subscriber.subscribeUsers(connection.tenantId, [connection.userId]);
    } catch (error) {
      this.removeFromUser(userKey, connection);
      throw error;
    }
  }

  /** Removes a connection and stops following what no other local connection needs. */
  async unregister(connection: Connection): Promise<void> {
    for (const conversationId of connection.following.keys()) this.unfollow(connection, conversationId);
    const userKey = key(connection.tenantId, connection.userId);
    if (!this.removeFromUser(userKey, connection)) return;
    await this.subscriber.unsubscribeUsers(connection.tenantId, [connection.userId]).catch((error: unknown) => {
      this.deps.onError(error, 'unsubscribe user');
    });
  }

  /** Takes the connection out of its user's entry; true when that left the user with none on this node. */
  private removeFromUser(userKey: string, connection: Connection): boolean {
    const connections = this.byUser.get(userKey);
    if (connections instanceof Set) {
      if (!connections.delete(connection)) return false;
      if (connections.size === 1) this.byUser.set(userKey, connections.values().next().value!);
      return false;
    }
    if (connections !== connection) return false;
    this.byUser.delete(userKey);
    return true;
  }

  async follow(connection: Connection, conversationIds: readonly ConversationId[]): Promise<void> {
    for (const conversationId of conversationIds) {
      const topic = key(connection.tenantId, conversationId);
      let followers = this.byConversation.get(topic);
      if (!followers) {
        followers = new Set();
        this.byConversation.set(topic, followers);
      }
      followers.add(connection);
    }
    // All of them, not only the topics new to this node: one still being subscribed for another
    // connection must be heard before this one reads the logs (the subscriber shares the command).
    // On failure the caller closes the connection, whose unregister unfollows them.
    if (conversationIds.length > 0) await this.subscriber.subscribeConversations(connection.tenantId, conversationIds);
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
    clearInterval(this.presenceSweep);
    for (const batch of this.presenceBatches.values()) clearTimeout(batch.timer);
    this.presenceBatches.clear();
    this.closeAll(code, reason);
    await this.subscriber.close();
  }

  /** Closes every connection of the user on this node. */
  closeUser(tenantId: TenantId, userId: string, code: number, reason: string): void {
    for (const connection of [...each(this.byUser.get(key(tenantId, userId)))]) connection.close(code, reason);
  }

  /** Closes every connection; clients resume from their cursors. */
  closeAll(code: number, reason: string): void {
    for (const connections of [...this.byUser.values()]) for (const connection of [...each(connections)]) connection.close(code, reason);
  }

  /** Runs `work` after everything queued before it: the hub hands over one thing at a time. */
  private enqueue(work: () => Promise<void>): void {
    this.queued += 1;
    this.queue = this.queue.then(work).finally(() => (this.queued -= 1));
  }

  /**
   * Presence hand-overs run in a queue of their own: they are not ordered with durable events,
   * and a large batch handed out a few connections per turn must not hold those up. At most one
   * batch per conversation waits in it.
   */
  private enqueuePresence(work: () => Promise<void>): void {
    this.presenceQueue = this.presenceQueue.then(work);
  }

  /** Adds a presence change to its conversation's batch, which is handed over when the window ends or it is full. */
  private gatherPresence(topic: string, userId: UserId, frame: string): void {
    let batch = this.presenceBatches.get(topic);
    if (!batch) {
      const timer = setTimeout(() => this.enqueuePresence(() => this.handPresence(topic)), PRESENCE_BATCH_MS);
      batch = { frames: new Map(), timer };
      this.presenceBatches.set(topic, batch);
    }
    // A repeat replaces the user's earlier state and moves to the end: frames go out in the order of last changes.
    batch.frames.delete(userId);
    batch.frames.set(userId, { frame, heard: ++this.sequence });
    if (batch.frames.size === MAX_PRESENCE_BATCH) this.enqueuePresence(() => this.handPresence(topic));
  }

  /** Hands a conversation's gathered presence changes to its followers, each connection all of them at once (others' only). */
  private async handPresence(topic: string): Promise<void> {
    const batch = this.presenceBatches.get(topic);
    if (!batch) return;
    this.presenceBatches.delete(topic);
    clearTimeout(batch.timer);
    const followers = this.byConversation.get(topic);
    if (!followers?.size) return;
    const frames = [...batch.frames];
    const handTo = (connection: Connection) => {
      const since = this.registeredAt.get(connection) ?? 0;
      for (const [userId, { frame, heard }] of frames) if (heard > since && connection.userId !== userId) connection.sendPresence(userId, frame);
    };
    try {
      await inSlices(followers, handTo, Math.max(1, Math.floor(DELIVERY_SLICE / frames.length)));
    } catch (error) {
      this.deps.onError(error, 'dispatch presence');
    }
  }

  private async dispatch(message: TopicMessage): Promise<void> {
    try {
      if (message.kind === 'inbox') {
        if (!this.byUser.has(key(message.tenantId, message.userId))) return;
        const presented = await this.present(message.tenantId, message.envelope);
        // Read again after presenting: connections may have come or gone meanwhile, as with a Set.
        for (const connection of [...each(this.byUser.get(key(message.tenantId, message.userId)))]) connection.onInboxEvent(presented);
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
      if (event.type === 'presence') return this.gatherPresence(key(message.tenantId, message.conversationId), event.userId, frame);
      await inSlices(followers, (connection) => {
        if (connection.userId !== event.userId) connection.sendEphemeral(frame);
      });
    } catch (error) {
      this.deps.onError(error, `dispatch ${message.kind}`);
    }
  }
}
