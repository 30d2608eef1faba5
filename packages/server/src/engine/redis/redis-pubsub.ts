/**
 * Topics over Redis pub/sub. Each conversation's channel and each user's channel is named after
 * its slot (redis-keys.ts), and every event is published once, by the script that logs it (or
 * here, for ephemeral events): never once per recipient.
 *
 * Standalone and Sentinel: PUBLISH, and a subscriber is one duplicated connection in SUBSCRIBE
 * mode. Cluster: sharded pub/sub. SPUBLISH goes to the node that owns the channel's slot (the
 * conversation's or user's), and a subscriber is a duplicated Cluster client with ioredis's
 * `shardedSubscribers` option: one subscriber connection per master, opened when a channel of
 * that master is first subscribed, each SSUBSCRIBE sent to the master owning its channel's slot
 * and re-sent by ioredis when slots move or a master's connection is lost (a loss is reported
 * as an interruption: see reportShardLosses). Nothing is broadcast over the cluster bus.
 *
 * Messages on a conversation channel are envelopes {"id","at","event"} (durable) or
 * {"ephemeral": event}; on a user channel, envelopes (the inbox). The subscriber parses each once,
 * checks it field by field and drops anything malformed or from a channel it does not hold.
 */
import type { Cluster, Redis } from 'ioredis';
import type { EphemeralEvent, TopicMessage } from '../../domain/events.js';
import type { ConversationId, TenantId, UserId } from '../../domain/types.js';
import type { PubSub, StorageConnectionState, Subscriber } from '../engine.js';
import { CLUSTER_RESEND_DELAY_MS } from './redis-connection.js';
import { isCluster, type RedisClient } from './redis-context.js';
import { guard } from './redis-guard.js';
import type { RedisKeys } from './redis-keys.js';
import { parseEnvelope, parseEphemeralEvent } from './redis-replies.js';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The TopicMessage of a channel message; null when the channel or the text is not one of ours. */
export function parseTopicMessage(keys: RedisKeys, channel: string, text: string): TopicMessage | null {
  const owner = keys.parseTopic(channel);
  if (!owner) return null;
  try {
    const value = JSON.parse(text) as unknown;
    if (owner.kind === 'user') return { kind: 'inbox', tenantId: owner.tenantId, userId: owner.userId, envelope: parseEnvelope(value) };
    const { tenantId, conversationId } = owner;
    if (isObject(value) && 'ephemeral' in value) {
      const event = parseEphemeralEvent(value.ephemeral);
      if (event.type === 'typing' && event.conversationId !== conversationId) return null;
      return { kind: 'ephemeral', tenantId, conversationId, event };
    }
    const envelope = parseEnvelope(value);
    return envelope.event.conversationId === conversationId ? { kind: 'event', tenantId, conversationId, envelope } : null;
  } catch {
    return null;
  }
}

export class RedisPubSub implements PubSub {
  private readonly subscribers = new Set<RedisSubscriber>();

  constructor(
    private readonly client: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  publishEphemeral(tenantId: TenantId, conversationId: ConversationId, event: EphemeralEvent): Promise<void> {
    return guard(async () => {
      const channel = this.keys.conversationTopic(tenantId, conversationId);
      const payload = JSON.stringify({ ephemeral: event });
      if (isCluster(this.client)) await this.client.spublish(channel, payload);
      else await this.client.publish(channel, payload);
    });
  }

  createSubscriber(onMessage: (message: TopicMessage) => void, onInterrupted?: () => void): Subscriber {
    const subscriber = new RedisSubscriber(this.client, this.keys, onMessage, () => this.subscribers.delete(subscriber), onInterrupted);
    this.subscribers.add(subscriber);
    return subscriber;
  }

  /** Each open subscriber's connection: up when it is connected and ready (for metrics). */
  connectionStates(): StorageConnectionState[] {
    return [...this.subscribers].map((subscriber) => ({ role: 'subscriber', up: subscriber.isUp }));
  }

  /** Closes every subscriber still open (the engine is closing). */
  async closeAll(): Promise<void> {
    await Promise.all([...this.subscribers].map((subscriber) => subscriber.close()));
  }
}

class RedisSubscriber implements Subscriber {
  private readonly connection: RedisClient;
  /** Channel → its (pending or done) subscription: subscribing twice waits for the one subscription. */
  private readonly channels = new Map<string, Promise<void>>();
  /**
   * Channel → the last (un)subscription sent for it, until it has settled. The next one for the
   * channel is sent only then, so Redis sees them in the order they were asked for: ioredis
   * retries a command whose connection was lost (a shard's subscriber) on the next connection a
   * little later, and an UNSUBSCRIBE retried there after a newer SUBSCRIBE would silently undo it.
   */
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Channels to SUBSCRIBE at the end of this turn of the event loop, with the promise of that command. */
  private batch: { channels: string[]; sent: Promise<void> } | null = null;
  private closed = false;

