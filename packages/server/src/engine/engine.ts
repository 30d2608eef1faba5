/**
 * The storage engine: every piece of state Parley keeps goes through these interfaces.
 *
 * Two implementations keep the same contract (engine.contract.ts runs against both):
 *   - memory/  the embedded default: one process, nothing to install;
 *   - redis/   Redis standalone, Sentinel or Cluster; multi-key atomic steps are Lua scripts.
 *
 * General guarantees, true of every method unless its comment says otherwise:
 *   - Tenant isolation: every method takes the tenant and touches nothing of another tenant.
 *   - Time is an argument (`now`, `createdAt`): the engine never reads a clock for stored data,
 *     so tests control time and every node writes the same value it returns.
 *   - "Atomic" means no other engine call, from any node, observes a partial result.
 *   - Absence is `null` (or a `status` naming it), never an exception; exceptions mean the
 *     storage is unreachable or an input broke a documented limit (EngineError).
 *   - Returned objects are copies: mutating them changes nothing stored.
 *   - Event log: every change to a conversation that changes something (see each method) appends
 *     one durable event to that conversation's log and publishes it on the conversation's topic,
 *     in the same atomic step as the change. Events of one conversation are logged and published
 *     in the order the changes happened; a call that changes nothing logs nothing.
 */
import type { ConversationEvent, EphemeralEvent, EventEnvelope, EventId, TopicMessage } from '../domain/events.js';
import type { QueuedWebhookEvent, Webhook, WebhookDelivery, WebhookId } from '../domain/webhooks.js';
import type {
  Ban,
  Conversation,
  ConversationId,
  ConversationType,
  EpochMs,
  ExternalIdentity,
  IdentityProvider,
  Member,
  Message,
  MessageId,
  Mute,
  Role,
  Tenant,
  TenantId,
  User,
  UserId,
} from '../domain/types.js';

export interface Engine {
  readonly kind: 'memory' | 'redis';
  readonly tenants: TenantStore;
  readonly users: UserStore;
  readonly conversations: ConversationStore;
  readonly messages: MessageStore;
  readonly moderation: ModerationStore;
  readonly refreshTokens: RefreshTokenStore;
  readonly signingKeys: SigningKeyStore;
  readonly identityProviders: IdentityProviderStore;
  readonly events: EventStore;
  readonly pubsub: PubSub;
  readonly presence: PresenceStore;
  readonly rateLimits: RateLimitStore;
  readonly revocations: RevocationBus;
  readonly webhooks: WebhookStore;
  /** Resolves when the storage answers; rejects otherwise. Used by readiness checks. */
  ping(): Promise<void>;
  /**
   * The storage connections held now and whether each is usable (connected and ready), read
   * without I/O (for metrics). `commands` carries every store call; `subscriber` is a topic
   * subscriber's own connection (one per pubsub subscriber). The memory engine has none.
   */
  connectionStates(): StorageConnectionState[];
  /** Releases connections. In-flight calls complete or reject; no call may be made afterwards. */
  close(): Promise<void>;
}

export interface StorageConnectionState {
  role: 'commands' | 'subscriber';
  up: boolean;
}

// ─── Tenants ────────────────────────────────────────────────────────────────────────────────

/**
 * A tenant API key as stored: its hash, never the key. `id` is derived from the key
 * (auth/api-keys.ts `apiKeyId`: the first 96 bits of its hash), so a presented key names its own
 * record and verification is one read by (tenant, id) followed by a hash comparison.
 */
export interface StoredApiKey {
  id: string;
  hash: string;
  createdAt: EpochMs;
}

/** A stored key with its last recorded use (see touchApiKey); null when no use was recorded. */
export interface ListedApiKey extends StoredApiKey {
  lastUsedAt: EpochMs | null;
}

/** The highest `maxKeys` createApiKey accepts. */
export const MAX_API_KEYS_LIMIT = 100;

export interface TenantStore {
  /**
   * Creates the tenant, with its first API key when one is given. Atomic and first-writer-wins:
   * returns false (and changes nothing) when a tenant with this id exists.
   */
  create(tenant: Tenant, firstKey: StoredApiKey | null): Promise<boolean>;
  get(id: TenantId): Promise<Tenant | null>;
  /** The tenant's live key with this id; null when there is none (no tenant, unknown or revoked id). One read. */
  getApiKey(tenantId: TenantId, keyId: string): Promise<StoredApiKey | null>;
  /**
   * The tenant's live keys, oldest first (ties: by id); null when the tenant does not exist.
   * Bounded: a tenant holds at most the `maxKeys` createApiKey was given.
   */
  listApiKeys(tenantId: TenantId): Promise<ListedApiKey[] | null>;
  /**
   * Adds a key to the tenant. Atomic: the count is checked and the key stored in one step, so
   * concurrent creations never leave more than `maxKeys` (1..MAX_API_KEYS_LIMIT) live keys. `id_taken` when a live key
   * of the tenant has this id already (nothing changes; the caller makes another key).
   */
  createApiKey(
    tenantId: TenantId,
    key: StoredApiKey,
    maxKeys: number,
  ): Promise<'created' | 'tenant_not_found' | 'too_many_api_keys' | 'id_taken'>;
  /** Deletes the key: getApiKey answers null from then on. False when there was no such live key. */
  revokeApiKey(tenantId: TenantId, keyId: string): Promise<boolean>;
  /**
   * Records a use of the key at `usedAt`. Monotonic (an earlier time than the stored one changes
   * nothing) and never brings back a revoked key (no effect when the key is not live). Callers
   * throttle it: it is bookkeeping, not part of verifying a key.
   */
  touchApiKey(tenantId: TenantId, keyId: string, usedAt: EpochMs): Promise<void>;
}

// ─── Users ──────────────────────────────────────────────────────────────────────────────────

export interface NewUser {
  id: UserId;
  username: string;
  displayName: string;
  passwordHash: string;
  createdAt: EpochMs;
}

export interface UserUpsert {
  id: UserId;
  displayName: string;
  metadata: Record<string, unknown> | null;
}

/** A user seen for the first time in an external provider's token. */
export interface NewExternalUser {
  /** Used only when the (provider, subject) pair has no user yet. */
  id: UserId;
  identity: ExternalIdentity;
  displayName: string;
  /** Claimed only when free in the tenant; otherwise the user has no username. */
  username: string | null;
}

/**
 * What remains of a deleted user: the id (never reused, so messages keep pointing at it) and
 * when it existed. Name, username, metadata, credentials and blocks are gone.
 */
export interface DeletedUser {
  id: UserId;
  createdAt: EpochMs;
  deletedAt: EpochMs;
}

/**
 * Users. A deleted user is absent for every method but `findDeleted`: `get` answers null, `upsert`
 * and `update` refuse it, its username is free again; its id stays taken for good.
 */
