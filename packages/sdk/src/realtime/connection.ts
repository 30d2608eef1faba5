/**
 * One realtime connection to Parley that survives the network: it reconnects with backoff,
 * resumes from its cursor, and hands the application each durable event once, in order.
 *
 * Guarantees, for the user's conversations:
 *   - `message.created` is delivered at most once per (conversationId, seq), across reconnects,
 *     transports and REST catch-ups, and in seq order within a conversation;
 *   - after a reconnect the server replays what the cursor missed before anything live; when it
 *     cannot (`resync.required`), the missed messages are read over REST and delivered (marked
 *     `caughtUp`) before any live event that followed, then a `resync` event tells the
 *     application to refresh what REST alone can tell (edits, reactions and read positions of
 *     the gap are not replayed; the conversation list with unread counts is in the event);
 *   - no reconnect storm: attempts are spaced by exponential backoff with full jitter, reset
 *     only once a connection has stayed up; a refused token is refreshed once, not retried in a
 *     loop; a server restarting (1012) is reconnected to at once.
 */
import { createBackoff, type BackoffOptions } from './backoff.js';
import { defaultScheduler, type CatchUpRest, type RealtimeDeps, type Scheduler } from './deps.js';
import { Emitter } from './emitter.js';
import { openSseTransport, openWebSocketTransport, type RealtimeTransport, type TransportClosed, type TransportKind } from './transports.js';
import {
  CloseCodes,
  isDurableEvent,
  type ConversationListItem,
  type DurableEvent,
  type DurableEventType,
  type Message,
  type PresenceEvent,
  type ServerFrame,
  type TypingEvent,
} from './wire.js';

/**
 * `connecting`: the first connection is being made; `live`: connected and receiving events;
 * `reconnecting`: the connection was lost and is being made again; `offline`: not connected
 * and not trying (after `close()`, or when no valid token can be obtained).
 */
export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'offline';

/** A message missed while the server could not replay, read over REST after `resync.required`. */
export interface CaughtUpMessage {
  type: 'message.created';
  /** No cursor: it did not come from the event stream. */
  cursor: null;
  message: Message;
  caughtUp: true;
}

/** What the connection delivers for each durable event. */
export type RealtimeEvent = DurableEvent | CaughtUpMessage;

export type RealtimeErrorKind =
  /** No valid token could be obtained, or the server refused a freshly obtained one: the connection is offline. */
  | 'unauthorized'
  /** The server answered a client frame with an `error` frame (e.g. typing in a conversation one is not a member of). */
  | 'server'
  /** The REST catch-up after `resync.required` failed; it is retried after a reconnect. */
  | 'catch-up'
  /** Something unforeseen failed while connecting (a bug, or a broken injected dependency); retried with backoff. */
  | 'internal';

export interface RealtimeError {
  kind: RealtimeErrorKind;
  /** The server's problem code, for `server` errors. */
  code?: string;
  detail?: string;
  cause?: unknown;
}

type DurableEventsByType = { [K in DurableEventType]: Extract<DurableEvent, { type: K }> | (K extends 'message.created' ? CaughtUpMessage : never) };

/** The connection's events. Each durable event type can also be subscribed to by its name. */
export interface RealtimeEvents extends DurableEventsByType {
  state: { state: ConnectionState; previous: ConnectionState };
  /** The server accepted the connection (`resumed`: it continues from the cursor). */
  ready: { userId: string; resumed: boolean; transport: TransportKind };
  /** Every durable event, de-duplicated, in order. */
  event: RealtimeEvent;
  typing: TypingEvent;
  presence: PresenceEvent;
  /** A REST catch-up after `resync.required` finished; `missed` messages were delivered before this. */
  resync: { conversations: ConversationListItem[]; missed: number };
  error: RealtimeError;
}

