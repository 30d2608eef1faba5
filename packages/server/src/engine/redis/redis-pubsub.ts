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
 * and re-sent by ioredis when slots move. Nothing is broadcast over the cluster bus.
 *
 * Messages on a conversation channel are envelopes {"id","at","event"} (durable) or
 * {"ephemeral": event}; on a user channel, envelopes (the inbox). The subscriber parses each once,
 * checks it field by field and drops anything malformed or from a channel it does not hold.
 */
import type { Cluster, Redis } from 'ioredis';
import type { EphemeralEvent, TopicMessage } from '../../domain/events.js';
import type { ConversationId, TenantId, UserId } from '../../domain/types.js';
import type { PubSub, StorageConnectionState, Subscriber } from '../engine.js';
import type { RedisClient } from './redis-context.js';
import { guard } from './redis-guard.js';
import type { RedisKeys } from './redis-keys.js';
import { parseEnvelope, parseEphemeralEvent } from './redis-replies.js';

function isCluster(client: RedisClient): client is Cluster {
  return client.isCluster;
}

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
    if (isCluster(client)) {
      this.connection = client.duplicate([], { shardedSubscribers: true, enableAutoPipelining: false });
      this.connection.on('smessage', deliver);
    } else {
      this.connection = client.duplicate({ enableAutoPipelining: false });
      this.connection.on('message', deliver);
    }
    // ioredis resubscribes after reconnecting, but what was published meanwhile is gone: say so.
    // (On Cluster this sees the loss of the whole subscriber; a single shard's reconnect is not reported.)
    this.connection.on('close', () => {
      if (!this.closed) onInterrupted?.();
    });
    // The same error reporting as the engine's own connection (e.g. the logger).
    for (const listener of client.listeners('error')) this.connection.on('error', listener as (error: Error) => void);
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
        const subscribed = this.send('subscribe', fresh);
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
      if (held.length > 0) await this.send('unsubscribe', held);
    });
  }

  /** On Cluster one SSUBSCRIBE per channel: every channel is in a slot of its own. */
  private async send(action: 'subscribe' | 'unsubscribe', channels: string[]): Promise<void> {
    const connection = this.connection;
    if (isCluster(connection)) {
      await Promise.all(channels.map((channel) => (action === 'subscribe' ? connection.ssubscribe(channel) : connection.sunsubscribe(channel))));
    } else if (action === 'subscribe') {
      await (connection as Redis).subscribe(...channels);
    } else {
      await (connection as Redis).unsubscribe(...channels);
    }
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
