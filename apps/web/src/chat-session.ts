/**
 * One signed-in user's chat: the SDK's REST client, realtime connection, local store and offline
 * send queue, wired together. The UI reads the store and calls the actions here; nothing else
 * talks to the server.
 *
 * Nothing shown is lost across a reload or a reconnect: the realtime cursor is kept in
 * sessionStorage and resumed; after a connection that could not resume, the conversation list
 * and the open conversation are read again over REST; unsent messages wait in localStorage
 * (one queue per user) and are sent once each, whatever happens in between.
 */
import {
  createLocalStore,
  createOfflineQueue,
  RealtimeConnection,
  restOperationsOf,
  WebStorageQueueStorage,
  type LocalStore,
  type Message,
  type OfflineQueue,
  type ParleyClient,
  type RealtimeError,
  type User,
} from '@parley/sdk';

/** Messages per history page. */
export const HISTORY_PAGE = 30;

interface SavedPosition {
  cursor: string | null;
  positions: Record<string, number>;
}

export interface ChatSession {
  readonly client: ParleyClient;
  readonly me: User;
  readonly connection: RealtimeConnection;
  readonly store: LocalStore;
  readonly queue: OfflineQueue;
  /** Users by id, as far as they were read (names for senders, members and "seen by"). */
  readonly users: UserDirectory;
  /** Why the connection last failed (e.g. `too-many-connections` when it went offline), if it did. */
  readonly lastConnectionError: RealtimeError | null;
  /** Changes of the connection's state and of the send queue, for components (see useChanges). */
  readonly connectionChanges: { subscribe(listener: () => void): () => void };
  readonly queueChanges: { subscribe(listener: () => void): () => void };
  /** Reads the latest page of a conversation's history (when it is opened). */
  loadLatest(conversationId: string): Promise<void>;
  /** Reads the page before the oldest message held; false when there is nothing older. */
  loadEarlier(conversationId: string): Promise<boolean>;
  /** Marks the conversation read up to its last message (REST and the store at once). */
  markRead(conversationId: string): void;
  /** Tells the session which conversation is on screen, so it is refreshed after a reconnect. */
  setOpenConversation(conversationId: string | null): void;
  /** Stops the connection and the queue; the user's unsent messages and resume position stay for their next visit. */
  close(): void;
  /** Signs out: closes, then forgets the unsent messages and the resume position kept in this browser. */
  signOut(): Promise<void>;
}

/** Display names, read once per user and shared by every view. */
export class UserDirectory {
  private readonly known = new Map<string, User | null>();
  /** Users being read now: each is read once, however many views ask meanwhile. */
  private readonly reading = new Set<string>();
  private readonly listeners = new Set<() => void>();
  private readonly presenceRead = new Map<string, 'online' | 'offline' | undefined>();

  constructor(private readonly client: ParleyClient) {}

  /** The user when read already; otherwise starts reading it and answers undefined. */
  get(userId: string): User | null | undefined {
    if (!this.known.has(userId) && !this.reading.has(userId)) {
      this.reading.add(userId);
      void this.client.users
        .get(userId)
        .then(
          (user) => this.known.set(userId, user),
          () => this.known.set(userId, null),
        )
        .finally(() => {
          this.reading.delete(userId);
          this.changed();
        })
        .catch(() => undefined);
    }
    return this.known.get(userId);
  }

  /**
   * Whether the user is online: the latest presence event, else what REST said when first asked
   * (read once; presence events keep it current after that).
   */
  presence(userId: string, store: LocalStore): 'online' | 'offline' | undefined {
    const live = store.presence(userId);
    if (live) return live.status;
    if (!this.presenceRead.has(userId)) {
      this.presenceRead.set(userId, undefined);
      void this.client.users
        .presence(userId)
        .then((presence) => {
          this.presenceRead.set(userId, presence.status);
          this.changed();
        })
        .catch(() => undefined);
    }
    return this.presenceRead.get(userId);
  }

  remember(user: User): void {
    this.known.set(user.id, user);
  }

