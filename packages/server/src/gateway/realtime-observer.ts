/**
 * What the realtime gateway reports about its work, for metrics. The gateway calls these on its
 * hot paths (every delivered event), so an implementation must be cheap and must not throw:
 * counters and histogram observations, no allocation per call.
 */
import type { TopicMessage } from '../domain/events.js';

export type TransportKind = 'websocket' | 'sse';

export interface RealtimeObserver {
  /** A message heard on a topic this node follows (any node published it), before fan-out. */
  received(kind: TopicMessage['kind']): void;
  /**
   * A durable event frame handed to a client's transport. `committedAt` is the event's commit time
   * (its `at`, ms); `replayed` when it was read back from a log (a resume or a catch-up after a
   * join), whose age says nothing about delivery speed.
   */
  delivered(transport: TransportKind, replayed: boolean, committedAt: number): void;
  /** A client connected with a cursor: `replayed` when it was honoured, `resync` when it was not. */
  resumed(outcome: 'replayed' | 'resync'): void;
  /** A `resync.required` frame was sent. */
  resyncRequired(): void;
  /** A connection closed with 4008 because its client did not keep up. */
  slowConsumerClosed(transport: TransportKind): void;
}

export const NO_REALTIME_OBSERVER: RealtimeObserver = {
  received: () => undefined,
  delivered: () => undefined,
  resumed: () => undefined,
  resyncRequired: () => undefined,
  slowConsumerClosed: () => undefined,
};