export interface UserStore {
  /**
   * Creates a built-in user. Atomic: the username is claimed and the user stored in one step,
   * so of two concurrent registrations of one username (per tenant) exactly one succeeds.
   */
  register(tenantId: TenantId, user: NewUser): Promise<{ status: 'created'; user: User } | { status: 'username_taken' }>;
  /**
   * Creates the user or replaces its displayName and metadata (username and createdAt are kept).
   * Atomic per user; `created` tells which happened. Null (nothing changes) when the id belongs
   * to a deleted user: ids are not reused, so an old token of that id can never name a new user.
   */
  upsert(tenantId: TenantId, input: UserUpsert, now: EpochMs): Promise<{ user: User; created: boolean } | null>;
  /**
   * The user of the (provider, subject) pair, creating it (`created: true`) on first sight. Atomic
   * and first-writer-wins per pair: of concurrent calls for one pair, from any node, exactly one
   * creates and all return the same user. A user that exists is returned as stored (its
   * displayName is not refreshed). `username` is claimed in the same step when free, else dropped.
   */
  ensureExternal(tenantId: TenantId, input: NewExternalUser, now: EpochMs): Promise<{ user: User; created: boolean }>;
  get(tenantId: TenantId, id: UserId): Promise<User | null>;
  /** One entry per id, in the same order, null where absent. */
  getMany(tenantId: TenantId, ids: readonly UserId[]): Promise<(User | null)[]>;
  /** The live user (built-in or external) holding `username` in the tenant; null when none does. */
  findByUsername(tenantId: TenantId, username: string): Promise<User | null>;
  /** The user and its password hash, by username; null when no such built-in user exists. */
  findCredentials(tenantId: TenantId, username: string): Promise<{ user: User; passwordHash: string } | null>;
  /**
   * Compare-and-set of a built-in user's password hash (and updatedAt): true when the stored hash
   * was `current` and is now `next`; false (nothing changes) when the user is absent, deleted, has
   * no password, or its hash is no longer `current` (a concurrent change won).
   */
  replacePasswordHash(tenantId: TenantId, id: UserId, current: string, next: string, now: EpochMs): Promise<boolean>;
  /** Changes the given fields; returns the updated user, or null when absent (or deleted). */
  update(tenantId: TenantId, id: UserId, changes: { displayName?: string }, now: EpochMs): Promise<User | null>;
  /**
   * Deletes the user in one atomic step: keeps only what DeletedUser holds (with `deletedAt` =
   * `now`), frees the username, forgets the password hash, metadata and the user's own blocks,
   * and unlinks its external (provider, subject) pair, so that identity's next sign-in
   * (ensureExternal) creates a new user with a new id.
   * True when it deleted; false (nothing changes) when the user is absent or already deleted.
   * Memberships, messages and refresh families are the caller's to handle.
   */
  delete(tenantId: TenantId, id: UserId, now: EpochMs): Promise<boolean>;
  /** The remains of a deleted user; null when the user exists or never existed. */
  findDeleted(tenantId: TenantId, id: UserId): Promise<DeletedUser | null>;
  /** Idempotent. */
  block(tenantId: TenantId, blocker: UserId, blocked: UserId): Promise<void>;
  /** Idempotent. */
  unblock(tenantId: TenantId, blocker: UserId, blocked: UserId): Promise<void>;
  /** True when `blocker` has blocked `blocked` (one direction only). */
  isBlocked(tenantId: TenantId, blocker: UserId, blocked: UserId): Promise<boolean>;
  /** The users among `candidates` who blocked `blocked`, in the order of `candidates`. One round trip. */
  blockersAmong(tenantId: TenantId, blocked: UserId, candidates: readonly UserId[]): Promise<UserId[]>;
  /** Every user `blocker` has blocked, in no particular order. */
  listBlocked(tenantId: TenantId, blocker: UserId): Promise<UserId[]>;
}

// ─── Conversations ──────────────────────────────────────────────────────────────────────────

export interface NewConversation {
  id: ConversationId;
  type: ConversationType;
  title: string | null;
  createdAt: EpochMs;
  /** Distinct users with their roles; the caller has checked that they exist. */
  members: readonly { userId: UserId; role: Role }[];
}

/** Where one user's membership of one conversation began in that conversation's event log. */
export interface Membership {
  conversationId: ConversationId;
  joinedEventId: EventId;
}

/** The most memberships one listMemberships call returns. */
export const MAX_MEMBERSHIPS_LISTED = 100_000;

/** A conversation seen by one of its members. */
export interface ConversationView {
  conversation: Conversation;
  member: Member;
  /** The newest message (its text null when deleted), or null when there is none. */
  lastMessage: Message | null;
  /** Messages above the member's lastReadSeq: lastSeq - lastReadSeq. */
  unreadCount: number;
}

export interface Page<T> {
  items: T[];
  /** Opaque; pass back to get the next page. Null when this page is the last. */
  nextCursor: string | null;
}

/**
 * The highest role (owner > admin > member) the target of a moderation step may hold at that
 * step; omitted, any role. Non-members are always within the bound.
 */
export interface RoleBound {
  maxRole?: Role;
}

export type AddMembersResult =
  | { status: 'ok'; added: UserId[]; conversation: Conversation }
  | { status: 'not_found' }
  | { status: 'too_many_members' }
  /** `userId`: the first of the users who is banned from the conversation. */
  | { status: 'banned'; userId: UserId };

