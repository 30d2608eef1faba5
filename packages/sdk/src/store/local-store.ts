/**
 * A small local store of what one user sees: conversations ordered by activity with unread
 * counts, each conversation's messages by seq, and members' read positions ("seen by"). It is
 * filled from REST (`loadConversations`, `loadMessages`) and kept in sync by realtime events
 * (`apply`, or `follow(connection)`); UIs subscribe to be told of changes. No DOM, no timers
 * beyond typing expiry: it runs headless in Node as well.
 *
 * Guarantees: `conversations()`, `conversation(id)` and `messages(id)` return the same objects
 * between two notifications and new ones after a change that concerns them (never a mutated
 * old one), so a UI can compare by reference (React's useSyncExternalStore); applying the same
 * message.created twice changes nothing; messages are always in ascending seq.
 * Known limits: a `resync` reloads the conversation list and delivers missed messages, but not
 * the edits, reactions or receipts of the gap on messages already held (reload those views);
 * reactions counted by a REST page and again by an overlapping reaction event count twice.
 */
import { defaultScheduler, type Scheduler } from '../realtime/deps.js';
import { callEach } from '../realtime/emitter.js';
import type { RealtimeConnection, RealtimeEvent } from '../realtime/connection.js';
import type { Conversation, ConversationListItem, Member, Message, PresenceEvent, TypingEvent } from '../realtime/wire.js';

export interface StoredConversation {
  id: string;
  type: Conversation['type'];
  title: string | null;
  memberCount: number;
  createdAt: string;
  lastSeq: number;
  lastMessage: Message | null;
  /** Messages from others above the user's read position. */
  unreadCount: number;
  /** The last message's time, or the creation time: what the list is ordered by. */
  lastActivityAt: string;
}

export interface LocalStoreOptions {
  /** The signed-in user: their own messages are never unread, and their read position drives unread counts. */
  userId: string;
  /** How long a typing indicator lasts without a new typing event (ms). Default 6 000. */
  typingTimeoutMs?: number;
  scheduler?: Partial<Scheduler>;
  /** Told of an error thrown by a subscriber (the other subscribers are still called). Default: reported as an uncaught error, asynchronously. */
  onListenerError?: (error: unknown) => void;
}

interface ConversationState {
  conversation: StoredConversation;
  /** Known members' read positions (members beyond the first 100 appear as they read or send). */
  readPositions: Map<string, number>;
  roles: Map<string, Member['role']>;
}

const activityOf = (createdAt: string, lastMessage: Message | null) => lastMessage?.createdAt ?? createdAt;

export class LocalStore {
  private readonly userId: string;
  private readonly scheduler: Scheduler;
  private readonly conversationsById = new Map<string, ConversationState>();
  private readonly messagesByConversation = new Map<string, Map<number, Message>>();
  private readonly typingByConversation = new Map<string, Map<string, unknown>>();
  private readonly presenceByUser = new Map<string, PresenceEvent>();
  /** Conversations events mentioned that the store does not hold. */
  private readonly unknown = new Set<string>();
  private readonly listeners = new Set<() => void>();
  // Snapshots, rebuilt lazily after a change.
  private conversationList: StoredConversation[] | null = null;
  private readonly messageLists = new Map<string, Message[]>();

  constructor(private readonly options: LocalStoreOptions) {
    this.userId = options.userId;
    this.scheduler = { ...defaultScheduler, ...options.scheduler };
  }

  /** Calls `listener` after every change; returns the function that unsubscribes. A listener that throws does not stop the others (`onListenerError`). */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The conversations, most recent activity first. */
  conversations(): readonly StoredConversation[] {
    this.conversationList ??= [...this.conversationsById.values()]
      .map((state) => state.conversation)
      .sort((a, b) => (a.lastActivityAt === b.lastActivityAt ? (a.id < b.id ? 1 : -1) : a.lastActivityAt < b.lastActivityAt ? 1 : -1));
    return this.conversationList;
  }

  conversation(conversationId: string): StoredConversation | undefined {
    return this.conversationsById.get(conversationId)?.conversation;
  }

  /** The conversation's known messages, ascending by seq. */
  messages(conversationId: string): readonly Message[] {
    let list = this.messageLists.get(conversationId);
    if (!list) {
      list = [...(this.messagesByConversation.get(conversationId)?.values() ?? [])].sort((a, b) => a.seq - b.seq);
      this.messageLists.set(conversationId, list);
    }
    return list;
  }

