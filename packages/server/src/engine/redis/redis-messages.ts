/**
 * Messages: one hash per conversation from seq to message JSON, with a messageId → seq index.
 * Append is one script (message-append.lua); because seqs are gapless, a history page is a
 * computed seq range read with one HMGET, and the viewer's own reactions with one more.
 *
 * Every change logs its event in the same script (lua/lib/event-log.lua).
 *
 * Edit, delete and react find the message's seq first (ids never move once assigned), so the
 * script can be handed the per-message reactors key it needs; the script re-checks the mapping.
 */
import type { ConversationId, EpochMs, Message, MessageId, TenantId, UserId } from '../../domain/types.js';
import type { AppendResult, CountedUnit, HistoryQuery, MessageStore, NewMessage, RateLimitDecision } from '../engine.js';
import { logArgs, type RedisContext } from './redis-context.js';
import { guard, invalid, requireCount, requireId, requireLimit, requireTime } from './redis-guard.js';
import { asArray, asInteger, asString, parseMessage, unexpected } from './redis-replies.js';
import type { UserConversationIndex } from './redis-user-index.js';
import { parseDecision, type RedisRateLimitStore } from './redis-rate-limits.js';
import type { Reply } from './scripts.js';

const MAX_HISTORY_PAGE = 100;

/** message-append's ARGV[14..16] when it counts no rate-limit unit. */
const NO_UNIT = ['', '', ''] as const;

type EditResult = { status: 'ok'; message: Message } | { status: 'not_found' } | { status: 'deleted' } | { status: 'muted' };
type ReactResult =
  | { status: 'ok'; message: Message; changed: boolean }
  | { status: 'not_found' }
  | { status: 'deleted' }
  | { status: 'too_many_reactions' }
  | { status: 'muted' };

export class RedisMessageStore implements MessageStore {
  constructor(
    private readonly context: RedisContext,
    private readonly index: UserConversationIndex,
    private readonly rateLimits: RedisRateLimitStore,
    /** On Cluster a rate limit's key is never in a conversation's slot, so it is counted apart. */
    private readonly cluster: boolean,
  ) {}

  append(tenantId: TenantId, conversationId: ConversationId, input: NewMessage, idempotencyTtlMs: number): Promise<AppendResult> {
    return guard(async () => {
      const { result } = await this.appendCounting(tenantId, conversationId, input, idempotencyTtlMs, null);
      if (result === null) throw unexpected('message-append');
      return result;
    });
  }

  appendCounted(
    tenantId: TenantId,
    conversationId: ConversationId,
    input: NewMessage,
    idempotencyTtlMs: number,
    unit: CountedUnit,
  ): Promise<{ decision: RateLimitDecision; result: AppendResult | null }> {
    if (this.cluster) {
      // The limit's key is in a slot of its own: counting is a round trip of its own, first.
      return this.rateLimits.consume(unit.key, unit.policy, unit.now).then(async (decision) => ({
        decision,
        result: decision.allowed ? await this.append(tenantId, conversationId, input, idempotencyTtlMs) : null,
      }));
    }
    return guard(async () => {
      const { decision, result } = await this.appendCounting(tenantId, conversationId, input, idempotencyTtlMs, unit);
      if (decision === null) throw unexpected('message-append');
      return { decision, result };
    });
  }

