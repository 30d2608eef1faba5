/**
 * EventStore in memory, and the logging step the conversation and message stores share.
 *
 * A conversation's log lives in its record (conversation-records.ts), so a mutation changes the
 * record and logs its event in one synchronous section: no call observes the change without the
 * event or the event without the change. Publishing in that same section only queues the message
 * (memory-pubsub.ts), so topics carry a conversation's events in log order. Webhook queues are
 * fed in that section too (memory-webhooks.ts), so a logged event is never missing from them.
 */
import type { ConversationEvent, EventEnvelope, EventId } from '../../domain/events.js';
import type { ConversationId, EpochMs, TenantId, UserId } from '../../domain/types.js';
import type { EventRetention, EventStore } from '../engine.js';
import { EventLog, parseAfter, requireEventTime, MAX_EVENTS_PAGE } from './event-log.js';
import { requireLimit } from './arguments.js';
import type { ConversationRecord, ConversationTables } from './conversation-records.js';
import { conversationTopic, userTopic, type MemoryBus } from './memory-pubsub.js';
import type { MemoryWebhookStore } from './memory-webhooks.js';
import { TenantScoped } from './tenant-scoped.js';

/** Logs conversation events and publishes them; one per engine, shared by its stores. */
export class ConversationEvents {
  constructor(
    readonly retention: EventRetention,
    private readonly bus: MemoryBus,
    private readonly webhooks: MemoryWebhookStore,
  ) {}

  /** A new, empty log with this engine's retention. */
  newLog(): EventLog {
    return new EventLog(this.retention);
  }

  /**
   * Appends `event` to the record's log, queues it for the tenant's webhooks subscribed to it and
   * publishes it on the conversation's topic. Call it in the same synchronous section as the
   * change it describes, after the change.
   */
  log(record: ConversationRecord, event: ConversationEvent, now: EpochMs): EventEnvelope {
    const envelope = record.events.append(event, now);
    this.webhooks.queueLogged(record.tenantId, record.id, envelope);
    this.bus.publish(conversationTopic(record.tenantId, record.id), {
      kind: 'event',
      tenantId: record.tenantId,
      conversationId: record.id,
      envelope,
    });
    return envelope;
  }
}

export class MemoryEventStore implements EventStore {
  private readonly inboxes = new TenantScoped<Map<UserId, EventLog>>(() => new Map());

  constructor(
    private readonly tables: ConversationTables,
    private readonly events: ConversationEvents,
    private readonly bus: MemoryBus,
  ) {}

  async read(
    tenantId: TenantId,
    conversationId: ConversationId,
    after: EventId | null,
    limit: number,
  ): Promise<{ events: EventEnvelope[]; trimmed: boolean }> {
    const record = this.tables.find(tenantId, conversationId);
    if (record) return record.events.read(after, limit);
    requireLimit(limit, MAX_EVENTS_PAGE);
    parseAfter(after);
    return { events: [], trimmed: false };
  }

  async heads(tenantId: TenantId, conversationIds: readonly ConversationId[]): Promise<(EventId | null)[]> {
    return conversationIds.map((id) => this.tables.find(tenantId, id)?.events.head() ?? null);
  }

  async notify(tenantId: TenantId, userIds: readonly UserId[], event: ConversationEvent, at: EpochMs): Promise<void> {
    requireEventTime('at', at);
    const inboxes = this.inboxes.write(tenantId);
    for (const userId of userIds) {
      let inbox = inboxes.get(userId);
      if (!inbox) {
        inbox = this.events.newLog();
        inboxes.set(userId, inbox);
      }
      // Each inbox owns its own copy: the caller may change `event` afterwards.
      const envelope = inbox.append(structuredClone(event), at);
      this.bus.publish(userTopic(tenantId, userId), { kind: 'inbox', tenantId, userId, envelope });
    }
  }

  async readInbox(
    tenantId: TenantId,
    userId: UserId,
    after: EventId | null,
    limit: number,
  ): Promise<{ events: EventEnvelope[]; trimmed: boolean }> {
    const inbox = this.inboxes.read(tenantId)?.get(userId);
    if (inbox) return inbox.read(after, limit);
    requireLimit(limit, MAX_EVENTS_PAGE);
    parseAfter(after);
    return { events: [], trimmed: false };
  }
}