export interface ConversationStore {
  /** Creates a group conversation with its members. Atomic: visible whole or not at all. Logs conversation.created. */
  createGroup(tenantId: TenantId, input: NewConversation): Promise<Conversation>;
  /**
   * Returns the one direct conversation of the pair, creating it (with `input`) when there is
   * none. Concurrent calls for one pair, in either order of users, all return the same
   * conversation and exactly one reports `created: true`. Logs conversation.created when it creates.
   */
  getOrCreateDirect(
    tenantId: TenantId,
    input: NewConversation & { type: 'direct' },
  ): Promise<{ conversation: Conversation; created: boolean }>;
  get(tenantId: TenantId, id: ConversationId): Promise<Conversation | null>;
  /**
   * The conversation and the user's standing in it, read together in one step: their membership,
   * their mute (as stored, possibly ended: the caller judges it against its clock), and in a
   * direct conversation the other member (null in groups), so that one read tells whether the
   * user may act there.
   */
  getWithMember(
    tenantId: TenantId,
    id: ConversationId,
    userId: UserId,
  ): Promise<{ conversation: Conversation; member: Member | null; mute: Mute | null; otherMember: UserId | null } | null>;
  /** The direct conversation of the pair (either order), or null when they have none. */
  findDirect(tenantId: TenantId, first: UserId, second: UserId): Promise<ConversationId | null>;
  /** True when both users are members of at least one common conversation now. */
  sharesConversation(tenantId: TenantId, first: UserId, second: UserId): Promise<boolean>;
  /** Returns the updated conversation, or null when absent. Logs conversation.updated at `now`. */
  update(tenantId: TenantId, id: ConversationId, changes: { title?: string }, now: EpochMs): Promise<Conversation | null>;
  /** Members in the order they joined; `limit` 1..1000. */
  listMembers(tenantId: TenantId, id: ConversationId, page: { cursor?: string; limit: number }): Promise<Page<Member>>;
  /** Members among `userIds` (in that order, absent ones skipped). */
  getMembers(tenantId: TenantId, id: ConversationId, userIds: readonly UserId[]): Promise<Member[]>;
  /**
   * Adds users as members with `role`. Atomic: existing members are left as they are (not
   * re-added, role unchanged); when the result would exceed `maxMembers`, or when one of the users
   * is banned from the conversation (`banned` names the first such user), nothing is added.
   * Logs one member.added per added user, in the order of `userIds`. A new member's read
   * position starts at the conversation's lastSeq: history from before joining is not unread.
   */
  addMembers(
    tenantId: TenantId,
    id: ConversationId,
    userIds: readonly UserId[],
    role: Role,
    now: EpochMs,
    maxMembers: number,
  ): Promise<AddMembersResult>;
  /**
   * Removes the member and logs member.removed. `not_found` (logging nothing) when absent.
   * A group keeps an owner while it has members: when the only owner goes, the longest-standing
   * admin (else the longest-standing member) becomes owner in the same atomic step, logging
   * member.updated after member.removed. The owner count is read and changed inside that step, so
   * owners leaving at once all go and exactly the last one hands over.
   * With `maxRole`, refuses (`role_changed`, nothing changes, nothing logged) when the member's
   * role at that step is above it (owner > admin > member): the caller checked the target's role
   * before, and a promotion in between must not let them remove someone they may not act on.
   */
  removeMember(
    tenantId: TenantId,
    id: ConversationId,
    userId: UserId,
    now: EpochMs,
    options?: RoleBound,
  ): Promise<'removed' | 'not_found' | 'role_changed'>;
  /**
   * Changes a member's role, logging member.updated when it changed. With `keepOwner`, refuses
   * (`last_owner`, nothing changes) to demote the only owner of a group; the owner count is read
   * and changed in the same atomic step, as in removeMember.
   */
  setRole(
    tenantId: TenantId,
    id: ConversationId,
    userId: UserId,
    role: Role,
    now: EpochMs,
    options: { keepOwner: boolean },
  ): Promise<{ status: 'ok'; member: Member } | { status: 'not_found' } | { status: 'last_owner' }>;
  /**
   * Moves the member's read position forward to `seq` (clamped to the conversation's lastSeq).
   * Atomic and monotonic: a lower `seq` than the stored one changes nothing.
   * Returns the resulting position and whether it moved; null when not a member. Logs `read`
   * when it moved.
   */
  markRead(
    tenantId: TenantId,
    id: ConversationId,
    userId: UserId,
    seq: number,
    now: EpochMs,
  ): Promise<{ lastReadSeq: number; changed: boolean } | null>;
  /**
   * The user's conversations, most recent activity first (ties: newer id first), each with the
   * user's membership, last message and unread count. `limit` 1..100.
   */
  listForUser(tenantId: TenantId, userId: UserId, page: { cursor?: string; limit: number }): Promise<Page<ConversationView>>;
  /**
   * Every conversation the user is a member of, with the event that began each membership, in no
   * particular order. One indexed pass over the user's memberships, linear in their number (no
   * ordering by activity, which costs more: listForUser gives that). At most `limit`
   * (1..MAX_MEMBERSHIPS_LISTED); for a user in more, which ones are returned is unspecified.
   */
  listMemberships(tenantId: TenantId, userId: UserId, limit: number): Promise<Membership[]>;
  /**
   * How many conversations each user is a member of, in `userIds` order, each in constant time.
   * Never less than the truth; may count, until a read of the user's memberships or conversations
   * prunes it, a conversation whose leave failed midway (the Redis engine keeps its per-user
   * index a superset of membership).
   */
  countMemberships(tenantId: TenantId, userIds: readonly UserId[]): Promise<number[]>;
}

// ─── Messages ───────────────────────────────────────────────────────────────────────────────

export interface NewMessage {
  id: MessageId;
  /** Null when a tenant server key posts (then `system` is true). */
  senderId: UserId | null;
  system: boolean;
  text: string;
  replyTo: MessageId | null;
  createdAt: EpochMs;
  /**
   * The idempotency key of this send, scoped to the sender; messages without a sender (posted by
   * the tenant's back end) share one scope per conversation.
   */
  clientMessageId: string | null;
}

export type AppendResult =
  | { status: 'created'; message: Message }
  /** The same sender already sent this clientMessageId (within the idempotency window). */
  | { status: 'duplicate'; message: Message }
  | { status: 'conversation_not_found' }
  /** The sender is not (or no longer) a member. */
  | { status: 'not_member' }
  /** The other member of this direct conversation has blocked the sender (UserStore.block). */
  | { status: 'blocked' }
  /** The sender is muted in this conversation at `createdAt`. */
  | { status: 'muted' }
  /** `replyTo` names no message of this conversation. */
  | { status: 'reply_not_found' };

export interface HistoryQuery {
  /** The page just below this seq. At most one of before/after. */
  before?: number;
  /** The first `limit` messages above this seq. */
  after?: number;
  /** 1..100 */
  limit: number;
}