  /** Known members' read positions: userId → the seq they read up to. */
  readPositions(conversationId: string): ReadonlyMap<string, number> {
    return this.conversationsById.get(conversationId)?.readPositions ?? new Map();
  }

  /** Members other than the user and the message's sender who have read up to `seq`. */
  seenBy(conversationId: string, seq: number): string[] {
    const state = this.conversationsById.get(conversationId);
    if (!state) return [];
    const senderId = this.messagesByConversation.get(conversationId)?.get(seq)?.senderId ?? null;
    return [...state.readPositions]
      .filter(([userId, read]) => read >= seq && userId !== this.userId && userId !== senderId)
      .map(([userId]) => userId)
      .sort();
  }

  /** Users typing in the conversation now (not the user themself). */
  typing(conversationId: string): string[] {
    return [...(this.typingByConversation.get(conversationId)?.keys() ?? [])].sort();
  }

  presence(userId: string): PresenceEvent | undefined {
    return this.presenceByUser.get(userId);
  }

  /**
   * Conversations that events mention but the store does not hold (joined since the list was
   * loaded, or beyond the pages loaded): fetch each (`GET /v1/conversations/{id}`) and
   * `putConversation` it.
   */
  unknownConversationIds(): string[] {
    return [...this.unknown].sort();
  }

  /** Adds or replaces one conversation (a list item also sets its last message and unread count). */
  putConversation(conversation: Conversation | ConversationListItem): void {
    const state = this.upsertConversation(conversation);
    if ('unreadCount' in conversation) {
      state.conversation = {
        ...state.conversation,
        lastMessage: conversation.lastMessage,
        lastActivityAt: activityOf(conversation.createdAt, conversation.lastMessage),
        unreadCount: conversation.unreadCount,
      };
    }
    this.changed();
  }

  /** Replaces the conversation list with REST's (`GET /v1/conversations`, every page). Messages already loaded stay. */
  loadConversations(items: readonly ConversationListItem[]): void {
    const seen = new Set<string>();
    for (const item of items) {
      seen.add(item.id);
      const state = this.upsertConversation(item);
      // The last message is not added to the conversation's messages: alone, it would leave a
      // hole below it that history paging would not know to fill.
      state.conversation = {
        ...state.conversation,
        lastMessage: item.lastMessage,
        lastActivityAt: activityOf(item.createdAt, item.lastMessage),
        unreadCount: item.unreadCount,
      };
    }
    for (const id of [...this.conversationsById.keys()]) if (!seen.has(id)) this.conversationsById.delete(id);
    for (const id of seen) this.unknown.delete(id);
    this.changed();
  }

  /** Adds a page of history (any order, any range): later versions of a message replace earlier ones. */
  loadMessages(conversationId: string, messages: readonly Message[]): void {
    for (const message of messages) if (message.conversationId === conversationId) this.putMessage(message);
    this.messageLists.delete(conversationId);
    this.changed();
  }

  /**
   * Drops the messages held for a conversation (the conversation itself, its last message and
   * unread count stay). After a `resync`, what is held may have a gap in the middle, and the edits,
   * deletes and reactions of the gap were never applied: a view reads the conversation again
   * (its latest page, then older pages as it scrolls) instead of showing a hole.
   */
  forgetMessages(conversationId: string): void {
    if (!this.messagesByConversation.delete(conversationId)) return;
    this.messageLists.delete(conversationId);
    this.changed();
  }

  /**
   * Adds a message known otherwise than from the connection, e.g. the offline queue's
   * acknowledged send (`queue.on('sent', (item) => store.addMessage(item.message!))`), so the
   * user's own message shows while the connection is reconnecting. It counts and orders as its
   * `message.created` would; that event, when it follows, changes nothing (idempotent by seq).
   */
  addMessage(message: Message): void {
    this.onMessageCreated(message);
    this.changed();
  }

