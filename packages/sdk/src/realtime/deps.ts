/**
 * What the realtime layer needs from the rest of the SDK, injected: it never imports the REST
 * client or the auth layer, so it can be tested (and used) with any implementation of these.
 */
import type { ConversationListItem, Message, MessagePage } from './wire.js';

/** The parts of a WebSocket the connection uses: the browser's WebSocket and `ws`'s both fit. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'error', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: { code: number; reason: string }) => void): void;
}

/** A WebSocket constructor (`globalThis.WebSocket` in browsers, `ws`'s `WebSocket` in Node 20). */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface RealtimeDeps {
  /** Base URL of the Parley server, e.g. http://127.0.0.1:8080 */
  baseUrl: string;
  /**
   * A currently valid access token (the SDK's auth layer refreshes before expiry, single-flight).
   * Called before every connection attempt. After the server refused a token (close 4001, or 401
   * on the event stream) it is called with `{ refused: thatToken }`: return a fresh one, or the
   * same one to give up. Giving up, a refusal (a rejection whose `status` is a 4xx other than
   * 408/429, as ParleyError's `not_signed_in` or a refused refresh), or a fresh token refused
   * again stops the connection (state `offline`, an `error` event of kind `unauthorized`): no
   * retry loop. Any other rejection (no answer: status 0 or none, as ParleyNetworkError) is
   * transient: an `error` of kind `token`, and the attempt is retried with backoff.
   */
  getToken(request?: { refused?: string }): Promise<string>;
  /**
   * WebSocket constructor; defaults to globalThis.WebSocket (Node 20 has none: pass `ws`'s
   * WebSocket). When absent, or when constructing or opening sockets fails, the connection uses
   * Server-Sent Events instead.
   */
  WebSocket?: WebSocketConstructor;
  /** fetch; defaults to globalThis.fetch (used for the SSE fallback, streamed). */
  fetch?: typeof fetch;
}

/**
 * REST reads the connection makes to catch up after `resync.required` (the lead binds them to
 * the SDK's REST client; tests bind them to small fetch calls). Each may reject; the connection
 * then retries with backoff, from the same positions.
 */
export interface CatchUpRest {
  /** Every conversation of the caller (all pages), with `lastSeq`. */
  listConversations(): Promise<ConversationListItem[]>;
  /** `GET /v1/conversations/{id}/messages?after=<afterSeq>&limit=<limit>`: ascending, `hasMore` when more follow. */
  messagesAfter(conversationId: string, afterSeq: number, limit: number): Promise<MessagePage>;
}

/** The send the offline queue makes: idempotent by `clientMessageId` on the server. */
export interface SendMessageRest {
  /**
   * `POST /v1/conversations/{id}/messages` with `clientMessageId`. Resolves with the stored
   * message (201 new, 200 the original for a repeat). Rejects with an error whose `status`
   * property holds the HTTP status when the server answered (0 or absent when no answer came)
   * and `retryAfterSeconds` the Retry-After of a 429 or 503, as the SDK's ParleyError does.
   */
  sendMessage(conversationId: string, body: { text: string; clientMessageId: string; replyTo?: string }): Promise<Message>;
}

/** Timers and randomness, injectable so tests control them (defaults: the global ones, Math.random, Date.now). */
export interface Scheduler {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
  /** Uniform in [0, 1). */
  random(): number;
}

export const defaultScheduler: Scheduler = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
  now: () => Date.now(),
  random: () => Math.random(),
};