export interface MessageStore {
  /**
   * Appends a message. One atomic step: checks the conversation exists, the sender is a
   * member, not blocked by the other member of a direct conversation (a block or unblock that
   * returned before the append began holds) and not muted at `createdAt` (see ModerationStore),
   * in that order, resolves the idempotency key `(conversation, sender, clientMessageId)` (kept for
   * `idempotencyTtlMs`), assigns seq = lastSeq + 1, stores the message, sets lastSeq and
   * lastActivityAt, and moves the sender's read position to the new seq.
   * Seqs of one conversation are 1, 2, 3... with no gap and no duplicate under any concurrency.
   * Logs message.created (a duplicate logs nothing), so message events follow seq order.
   */
  append(
    tenantId: TenantId,
    conversationId: ConversationId,
    input: NewMessage,
    idempotencyTtlMs: number,
  ): Promise<AppendResult>;
  /**
   * append with one unit of a rate limit counted first, exactly as RateLimitStore.consume counts
   * it. When the limit refuses, nothing is counted or appended (`result` null); otherwise the unit
   * stays counted whatever the append answers. One atomic step where the engine can make it one
   * (memory; Redis without Cluster: one round trip); on Redis Cluster the limit's key lives in a
   * slot of its own, so counting is a round trip of its own just before the append.
   */
  appendCounted(
    tenantId: TenantId,
    conversationId: ConversationId,
    input: NewMessage,
    idempotencyTtlMs: number,
    unit: CountedUnit,
  ): Promise<{ decision: RateLimitDecision; result: AppendResult | null }>;
  /**
   * A page of history in ascending seq. No before/after: the newest `limit`. `hasMore`: messages
   * exist beyond the page in the direction read (below it for before/latest, above it for after).
   * `viewer` fills each message's `myReactions`.
   */
  history(
    tenantId: TenantId,
    conversationId: ConversationId,
    query: HistoryQuery,
    viewer: UserId | null,
  ): Promise<{ items: Message[]; hasMore: boolean }>;
  get(tenantId: TenantId, conversationId: ConversationId, messageId: MessageId, viewer: UserId | null): Promise<Message | null>;
  /**
   * Replaces the text and sets editedAt. Atomic. `not_found` when absent, `deleted` when the
   * message was deleted, `muted` when `viewer` (the editor) is muted at `now` (nothing changes).
   * Logs message.updated.
   */
  edit(
    tenantId: TenantId,
    conversationId: ConversationId,
    messageId: MessageId,
    text: string,
    now: EpochMs,
    viewer: UserId | null,
  ): Promise<{ status: 'ok'; message: Message } | { status: 'not_found' } | { status: 'deleted' } | { status: 'muted' }>;
  /**
   * Tombstones the message: text becomes null, deletedAt is set, reactions are cleared; its seq
   * stays in history. Idempotent: deleting a deleted message returns it unchanged. Logs
   * message.deleted the first time only.
   */
  delete(
    tenantId: TenantId,
    conversationId: ConversationId,
    messageId: MessageId,
    now: EpochMs,
  ): Promise<Message | null>;
  /**
   * Adds or removes `userId`'s reaction `emoji`. Atomic and idempotent: adding twice counts once,
   * removing an absent reaction changes nothing. `changed` tells whether anything moved.
   * `too_many_reactions` when adding would exceed `limits` (distinct emoji per message,
   * reactions per user per message); `deleted` for a deleted message; `muted` (nothing changes)
   * when `userId` is muted at `now`. Logs reaction.added or
   * reaction.removed when `changed`.
   */
  react(
    tenantId: TenantId,
    conversationId: ConversationId,
    messageId: MessageId,
    userId: UserId,
    emoji: string,
    add: boolean,
    limits: { maxEmojiPerMessage: number; maxReactionsPerUser: number },
    now: EpochMs,
  ): Promise<
    | { status: 'ok'; message: Message; changed: boolean }
    | { status: 'not_found' }
    | { status: 'deleted' }
    | { status: 'too_many_reactions' }
    | { status: 'muted' }
  >;
}

// ─── Moderation ─────────────────────────────────────────────────────────────────────────────

/**
 * Mutes and bans of one conversation. They are stored with the conversation (in Redis, in its
 * slot), apart from membership: a mute outlives leaving and re-joining, a ban may precede
 * membership. The checks happen inside the atomic steps they guard: append, edit and react refuse
 * a muted user (`muted`), addMembers refuses a banned one (`banned`). Lists page in user id order.
 */
export interface ModerationStore {
  /**
   * Mutes the user, replacing any earlier mute of theirs. Atomic. `not_found` (nothing stored)
   * when the conversation is absent; with `maxRole`, `role_changed` (nothing stored) when the user
   * is a member whose role at that step is above it, as in removeMember.
   */
  mute(tenantId: TenantId, id: ConversationId, mute: Mute, options?: RoleBound): Promise<'ok' | 'not_found' | 'role_changed'>;
  /** Lifts the user's mute. Idempotent. False when the conversation is absent. */
  unmute(tenantId: TenantId, id: ConversationId, userId: UserId): Promise<boolean>;
  /**
   * Mutes in force at `now`, by user id; `limit` 1..1000. Ended mutes are left out and deleted
   * from storage as the scan meets them, so the stored mutes are the live ones plus those that
   * ended since a listing last scanned past them (and at most one per user ever muted).
   */
  listMutes(tenantId: TenantId, id: ConversationId, page: { cursor?: string; limit: number }, now: EpochMs): Promise<Page<Mute>>;
  /**
   * Bans the user: one atomic step records the ban and, when they are a member, removes them
   * exactly as removeMember does (member.removed, owner hand-over). `removedRole` is the role they
   * had, null when they were not a member. Banning again keeps the first ban's createdAt.
   * With `maxRole`, refuses (`role_changed`: no ban recorded, nobody removed) when the user is a
   * member whose role at that step is above it, as in removeMember.
   */
  ban(
    tenantId: TenantId,
    id: ConversationId,
    ban: Ban,
    options?: RoleBound,
  ): Promise<{ status: 'ok'; removedRole: Role | null } | { status: 'not_found' } | { status: 'role_changed' }>;
  /** Lifts the ban. Idempotent. False when the conversation is absent. */
  unban(tenantId: TenantId, id: ConversationId, userId: UserId): Promise<boolean>;
  /** Bans by user id; `limit` 1..1000. */
  listBans(tenantId: TenantId, id: ConversationId, page: { cursor?: string; limit: number }): Promise<Page<Ban>>;
}

// ─── Identity storage ───────────────────────────────────────────────────────────────────────

/**
 * Refresh-token families. A family starts at login/registration; every refresh rotates it to the
 * next generation. The current generation's accepted secret hashes are kept (one, or a few
 * siblings issued within the reuse grace window, see `rotate`), and beside them the hashes of the
 * last REFRESH_SPENT_GENERATIONS_KEPT spent generations (so that reuse is proven, not claimed), so
 * storage per family is bounded however often it rotates.
 *
 * Each user's families are indexed (for `revokeUser`). The index holds at most
 * REFRESH_FAMILIES_PER_USER_MAX families and forgets each at its expiry, so it is bounded too.
 */
export interface RefreshFamily {
  tenantId: TenantId;
  familyId: string;
  userId: UserId;
  generation: number;
  /** The secret hash of the token just issued for `generation`. */
  secretHash: string;
  expiresAt: EpochMs;
}

export type RotateResult =
  | { status: 'rotated'; family: RefreshFamily }
  /** A spent generation was presented with the secret it was issued with: the family is now revoked. */
  | { status: 'reused' }
  /**
   * Unknown, revoked or expired family, a generation from the future, or a secret that does not
   * match the generation presented (current or spent). Nothing changes.
   */
  | { status: 'invalid' };

/**
 * Spent generations whose secret hash a family remembers. A spent token older than this can no
 * longer prove reuse: it is just `invalid` (its family has rotated this many times since).
 */
export const REFRESH_SPENT_GENERATIONS_KEPT = 16;

/**
 * Live families one user may have (sessions: devices, browsers). Starting one more revokes the
 * user's family that expires soonest, so a user who signs in without end cannot grow storage.
 */
export const REFRESH_FAMILIES_PER_USER_MAX = 100;

