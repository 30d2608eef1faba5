/**
 * Every Redis key name Parley uses, and nothing else: no other file spells a key.
 *
 * Layout (prefix `parley:` by default; every id is percent-encoded, so `:` `{` `}` inside an id
 * can neither split a key's fields nor end its hash tag early):
 *
 *   tenant slot  {t:<tenant>}
 *     tenant                 string  JSON {tenant, apiKeyHash, adoptedKeyId?}; apiKeyHash: the one key of records
 *                                    written before tenants had several keys (adopted into api-keys on first use,
 *                                    then marked with adoptedKeyId) or the first key of a tenant created since;
 *                                    kept for pods of the previous version during a rollout, null once revoked
 *     api-keys               hash    keyId → JSON {hash, createdAt}: the live API keys (at most the service's limit)
 *     api-keys-used          hash    keyId → lastUsedAt (epoch ms) of live keys whose use was recorded
 *     user:<userId>          hash    id, username, displayName, metadata, createdAt, updatedAt, passwordHash
 *     usernames              hash    username → userId
 *     external-users         hash    JSON [providerId, issuer, subject] → userId of the user created on its first sight
 *     blocks:<userId>        set     users that <userId> blocked
 *     direct-pairs           hash    JSON [lowId, highId] → conversationId
 *     user-convs:<userId>    set     superset of the conversations <userId> is a member of
 *     conv-activity          zset    conversationId → lastActivityAt (orders listForUser)
 *   conversation slot  {c:<tenant>:<conversationId>}
 *     meta                   hash    id, type, title, createdAt, lastSeq, lastActivityAt, memberCount, joinSeq, ownerCount
 *     members                hash    userId → JSON {role, lastReadSeq, joinedAt, joinedEventId}
 *     member-order           zset    userId → join sequence (listMembers pages in join order)
 *     messages               hash    seq → message JSON
 *     message-ids            hash    messageId → seq
 *     my-reactions           hash    "<seq>:<userId>" → JSON array of that user's emoji
 *     reactors:<seq>         set     users with a reaction on message <seq> (cleared on delete)
 *     idem:<sender>:<cmid>   string  "<seq>:<window end>", expires after the idempotency window
 *     idem-system:<cmid>     string  the same for messages without a sender (one scope per conversation)
 *     mutes                  hash    userId → JSON {until, createdAt} (kept across leave and re-join)
 *     mute-order             zset    userId at score 0 (pages mutes in user id order)
 *     bans                   hash    userId → JSON {createdAt}
 *     ban-order              zset    userId at score 0 (pages bans in user id order)
 *     events                 stream  the conversation's event log: id `<at>-<n>`, field `event` → event JSON;
 *                                    trimmed on every append (see lua/lib/event-log.lua)
 *     topic                  channel (not a key) the conversation's durable and ephemeral events
 *   user slot  {u:<tenant>:<userId>}
 *     inbox                  stream  the user's inbox, laid out and trimmed like a conversation's events
 *     presence               hash    node:<nodeId> → connections of the user on that node; online; lastSeenAt
 *     refresh-families       zset    familyId → expiresAt: a superset of the user's live refresh families
 *                                    (at most REFRESH_FAMILIES_PER_USER_MAX); expires with the last one
 *     topic                  channel (not a key) the user's inbox events
 *   refresh family slot  {rt:<tenant>:<familyId>}
 *     family                 hash    userId, generation, secretHash (accepted hashes, space-separated),
 *                                    expiresAt, rotatedAt, spent:<generation> (that generation's hashes)
 *   signing keys (global)  {signing-keys}
 *     current                string  kid of the current key
 *     all                    hash    kid → key JSON (the current key and the retiring ones)
 *     retiring               zset    kid → retiresAt of each key a rotation replaced (deleted with its key then)
 *     issuer                 string  the deployment's issuer, set once
 *   identity providers (global)  {identity-providers}
 *     provider:<tenant>:<id> hash    record (JSON without createdAt), pair (its pairs field), createdAt
 *     tenant:<tenant>        set     ids of the tenant's providers (its count bounds them)
 *     pairs                  hash    JSON [issuer, audience] → "<tenant>:<id>" holding it (unique across tenants)
 *     tenants                set     tenants with at least one provider (listAll walks them)
 *   presence nodes (global)  {presence}
 *     nodes                  zset    nodeId → expiresAt of its last heartbeat
 *   one node  {presence-node:<nodeId>}
 *     users                  set     "<tenant>:<userId>" (encoded) of every user with a connection on the node
 *   revocations (global)  {revocations}
 *     topic                  channel (not a key) credentials revoked, keys rotated (redis-revocations.ts)
 *   webhook slot  {w:<tenant>}  (redis-webhooks.ts; every webhook step of a tenant is one script here)
 *     webhooks               zset    webhookId → createdAt (list order; its size bounds creation)
 *     webhook:<id>           hash    data (JSON {url, events, description, secrets}), createdAt, enabled (1|0),
 *                                    failingSince, disabledAt ('' for null), dropped (entries the queue bound
 *                                    dropped; absent for none)
 *     routes                 hash    <encoded id> → "\n<type>\n<type>\n": the enabled webhooks and the event
 *                                    types they subscribe to, read by the logging scripts (lua/lib/event-log.lua)
 *     queue:<id>             stream  queued events (fields eventId, type, at, conversationId, event); consumer
 *                                    group `dispatch`, consumers named by node id; entry id = delivery id
 *     in-flight:<id>         zset    deliveryId → when taken (caller's clock) of entries pending in the group
 *     retries:<id>           zset    deliveryId → due time of entries awaiting a retry (or taken as one)
 *     retry-age:<id>         zset    deliveryId → its stream id's ms (the oldest retry, for backlog)
 *     records:<id>           hash    deliveryId → delivery record JSON
 *     record-order:<id>      zset    deliveryId → lastAttemptAt (newest first)
 *     settled-order:<id>     zset    the same, of delivered and failed records only: the bound trims these, oldest first
 *     lease:<id>             string  "<expiresAt> <nodeId>", expiring with the lease
 *   webhooks (global)  {webhooks}
 *     all                    set     "<tenant>:<id>" (encoded) of every webhook (listAll)
 *     wake                   channel (not a key) "<tenant>:<id>" (encoded) of a webhook with new entries
 *     outbox-sweeper         string  the node sweeping every slot's outbox now (Cluster), expiring
 *   one Cluster slot's outbox  {<tag of the slot>}  (Cluster only; slot-tags.ts, redis-webhook-outbox.ts)
 *     webhook-outbox         stream  every event logged by the conversations of this slot (fields tenantId,
 *                                    conversationId, id, at, event), until the relay queues it for webhooks
 *     webhook-outbox-lock    string  the node relaying this outbox now, expiring
 *   one rate-limited subject of a tenant  {rl:<limit>:<tenant>:<subject>}
 *     tat                    string  the GCRA theoretical arrival time (epoch ms); expires when it passes
 *   one rate-limited subject of the deployment  {rl-ip:<limit>:<subject>}
 *     tat                    string  the same, for subjects that belong to no tenant (a client IP)
 *
 * Tenant in every key, with these deliberate exceptions: signing keys are shared by every tenant;
 * the webhook registry ({webhooks}:all) lists every tenant's webhooks for the nodes' dispatchers;
 * identity providers sit in one global slot because an (issuer, audience) pair must be unique
 * across tenants in one atomic step (each key of one tenant's providers still names the tenant); and
 * the presence node keys are operational state of the deployment's gateway nodes, not tenant data
 * (a node serves every tenant; its users set names each user's tenant in the member itself).
Per-IP rate limits are deployment-wide too: one client IP may try logins and registrations in any
tenant (or none), and its limit must count all of them, so those keys name no tenant.
Every rate-limited subject has a slot of its own, so counters spread over the Cluster.
 *
 * Why these slots: each conversation script touches only its conversation's keys, so on Cluster
 * every script runs on one node; tenant-wide indexes live together so that index scripts (and the
 * ZINTER that pages listForUser) stay in one slot as well. A user's inbox and presence get a slot of
 * their own (not the tenant's) so that one busy tenant's realtime traffic spreads over the Cluster.
 * Refresh families are each in a slot of their own (a token names its tenant and family, not its
 * user); the user's index of them is in the user slot, kept a superset of the live families.
 * A tenant's webhooks share one slot, so every step on a webhook (lease, take, settle) is one
 * script; off Cluster the conversation scripts also reach that slot's routes and queues (undeclared
 * keys), which is how an event is queued in the step that logs it.
 *
 * Topics are pub/sub channels named like keys of the slot they belong to, so that on Cluster a
 * script can SPUBLISH a conversation's event on the node that holds the conversation (sharded
 * pub/sub routes a channel by its hash slot, exactly like a key).
 */