export interface RealtimeConnectionOptions extends RealtimeDeps {
  /** REST reads for the catch-up after `resync.required`. */
  rest: CatchUpRest;
  /** `auto` (default): WebSocket, falling back to Server-Sent Events where WebSockets fail. */
  transport?: 'auto' | 'websocket' | 'sse';
  /** Resume from this cursor (e.g. saved before a page reload, with `positions`). */
  cursor?: string | null;
  /** The last seq seen per conversation, saved with `cursor`: where a REST catch-up starts. */
  positions?: Readonly<Record<string, number>>;
  /** Reconnect delays. Default: windows of 500 ms doubling up to 30 s. */
  backoff?: Omit<BackoffOptions, 'random'>;
  /** A connection live this long resets the backoff (ms). Default 10 000. */
  stableAfterMs?: number;
  /** With no frame for this long, a WebSocket client sends a ping (ms). Default 15 000. */
  pingAfterMs?: number;
  /** With no byte for this long the connection is presumed dead and replaced (ms). Default 40 000 (the server's SSE keep-alive is 15 s). */
  idleTimeoutMs?: number;
  /** At most one typing frame per conversation per this many ms. Default 3 000. */
  typingIntervalMs?: number;
  /** Timers, clock and randomness (tests). */
  scheduler?: Partial<Scheduler>;
}

const CATCH_UP_PAGE = 100;
/** WebSocket attempts that fail before opening, in a row, before trying Server-Sent Events. */
const WEBSOCKET_FAILURES_BEFORE_SSE = 2;

export class RealtimeConnection extends Emitter<RealtimeEvents> {
  private stateValue: ConnectionState = 'connecting';
  private cursorValue: string | null;
  /** Highest message seq delivered per conversation: the de-duplication key and the catch-up start. */
  private readonly positionsValue = new Map<string, number>();
  /** Conversation lastSeq when this session started (or joined): the catch-up start where nothing was delivered yet. */
  private readonly baselines = new Map<string, number>();
  private readonly scheduler: Scheduler;
  private readonly backoff;
  private transport: RealtimeTransport | null = null;
  private retryTimer: unknown = null;
  private heartbeatTimer: unknown = null;
  private lastActivity = 0;
  private liveSince: number | null = null;
  /** Frames that arrived during a REST catch-up, delivered after it. */
  private held: ServerFrame[] | null = null;
  /** The token the server refused, to be replaced before the next attempt. */
  private refusedToken: string | null = null;
  /** The token of the latest attempt. */
  private token: string | null = null;
  private refusedAfterRefresh = false;
  private webSocketFailures = 0;
  private useSse: boolean;
  /** The WebSocket constructor is missing or throws here: only Server-Sent Events can work. */
  private webSocketUnavailable = false;
  private readonly typingSentAt = new Map<string, number>();
  private closed = false;