/**
 * Tokens one generation may have: the first plus siblings issued within the reuse grace window.
 * A spent token presented within the window when the current generation has this many already is
 * treated as reuse (the family is revoked): no number of open tabs explains more.
 */
export const REFRESH_SIBLINGS_MAX = 16;

export interface RefreshTokenStore {
  /**
   * Stores a new family at generation 0 and indexes it under its user. Expires on its own at
   * `expiresAt`. When the user would have more than REFRESH_FAMILIES_PER_USER_MAX live families
   * (at `now`), the ones expiring soonest are revoked.
   */
  create(family: RefreshFamily, now: EpochMs): Promise<void>;
  /**
   * Atomic compare-and-rotate. When `generation` is the current one and `secretHash` is one of its
   * accepted hashes, moves the family to generation+1 with `next.secretHash` and
   * `next.expiresAt`: of concurrent rotations with one token exactly one gets `rotated`.
   *
   * Grace window (`reuseGraceMs` > 0): when `generation` is the one spent by the family's latest
   * rotation, `secretHash` is a hash it accepted, and `now` is at most `reuseGraceMs` after that
   * rotation, the token is not treated as reuse: `next.secretHash` becomes one more accepted hash
   * (a sibling) of the current generation and the answer is `rotated` with that generation. So
   * two tabs refreshing with one token at once both get a working token. Siblings rotate like the
   * first token: whichever rotates first spends the generation, and the others presented after the
   * window are reuse. The window counts from the rotation, never from a sibling, so siblings do not
   * extend it; beyond REFRESH_SIBLINGS_MAX tokens for one generation it is reuse.
   *
   * Otherwise, when `generation` is one of the last REFRESH_SPENT_GENERATIONS_KEPT spent
   * generations and `secretHash` is a hash that generation accepted (a genuine spent token came
   * back: someone holds a copy), revokes the family and answers `reused`. Any other mismatch,
   * including a spent generation with a wrong secret (a forged token: the family id alone proves
   * nothing), is `invalid` and changes nothing.
   */
  rotate(
    tenantId: TenantId,
    familyId: string,
    generation: number,
    secretHash: string,
    next: { secretHash: string; expiresAt: EpochMs },
    now: EpochMs,
    reuseGraceMs?: number,
  ): Promise<RotateResult>;
  /** Revokes the family: no token of it rotates again. Idempotent. */
  revoke(tenantId: TenantId, familyId: string): Promise<void>;
  /**
   * Revokes every family of the user that existed when the call began; answers how many it found
   * (live or not). Idempotent. Not atomic with a `create` running at the same time for the same user:
   * that family may survive (the Redis engine keeps families and the user's index in different
   * slots), so callers that must end every session also refuse the user elsewhere.
   */
  revokeUser(tenantId: TenantId, userId: UserId): Promise<number>;
}

/** A key pair that signs built-in access tokens, shared by every node. */
export interface StoredSigningKey {
  kid: string;
  alg: 'EdDSA' | 'ES256';
  /** JWK of the private key (stored as the engine stores everything: operators secure Redis). */
  privateJwk: Record<string, unknown>;
  publicJwk: Record<string, unknown>;
  createdAt: EpochMs;
}

/** A stored signing key as listed: `retiresAt` tells when a key that no longer signs stops being listed. */
export interface ListedSigningKey extends StoredSigningKey {
  /** Absent on the current key (the one new tokens are signed with); set on every other. */
  retiresAt?: EpochMs;
}

/**
 * Signing keys listed at once (the current one and those retiring). A rotation that would list more
 * is refused until the oldest retires, so storage and every JWKS stay small however often
 * operators rotate.
 */
export const SIGNING_KEYS_MAX = 6;

export type SigningKeyRotation =
  | {
      status: 'rotated';
      current: StoredSigningKey;
      /** Every key still listed beside the new one (the key it replaced among them), in list order. */
      previous: { kid: string; retiresAt: EpochMs }[];
    }
  /** SIGNING_KEYS_MAX keys are listed; nothing changed. `retryAt`: when the oldest one retires. */
  | { status: 'limit'; retryAt: EpochMs };

export interface SigningKeyStore {
  /**
   * Returns the current signing key, storing `candidate` first when there is none. Atomic and
   * first-writer-wins, so nodes starting together all end up with the same key.
   */
  ensureCurrent(candidate: StoredSigningKey): Promise<StoredSigningKey>;
  /**
   * Every key whose tokens may still be valid at `now`, for JWKS and verification: the current key
   * first (no `retiresAt`), then the retiring ones, the last to retire first (ties by kid). Keys
   * whose `retiresAt` has come are omitted and deleted (their private halves are not kept).
   */
  list(now: EpochMs): Promise<ListedSigningKey[]>;
  /**
   * Makes `candidate` the current key, atomically: from this call on, ensureCurrent returns it on
   * every node. The key it replaces stays listed until `now + retireAfterMs` (callers pass the
   * longest time a token signed with it may still be accepted); keys already retiring keep their
   * date. With no current key, `candidate` simply becomes the first. Refused (status `limit`,
   * nothing changed) when it would list more than SIGNING_KEYS_MAX keys at `now`. `candidate.kid`
   * must be new: a stored kid is a programming error (invalid_argument).
   */
  rotate(candidate: StoredSigningKey, now: EpochMs, retireAfterMs: number): Promise<SigningKeyRotation>;
  /**
   * Returns the deployment's issuer (the `iss` of built-in tokens), storing `candidate` first
   * when there is none. Atomic and first-writer-wins like ensureCurrent: once stored it never
   * changes, so every node on the same storage signs and accepts the same `iss`.
   */
  ensureIssuer(candidate: string): Promise<string>;
}

// ─── External identity providers ───────────────────────────────────────────────────────────

/** The most providers one tenant may trust. */
export const MAX_IDENTITY_PROVIDERS_PER_TENANT = 10;

export type PutIdentityProviderResult =
  | { status: 'created' | 'replaced'; provider: IdentityProvider }
  /** Another provider (of any tenant) has this (issuer, audience): nothing changed. */
  | { status: 'conflict' }
  /** The tenant has MAX_IDENTITY_PROVIDERS_PER_TENANT providers already and this is a new one. */
  | { status: 'too_many' };

/**
 * The external OpenID Connect providers every tenant trusts. Few and small, and read whole by every
 * node to route tokens, so they live together (on Redis one global slot, each key naming its
 * tenant where it holds one tenant's data).
 */
export interface IdentityProviderStore {
  /**
   * Creates or replaces the tenant's provider `provider.id`. Atomic: the (issuer, audience) pair
   * is claimed in the same step, unique across every tenant and provider (a replaced provider
   * releases its old pair); a replacement keeps the stored createdAt.
   */
  put(provider: IdentityProvider): Promise<PutIdentityProviderResult>;
  get(tenantId: TenantId, id: string): Promise<IdentityProvider | null>;
  /** The tenant's providers by id (at most MAX_IDENTITY_PROVIDERS_PER_TENANT). */
  list(tenantId: TenantId): Promise<IdentityProvider[]>;
  /** Every provider of every tenant, for the per-node token router. */
  listAll(): Promise<IdentityProvider[]>;
  /** Deletes the provider and releases its (issuer, audience); false when absent. */
  delete(tenantId: TenantId, id: string): Promise<boolean>;
}

