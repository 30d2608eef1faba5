/**
 * What the harness says over IPC to the two processes of the `webhooks` workload — the receiver
 * (receiver.ts) and the baseline's sender (bare-sender.ts) — and the texts and bodies both targets
 * deliver. Every request is `{ id, op, … }` and is answered with `{ id, reply }`.
 */
import { markedText, textMarker } from '../marked-text.js';

/** Message texts are `wh:<step>:<index>:…`: the receiver finds the event a body carries by this marker. */
export const WEBHOOK_TAG = 'wh';
export const WEBHOOK_MARKER = textMarker(WEBHOOK_TAG);

export function webhookText(step: number, index: number, length: number): string {
  return markedText(WEBHOOK_TAG, step, index, length);
}

export type ReceiverRequest =
  /** Starts recording the `total` events of `step` (their texts carry the step id). */
  | { id: number; op: 'begin'; step: number; total: number }
  /** Distinct events received so far, over `steps`, and second arrivals of an event. */
  | { id: number; op: 'count'; steps: number[] }
  /** Arrival times of `step`'s events. */
  | { id: number; op: 'report'; step: number }
  /** Drops the records of `steps` (a run is over). */
  | { id: number; op: 'forget'; steps: number[] };

export interface ReceiverCount {
  received: number;
  duplicates: number;
}

export interface ReceiverReport extends ReceiverCount {
  /**
   * Per event index, the first arrival (monoMs: CLOCK_MONOTONIC, one clock for every process of
   * the machine, so comparable with the send times the harness or the bare sender stamped); null
   * when it has not arrived.
   */
  arrivals: (number | null)[];
  /** Mean body size of the step's requests, in bytes (null when none): both targets should send the same. */
  meanBodyBytes: number | null;
  /** Requests whose body carried no marker of a known step (another event type, or a stale step). */
  unmarked: number;
}

export type SenderRequest =
  /**
   * Sends `total` events at `rate` per second to `url`, at most `concurrency` requests at once (the
   * others wait in order). Answered once every event was queued (not sent): `starts` are the times
   * (monoMs) the events were queued, as an event is stored before Parley delivers it.
   */
  | { id: number; op: 'step'; step: number; rate: number; total: number; url: string; concurrency: number; textBytes: number }
  /** Requests made for `step` so far and how long they took. */
  | { id: number; op: 'stats'; step: number }
  /** Answered once nothing is queued or under way. */
  | { id: number; op: 'drain' };

export interface SenderStepReply {
  starts: number[];
  /** How far the latest event was queued after its due time (ms): the sender's own lag. */
  maxLagMs: number;
}

export interface SenderStats {
  /** Requests answered (any status) and failed (non-2xx or error). */
  answered: number;
  failed: number;
  /** Request written → answer read, ms: p50 and p99 (null when none). */
  p50Ms: number | null;
  p99Ms: number | null;
}

/** Ids of the lengths Parley's have: event ids `evt_` + 32 hex digits, message and conversation ids ULIDs. */
const eventId = (index: number) => `evt_${index.toString(16).padStart(32, '0')}`;
const ulid = (prefix: string, index: number) => `${prefix}${String(index).padStart(26 - prefix.length, '0')}`;

/**
 * The baseline's body for event `index`: Parley's `message.created` webhook body
 * (`{id, type, tenantId, createdAt, data: {message}}`, `data` the realtime frame without type and
 * cursor, the message as REST presents it, ids of the same lengths), so both targets move the same
 * bytes; the receiver reports the mean size of each step's bodies, which shows whether they still do.
 */
export function baselineBody(index: number, text: string): string {
  // 200 conversations taking turns, as Parley's events do (so seqs grow as slowly).
  const conversationId = ulid('01BASECONV', index % 200);
  const createdAt = new Date().toISOString();
  return JSON.stringify({
    id: eventId(index),
    type: 'message.created',
    tenantId: 'bench-00000000',
    createdAt,
    data: {
      message: {
        id: ulid('01BASEMSG', index),
        conversationId,
        seq: Math.floor(index / 200) + 1,
        senderId: 'u0000',
        system: false,
        text,
        createdAt,
        editedAt: null,
        deletedAt: null,
        replyTo: null,
        reactions: {},
      },
    },
  });
}

/** Headers of the same names and value lengths as Parley's (the signature is not computed: a floor). */
export function baselineHeaders(index: number): Record<string, string> {
  const now = Date.now();
  return {
    'content-type': 'application/json',
    'user-agent': 'Parley-Webhooks/0.1.0',
    'parley-event-id': eventId(index),
    'parley-event-type': 'message.created',
    'parley-delivery-id': `${now}-${index % 10}`,
    'parley-signature': `t=${Math.floor(now / 1000)},v1=${'0'.repeat(64)}`,
  };
}
