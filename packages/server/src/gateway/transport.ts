import type { TransportKind } from './realtime-observer.js';

/** How a realtime connection reaches its client: a WebSocket or a Server-Sent Events response. */
export interface Transport {
  /** Which one, for metrics. */
  readonly kind: TransportKind;
  /** A durable event frame; `cursor` is the position after it (SSE sends it as the event id). */
  sendEvent(frame: string, cursor: string): void;
  /**
   * The same frame already in UTF-8 (see frameBytesOf), for transports that write bytes: when
   * present it is used instead of `sendEvent`. The buffer may be shared with other connections
   * and must not be modified.
   */
  sendEventBytes?(frame: Buffer, cursor: string): void;
  /** Any other frame (ready, pong, typing, presence, resync.required). */
  sendControl(frame: string): void;
  /** Bytes accepted but not yet written to the network: what a slow client leaves behind. */
  bufferedBytes(): number;
  /** Closes with a WebSocket close code (SSE ends the response). Idempotent. */
  close(code: number, reason: string): void;
}

/** Close codes Parley uses, beyond the standard ones. */
export const CloseCodes = {
  /** 1012 Service Restart: the node is shutting down; reconnect (elsewhere) with the cursor. */
  restart: 1012,
  /** The token is missing, invalid or expired. */
  unauthorized: 4001,
  /** The client did not keep up: its buffer passed the limit. Reconnect with the cursor. */
  tooSlow: 4008,
  /** The user opened more connections than allowed: this one was their oldest on the node. */
  tooManyConnections: 4009,
  /** A frame the server cannot understand (not JSON, unknown type, too large). */
  badFrame: 4400,
} as const;