// ─── Realtime: event logs, topics, presence ────────────────────────────────────────────────

/**
 * Bounded logs of durable events. Each conversation has a log (written by the mutations above);
 * each user has an inbox (written by `notify`) for changes of that user's own memberships, which
 * the user must hear about even when no longer a member.
 *
 * Retention: a log keeps at most `maxEvents` events and drops events older than `maxAgeMs` when
 * new ones arrive (both given to the engine factory). Ids are `<at>-<n>` (see domain/events.ts):
 * `at` is the change's time, made non-decreasing within a log.
 */
export interface EventStore {
  /**
   * Events of the conversation's log after `after` (exclusive; null: from the oldest kept), in log
   * order, at most `limit` (1..1000). `trimmed` is true when retention dropped events that came
   * after `after`: the caller cannot replay without a gap.
   */
  read(
    tenantId: TenantId,
    conversationId: ConversationId,
    after: EventId | null,
    limit: number,
  ): Promise<{ events: EventEnvelope[]; trimmed: boolean }>;
  /** The newest event id of each conversation's log (null where empty or absent), in order. */
  heads(tenantId: TenantId, conversationIds: readonly ConversationId[]): Promise<(EventId | null)[]>;
  /**
   * Appends `event` to each user's inbox (one entry each, id `<at>-<n>` of that inbox) and
   * publishes it on each user's topic. Not atomic across users: each user's entry is.
   */
  notify(tenantId: TenantId, userIds: readonly UserId[], event: ConversationEvent, at: EpochMs): Promise<void>;
  /** The user's inbox after `after`, like `read`. */
  readInbox(tenantId: TenantId, userId: UserId, after: EventId | null, limit: number): Promise<{ events: EventEnvelope[]; trimmed: boolean }>;
}

/**
 * Topics: every conversation has one (its durable events, as logged, and ephemeral events) and
 * every user has one (its inbox). Publishing costs one message per event, whoever listens.
 */
export interface PubSub {
  /** Publishes an ephemeral event on the conversation's topic; nothing is stored. */
  publishEphemeral(tenantId: TenantId, conversationId: ConversationId, event: EphemeralEvent): Promise<void>;
  /**
   * A subscriber for one node. It hears the topics it subscribed to, each message once, and the
   * messages of one topic in the order they were published. After `subscribe…` resolves, every
   * message published afterwards is heard. `onMessage` must not throw.
   * `onInterrupted` is called when messages may have been missed (the subscription's connection
   * dropped and came back): whoever relied on hearing everything must catch up from the logs.
   */
  createSubscriber(onMessage: (message: TopicMessage) => void, onInterrupted?: () => void): Subscriber;
}

export interface Subscriber {
  subscribeConversations(tenantId: TenantId, conversationIds: readonly ConversationId[]): Promise<void>;
  unsubscribeConversations(tenantId: TenantId, conversationIds: readonly ConversationId[]): Promise<void>;
  subscribeUsers(tenantId: TenantId, userIds: readonly UserId[]): Promise<void>;
  unsubscribeUsers(tenantId: TenantId, userIds: readonly UserId[]): Promise<void>;
  close(): Promise<void>;
}

export interface Presence {
  status: 'online' | 'offline';
  /** Online: null. Offline: when the user's last connection closed (null if never seen). */
  lastSeenAt: EpochMs | null;
}

/**
 * Who is online, across nodes. A user is online while at least one live node holds a connection
 * of theirs. Nodes prove they are alive with heartbeats; a node whose heartbeat expired counts as
 * gone, and `sweepDeadNodes` turns its users offline, so a crashed node leaves nobody online.
 */
export interface PresenceStore {
  /** Records that `nodeId` is alive until `expiresAt`. */
  heartbeat(nodeId: string, expiresAt: EpochMs): Promise<void>;
  /**
   * One more connection of the user on the node. `cameOnline`: the user was offline before.
   * `connections`: the user's connections now, this one included, on every node not yet swept
   * (a crashed node's count until a sweep removes it). Atomic per user.
   */
  connect(tenantId: TenantId, userId: UserId, nodeId: string, now: EpochMs): Promise<{ cameOnline: boolean; connections: number }>;
  /**
   * One connection fewer. When the user has no connection left on any live node: offline with
   * lastSeenAt = now, and `wentOffline` is true. Atomic per user.
   */
  disconnect(tenantId: TenantId, userId: UserId, nodeId: string, now: EpochMs): Promise<{ wentOffline: boolean }>;
  get(tenantId: TenantId, userIds: readonly UserId[], now: EpochMs): Promise<Presence[]>;
  /**
   * Claims every node whose heartbeat expired before `now` (each dead node is claimed by exactly
   * one caller), removes its connections and returns the users who went offline because of it.
   * Also forgets the node cleanly: `nodeId` may call it for itself on shutdown via `removeNode`.
   */
  sweepDeadNodes(now: EpochMs): Promise<{ tenantId: TenantId; userId: UserId; lastSeenAt: EpochMs }[]>;
  /** Removes a node that shuts down cleanly, like a sweep of that one node. */
  removeNode(nodeId: string, now: EpochMs): Promise<{ tenantId: TenantId; userId: UserId; lastSeenAt: EpochMs }[]>;
}

// ─── Revocations ────────────────────────────────────────────────────────────────────────────

/**
 * A change that makes credentials verified earlier invalid, or key material cached earlier stale.
 * Nodes keep what they verified (principals of access tokens, provider registries, the current
 * signing key) in memory; a revocation tells each of them what to forget.
 */
export type Revocation =
  /** The user's account was deleted: none of its tokens is valid any more. */
  | { kind: 'user'; tenantId: TenantId; userId: UserId }
  /** A tenant API key was revoked. */
  | { kind: 'api-key'; tenantId: TenantId; keyId: string }
  /** An external identity provider was created, replaced or deleted. */
  | { kind: 'identity-provider'; tenantId: TenantId; providerId: string }
  /** The built-in signing keys were rotated: sign with the new current key. */
  | { kind: 'signing-keys' };

/**
 * Tells every node of the deployment (every process on the same storage) about revocations.
 *
 * Guarantees: a revocation published after `listen` resolved is heard by that listener once, this
 * node's own included; nothing is stored, so a node that was not listening hears nothing, and a
 * listener that may have missed messages (its connection dropped and came back) is told through
 * `onInterrupted` and must then forget everything it cached. Delivery is asynchronous.
 */