  nameOf(userId: string | null): string {
    if (userId === null) return 'System';
    const user = this.get(userId);
    return user === undefined ? '…' : user === null ? 'Unknown user' : user.displayName;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

export async function openChatSession(client: ParleyClient, me: User): Promise<ChatSession> {
  const positionKey = `parley.position.${me.id}`;
  const outboxKey = `parley.outbox.${me.id}`;
  const saved = readSaved(positionKey);
  const store = createLocalStore({ userId: me.id });
  const users = new UserDirectory(client);
  users.remember(me);
  // Every page of the conversation list, history after a seq, and idempotent sends, over the REST client.
  const rest = restOperationsOf(client);
  const listConversations = () => rest.listConversations();
  store.loadConversations(await listConversations());

  // Built unstarted: everything below subscribes first, so no event can come before its listener.
  const connection = new RealtimeConnection({
    baseUrl: client.baseUrl,
    getToken: (request) => client.getToken(request),
    rest,
    cursor: saved?.cursor ?? null,
    positions: saved?.positions ?? {},
  });
  const queue = await createOfflineQueue({
    rest,
    storage: new WebStorageQueueStorage(window.localStorage),
    storageKey: outboxKey,
  });

  let openConversation: string | null = null;
  let lastError: RealtimeError | null = null;
  let listing = false;
  const loadLatest = async (conversationId: string) => {
    const page = await client.messages.list(conversationId, { limit: HISTORY_PAGE });
    store.loadMessages(conversationId, page.items);
  };
  /** The conversation list again (last messages, unread counts), one reading at a time. */
  const reloadConversations = () => {
    if (listing) return;
    listing = true;
    listConversations()
      .then((items) => store.loadConversations(items))
      .catch(() => undefined)
      .finally(() => (listing = false));
  };
  const stops = [
    store.follow(connection),
    queue.flushWhenConnected(connection),
    connection.on('event', () => savePosition(positionKey, connection)),
    connection.on('ready', ({ resumed }) => {
      if (resumed) return;
      // Nothing was replayed: what happened before this connection is read over REST instead.
      reloadConversations();
      if (openConversation !== null) loadLatest(openConversation).catch(() => undefined);
    }),
    // The server could not replay everything (the client was away too long): the missed messages
    // came over REST, but not the edits, deletes and reactions of that time, and what is held of
    // other conversations may have a hole: the open conversation is read again, the others are
    // forgotten and read when opened.
    connection.on('resync', () => {
      for (const conversation of store.conversations()) if (conversation.id !== openConversation) store.forgetMessages(conversation.id);
      if (openConversation !== null) loadLatest(openConversation).catch(() => undefined);
    }),
    // A conversation the user was just added to: the list item (last message, unread count) comes over REST.
    store.subscribe(() => {
      if (store.unknownConversationIds().length > 0) reloadConversations();
    }),
    // What the queue sent shows at once, before (or without) its realtime echo; the store keeps one per seq.
    queue.on('sent', (item) => {
      if (item.message) store.addMessage(item.message);
    }),
    connection.on('error', (error) => (lastError = error)),
  ];
  connection.start();
  const close = () => {
    for (const stop of stops) stop();
    queue.stop();
    connection.close();
  };

  return {
    client,
    me,
    connection,
    store,
    queue,
    users,
    connectionChanges: { subscribe: (listener) => connection.on('state', listener) },
    get lastConnectionError() {
      return lastError;
    },
    queueChanges: { subscribe: (listener) => queue.on('change', listener) },
    loadLatest,
    async loadEarlier(conversationId) {
      const oldest = store.messages(conversationId)[0];
      if (!oldest || oldest.seq <= 1) return false;
      const page = await client.messages.list(conversationId, { before: oldest.seq, limit: HISTORY_PAGE });
      store.loadMessages(conversationId, page.items);
      return page.hasMore;
    },
    markRead(conversationId) {
      const conversation = store.conversation(conversationId);
      const seq = conversation?.lastSeq ?? 0;
      if (seq === 0 || (store.readPositions(conversationId).get(me.id) ?? 0) >= seq) return;
      store.markRead(conversationId, seq);
      void client.conversations.markRead(conversationId, seq).catch(() => undefined);
    },
    setOpenConversation(conversationId) {
      openConversation = conversationId;
    },
    close,
    async signOut() {
      close();
      // Unsent texts must not stay readable on a shared computer, nor be sent at a later sign-in.
      window.localStorage.removeItem(outboxKey);
      window.sessionStorage.removeItem(positionKey);
      await client.auth?.logout();
    },
  };
}

function readSaved(key: string): SavedPosition | null {
  try {
    const raw = window.sessionStorage.getItem(key);
    return raw === null ? null : (JSON.parse(raw) as SavedPosition);
  } catch {
    return null;
  }
}

function savePosition(key: string, connection: RealtimeConnection): void {
  const position: SavedPosition = { cursor: connection.cursor, positions: connection.positions };
  window.sessionStorage.setItem(key, JSON.stringify(position));
}

/** The people in a conversation other than the user, as far as the store knows them. */
export function othersIn(session: ChatSession, conversationId: string): string[] {
  return [...session.store.readPositions(conversationId).keys()].filter((userId) => userId !== session.me.id);
}

/** What a conversation is called: its title, or the other person of a direct one. */
export function titleOf(session: ChatSession, conversationId: string): string {
  const conversation = session.store.conversation(conversationId);
  if (!conversation) return '';
  if (conversation.type === 'group') return conversation.title ?? 'Group';
  const other = othersIn(session, conversationId)[0];
  return other === undefined ? 'Direct conversation' : session.users.nameOf(other);
}

export const isOwn = (session: ChatSession, message: Message) => message.senderId === session.me.id;