  /** Applies a durable event from the realtime connection (idempotent for message.created). */
  apply(event: RealtimeEvent): void {
    switch (event.type) {
      case 'message.created':
        this.onMessageCreated(event.message);
        break;
      case 'message.updated':
      case 'message.deleted':
        // A message not loaded stays unloaded (history paging fills it in): no holes in what is shown.
        if (this.messagesByConversation.get(event.message.conversationId)?.has(event.message.seq)) this.putMessage(event.message);
        else this.updateLastMessage(event.message);
        break;
      case 'reaction.added':
      case 'reaction.removed':
        this.onReaction(event.conversationId, event.messageId, event.emoji, event.userId, event.type === 'reaction.added');
        break;
      case 'conversation.created':
      case 'conversation.updated':
        this.upsertConversation(event.conversation);
        break;
      case 'member.added':
      case 'member.updated': {
        const state = this.conversationsById.get(event.conversationId);
        if (!state) {
          if (event.userId === this.userId) this.unknown.add(event.conversationId);
          break;
        }
        if (event.type === 'member.added' && !state.roles.has(event.userId)) {
          state.conversation = { ...state.conversation, memberCount: state.conversation.memberCount + 1 };
        }
        state.roles.set(event.userId, event.role);
        if (!state.readPositions.has(event.userId)) state.readPositions.set(event.userId, 0);
        break;
      }
      case 'member.removed': {
        if (event.userId === this.userId) {
          this.conversationsById.delete(event.conversationId);
          this.unknown.delete(event.conversationId);
          break;
        }
        const state = this.conversationsById.get(event.conversationId);
        if (!state) break;
        if (state.roles.delete(event.userId)) state.conversation = { ...state.conversation, memberCount: Math.max(0, state.conversation.memberCount - 1) };
        state.readPositions.delete(event.userId);
        break;
      }
      case 'read':
        this.onRead(event.conversationId, event.userId, event.seq);
        break;
    }
    this.changed();
  }

  /** Typing and presence (ephemeral): typing indicators expire after `typingTimeoutMs`. */
  applyEphemeral(event: TypingEvent | PresenceEvent): void {
    if (event.type === 'presence') {
      this.presenceByUser.set(event.userId, event);
      return this.changed();
    }
    if (event.userId === this.userId) return;
    let typing = this.typingByConversation.get(event.conversationId);
    if (!typing) this.typingByConversation.set(event.conversationId, (typing = new Map()));
    const previous = typing.get(event.userId);
    if (previous !== undefined) this.scheduler.clearTimeout(previous);
    const expire = () => {
      if (typing.get(event.userId) !== timer) return;
      typing.delete(event.userId);
      this.changed();
    };
    const timer = this.scheduler.setTimeout(expire, this.options.typingTimeoutMs ?? 6000);
    typing.set(event.userId, timer);
    this.changed();
  }

  /** The user read up to `seq` (call beside the REST `POST .../read`, for an immediate unread count). */
  markRead(conversationId: string, seq: number): void {
    this.onRead(conversationId, this.userId, seq);
    this.changed();
  }

  /**
   * Keeps the store in sync with a realtime connection: every durable and ephemeral event, and
   * the conversation list of a REST catch-up. Returns the function that stops following.
   */
  follow(connection: RealtimeConnection): () => void {
    const stops = [
      connection.on('event', (event) => this.apply(event)),
      connection.on('typing', (event) => this.applyEphemeral(event)),
      connection.on('presence', (event) => this.applyEphemeral(event)),
      connection.on('resync', ({ conversations }) => this.loadConversations(conversations)),
    ];
    return () => stops.forEach((stop) => stop());
  }

  private upsertConversation(conversation: Conversation): ConversationState {
    this.unknown.delete(conversation.id);
    let state = this.conversationsById.get(conversation.id);
    if (!state) {
      state = {
        conversation: {
          id: conversation.id,
          type: conversation.type,
          title: conversation.title,
          memberCount: conversation.memberCount,
          createdAt: conversation.createdAt,
          lastSeq: conversation.lastSeq,
          lastMessage: null,
          unreadCount: 0,
          lastActivityAt: conversation.createdAt,
        },
        readPositions: new Map(),
        roles: new Map(),
      };
      this.conversationsById.set(conversation.id, state);
    } else {
      state.conversation = { ...state.conversation, title: conversation.title, memberCount: conversation.memberCount, lastSeq: Math.max(state.conversation.lastSeq, conversation.lastSeq) };
    }
    for (const member of conversation.members) {
      state.roles.set(member.userId, member.role);
      state.readPositions.set(member.userId, Math.max(state.readPositions.get(member.userId) ?? 0, member.lastReadSeq));
    }
    return state;
  }