  constructor(
    client: RedisClient,
    private readonly keys: RedisKeys,
    private readonly onMessage: (message: TopicMessage) => void,
    private readonly onClose: () => void,
    onInterrupted?: () => void,
  ) {
    const deliver = (channel: string, text: string) => this.deliver(channel, text);
    // Auto-pipelining would batch (S)SUBSCRIBE like a data command; a subscriber sends them itself.
    // A (S)SUBSCRIBE or (S)UNSUBSCRIBE in flight when the connection drops is sent again once it
    // is back (idempotent; the commands connection never resends, see redis-connection.ts): on a
    // standalone or Sentinel connection by autoResendUnfulfilledCommands, on Cluster also by
    // its resend delay, which the commands connection sets to 0.
    if (isCluster(client)) {
      this.connection = client.duplicate([], {
        shardedSubscribers: true,
        enableAutoPipelining: false,
        retryDelayOnFailover: CLUSTER_RESEND_DELAY_MS,
        redisOptions: { ...client.options.redisOptions, autoResendUnfulfilledCommands: true },
      });
      this.connection.on('smessage', deliver);
    } else {
      this.connection = client.duplicate({ enableAutoPipelining: false, autoResendUnfulfilledCommands: true });
      this.connection.on('message', deliver);
    }
    // ioredis resubscribes after reconnecting, but what was published meanwhile is gone: say so.
    this.connection.on('close', () => {
      if (!this.closed) onInterrupted?.();
    });
    if (isCluster(client)) this.reportShardLosses(this.connection as Cluster, onInterrupted);
    // The same error reporting as the engine's own connection (e.g. the logger).
    for (const listener of client.listeners('error')) this.connection.on('error', listener as (error: Error) => void);
  }

  /**
   * On Cluster each master has its own subscriber connection, and losing one of them (its master
   * failed, restarted or dropped the connection) is not a 'close' of the whole client: ioredis
   * reports it as '-node', refreshes the slot map, opens a new connection to the slot's master
   * and re-sends its SSUBSCRIBEs, then emits 'subscribersReady'. What was published on that
   * master's channels in between is gone, so the loss is reported twice: at once, so that
   * whoever relied on hearing everything stops and catches up from the logs; and again once the
   * subscriptions are back, because whoever caught up in between (a reconnecting client) may
   * have relied on a channel that was not yet subscribed again. The re-sent SSUBSCRIBEs are
   * written before that second report, so they reach Redis before anything a reaction to it does.
   * Further '-node's while a loss is outstanding (a master still down: each failed reconnect
   * ends with one) add nothing: the report after the subscriptions are back covers them.
   * A '-node' for a data connection of this client (the connection pool's: it names no node key
   * and carries no subscription) is reported too, once and without the latch: it is rare (a node
   * left or failed), a needless catch-up loses nothing, and no 'subscribersReady' follows it, so
   * latching it would delay the immediate report of a real subscriber loss after it.
   */
  private reportShardLosses(connection: Cluster, onInterrupted?: () => void): void {
    let lost = false;
    connection.on('-node', (_node: unknown, subscriberNodeKey?: string) => {
      if (this.closed) return;
      if (subscriberNodeKey === undefined) {
        onInterrupted?.();
        return;
      }
      if (lost) return;
      lost = true;
      onInterrupted?.();
    });
    connection.on('subscribersReady', () => {
      if (this.closed || !lost) return;
      lost = false;
      onInterrupted?.();
    });
  }

  subscribeConversations(tenantId: TenantId, conversationIds: readonly ConversationId[]): Promise<void> {
    return this.subscribe(conversationIds.map((id) => this.keys.conversationTopic(tenantId, id)));
  }

  unsubscribeConversations(tenantId: TenantId, conversationIds: readonly ConversationId[]): Promise<void> {
    return this.unsubscribe(conversationIds.map((id) => this.keys.conversationTopic(tenantId, id)));
  }