import { keySlot, slotTag } from './slot-tags.js';
import type { ConversationId, TenantId, UserId } from '../../domain/types.js';

/** What a topic channel belongs to (see RedisKeys.parseTopic). */
export type TopicOwner =
  | { kind: 'conversation'; tenantId: TenantId; conversationId: ConversationId }
  | { kind: 'user'; tenantId: TenantId; userId: UserId };

/** Keeps `:`, `{`, `}` and `%` out of key segments; ULIDs and slugs pass through unchanged. */
function segment(id: string): string {
  return encodeURIComponent(id);
}

/** The keys of one webhook, all in its tenant's webhook slot. */
export interface WebhookKeys {
  index: string;
  webhook: string;
  routes: string;
  queue: string;
  retries: string;
  retryAge: string;
  records: string;
  recordOrder: string;
  lease: string;
  inFlight: string;
  settledOrder: string;
}

export interface ConversationKeys {
  meta: string;
  members: string;
  memberOrder: string;
  messages: string;
  messageIds: string;
  myReactions: string;
  events: string;
  mutes: string;
  muteOrder: string;
  bans: string;
  banOrder: string;
}

/** The inverse of segment(); null for text segment() cannot have produced. */
function decodeSegment(text: string): string | null {
  try {
    const decoded = decodeURIComponent(text);
    return decoded.length > 0 && segment(decoded) === text ? decoded : null;
  } catch {
    return null;
  }
}