  /** message-append, counting `unit` in the same script when given (not on Cluster). */
  private async appendCounting(
    tenantId: TenantId,
    conversationId: ConversationId,
    input: NewMessage,
    idempotencyTtlMs: number,
    unit: CountedUnit | null,
  ): Promise<{ decision: RateLimitDecision | null; result: AppendResult | null }> {
    requireId(input.id, 'message id');
    requireTime(input.createdAt, 'createdAt');
    if (!Number.isSafeInteger(idempotencyTtlMs) || idempotencyTtlMs < 0) throw invalid('idempotencyTtlMs must be an integer >= 0');
    requireTime(input.createdAt + idempotencyTtlMs, 'createdAt + idempotencyTtlMs');
    if (input.senderId !== null) requireId(input.senderId, 'senderId');
    if (input.replyTo !== null) requireId(input.replyTo, 'replyTo');
    const { keys, scripts } = this.context;
    const conversation = keys.conversation(tenantId, conversationId);
    const scriptKeys = [
      conversation.meta,
      conversation.members,
      conversation.messages,
      conversation.messageIds,
      conversation.myReactions,
      conversation.events,
      keys.conversationTopic(tenantId, conversationId),
      conversation.mutes,
    ];
    // A send without a sender is idempotent in the conversation's system scope; a window of 0 ms
    // holds nothing.
    if (input.clientMessageId !== null && idempotencyTtlMs > 0) {
      scriptKeys.push(
        input.senderId === null
          ? keys.systemIdempotency(tenantId, conversationId, input.clientMessageId)
          : keys.idempotency(tenantId, conversationId, input.senderId, input.clientMessageId),
      );
    }
    const args = [
      ...logArgs(this.context, { tenantId, conversationId }),
      input.id,
      input.senderId ?? '',
      input.system ? '1' : '0',
      input.text,
      input.replyTo ?? '',
      input.createdAt,
      idempotencyTtlMs,
      input.createdAt + idempotencyTtlMs,
    ];
    // Off Cluster the script reads the other member's blocks set itself (see message-append.lua).
    const blocksPrefix = this.cluster ? '' : keys.blocks(tenantId, '' as UserId);
    let reply: Reply[];
    let decision: RateLimitDecision | null = null;
    if (unit === null) {
      reply = asArray(await scripts.run('message-append', scriptKeys, [...args, '', blocksPrefix, ...NO_UNIT]), 'message-append');
    } else {
      const counted = this.rateLimits.scriptUnit(unit);
      const [inner, decided] = asArray(
        await scripts.run('message-append', [...scriptKeys, counted.key], [...args, '', blocksPrefix, ...counted.args]),
        'message-append',
      );
      decision = parseDecision(decided, 'message-append.decision');
      reply = asArray(inner, 'message-append');
      if (reply[0] === 'rate_limited') return { decision, result: null };
    }
    if (reply[0] === 'block_unknown' && input.senderId !== null) {
      // Cluster, direct conversation: the other member's blocks set is in the tenant's slot. Read
      // it, then append with the answer (a block landing in between is not seen by this send, as
      // a block landing just after it would not be). The unit, if any, is counted already.
      const other = asString(reply[1], 'message-append.other') as UserId;
      const blocked = (await this.context.redis.sismember(keys.blocks(tenantId, other), input.senderId)) === 1;
      reply = asArray(await scripts.run('message-append', scriptKeys, [...args, blocked ? '1' : '0', '', ...NO_UNIT]), 'message-append');
    }
    return { decision, result: this.appendResult(tenantId, conversationId, input, reply) };
  }

  private appendResult(tenantId: TenantId, conversationId: ConversationId, input: NewMessage, reply: Reply[]): AppendResult {
    const [status, json, mine, activity] = reply;
    switch (status) {
      case 'created': {
        const message = parseMessage(conversationId, json, mine);
        // Orders listForUser; not atomic with the append (another slot) and repaired by readers
        // (redis-conversation-list.ts), so the send does not wait for it: it is queued before
        // this returns, so this node's next read of the index follows it, and a failure only
        // leaves what a crash between the two steps would.
        this.index.touch(tenantId, conversationId, asInteger(activity, 'message-append.activity')).catch(() => undefined);
        return { status, message };
      }
      case 'duplicate':
        return { status, message: parseMessage(conversationId, json, mine) };
      case 'conversation_not_found':
      case 'not_member':
      case 'blocked':
      case 'muted':
      case 'reply_not_found':
        return { status };
      case 'id_taken':
        throw invalid(`message id ${input.id} is in use`);
      default:
        throw unexpected('message-append');
    }
  }

  history(tenantId: TenantId, conversationId: ConversationId, query: HistoryQuery, viewer: UserId | null): Promise<{ items: Message[]; hasMore: boolean }> {
    return guard(async () => {
      requireLimit(query.limit, MAX_HISTORY_PAGE);
      if (query.before !== undefined && query.after !== undefined) throw invalid('at most one of before and after');
      if (query.before !== undefined) requireCount(query.before, 'before');
      if (query.after !== undefined) requireCount(query.after, 'after');
      const mode = query.before !== undefined ? 'before' : query.after !== undefined ? 'after' : 'latest';
      const keys = this.context.keys.conversation(tenantId, conversationId);
      const reply = asArray(
        await this.context.scripts.run(
          'message-history',
          [keys.meta, keys.messages, keys.myReactions],
          [mode, query.before ?? query.after ?? 0, query.limit, viewer ?? ''],
        ),
        'message-history',
      );
      const messages = asArray(reply[1], 'message-history.messages');
      const mine = asArray(reply[2], 'message-history.mine');
      return {
        items: messages.map((json, i) => parseMessage(conversationId, json, mine[i] ?? null)),
        hasMore: asInteger(reply[0], 'message-history.hasMore') === 1,
      };
    });
  }