  subscribeUsers(tenantId: TenantId, userIds: readonly UserId[]): Promise<void> {
    return this.subscribe(userIds.map((id) => this.keys.userTopic(tenantId, id)));
  }

  unsubscribeUsers(tenantId: TenantId, userIds: readonly UserId[]): Promise<void> {
    return this.unsubscribe(userIds.map((id) => this.keys.userTopic(tenantId, id)));
  }

  get isUp(): boolean {
    return this.connection.status === 'ready';
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.channels.clear();
    this.onClose();
    try {
      await this.connection.quit();
    } catch {
      this.connection.disconnect();
    }
  }

  private subscribe(channels: readonly string[]): Promise<void> {
    return guard(async () => {
      if (this.closed) throw new Error('the subscriber is closed');
      const waits: Promise<void>[] = [];
      const fresh: string[] = [];
      for (const channel of new Set(channels)) {
        const existing = this.channels.get(channel);
        if (existing) waits.push(existing);
        else fresh.push(channel);
      }
      if (fresh.length > 0) {
        const subscribed = this.inOrder(fresh, () => this.send('subscribe', fresh));
        for (const channel of fresh) this.channels.set(channel, subscribed);
        // A failed subscription is forgotten, so that subscribing again retries it.
        subscribed.catch(() => {
          for (const channel of fresh) if (this.channels.get(channel) === subscribed) this.channels.delete(channel);
        });
        waits.push(subscribed);
      }
      await Promise.all(waits);
    });
  }

  private unsubscribe(channels: readonly string[]): Promise<void> {
    return guard(async () => {
      if (this.closed) return;
      const held = [...new Set(channels)].filter((channel) => this.channels.delete(channel));
      if (held.length > 0) await this.inOrder(held, () => this.send('unsubscribe', held));
    });
  }

  /** Runs `operation` once the previous operation on each of `channels` has settled (see inFlight). */
  private inOrder(channels: readonly string[], operation: () => Promise<void>): Promise<void> {
    const previous = channels.flatMap((channel) => this.inFlight.get(channel) ?? []);
    const done = previous.length > 0 ? Promise.all(previous).then(operation) : operation();
    // Once settled, forgotten unless a later operation took its place: the map holds only what is in flight.
    const forget = () => {
      for (const channel of channels) if (this.inFlight.get(channel) === settled) this.inFlight.delete(channel);
    };
    const settled: Promise<void> = done.then(forget, forget);
    for (const channel of channels) this.inFlight.set(channel, settled);
    return done;
  }

  /** On Cluster one SSUBSCRIBE per channel: every channel is in a slot of its own. */
  private async send(action: 'subscribe' | 'unsubscribe', channels: string[]): Promise<void> {
    const connection = this.connection;
    if (isCluster(connection)) {
      await Promise.all(channels.map((channel) => (action === 'subscribe' ? connection.ssubscribe(channel) : connection.sunsubscribe(channel))));
    } else if (action === 'subscribe') {
      await this.subscribeBatched(connection as Redis, channels);
    } else {
      await (connection as Redis).unsubscribe(...channels);
    }
  }

  /**
   * The subscriptions asked for in one turn of the event loop go out as one SUBSCRIBE: one write
   * and one reply instead of one per connection (a thousand clients connecting at once are a
   * thousand subscriptions; one write each was the biggest single cost of a connect in the
   * `connections` profile). Each caller resolves once the whole command is confirmed.
   */
  private subscribeBatched(connection: Redis, channels: string[]): Promise<void> {
    if (this.batch === null) {
      const batch: { channels: string[]; sent: Promise<void> } = { channels: [], sent: Promise.resolve() };
      batch.sent = new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
        if (this.batch === batch) this.batch = null;
        if (this.closed) throw new Error('the subscriber is closed');
        await connection.subscribe(...batch.channels);
      });
      this.batch = batch;
    }
    this.batch.channels.push(...channels);
    return this.batch.sent;
  }

  private deliver(channel: string, text: string): void {
    // Only channels held now: nothing arrives after its unsubscribe was called.
    if (this.closed || !this.channels.has(channel)) return;
    const message = parseTopicMessage(this.keys, channel, text);
    if (!message) return;
    try {
      this.onMessage(message);
    } catch {
      // onMessage must not throw; if it does, the connection's reader must not die of it.
    }
  }
}
