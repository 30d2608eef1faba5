/**
 * Event logs: each conversation's log is a stream in its slot, written by the conversation's own
 * scripts in the same step as each change; each user's inbox is a stream in the user's slot,
 * written by `notify`. Both are trimmed on every append (lua/lib/event-log.lua) and read by one
 * script (event-read.lua), which also tells whether retention dropped events after the reader's
 * position: the newest dropped id is kept as the stream's max-deleted-entry-id.
 */
import { parseEventId, type ConversationEvent, type EventEnvelope, type EventId } from '../../domain/events.js';
import type { ConversationId, EpochMs, TenantId, UserId } from '../../domain/types.js';
import type { EventStore } from '../engine.js';
import { logArgs, type RedisContext } from './redis-context.js';
import { guard, invalid, requireId, requireLimit, requireTime } from './redis-guard.js';
import { asArray, asInteger, asString, parseLogEntries } from './redis-replies.js';

const MAX_EVENT_PAGE = 1000;

function requireEventId(after: EventId | null): void {
  if (after !== null && (typeof after !== 'string' || parseEventId(after) === null)) throw invalid('after must be an event id <at>-<n>');
}

export class RedisEventStore implements EventStore {
  constructor(private readonly context: RedisContext) {}

  read(tenantId: TenantId, conversationId: ConversationId, after: EventId | null, limit: number): Promise<{ events: EventEnvelope[]; trimmed: boolean }> {
    return guard(() => this.readLog(this.context.keys.conversation(tenantId, conversationId).events, after, limit));
  }

  heads(tenantId: TenantId, conversationIds: readonly ConversationId[]): Promise<(EventId | null)[]> {
    return guard(async () => {
      const { keys, redis } = this.context;
      // The newest entry is never trimmed, so it is the log's head. One command per log, each on
      // its own slot; auto-pipelining sends them in one round trip per node.
      const newest = await Promise.all(conversationIds.map((id) => redis.xrevrange(keys.conversation(tenantId, id).events, '+', '-', 'COUNT', 1)));
      return newest.map((entries) => {
        const first = entries[0];
        return first ? (asString(first[0], 'heads.id') as EventId) : null;
      });
    });
  }

  notify(tenantId: TenantId, userIds: readonly UserId[], event: ConversationEvent, at: EpochMs): Promise<void> {
    return guard(async () => {
      requireTime(at, 'at');
      for (const userId of userIds) requireId(userId, 'userId');
      const { keys, scripts } = this.context;
      const json = JSON.stringify(event);
      await Promise.all(
        userIds.map((userId) => scripts.run('inbox-append', [keys.inbox(tenantId, userId), keys.userTopic(tenantId, userId)], [...logArgs(this.context), at, json])),
      );
    });
  }

  readInbox(tenantId: TenantId, userId: UserId, after: EventId | null, limit: number): Promise<{ events: EventEnvelope[]; trimmed: boolean }> {
    return guard(() => this.readLog(this.context.keys.inbox(tenantId, userId), after, limit));
  }

  private async readLog(stream: string, after: EventId | null, limit: number): Promise<{ events: EventEnvelope[]; trimmed: boolean }> {
    requireLimit(limit, MAX_EVENT_PAGE);
    requireEventId(after);
    const [trimmed, entries] = asArray(await this.context.scripts.run('event-read', [stream], [after ?? '', limit]), 'event-read');
    return { events: parseLogEntries(entries), trimmed: asInteger(trimmed, 'event-read.trimmed') === 1 };
  }
}
