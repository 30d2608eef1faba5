/**
 * A user's conversations, most recent activity first (ties: higher id first).
 *
 * The order comes from the tenant's activity zset intersected with the user's conversation set
 * (UserConversationIndex.page, inside Redis); each candidate is then read from its own slot and
 * kept only if the user is a member now. Stale candidates (left, or never joined) are pruned from
 * the user's set as they are met, and the page is refilled from further down the index, so a page
 * holds `limit` real conversations whenever that many exist.
 *
 * Cost per page: one intersection in Redis, O(n log n) in the user's conversations, plus one
 * read per returned (or pruned) conversation, pipelined. The cursor is the (activity, id) of the
 * last conversation returned; pages are stable as long as no conversation gains activity in
 * between (one that does moves to the front, as in any activity-ordered list).
 */
import type { Conversation, ConversationId, Member, Mute, TenantId, UserId } from '../../domain/types.js';
import type { ConversationView, Page } from '../engine.js';
import type { RedisContext } from './redis-context.js';
import { decodeActivityCursor, encodeActivityCursor, type ActivityPosition } from './redis-cursors.js';
import { asArray, parseConversation, parseMember, parseMessage, parseMute } from './redis-replies.js';
import type { IndexedConversation, UserConversationIndex } from './redis-user-index.js';

export interface ConversationRead {
  conversation: Conversation;
  member: Member | null;
  lastMessageJson: string | null;
  mine: string | null;
  mute: Mute | null;
  /** Direct conversations: the member other than the user read for; null in groups. */
  otherMember: UserId | null;
}

/** One conversation with a user's membership (and optionally its newest message), read in one step. */
export async function readConversation(
  context: RedisContext,
  tenantId: TenantId,
  id: ConversationId,
  userId: UserId,
  withLastMessage: boolean,
): Promise<ConversationRead | null> {
  const keys = context.keys.conversation(tenantId, id);
  const reply = await context.scripts.run(
    'conversation-get',
    [keys.meta, keys.members, keys.messages, keys.myReactions, keys.mutes],
    [userId, withLastMessage ? '1' : '0'],
  );
  if (reply === null) return null;
  const [meta, member, last, mine, mute, other] = asArray(reply, 'conversation-get');
  return {
    conversation: parseConversation(tenantId, meta),
    member: typeof member === 'string' ? parseMember(userId, member) : null,
    lastMessageJson: typeof last === 'string' ? last : null,
    mine: typeof mine === 'string' ? mine : null,
    mute: typeof mute === 'string' ? parseMute(userId, mute) : null,
    otherMember: typeof other === 'string' ? (other as UserId) : null,
  };
}

function toView(read: ConversationRead & { member: Member }): ConversationView {
  const { conversation, member } = read;
  return {
    conversation,
    member,
    lastMessage: read.lastMessageJson === null ? null : parseMessage(conversation.id, read.lastMessageJson, read.mine),
    unreadCount: Math.max(0, conversation.lastSeq - member.lastReadSeq),
  };
}

export async function listConversationsForUser(
  context: RedisContext,
  index: UserConversationIndex,
  tenantId: TenantId,
  userId: UserId,
  page: { cursor?: string; limit: number },
): Promise<Page<ConversationView>> {
  const found: { view: ConversationView; position: ActivityPosition }[] = [];
  const stale: ConversationId[] = [];
  const drifted: ConversationView[] = [];
  let after: ActivityPosition | null = page.cursor === undefined ? null : decodeActivityCursor(page.cursor);

  // One more than the page, to know whether another page exists.
  while (found.length <= page.limit) {
    const want = page.limit + 1 - found.length;
    const candidates: IndexedConversation[] = await index.page(tenantId, userId, after, want);
    const reads = await Promise.all(candidates.map((candidate) => readConversation(context, tenantId, candidate.id, userId, true)));
    candidates.forEach((candidate, i) => {
      const read = reads[i];
      if (!read?.member) {
        stale.push(candidate.id);
        return;
      }
      const view = toView({ ...read, member: read.member });
      if (view.conversation.lastActivityAt > candidate.activity) drifted.push(view);
      found.push({ view, position: { activity: candidate.activity, conversationId: candidate.id } });
    });
    const last = candidates[candidates.length - 1];
    if (!last || candidates.length < want) break;
    after = { activity: last.activity, conversationId: last.id };
  }

  // Housekeeping for later pages and readers; this page is already decided.
  await Promise.all([
    ...stale.map((id) => index.dropUnlessMembers(tenantId, id, [userId])),
    ...drifted.map((view) => index.touch(tenantId, view.conversation.id, view.conversation.lastActivityAt)),
  ]);

  const items = found.slice(0, page.limit);
  const lastItem = items[items.length - 1];
  return {
    items: items.map((entry) => entry.view),
    nextCursor: found.length > page.limit && lastItem ? encodeActivityCursor(lastItem.position) : null,
  };
}