const TOPIC_PATTERN = /^\{(c|u):([^:{}]+):([^:{}]+)\}:topic$/;

export class RedisKeys {
  constructor(readonly prefix: string = 'parley:') {}

  // ─── Tenant slot ─────────────────────────────────────────────────────────────────────────

  private tenantSlot(tenantId: TenantId): string {
    return `${this.prefix}{t:${segment(tenantId)}}`;
  }

  tenant(tenantId: TenantId): string {
    return `${this.tenantSlot(tenantId)}:tenant`;
  }

  apiKeys(tenantId: TenantId): string {
    return `${this.tenantSlot(tenantId)}:api-keys`;
  }

  apiKeysUsed(tenantId: TenantId): string {
    return `${this.tenantSlot(tenantId)}:api-keys-used`;
  }

  user(tenantId: TenantId, userId: UserId): string {
    return `${this.tenantSlot(tenantId)}:user:${segment(userId)}`;
  }

  usernames(tenantId: TenantId): string {
    return `${this.tenantSlot(tenantId)}:usernames`;
  }

  externalUsers(tenantId: TenantId): string {
    return `${this.tenantSlot(tenantId)}:external-users`;
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
      events: `${slot}:events`,
      mutes: `${slot}:mutes`,
      muteOrder: `${slot}:mute-order`,
      bans: `${slot}:bans`,
      banOrder: `${slot}:ban-order`,
    };
  }

  /** The conversation's pub/sub channel (in its slot). */
  conversationTopic(tenantId: TenantId, conversationId: ConversationId): string {
    return `${this.conversationSlot(tenantId, conversationId)}:topic`;
  }

  reactors(tenantId: TenantId, conversationId: ConversationId, seq: number): string {
    return `${this.conversationSlot(tenantId, conversationId)}:reactors:${seq}`;
  }

  idempotency(tenantId: TenantId, conversationId: ConversationId, senderId: UserId, clientMessageId: string): string {
    return `${this.conversationSlot(tenantId, conversationId)}:idem:${segment(senderId)}:${segment(clientMessageId)}`;
  }

  /** The idempotency scope of messages without a sender; `idem-system` is no `idem:<sender>` key. */
  systemIdempotency(tenantId: TenantId, conversationId: ConversationId, clientMessageId: string): string {
    return `${this.conversationSlot(tenantId, conversationId)}:idem-system:${segment(clientMessageId)}`;
  }

  // ─── User slot ───────────────────────────────────────────────────────────────────────────

  private userSlot(tenantId: TenantId, userId: UserId): string {
    return `${this.prefix}{u:${segment(tenantId)}:${segment(userId)}}`;
  }

  inbox(tenantId: TenantId, userId: UserId): string {
    return `${this.userSlot(tenantId, userId)}:inbox`;
  }

  presence(tenantId: TenantId, userId: UserId): string {
    return `${this.userSlot(tenantId, userId)}:presence`;
  }

  /** The user's refresh families (in the user's slot: families each have a slot of their own). */
  refreshFamiliesOfUser(tenantId: TenantId, userId: UserId): string {
    return `${this.userSlot(tenantId, userId)}:refresh-families`;
  }

  /** The user's pub/sub channel (in the user's slot). */
  userTopic(tenantId: TenantId, userId: UserId): string {
    return `${this.userSlot(tenantId, userId)}:topic`;
  }

  /** Which conversation or user a channel of this prefix belongs to; null for any other channel. */
  parseTopic(channel: string): TopicOwner | null {
    if (!channel.startsWith(this.prefix)) return null;
    const match = TOPIC_PATTERN.exec(channel.slice(this.prefix.length));
    if (!match) return null;
    const [, kind, tenantText = '', idText = ''] = match;
    const tenantId = decodeSegment(tenantText);
    const id = decodeSegment(idText);
    if (tenantId === null || id === null) return null;
    return kind === 'c'
      ? { kind: 'conversation', tenantId: tenantId as TenantId, conversationId: id as ConversationId }
      : { kind: 'user', tenantId: tenantId as TenantId, userId: id as UserId };
  }

  // ─── Identity providers (one global slot) ─────────────────────────────────────────────────

  identityProvider(tenantId: TenantId, id: string): string {
    return `${this.prefix}{identity-providers}:provider:${segment(tenantId)}:${segment(id)}`;
  }

  tenantIdentityProviders(tenantId: TenantId): string {
    return `${this.prefix}{identity-providers}:tenant:${segment(tenantId)}`;
  }

  identityProviderPairs(): string {
    return `${this.prefix}{identity-providers}:pairs`;
  }

  identityProviderTenants(): string {
    return `${this.prefix}{identity-providers}:tenants`;
  }

  /** The value of a `pairs` field: which provider holds the pair. */
  identityProviderHolder(tenantId: TenantId, id: string): string {
    return `${segment(tenantId)}:${segment(id)}`;
  }

  // ─── Revocations (deployment-wide) ───────────────────────────────────────────────────────

  /** The channel every node listens on for revocations (redis-revocations.ts). */
  revocationsTopic(): string {
    return `${this.prefix}{revocations}:topic`;
  }

  // ─── Webhooks ────────────────────────────────────────────────────────────────────────────

  private webhookSlot(tenantId: TenantId): string {
    return `${this.prefix}{w:${segment(tenantId)}}`;
  }

  webhook(tenantId: TenantId, webhookId: string): WebhookKeys {
    const slot = this.webhookSlot(tenantId);
    const id = segment(webhookId);
    return {
      index: `${slot}:webhooks`,
      webhook: `${slot}:webhook:${id}`,
      routes: `${slot}:routes`,
      queue: `${slot}:queue:${id}`,
      retries: `${slot}:retries:${id}`,
      retryAge: `${slot}:retry-age:${id}`,
      records: `${slot}:records:${id}`,
      recordOrder: `${slot}:record-order:${id}`,
      lease: `${slot}:lease:${id}`,
      inFlight: `${slot}:in-flight:${id}`,
      settledOrder: `${slot}:settled-order:${id}`,
    };
  }

  /** The tenant's webhook index (ids by createdAt). */
  webhookIndex(tenantId: TenantId): string {
    return `${this.webhookSlot(tenantId)}:webhooks`;
  }

  /** The tenant's routes hash (read by the logging scripts). */
  webhookRoutes(tenantId: TenantId): string {
    return `${this.webhookSlot(tenantId)}:routes`;
  }

  /** A webhook's field in the routes hash: its encoded id, so that queue key = webhookQueuePrefix + field. */
  webhookRoute(webhookId: string): string {
    return segment(webhookId);
  }

  /** What a webhook's hash key starts with, before its route field. */
  webhookHashPrefix(tenantId: TenantId): string {
    return `${this.webhookSlot(tenantId)}:webhook:`;
  }

  /** What a webhook's queue key starts with, before its route field. */
  webhookQueuePrefix(tenantId: TenantId): string {
    return `${this.webhookSlot(tenantId)}:queue:`;
  }

  /** The Cluster slot of a conversation's keys (where its logging scripts run). */
  conversationKeySlot(tenantId: TenantId, conversationId: ConversationId): number {
    return keySlot(this.conversationSlot(tenantId, conversationId));
  }

  /** The webhook outbox of a Cluster slot: a key in that very slot (slot-tags.ts). */
  webhookOutbox(slot: number): string {
    return `${this.prefix}{${slotTag(slot)}}:webhook-outbox`;
  }

  webhookOutboxLock(slot: number): string {
    return `${this.prefix}{${slotTag(slot)}}:webhook-outbox-lock`;
  }

  webhookOutboxSweeper(): string {
    return `${this.prefix}{webhooks}:outbox-sweeper`;
  }

  /** The deployment-wide registry of webhooks (listAll). */
  webhookRegistry(): string {
    return `${this.prefix}{webhooks}:all`;
  }

  /** The channel announcing new queue entries (redis-webhooks.ts `watch`). */
  webhookWakeTopic(): string {
    return `${this.prefix}{webhooks}:wake`;
  }

  /** The member of the registry, and the message on the wake channel, naming one webhook: `<tenant>:` + route field. */
  webhookMember(tenantId: TenantId, webhookId: string): string {
    return `${this.webhookMemberPrefix(tenantId)}${segment(webhookId)}`;
  }

  /** The part of webhookMember before the route field (the logging scripts append the field). */
  webhookMemberPrefix(tenantId: TenantId): string {
    return `${segment(tenantId)}:`;
  }

  parseWebhookMember(member: string): { tenantId: TenantId; webhookId: string } | null {
    const parts = member.split(':');
    if (parts.length !== 2) return null;
    const tenantId = decodeSegment(parts[0] ?? '');
    const webhookId = decodeSegment(parts[1] ?? '');
    return tenantId === null || webhookId === null ? null : { tenantId: tenantId as TenantId, webhookId };
  }

  // ─── Presence nodes (operational, not tenant data) ───────────────────────────────────────

  presenceNodes(): string {
    return `${this.prefix}{presence}:nodes`;
  }

  nodeUsers(nodeId: string): string {
    return `${this.prefix}{presence-node:${segment(nodeId)}}:users`;
  }

  /** A member of a node's users set. */
  nodeUserMember(tenantId: TenantId, userId: UserId): string {
    return `${segment(tenantId)}:${segment(userId)}`;
  }

  parseNodeUserMember(member: string): { tenantId: TenantId; userId: UserId } | null {
    const parts = member.split(':');
    if (parts.length !== 2) return null;
    const tenantId = decodeSegment(parts[0] ?? '');
    const userId = decodeSegment(parts[1] ?? '');
    return tenantId === null || userId === null ? null : { tenantId: tenantId as TenantId, userId: userId as UserId };
  }

  // ─── Rate limits ─────────────────────────────────────────────────────────────────────────

  /** The counter of one subject under one limit; deployment-wide when `tenantId` is null. */
  rateLimit(limit: string, tenantId: TenantId | null, subject: string): string {
    const slot = tenantId === null ? `rl-ip:${segment(limit)}:${segment(subject)}` : `rl:${segment(limit)}:${segment(tenantId)}:${segment(subject)}`;
    return `${this.prefix}{${slot}}:tat`;
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

  /** Keys a rotation replaced, scored by the time they stop being listed. */
  signingKeysRetiring(): string {
    return `${this.prefix}{signing-keys}:retiring`;
  }

  /** The deployment's issuer (`iss` of built-in tokens), a string set once. */
  signingIssuer(): string {
    return `${this.prefix}{signing-keys}:issuer`;
  }
}
