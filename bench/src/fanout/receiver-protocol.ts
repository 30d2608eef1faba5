/** What the main thread and a receiver worker say to each other (structured-clone messages). */
import { markedText } from '../marked-text.js';

/** One WebSocket client to open: its URL and handshake headers (e.g. Authorization). */
export interface ClientSpec {
  url: string;
  headers: Record<string, string>;
  /**
   * Plain JSON frames (Parley, bare ws), or Socket.IO's Engine.IO v4 framing spoken directly over
   * `ws` (open packet, namespace connect, ping/pong), so every target is received by the same code.
   */
  protocol?: 'socket.io';
}

export interface ReceiverWorkerData {
  clients: ClientSpec[];
  connectConcurrency: number;
}

/** The text of every fan-out message starts with `fo:<step>:<index>:` (src/marked-text.ts). */
export const TEXT_TAG = 'fo';

export function messageText(step: number, index: number, length: number): string {
  return markedText(TEXT_TAG, step, index, length);
}

export type Request =
  | { id: number; op: 'connect' }
  | { id: number; op: 'stats' }
  /** `starts` holds each message's send time (monoMs), written by the sender before it sends. */
  | { id: number; op: 'begin'; step: number; total: number; starts: SharedArrayBuffer }
  | { id: number; op: 'end' }
  | { id: number; op: 'close' };

export interface ConnectReply {
  connected: number;
  failed: number;
  firstError: string | null;
  ms: number;
}

export interface StatsReply {
  /** Every frame received since connecting, of any type. */
  frames: number;
  /** Milliseconds since the last frame of any type. */
  quietMs: number;
  open: number;
  /** Benchmark frames of the current step received so far. */
  received: number;
}

export interface EndReply {
  /** End-to-end latencies (ms) of the step's frames, unsorted. */
  latencies: Float64Array;
  received: number;
  duplicates: number;
  /** Frames of another step (late arrivals), ignored. */
  stale: number;
  /** Sockets closed by the server during the step, by close code. */
  closes: Record<string, number>;
}
