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
 *   - one connection at a time: `start()` and `reconnectNow()` never open a second transport
 *     while one is being made or is live;
 *   - no reconnect storm: attempts are spaced by exponential backoff with full jitter, reset
 *     only once a connection has stayed up; a refused token is refreshed once, not retried in a
 *     loop; a server restarting (1012) is reconnected to within a short random window
 *     (`restartJitterMs`), so its clients do not all return at the same instant;
 *   - a token that cannot be obtained for now (no answer from the network) is asked for again
 *     with backoff; only a refusal stops the connection (`offline`, until `reconnectNow()`);
 *   - an attempt that does not become live within `connectTimeoutMs` is replaced.
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
 * and not trying: after `close()` (for good), or after a refused token or too many connections
 * of the user (an `error` event says which; `reconnectNow()` tries again).
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
  /** The token was refused (by the token provider, or by the server after a fresh one): the connection is offline. */
  | 'unauthorized'
  /** No token could be obtained for now (the token provider failed without a refusal, e.g. no network): retried with backoff. */
  | 'token'
  /** The server closed this connection because the user has too many open (close 4009): offline, so as not to evict the others in turn. */
  | 'too-many-connections'
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
  /** An attempt not live (the server's `ready`) this long after it began is abandoned and replaced (ms). Default 15 000. */
  connectTimeoutMs?: number;
  /** After a server restart (close 1012), reconnect after a random delay below this (ms). Default 1 000. */
  restartJitterMs?: number;
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
  /** Abandons an attempt that does not become live in time. */
  private connectTimer: unknown = null;
  /** `start()` was called: later calls do nothing. */
  private started = false;
  /** An attempt is waiting for its token: no transport yet, but one is coming. */
  private connecting = false;
  /** Counts attempts, so an attempt overtaken while it awaited its token opens nothing. */
  private attempt = 0;
  /** The current transport has opened (before `ready`). */
  private transportOpened = false;
  /** Offline after a refusal: nothing scheduled until `reconnectNow()`. */
  private halted = false;
  private everLive = false;
  /** The cursor of a resumed `ready`, adopted once a REST catch-up has read what it skipped. */
  private readyCursor: string | null = null;
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

  /**
   * Starts connecting. Only the first call does anything (`createRealtimeConnection` makes it):
   * calling it again, while connecting or live, never opens a second connection.
   */
  start(): void {
    if (this.closed || this.started) return;
    this.started = true;
    // Browsers say when the network is back: no need to sit out the backoff then.
    const target = globalThis as { addEventListener?: (type: string, listener: () => void) => void };
    if (typeof target.addEventListener === 'function') target.addEventListener('online', this.onOnline);
    this.connectSafely();
  }

  /** Back online: skip the backoff, but do not undo a refusal (that takes the application's `reconnectNow()`). */
  private readonly onOnline = () => {
    if (!this.halted) this.reconnectNow();
  };

  /**
   * Connects now: when waiting to retry (e.g. the browser reports it is online again), when an
   * attempt has not become live yet (it is replaced), or when `offline` after a refusal (e.g. the
   * user signed in again). Does nothing when live, while a token is awaited, before `start()`
   * and after `close()`.
   */
  reconnectNow(): void {
    if (this.closed || !this.started || this.connecting) return;
    if (this.retryTimer !== null) {
      this.scheduler.clearTimeout(this.retryTimer);
      this.retryTimer = null;
    } else if (this.transport) {
      if (this.liveSince !== null) return;
      this.abandonTransport();
    } else if (!this.halted) {
      return;
    }
    if (this.halted) {
      this.halted = false;
      this.setState(this.everLive ? 'reconnecting' : 'connecting');
    }
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
    this.stop();
    this.setState('offline');
  }

  /** Offline after a refusal: nothing scheduled, the application is told why; `reconnectNow()` tries again. */
  private halt(error: RealtimeError): void {
    this.stop();
    this.halted = true;
    this.setState('offline');
    this.emit('error', error);
  }

  /** Cancels every timer and attempt, and ends the transport. */
  private stop(): void {
    if (this.retryTimer !== null) this.scheduler.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.connecting = false;
    this.attempt += 1;
    this.readyCursor = null;
    this.held = null;
    this.abandonTransport();
  }

  /** Ends the current transport without handling it as a loss. */
  private abandonTransport(): void {
    this.stopHeartbeat();
    this.stopConnectTimer();
    this.liveSince = null;
    const transport = this.transport;
    this.transport = null;
    transport?.close();
  }

  private scheduleRetry(delay: number): void {
    this.retryTimer = this.scheduler.setTimeout(() => {
      this.retryTimer = null;
      this.connectSafely();
    }, delay);
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
      if (this.closed || this.halted || this.transport || this.retryTimer !== null) return;
      this.connecting = false;
      this.emit('error', { kind: 'internal', detail: 'connecting failed unexpectedly; retrying', cause: error });
      this.scheduleRetry(this.backoff.next());
    });
  }

  private async connect(): Promise<void> {
    if (this.closed || this.halted || this.connecting || this.transport) return;
    const attempt = ++this.attempt;
    this.connecting = true;
    // Overtaken while awaiting the token (closed, halted, or another attempt): open nothing.
    const overtaken = () => this.closed || this.halted || attempt !== this.attempt || this.transport !== null;
    let token: string;
    const refused = this.refusedToken;
    try {
      token = await this.options.getToken(refused === null ? undefined : { refused });
    } catch (error) {
      if (overtaken()) return;
      this.connecting = false;
      if (isRefusal(error)) return this.halt({ kind: 'unauthorized', detail: 'the access token was refused', cause: error });
      this.emit('error', { kind: 'token', detail: 'no access token could be obtained for now; retrying', cause: error });
      return this.scheduleRetry(this.backoff.next());
    }
    if (overtaken()) return;
    this.connecting = false;
    if (refused !== null && token === refused) {
      // The token provider gives up: the same token would be refused again.
      return this.halt({ kind: 'unauthorized', detail: 'the server refused the token and no other was given' });
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
    this.transportOpened = false;
    // A handshake that hangs (captive portal, black-holed packets) would otherwise wait for the
    // platform's own timeout, minutes away, and the heartbeat only starts once open.
    this.connectTimer = this.scheduler.setTimeout(() => {
      this.connectTimer = null;
      this.dropTransport(transport, { code: CloseCodes.abnormal, reason: 'connecting timed out', opened: this.transportOpened });
    }, this.options.connectTimeoutMs ?? 15_000);
  }

  private stopConnectTimer(): void {
    if (this.connectTimer !== null) this.scheduler.clearTimeout(this.connectTimer);
    this.connectTimer = null;
  }

  private onOpen(): void {
    this.transportOpened = true;
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
        this.readyCursor = resumed ? frame.cursor : null;
        this.stopConnectTimer();
        this.everLive = true;
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
      // Everything up to the ready cursor has now been read: resuming from it spares a quiet
      // account another full catch-up on its next reconnect (the held frames advance it further).
      if (this.readyCursor !== null) this.cursorValue = this.readyCursor;
      this.readyCursor = null;
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
    this.stopConnectTimer();
    this.held = null;
    this.readyCursor = null;
    if (this.closed) return;
    const now = this.scheduler.now();
    const wasLive = this.liveSince !== null;
    if (wasLive && now - this.liveSince! >= (this.options.stableAfterMs ?? 10_000)) this.backoff.reset();
    this.liveSince = null;
    if (this.stateValue === 'live') this.setState('reconnecting');

    if (closed.code === CloseCodes.tooManyConnections) {
      // This was the user's oldest connection: reconnecting would evict another, which would
      // reconnect in turn, for ever. Stop and say so.
      return this.halt({ kind: 'too-many-connections', detail: closed.reason });
    }
    if (closed.code === CloseCodes.unauthorized || closed.unauthorized) {
      // A token refused right after a refresh will not get better by retrying: the account is
      // gone or the provider no longer vouches for it.
      if (this.refusedAfterRefresh) return this.halt({ kind: 'unauthorized', detail: closed.reason });
      this.refusedToken = this.token;
      this.refusedAfterRefresh = true;
    }
    this.chooseTransport(transport, closed);

    let delay: number;
    if (closed.code === CloseCodes.restart && wasLive) delay = Math.floor(this.scheduler.random() * (this.options.restartJitterMs ?? 1000));
    else if (closed.unavailable && this.useSse) delay = 0;
    else delay = Math.max(this.backoff.next(), closed.retryAfterMs ?? 0);
    this.scheduleRetry(delay);
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

/**
 * A token provider's rejection that is a refusal: an HTTP answer (a `status`, as ParleyError
 * carries) of 4xx other than 408 and 429, e.g. `not_signed_in` or a refused refresh. Anything
 * else (status 0 or none: no answer; 5xx; 429) may pass, so it is retried.
 */
function isRefusal(error: unknown): boolean {
  const status = typeof error === 'object' && error !== null ? (error as { status?: unknown }).status : undefined;
  return typeof status === 'number' && status >= 400 && status < 500 && status !== 408 && status !== 429;
}

/**
 * Creates a realtime connection and starts it (`start()`): the first attempt begins at once.
 * Events are emitted asynchronously, so listeners subscribed in the same synchronous turn miss
 * nothing. To subscribe later, construct `new RealtimeConnection(options)` and call `start()`
 * once wired.
 */
export function createRealtimeConnection(options: RealtimeConnectionOptions): RealtimeConnection {
  const connection = new RealtimeConnection(options);
  connection.start();
  return connection;
}