export interface RevocationBus {
  publish(revocation: Revocation): Promise<void>;
  /** Starts listening; resolves once every later publication will be heard. */
  listen(onRevocation: (revocation: Revocation) => void, onInterrupted: () => void): Promise<RevocationListener>;
}

export interface RevocationListener {
  /** Stops listening. Idempotent. */
  close(): Promise<void>;
}

// ─── Webhooks ───────────────────────────────────────────────────────────────────────────────

/**
 * Webhook endpoints and their delivery queues.
 *
 * Queueing rides the event log: every step that appends a durable event to a conversation's log
 * (see "Event log" in the module comment) also appends it, in the same atomic step, to the queue of
 * each enabled webhook of the tenant that subscribes to its type (domain/webhooks.ts `subscribes`).
 * A crash after the change therefore cannot lose the queued entry. Inbox entries
 * (EventStore.notify) are not queued: they repeat conversation events for one user. Changing a
 * webhook (create, update, delete) takes effect for every event logged after the call resolved
 * (on Redis Cluster: relayed after it; see `relayed`).
 *
 * A queue is a FIFO: entries of one conversation in log order. Delivery is at least once:
 *   - one node at a time holds a webhook's lease (`lease`); `take` hands out nothing to a node that
 *     does not hold it at its `now`, so an old holder whose lease lapsed stops taking;
 *   - `take` hands entries out; each stays in flight until `settle` records its outcome. An entry
 *     in flight and unsettled for WEBHOOK_IN_FLIGHT_MS (taken by any node, a stopped one, this one
 *     after a lost reply) is handed out again by `take`; `reclaim` hands a new holder the entries of
 *     other nodes at once;
 *   - a retry (`settle` … 'retry') is handed out by `take` once due, never holding back later
 *     entries.
 * Bounds and retention:
 *   - an entry left in the queue once settled (delivered or failed; a manual `retry` still finds
 *     it) goes WEBHOOK_SETTLED_RETENTION_MS after it was queued; entries not settled are never
 *     dropped for their age;
 *   - a queue keeps at most MAX_WEBHOOK_QUEUE entries (settled or not): queueing beyond that drops
 *     the oldest; those never handed out (lost before any attempt) are counted in
 *     `backlog().dropped`; a retry, stale entry or manual retry whose entry was dropped ends as
 *     failed ('dropped');
 *   - delivered and failed delivery records are kept up to MAX_WEBHOOK_DELIVERY_RECORDS per
 *     webhook, the newest; a pending delivery's record stays until it ends (bounded by the queue).
 *
 * Event ids: a logged event's id is `evt_` + the first 32 hex digits of the SHA-1 of
 * `<conversationId>\n<event log id>`, the same for every webhook that receives it. Delivery ids
 * are unique within their webhook.
 */
export interface WebhookStore {
  /**
   * Resolves once every event logged through this engine before the call is in its webhooks'
   * queues. On Redis Cluster the logging step writes the event (atomically) to an outbox in the
   * conversation's slot, and a relay queues it moments later; elsewhere the logging step queues it
   * itself and this resolves at once.
   */
  relayed(): Promise<void>;
  /**
   * Creates the webhook. Atomic with the tenant's count: `too_many_webhooks` (nothing stored)
   * when the tenant has `maxPerTenant` already; `id_taken` when the tenant has one with this id.
   */
  create(webhook: Webhook, maxPerTenant: number): Promise<'created' | 'too_many_webhooks' | 'id_taken'>;
  get(tenantId: TenantId, id: WebhookId): Promise<Webhook | null>;
  /** The tenant's webhooks, oldest first (ties by id). */
  list(tenantId: TenantId): Promise<Webhook[]>;
  /**
   * Writes only the given settings, in one atomic step with routing (disabled, or no longer
   * subscribed to a type: no more such entries queued; entries already queued stay); whatever
   * else changes concurrently (a secret rotated, a disable by `settle`) survives. `enabled: true`
   * on a disabled webhook also clears failingSince and disabledAt; `enabled: false` keeps them.
   * Returns the webhook after the change; null (nothing stored) when absent.
   */
  update(tenantId: TenantId, id: WebhookId, changes: WebhookChanges): Promise<Webhook | null>;
  /**
   * Rotates the signing secret in one atomic step touching nothing else: `secret` becomes the
   * current one, the previous current one expires at `now + graceMs`, secrets expired at `now`
   * go, and at most MAX_WEBHOOK_SECRETS are kept (newest first). Null when absent.
   */
  rotateSecret(tenantId: TenantId, id: WebhookId, secret: string, now: EpochMs, graceMs: number): Promise<Webhook | null>;
  /** Deletes the webhook with its queue, retries, delivery records and lease. False when absent. */
  delete(tenantId: TenantId, id: WebhookId): Promise<boolean>;
  /** Every webhook of every tenant (for the nodes' dispatchers), in no particular order. */
  listAll(): Promise<{ tenantId: TenantId; id: WebhookId }[]>;
  /**
   * Queues an event for this one webhook, whatever it subscribes to (a `webhook.ping`): `event`
   * is stored as it is, with `type`. Null when the webhook is absent.
   */
  enqueue(tenantId: TenantId, id: WebhookId, entry: { eventId: string; type: string; at: EpochMs; event: Record<string, unknown> }): Promise<QueuedWebhookEvent | null>;
  /**
   * Takes or renews the lease on the webhook's queue for `nodeId`, until `now + ttlMs`.
   * `acquired`: the node did not hold it (call `reclaim` before `take`); `renewed`; `held`: another
   * node holds it; `absent`: no such webhook (the registry that `listAll` reads forgets it in the
   * same call).
   */
  lease(tenantId: TenantId, id: WebhookId, nodeId: string, ttlMs: number, now: EpochMs): Promise<'acquired' | 'renewed' | 'held' | 'absent'>;
  /** Gives the lease up if `nodeId` holds it; its entries in flight wait for the next holder's `reclaim`. */
  release(tenantId: TenantId, id: WebhookId, nodeId: string): Promise<void>;
  /**
   * Hands `nodeId` up to `limit` (1..1000) entries taken from the queue by other nodes and never
   * settled, in queue order within the call; they are in flight again, now for this node, as taken
   * at the lease's expiry (due again by `take` WEBHOOK_IN_FLIGHT_MS after it). Call it after `lease`
   * answered `acquired`, again while it returns `limit` entries. Entries this node itself took are
   * not among them (`take` hands them out again once in flight too long); retries are not either.
   * Forgets nodes left with nothing in flight.
   */
  reclaim(tenantId: TenantId, id: WebhookId, nodeId: string, limit: number): Promise<QueuedWebhookEvent[]>;
  /**
   * Nothing unless `nodeId` holds the lease at `now`. Else up to `limit` (1..1000) entries for
   * `nodeId` to deliver, now in flight (taken at `now`): first entries in flight unsettled for
   * WEBHOOK_IN_FLIGHT_MS (whoever took them; queue order), then retries due at `now` (earliest due
   * first), then entries never handed out, in queue order. Each comes with its delivery record
   * when an attempt was made before (null otherwise).
   */
  take(
    tenantId: TenantId,
    id: WebhookId,
    nodeId: string,
    limit: number,
    now: EpochMs,
  ): Promise<{ entry: QueuedWebhookEvent; delivery: WebhookDelivery | null }[]>;
  /**
   * Records an attempt at an entry in flight, in one step with ending its in-flight state, whoever
   * holds the lease (an outcome is worth recording): `delivered` and `failed` end it (a failed
   * record is the dead letter), `retry` hands it out again at `delivery.nextAttemptAt`. `delivery`
   * (id = the entry's deliveryId) replaces the previous record. The webhook's `failingSince` is
   * cleared by `delivered` and set to `now` by the others when null; when it is then at or before
   * `disableFailingSince` the webhook is disabled in the same step (enabled false, disabledAt now).
   * Returns whether that happened. Settling an entry of a deleted webhook changes nothing (false).
   * Also drops settled entries past WEBHOOK_SETTLED_RETENTION_MS at `now`.
   */
  settle(
    tenantId: TenantId,
    id: WebhookId,
    delivery: WebhookDelivery,
    outcome: 'delivered' | 'retry' | 'failed',
    now: EpochMs,
    disableFailingSince: EpochMs,
  ): Promise<{ disabled: boolean }>;
  /** The webhook's delivery records, newest attempt first, at most `limit` (1..100); null when the webhook is absent. */
  deliveries(tenantId: TenantId, id: WebhookId, limit: number): Promise<WebhookDelivery[] | null>;
  /**
   * A manual retry: a delivered or failed delivery is due again at `now` (status pending, its
   * attempts kept). `pending` when it is still being delivered (nothing changes), `dropped` when
   * its entry left the queue (the record says failed), `not_found` without such a record.
   */
  retry(tenantId: TenantId, id: WebhookId, deliveryId: string, now: EpochMs): Promise<'queued' | 'pending' | 'dropped' | 'not_found'>;
  /**
   * For metrics: entries neither delivered nor failed (never handed out, in flight, awaiting a
   * retry), the queue time of the oldest of them (null when none), and how many entries the
   * MAX_WEBHOOK_QUEUE bound dropped before they were ever handed out, since the webhook was created.
   */
  backlog(tenantId: TenantId, id: WebhookId): Promise<{ depth: number; oldestAt: EpochMs | null; dropped: number }>;
  /**
   * Calls `onWork` soon after entries are queued for a webhook, on any node. A hint, not a
   * guarantee: dispatchers poll too, so a missed call only delays a delivery.
   */
  watch(onWork: (tenantId: TenantId, id: WebhookId) => void): Promise<{ close(): Promise<void> }>;
}

