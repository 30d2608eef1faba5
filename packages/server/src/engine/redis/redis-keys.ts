/**
 * Every Redis key name Parley uses, and nothing else: no other file spells a key.
 *
 * Layout (prefix `parley:` by default; every id is percent-encoded, so `:` `{` `}` inside an id
 * can neither split a key's fields nor end its hash tag early):
 *
 *   tenant slot  {t:<tenant>}
 *     tenant                 string  JSON {tenant, apiKeyHash}
 *     user:<userId>          hash    id, username, displayName, metadata, createdAt, updatedAt, passwordHash
 *     usernames              hash    username → userId
 *     blocks:<userId>        set     users that <userId> blocked
 *     direct-pairs           hash    JSON [lowId, highId] → conversationId
 *     user-convs:<userId>    set     superset of the conversations <userId> is a member of
 *     conv-activity          zset    conversationId → lastActivityAt (orders listForUser)
 *   conversation slot  {c:<tenant>:<conversationId>}
 *     meta                   hash    id, type, title, createdAt, lastSeq, lastActivityAt, memberCount, joinSeq
 *     members                hash    userId → JSON {role, lastReadSeq, joinedAt}
 *     member-order           zset    userId → join sequence (listMembers pages in join order)
 *     messages               hash    seq → message JSON
 *     message-ids            hash    messageId → seq
 *     my-reactions           hash    "<seq>:<userId>" → JSON array of that user's emoji
 *     reactors:<seq>         set     users with a reaction on message <seq> (cleared on delete)
 *     idem:<sender>:<cmid>   string  "<seq>:<window end>", expires after the idempotency window
 *   refresh family slot  {rt:<tenant>:<familyId>}
 *     family                 hash    userId, generation, secretHash, expiresAt
 *   signing keys (global)  {signing-keys}
 *     current                string  kid of the current key
 *     all                    hash    kid → key JSON
 *
 * Why these slots: each conversation script touches only its conversation's keys, so on Cluster
 * every script runs on one node; tenant-wide indexes live together so that index scripts (and the
 * ZINTER that pages listForUser) stay in one slot as well.
 */
import type { ConversationId, TenantId, UserId } from '../../domain/types.js';

/** Keeps `:`, `{`, `}` and `%` out of key segments; ULIDs and slugs pass through unchanged. */
function segment(id: string): string {
  return encodeURIComponent(id);
}

export interface ConversationKeys {
  meta: string;
  members: string;
  memberOrder: string;
  messages: string;
  messageIds: string;
  myReactions: string;
}

export class RedisKeys {
  constructor(readonly prefix: string = 'parley:') {}

  // ─── Tenant slot ─────────────────────────────────────────────────────────────────────────

  private tenantSlot(tenantId: TenantId): string {
    return `${this.prefix}{t:${segment(tenantId)}}`;
  }

  tenant(tenantId: TenantId): string {
    return `${this.tenantSlot(tenantId)}:tenant`;
  }

  user(tenantId: TenantId, userId: UserId): string {
    return `${this.tenantSlot(tenantId)}:user:${segment(userId)}`;
  }

  usernames(tenantId: TenantId): string {
    return `${this.tenantSlot(tenantId)}:usernames`;
  }

  blocks(tenantId: TenantId, blocker: UserId): string {
    return `${this.tenantSlot(tenantId)}:blocks:${segment(blocker)}`;
  }

  directPairs(tenantId: TenantId): string {
    return `${this.tenantSlot(tenantId)}:direct-pairs`;
  }

  userConversations(tenantId: TenantId, userId: UserId): string {
    return `${this.tenantSlot(tenantId)}:user-convs:${segment(userId)}`;
  }

  conversationActivity(tenantId: TenantId): string {
    return `${this.tenantSlot(tenantId)}:conv-activity`;
  }

  // ─── Conversation slot ───────────────────────────────────────────────────────────────────

  private conversationSlot(tenantId: TenantId, conversationId: ConversationId): string {
    return `${this.prefix}{c:${segment(tenantId)}:${segment(conversationId)}}`;
  }

  conversation(tenantId: TenantId, conversationId: ConversationId): ConversationKeys {
    const slot = this.conversationSlot(tenantId, conversationId);
    return {
      meta: `${slot}:meta`,
      members: `${slot}:members`,
      memberOrder: `${slot}:member-order`,
      messages: `${slot}:messages`,
      messageIds: `${slot}:message-ids`,
      myReactions: `${slot}:my-reactions`,
    };
  }

  reactors(tenantId: TenantId, conversationId: ConversationId, seq: number): string {
    return `${this.conversationSlot(tenantId, conversationId)}:reactors:${seq}`;
  }

  idempotency(tenantId: TenantId, conversationId: ConversationId, senderId: UserId, clientMessageId: string): string {
    return `${this.conversationSlot(tenantId, conversationId)}:idem:${segment(senderId)}:${segment(clientMessageId)}`;
  }

  // ─── Refresh families and signing keys ───────────────────────────────────────────────────

  refreshFamily(tenantId: TenantId, familyId: string): string {
    return `${this.prefix}{rt:${segment(tenantId)}:${segment(familyId)}}:family`;
  }

  signingKeyCurrent(): string {
    return `${this.prefix}{signing-keys}:current`;
  }

  signingKeys(): string {
    return `${this.prefix}{signing-keys}:all`;
  }
}
