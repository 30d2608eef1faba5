/**
 * PubSub in memory: an in-process bus with one topic per conversation and one per user, per
 * tenant. It keeps the promises the Redis engine keeps with (sharded) pub/sub:
 *   - delivery is asynchronous: a publish only queues the message, never calls `onMessage`
 *     inside the publishing call (so a mutation never runs listener code in its atomic step);
 *   - each subscriber hears messages in the order they were published (one FIFO queue per
 *     subscriber, so the order of each topic is kept);
 *   - subscriptions are sets, not counts, as Redis channel subscriptions are: subscribing to a
 *     topic twice hears each message once, and one unsubscribe ends it;
 *   - a message is addressed to the subscribers of its topic when it is published: one queued
 *     before an unsubscribe is still heard, and it is heard before the unsubscribe's caller
 *     resumes (the queue drains in a microtask queued before that caller's continuation).
 * Every delivery is a copy, as a message parsed from Redis would be.
 */
import type { EphemeralEvent, TopicMessage } from '../../domain/events.js';
import type { ConversationId, TenantId, UserId } from '../../domain/types.js';
import type { PubSub, Subscriber } from '../engine.js';

export function conversationTopic(tenantId: TenantId, conversationId: ConversationId): string {
  return JSON.stringify([tenantId, 'c', conversationId]);
}

export function userTopic(tenantId: TenantId, userId: UserId): string {
  return JSON.stringify([tenantId, 'u', userId]);
}

export class MemoryBus implements PubSub {
  /** topic → the subscribers that hear it. */
  private readonly listeners = new Map<string, Set<MemorySubscriber>>();
  private closed = false;

  /** Queues `message` for every current subscriber of `topic`. The bus owns `message` from now on. */
  publish(topic: string, message: TopicMessage): void {
    if (this.closed) return;
    const subscribers = this.listeners.get(topic);
    if (!subscribers) return;
    for (const subscriber of subscribers) subscriber.enqueue(message);
  }

  async publishEphemeral(tenantId: TenantId, conversationId: ConversationId, event: EphemeralEvent): Promise<void> {
    this.publish(conversationTopic(tenantId, conversationId), {
      kind: 'ephemeral',
      tenantId,
      conversationId,
      event: structuredClone(event),
    });
  }

  createSubscriber(onMessage: (message: TopicMessage) => void): Subscriber {
    return new MemorySubscriber(this, onMessage);
  }

  /** Stops every delivery (the engine closes). */
  close(): void {
    this.closed = true;
    for (const subscribers of this.listeners.values()) for (const subscriber of subscribers) subscriber.detach();
    this.listeners.clear();
  }

  add(topic: string, subscriber: MemorySubscriber): void {
    let subscribers = this.listeners.get(topic);
    if (!subscribers) {
      subscribers = new Set();
      this.listeners.set(topic, subscribers);
    }
    subscribers.add(subscriber);
  }

  remove(topic: string, subscriber: MemorySubscriber): void {
    const subscribers = this.listeners.get(topic);
    subscribers?.delete(subscriber);
    if (subscribers?.size === 0) this.listeners.delete(topic);
  }
}

class MemorySubscriber implements Subscriber {
  private readonly topics = new Set<string>();
  private readonly queue: TopicMessage[] = [];
  private draining = false;
  private closed = false;

  constructor(
    private readonly bus: MemoryBus,
    private readonly onMessage: (message: TopicMessage) => void,
  ) {}

  async subscribeConversations(tenantId: TenantId, conversationIds: readonly ConversationId[]): Promise<void> {
    this.subscribe(conversationIds.map((id) => conversationTopic(tenantId, id)));
  }

  async unsubscribeConversations(tenantId: TenantId, conversationIds: readonly ConversationId[]): Promise<void> {
    this.unsubscribe(conversationIds.map((id) => conversationTopic(tenantId, id)));
  }

  async subscribeUsers(tenantId: TenantId, userIds: readonly UserId[]): Promise<void> {
    this.subscribe(userIds.map((id) => userTopic(tenantId, id)));
  }

  async unsubscribeUsers(tenantId: TenantId, userIds: readonly UserId[]): Promise<void> {
    this.unsubscribe(userIds.map((id) => userTopic(tenantId, id)));
  }

  async close(): Promise<void> {
    this.unsubscribe([...this.topics]);
    this.detach();
  }

  /** Hears nothing more, queued messages included. */
  detach(): void {
    this.closed = true;
    this.topics.clear();
    this.queue.length = 0;
  }

  enqueue(message: TopicMessage): void {
    if (this.closed) return;
    this.queue.push(message);
    if (this.draining) return;
    this.draining = true;
    queueMicrotask(() => this.drain());
  }

  private subscribe(topics: readonly string[]): void {
    if (this.closed) return;
    for (const topic of topics) {
      this.topics.add(topic);
      this.bus.add(topic, this);
    }
  }

  private unsubscribe(topics: readonly string[]): void {
    for (const topic of topics) {
      this.topics.delete(topic);
      this.bus.remove(topic, this);
    }
  }

  private drain(): void {
    // Messages queued while draining (by a listener's own calls) join this pass, in order.
    while (this.queue.length > 0 && !this.closed) {
      for (const message of this.queue.splice(0)) {
        if (this.closed) break;
        try {
          this.onMessage(structuredClone(message));
        } catch (error) {
          // onMessage must not throw. Keep delivering the rest, and let the bug surface as an
          // uncaught exception instead of vanishing here.
          queueMicrotask(() => {
            throw error;
          });
        }
      }
    }
    this.draining = false;
  }
}