  private putMessage(message: Message): void {
    let messages = this.messagesByConversation.get(message.conversationId);
    if (!messages) this.messagesByConversation.set(message.conversationId, (messages = new Map()));
    const known = messages.get(message.seq);
    // Realtime frames carry `me: false` for every reaction (one frame serves all viewers): the
    // user's own reactions are kept from what the store already knows.
    const reactions = known ? mergeOwnReactions(message.reactions, known.reactions) : message.reactions;
    messages.set(message.seq, { ...message, reactions });
    this.messageLists.delete(message.conversationId);
    const state = this.conversationsById.get(message.conversationId);
    if (state?.conversation.lastMessage?.seq === message.seq) state.conversation = { ...state.conversation, lastMessage: messages.get(message.seq)! };
  }

  private updateLastMessage(message: Message): void {
    const state = this.conversationsById.get(message.conversationId);
    if (state?.conversation.lastMessage?.seq === message.seq) state.conversation = { ...state.conversation, lastMessage: message };
  }

  private onMessageCreated(message: Message): void {
    const held = this.messagesByConversation.get(message.conversationId)?.has(message.seq) ?? false;
    this.putMessage(message);
    const state = this.conversationsById.get(message.conversationId);
    if (!state) this.unknown.add(message.conversationId);
    if (!state || held) return;
    const { conversation } = state;
    // Sending moves the sender's read position to their message (the server does the same).
    if (message.senderId !== null) state.readPositions.set(message.senderId, Math.max(state.readPositions.get(message.senderId) ?? 0, message.seq));
    // At or below the lastSeq already known (from REST or an earlier event), the message is
    // already in the unread count and the last message: a connection resuming from a cursor
    // saved before a REST load of the list replays such messages, which the store does not hold.
    if (message.seq <= conversation.lastSeq) return;
    const fromMe = message.senderId === this.userId;
    const readByMe = state.readPositions.get(this.userId) ?? 0;
    state.conversation = {
      ...conversation,
      lastSeq: Math.max(conversation.lastSeq, message.seq),
      ...(message.seq >= (conversation.lastMessage?.seq ?? 0) ? { lastMessage: message, lastActivityAt: message.createdAt } : {}),
      unreadCount: fromMe ? 0 : message.seq > readByMe ? conversation.unreadCount + 1 : conversation.unreadCount,
    };
  }

  private onRead(conversationId: string, userId: string, seq: number): void {
    const state = this.conversationsById.get(conversationId);
    if (!state) return;
    const previous = state.readPositions.get(userId) ?? 0;
    if (seq <= previous) return;
    state.readPositions.set(userId, seq);
    if (userId !== this.userId) return;
    const { conversation } = state;
    let unreadCount: number;
    if (seq >= conversation.lastSeq) unreadCount = 0;
    else {
      // Only what the store holds can be counted; messages not loaded keep being counted as unread.
      const nowRead = this.messages(conversationId).filter((m) => m.seq > previous && m.seq <= seq && m.senderId !== this.userId).length;
      unreadCount = Math.max(0, conversation.unreadCount - nowRead);
    }
    state.conversation = { ...conversation, unreadCount };
  }

  private onReaction(conversationId: string, messageId: string, emoji: string, userId: string, added: boolean): void {
    const messages = this.messagesByConversation.get(conversationId);
    const message = messages && [...messages.values()].find((candidate) => candidate.id === messageId);
    if (!messages || !message) return;
    const reactions = { ...message.reactions };
    const current = reactions[emoji] ?? { count: 0, me: false };
    const mine = userId === this.userId;
    // The user's own reaction already counted (from REST) is not counted twice.
    if (mine && current.me === added) return;
    const count = current.count + (added ? 1 : -1);
    if (count <= 0) delete reactions[emoji];
    else reactions[emoji] = { count, me: mine ? added : current.me };
    messages.set(message.seq, { ...message, reactions });
    this.messageLists.delete(conversationId);
  }

  private changed(): void {
    this.conversationList = null;
    // One failing UI subscriber must not stop the others, nor the connection delivering the event.
    callEach(this.listeners, undefined, this.options.onListenerError);
  }
}

function mergeOwnReactions(incoming: Message['reactions'], known: Message['reactions']): Message['reactions'] {
  const merged: Message['reactions'] = {};
  for (const [emoji, reaction] of Object.entries(incoming)) merged[emoji] = { count: reaction.count, me: reaction.me || (known[emoji]?.me ?? false) };
  return merged;
}

export function createLocalStore(options: LocalStoreOptions): LocalStore {
  return new LocalStore(options);
}