  constructor(private readonly options: RealtimeConnectionOptions) {
    super();
    this.scheduler = { ...defaultScheduler, ...options.scheduler };
    this.backoff = createBackoff({ ...options.backoff, random: this.scheduler.random });
    this.cursorValue = options.cursor ?? null;
    for (const [conversationId, seq] of Object.entries(options.positions ?? {})) this.positionsValue.set(conversationId, seq);
    this.useSse = options.transport === 'sse';
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  /** The position after the last event delivered: save it (with `positions`) to resume after a reload. */
  get cursor(): string | null {
    return this.cursorValue;
  }

  /** The last message seq delivered per conversation. */
  get positions(): Record<string, number> {
    return Object.fromEntries(this.positionsValue);
  }

  /** The transport in use, null between connections. */
  get transportKind(): TransportKind | null {
    return this.transport?.kind ?? null;
  }

  /** Starts connecting (called by `createRealtimeConnection`). */
  start(): void {
    if (this.closed || this.transport || this.retryTimer !== null) return;
    // Browsers say when the network is back: no need to sit out the backoff then.
    const target = globalThis as { addEventListener?: (type: string, listener: () => void) => void };
    if (typeof target.addEventListener === 'function') target.addEventListener('online', this.onOnline);
    this.connectSafely();
  }

  private readonly onOnline = () => this.reconnectNow();

  /**
   * Connects now if the connection is waiting to retry (e.g. the browser reports it is online
   * again); does nothing while connected or connecting.
   */
  reconnectNow(): void {
    if (this.closed || this.retryTimer === null) return;
    this.scheduler.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.connectSafely();
  }

  /**
   * Tells the conversation's other members that the user is typing. Throttled per conversation
   * (`typingIntervalMs`); false when not sent (throttled, not live, or on Server-Sent Events).
   */
  sendTyping(conversationId: string): boolean {
    const now = this.scheduler.now();
    const last = this.typingSentAt.get(conversationId);
    if (last !== undefined && now - last < (this.options.typingIntervalMs ?? 3000)) return false;
    if (this.stateValue !== 'live' || !this.transport?.send({ type: 'typing', conversationId })) return false;
    this.typingSentAt.set(conversationId, now);
    return true;
  }

  /** Closes for good: state `offline`, no more events. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const target = globalThis as { removeEventListener?: (type: string, listener: () => void) => void };
    if (typeof target.removeEventListener === 'function') target.removeEventListener('online', this.onOnline);
    if (this.retryTimer !== null) this.scheduler.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.stopHeartbeat();
    const transport = this.transport;
    this.transport = null;
    transport?.close();
    this.setState('offline');
  }

  private setState(state: ConnectionState): void {
    const previous = this.stateValue;
    if (previous === state) return;
    this.stateValue = state;
    this.emit('state', { state, previous });
  }

  /** `connect` reports its own failures; anything else (a bug) must not become an unhandled rejection that ends a Node process. */
  private connectSafely(): void {
    this.connect().catch((error: unknown) => {
      if (this.closed || this.transport || this.retryTimer !== null) return;
      this.emit('error', { kind: 'internal', detail: 'connecting failed unexpectedly; retrying', cause: error });
      this.retryTimer = this.scheduler.setTimeout(() => {
        this.retryTimer = null;
        this.connectSafely();
      }, this.backoff.next());
    });
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    let token: string;
    const refused = this.refusedToken;
    try {
      token = await this.options.getToken(refused === null ? undefined : { refused });
    } catch (error) {
      if (this.closed) return;
      this.emit('error', { kind: 'unauthorized', detail: 'no access token could be obtained', cause: error });
      return this.close();
    }
    if (this.closed) return;
    if (refused !== null && token === refused) {
      // The token provider gives up: the same token would be refused again.
      this.emit('error', { kind: 'unauthorized', detail: 'the server refused the token and no other was given' });
      return this.close();
    }
    this.token = token;
    const target = { baseUrl: this.options.baseUrl, token, cursor: this.cursorValue };
    // The handlers run only after `transport` is assigned (transports report asynchronously).
    const handlers = {
      onOpen: () => this.transport === transport && this.onOpen(),
      onActivity: () => {
        if (this.transport === transport) this.lastActivity = this.scheduler.now();
      },
      onFrame: (frame: ServerFrame) => this.transport === transport && this.onFrame(frame),
      onClose: (closed: TransportClosed) => this.transport === transport && this.onTransportClosed(transport, closed),
    };
    const fetchImpl = this.options.fetch ?? globalThis.fetch.bind(globalThis);
    const WebSocketImpl = this.options.WebSocket ?? (globalThis as { WebSocket?: RealtimeDeps['WebSocket'] }).WebSocket;
    const transport: RealtimeTransport = this.useSse ? openSseTransport(fetchImpl, target, handlers) : openWebSocketTransport(WebSocketImpl, target, handlers);
    this.transport = transport;
  }

  private onOpen(): void {
    this.lastActivity = this.scheduler.now();
    this.startHeartbeat();
  }

  private onFrame(frame: ServerFrame): void {
    if (this.held && frame.type !== 'typing' && frame.type !== 'presence' && frame.type !== 'pong') {
      this.held.push(frame);
      return;
    }
    this.handle(frame);
  }

  private handle(frame: ServerFrame): void {
    switch (frame.type) {
      case 'ready': {
        const resumed = this.cursorValue !== null;
        // Resuming, the cursor is only replaced by the events that follow: if the server cannot
        // replay (resync.required), the old cursor makes the next connection ask again rather
        // than skip what the catch-up has not yet read.
        if (!resumed) {
          this.cursorValue = frame.cursor;
          this.recordBaselines();
        }
        this.liveSince = this.scheduler.now();
        this.refusedAfterRefresh = false;
        this.refusedToken = null;
        this.webSocketFailures = 0;
        this.setState('live');
        this.emit('ready', { userId: frame.userId, resumed, transport: this.transport!.kind });
        return;
      }
      case 'resync.required':
        this.held = [];
        this.catchUp(this.transport!).catch(() => {});
        return;
      case 'typing':
        return this.emit('typing', frame);
      case 'presence':
        return this.emit('presence', frame);
      case 'error':
        return this.emit('error', { kind: 'server', code: frame.code, ...(frame.detail === undefined ? {} : { detail: frame.detail }) });
      case 'pong':
        return;
      default:
        if (isDurableEvent(frame)) this.deliver(frame);
    }
  }

  /** De-duplicates, advances the cursor and positions, and emits. */
  private deliver(event: DurableEvent): void {
    this.cursorValue = event.cursor;
    if (event.type === 'message.created') {
      const { conversationId, seq } = event.message;
      if (seq <= (this.positionsValue.get(conversationId) ?? 0)) return;
      this.positionsValue.set(conversationId, seq);
    } else if (event.type === 'conversation.created' && !this.baselines.has(event.conversation.id)) {
      this.baselines.set(event.conversation.id, event.conversation.lastSeq);
    }
    this.emitEvent(event);
  }

  private emitEvent(event: RealtimeEvent): void {
    this.emit('event', event);
    this.emit(event.type, event as never);
  }

  /**
   * Where a fresh session starts: each conversation's lastSeq, so that a later catch-up reads
   * only what followed. Best effort, in the background: without it a conversation with no
   * message delivered in this session is only reported by the `resync` event.
   */
  private recordBaselines(): void {
    this.options.rest.listConversations().then(
      (conversations) => {
        for (const { id, lastSeq } of conversations) if (!this.baselines.has(id)) this.baselines.set(id, lastSeq);
      },
      () => {},
    );
  }

  /**
   * After resync.required: reads every conversation's messages after the last one delivered,
   * delivers them, then the frames held meanwhile (de-duplicated against what REST returned).
   * The server went live before sending resync.required, so REST and the held frames overlap
   * rather than leave a gap between them.
   */
  private async catchUp(transport: RealtimeTransport): Promise<void> {
    const current = () => this.transport === transport && !this.closed;
    let missed = 0;
    try {
      const conversations = await this.options.rest.listConversations();
      for (const conversation of conversations) {
        const from = this.positionsValue.get(conversation.id) ?? this.baselines.get(conversation.id);
        if (from === undefined) {
          // Nothing of it seen in this session: its history is the application's to load.
          this.baselines.set(conversation.id, conversation.lastSeq);
          continue;
        }
        let after = from;
        while (after < conversation.lastSeq) {
          const page = await this.options.rest.messagesAfter(conversation.id, after, CATCH_UP_PAGE);
          if (!current()) return;
          for (const message of page.items) {
            if (message.seq <= (this.positionsValue.get(conversation.id) ?? 0)) continue;
            this.positionsValue.set(conversation.id, message.seq);
            missed += 1;
            this.emitEvent({ type: 'message.created', cursor: null, message, caughtUp: true });
          }
          const last = page.items.at(-1);
          if (!page.hasMore || !last) break;
          after = last.seq;
        }
      }
      if (!current()) return;
      this.emit('resync', { conversations, missed });
      const held = this.held ?? [];
      this.held = null;
      for (const frame of held) {
        if (!current()) return;
        this.handle(frame);
      }
    } catch (error) {
      if (!current()) return;
      this.emit('error', { kind: 'catch-up', detail: 'reading missed messages failed; retrying after a reconnect', cause: error });
      // The cursor was not advanced past the gap: the next connection is told to resync again.
      this.dropTransport(transport, { code: CloseCodes.abnormal, reason: 'catch-up failed', opened: true });
    }
  }

  private startHeartbeat(): void {
    this.stopHeartbeat();
    const pingAfter = this.options.pingAfterMs ?? 15_000;
    const idleTimeout = this.options.idleTimeoutMs ?? 40_000;
    const tickMs = Math.min(pingAfter, idleTimeout) / 3;
    const tick = () => {
      const transport = this.transport;
      if (!transport) return;
      const idle = this.scheduler.now() - this.lastActivity;
      if (idle >= idleTimeout) return this.dropTransport(transport, { code: CloseCodes.abnormal, reason: 'no sign of life', opened: true });
      if (idle >= pingAfter) transport.send({ type: 'ping' });
      this.heartbeatTimer = this.scheduler.setTimeout(tick, tickMs);
    };
    this.heartbeatTimer = this.scheduler.setTimeout(tick, tickMs);
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer !== null) this.scheduler.clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  /** Ends a transport from this side and handles it as lost. */
  private dropTransport(transport: RealtimeTransport, closed: TransportClosed): void {
    if (this.transport !== transport) return;
    this.transport = null;
    transport.close();
    this.afterLoss(transport, closed);
  }

  private onTransportClosed(transport: RealtimeTransport, closed: TransportClosed): void {
    this.transport = null;
    this.afterLoss(transport, closed);
  }

  /** Decides when (and how) to connect again after a transport ended. */
  private afterLoss(transport: RealtimeTransport, closed: TransportClosed): void {
    this.stopHeartbeat();
    this.held = null;
    if (this.closed) return;
    const now = this.scheduler.now();
    const wasLive = this.liveSince !== null;
    if (wasLive && now - this.liveSince! >= (this.options.stableAfterMs ?? 10_000)) this.backoff.reset();
    this.liveSince = null;
    if (this.stateValue === 'live') this.setState('reconnecting');

    if (closed.code === CloseCodes.unauthorized || closed.unauthorized) {
      // A token refused right after a refresh will not get better by retrying: the account is
      // gone or the provider no longer vouches for it.
      if (this.refusedAfterRefresh) {
        this.emit('error', { kind: 'unauthorized', detail: closed.reason });
        return this.close();
      }
      this.refusedToken = this.token;
      this.refusedAfterRefresh = true;
    }
    this.chooseTransport(transport, closed);

    let delay: number;
    if (closed.code === CloseCodes.restart && wasLive) delay = 0;
    else if (closed.unavailable && this.useSse) delay = 0;
    else delay = Math.max(this.backoff.next(), closed.retryAfterMs ?? 0);
    this.retryTimer = this.scheduler.setTimeout(() => {
      this.retryTimer = null;
      this.connectSafely();
    }, delay);
  }

  /**
   * In `auto` mode: Server-Sent Events once WebSockets cannot be constructed or keep failing
   * before they open; back to WebSockets if the event stream fails to open as well (then the
   * network, not the WebSocket, is what fails).
   */
  private chooseTransport(transport: RealtimeTransport, closed: TransportClosed): void {
    if ((this.options.transport ?? 'auto') !== 'auto' || closed.unauthorized) return;
    if (closed.opened) {
      if (transport.kind === 'websocket') this.webSocketFailures = 0;
      return;
    }
    if (transport.kind === 'websocket') {
      if (closed.unavailable) this.webSocketUnavailable = true;
      this.webSocketFailures += 1;
      if (this.webSocketUnavailable || this.webSocketFailures >= WEBSOCKET_FAILURES_BEFORE_SSE) this.useSse = true;
    } else if (!this.webSocketUnavailable) {
      // The stream failed to open too: the network is at fault, not WebSockets; try them again.
      this.useSse = false;
      this.webSocketFailures = 0;
    }
  }
}

/** Creates a realtime connection and starts connecting. */
export function createRealtimeConnection(options: RealtimeConnectionOptions): RealtimeConnection {
  const connection = new RealtimeConnection(options);
  connection.start();
  return connection;
}