/** The settings `WebhookStore.update` writes; absent fields stay as they are. */
export interface WebhookChanges {
  url?: string;
  /** Event types, or ['*']; never empty. */
  events?: string[];
  description?: string | null;
  enabled?: boolean;
}

/** WebhookStore bounds (see its comment). */
export const MAX_WEBHOOK_QUEUE = 100_000;
export const MAX_WEBHOOK_DELIVERY_RECORDS = 1000;
export const WEBHOOK_IN_FLIGHT_MS = 60_000;
export const WEBHOOK_SETTLED_RETENTION_MS = 24 * 60 * 60 * 1000;

// ─── Rate limits ────────────────────────────────────────────────────────────────────────────

/**
 * A limit: at most `count` in any burst, refilled continuously at `count` per `windowMs`.
 * `windowMs / count` (the emission interval) is rounded up to a whole millisecond, so a limit
 * never admits more than it says; RATE_LIMIT_* settings keep count <= windowMs.
 */
export interface RateLimitPolicy {
  count: number;
  windowMs: number;
}

/** What is limited: a named limit and the subject it counts for. */
export interface RateLimitKey {
  /** The limit's name (`send`, `login-failures-ip`...): two limits never share a counter. */
  limit: string;
  /**
   * The tenant of the subject; null for deployment-wide subjects (a client IP may try any
   * tenant, and its limit counts all of them): the one exception to tenant isolation here.
   */
  tenantId: TenantId | null;
  /** Who is counted within the tenant: a user id, a username, an IP, a key id. */
  subject: string;
}

/** One unit of a rate limit for a step that counts it itself (MessageStore.appendCounted). */
export interface CountedUnit {
  key: RateLimitKey;
  policy: RateLimitPolicy;
  now: EpochMs;
}

export interface RateLimitDecision {
  /** consume: this unit was counted; peek: a consume now would be. */
  allowed: boolean;
  /** Units left in the burst after this decision (0 when refused). */
  remaining: number;
  /** Milliseconds until the full burst is available again (0 when nothing is counted). */
  resetMs: number;
  /** Refused: milliseconds until a consume is allowed again, exactly; allowed: 0. */
  retryAfterMs: number;
}

/**
 * Rate limit counters shared by every node on the same store (GCRA: one number per key, the
 * theoretical arrival time, so a counter is a few bytes whatever its limit).
 *
 *   - Atomic per key: concurrent consumes of one key, from any node, never admit more than the
 *     policy allows; keys are independent of each other (and tenants of each other).
 *   - Time is passed in (`now`); the decision depends only on the stored state and `now`.
 *   - Bounded memory: a key forgets itself once its burst is full again (resetMs after the last
 *     consume), which is the same as never having been counted.
 *   - A refused consume changes nothing (it does not push the retry time further away).
 * `policy` is the caller's setting for `key.limit`; a key is always used with one policy.
 */
export interface RateLimitStore {
  /** Counts one unit if the policy allows it now. */
  consume(key: RateLimitKey, policy: RateLimitPolicy, now: EpochMs): Promise<RateLimitDecision>;
  /** What a consume would decide now, without counting anything. */
  peek(key: RateLimitKey, policy: RateLimitPolicy, now: EpochMs): Promise<RateLimitDecision>;
  /**
   * Gives one counted unit back (a caller counted a unit up front and the counted event did not
   * happen, e.g. a login whose password was right): the TAT moves back by one interval, never
   * below `now`. So it restores at most one unit, never more than the burst (a key with nothing
   * counted stays as it is), and is atomic per key with concurrent consumes and refunds: with R
   * refunds, consumes never admit more than the policy plus R. Answers what a peek would now.
   */
  refund(key: RateLimitKey, policy: RateLimitPolicy, now: EpochMs): Promise<RateLimitDecision>;
}

/** Retention of event logs and inboxes; passed to engine factories. */
export interface EventRetention {
  maxEvents: number;
  maxAgeMs: EpochMs;
}
export const DEFAULT_EVENT_RETENTION: EventRetention = { maxEvents: 10_000, maxAgeMs: 24 * 60 * 60 * 1000 };
