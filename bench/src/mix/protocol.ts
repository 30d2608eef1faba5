/** What the main thread and a mix client worker say to each other (structured-clone messages). */
import { markedText } from '../marked-text.js';

/** One simulated user: its index (u<index>), token, and the node its one WebSocket goes to. */
export interface MixClientSpec {
  user: number;
  token: string;
  /** ws://…/v1/realtime of the user's node. */
  wsUrl: string;
  /** http://… of the same node, where the user's read receipts go. */
  httpUrl: string;
}

export interface MixWorkerData {
  clients: MixClientSpec[];
  /** Source addresses (127.0.0.2, …) the clients bind to in turn, so 10k sockets never run short of ports. */
  localAddresses: string[];
  connectConcurrency: number;
  /** Read receipts in flight at once per worker; a receipt due while all are busy is skipped (and counted). */
  readConcurrency: number;
}

/**
 * Every mix message's text starts with `mx:<step>:<index>:` (src/marked-text.ts); only the frames
 * that trigger a read receipt are parsed.
 */
export const TEXT_TAG = 'mx';

export function mixText(step: number, index: number, length: number): string {
  return markedText(TEXT_TAG, step, index, length);
}

export type MixRequest =
  | { id: number; op: 'connect'; timeoutMs: number }
  | { id: number; op: 'stats' }
  /**
   * A step starts. `starts` (Float64Array) holds each message's send time (monoMs), written by the
   * sender before the send; `readers` (Int32Array) the user who posts a read receipt for it once
   * received (-1: nobody), written before `starts`.
   */
  | { id: number; op: 'begin'; step: number; total: number; starts: SharedArrayBuffer; readers: SharedArrayBuffer; windowMs: number }
  /** The user's socket sends a `typing` frame for the conversation (the harness is about to send there). */
  | { id: number; op: 'typing'; user: number; conversationId: string }
  | { id: number; op: 'end' }
  | { id: number; op: 'close' };

export interface MixConnectReply {
  connected: number;
  failed: number;
  firstError: string | null;
}

export interface MixStatsReply {
  open: number;
  /** Milliseconds since the last frame of any type. */
  quietMs: number;
}

/** What a step's typing frames and read receipts came to. */
export interface MixCounters {
  typingSent: number;
  typingReceived: number;
  readsPosted: number;
  readsFailed: number;
  readsSkipped: number;
}

export const NO_COUNTS: Readonly<MixCounters> = { typingSent: 0, typingReceived: 0, readsPosted: 0, readsFailed: 0, readsSkipped: 0 };

export interface MixEndReply extends MixCounters {
  /** End-to-end latencies (ms) of every benchmark frame of the step, unsorted. */
  latencies: Float64Array;
  /** Frames received, and those within the window after their send started. */
  received: number;
  withinWindow: number;
  /** Frames of another step (late arrivals), ignored. */
  stale: number;
  /** Sockets closed by the server during the step, by close code. */
  closes: Record<string, number>;
}