  get(tenantId: TenantId, conversationId: ConversationId, messageId: MessageId, viewer: UserId | null): Promise<Message | null> {
    return guard(async () => {
      const keys = this.context.keys.conversation(tenantId, conversationId);
      const reply = await this.context.scripts.run('message-get', [keys.messageIds, keys.messages, keys.myReactions], [messageId, viewer ?? '']);
      if (reply === null) return null;
      const [json, mine] = asArray(reply, 'message-get');
      return parseMessage(conversationId, json, mine);
    });
  }

  edit(
    tenantId: TenantId,
    conversationId: ConversationId,
    messageId: MessageId,
    text: string,
    now: EpochMs,
    viewer: UserId | null,
  ): Promise<EditResult> {
    return guard(async () => {
      requireTime(now, 'now');
      const keys = this.context.keys.conversation(tenantId, conversationId);
      const reply = asArray(
        await this.context.scripts.run(
          'message-edit',
          [keys.messageIds, keys.messages, keys.myReactions, keys.events, this.context.keys.conversationTopic(tenantId, conversationId), keys.mutes],
          [...logArgs(this.context, { tenantId, conversationId }), conversationId, messageId, text, now, viewer ?? ''],
        ),
        'message-edit',
      );
      const [status, json, mine] = reply;
      if (status === 'ok') return { status, message: parseMessage(conversationId, json, mine) };
      if (status === 'not_found' || status === 'deleted' || status === 'muted') return { status };
      throw unexpected('message-edit');
    });
  }

  delete(tenantId: TenantId, conversationId: ConversationId, messageId: MessageId, now: EpochMs): Promise<Message | null> {
    return guard(async () => {
      requireTime(now, 'now');
      const seq = await this.seqOf(tenantId, conversationId, messageId);
      if (seq === null) return null;
      const keys = this.context.keys.conversation(tenantId, conversationId);
      const reply = await this.context.scripts.run(
        'message-delete',
        [
          keys.messageIds,
          keys.messages,
          keys.myReactions,
          this.context.keys.reactors(tenantId, conversationId, seq),
          keys.events,
          this.context.keys.conversationTopic(tenantId, conversationId),
        ],
        [...logArgs(this.context, { tenantId, conversationId }), conversationId, messageId, seq, now],
      );
      return reply === null ? null : parseMessage(conversationId, reply, null);
    });
  }

  react(
    tenantId: TenantId,
    conversationId: ConversationId,
    messageId: MessageId,
    userId: UserId,
    emoji: string,
    add: boolean,
    limits: { maxEmojiPerMessage: number; maxReactionsPerUser: number },
    now: EpochMs,
  ): Promise<ReactResult> {
    return guard(async () => {
      requireTime(now, 'now');
      requireId(userId, 'userId');
      requireId(emoji, 'emoji');
      requireCount(limits.maxEmojiPerMessage, 'maxEmojiPerMessage');
      requireCount(limits.maxReactionsPerUser, 'maxReactionsPerUser');
      const seq = await this.seqOf(tenantId, conversationId, messageId);
      if (seq === null) return { status: 'not_found' };
      const keys = this.context.keys.conversation(tenantId, conversationId);
      const reply = asArray(
        await this.context.scripts.run(
          'reaction-set',
          [
            keys.messageIds,
            keys.messages,
            keys.myReactions,
            this.context.keys.reactors(tenantId, conversationId, seq),
            keys.events,
            this.context.keys.conversationTopic(tenantId, conversationId),
            keys.mutes,
          ],
          [...logArgs(this.context, { tenantId, conversationId }), conversationId, messageId, seq, userId, emoji, add ? '1' : '0', limits.maxEmojiPerMessage, limits.maxReactionsPerUser, now],
        ),
        'reaction-set',
      );
      const [status, changed, json, mine] = reply;
      if (status === 'ok') {
        return { status, changed: asInteger(changed, 'reaction-set.changed') === 1, message: parseMessage(conversationId, json, mine) };
      }
      if (status === 'not_found' || status === 'deleted' || status === 'too_many_reactions' || status === 'muted') return { status };
      throw unexpected('reaction-set');
    });
  }

  private async seqOf(tenantId: TenantId, conversationId: ConversationId, messageId: MessageId): Promise<number | null> {
    const seq = await this.context.redis.hget(this.context.keys.conversation(tenantId, conversationId).messageIds, messageId);
    return seq === null ? null : asInteger(asString(seq, 'message seq'), 'message seq');
  }
}
