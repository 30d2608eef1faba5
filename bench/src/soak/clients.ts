/**
 * The soak's simulated users: one WebSocket each, held for the whole run except when the script
 * drops it on purpose (a clean close or an abrupt `terminate`, as a lost network would) and
 * resumes it — on the other node, with the last cursor received. Every client checks what the
 * realtime guarantees promise it: each `message.created` of its conversations arrives once, in seq
 * order per conversation, and the first one after a resume follows the last one before it.
 */
import WebSocket from 'ws';
import { settleOpening } from '../ws-clients.js';

/** What the clients saw, summed over all of them. */
export interface ClientCounters {
  /** Connections opened (the first ones and every resume). */
  connects: number;
  /** Resumes with a cursor that reached `ready`. */
  resumes: number;
  /** Handshakes that failed (each is retried). */
  connectFailures: number;
  /** `resync.required` frames: the cursor was not honoured (must be 0 here). */
  resyncs: number;
  /** Sockets the server closed on its own (code → count): none is expected. */
  serverCloses: Record<string, number>;
  /** `message.created` frames received, duplicates included. */
  messageFrames: number;
  /** A seq the client already had in that conversation. */
  duplicates: number;
  /** The first message of a conversation after a resume was not the one after the last before it. */
  gapsAfterResume: number;
  /** Any other message that was not the one after the previous of its conversation. */
  outOfOrder: number;
  /** A message of a conversation the client is not a member of. */
  foreign: number;
  typingReceived: number;
  /** `error` frames (e.g. a refused typing frame). */
  errorFrames: number;
}

/** One conversation as a client follows it. */
interface Followed {
  /** Every seq received. */
  seqs: Set<number>;
  /** The seq of the last message received (0: none yet). */
  last: number;
  /** Set by a resume: the next message is checked against `last` as a resume gap. */
  afterResume: boolean;
}

export interface SoakClientSpec {
  userId: string;
  token: string;
  /** The realtime URL of each node (ws://…/v1/realtime). */
  wsUrls: readonly string[];
  /** The node it connects to first; each resume goes to the next. */
  firstNode: number;
  conversationIds: readonly string[];
}

const READY_TIMEOUT_MS = 10_000;

export class SoakClient {
  private socket: WebSocket | null = null;
  private node: number;
  private cursor: string | null = null;
  private ready = false;
  /** True while the script has dropped it on purpose (a close then is ours, not the server's). */
  private dropping = false;
  private readonly followed = new Map<string, Followed>();

  constructor(
    readonly spec: SoakClientSpec,
    private readonly counters: ClientCounters,
    /** Called for each new `message.created` of another member (the script posts read receipts). */
    private readonly onMessage: (client: SoakClient, conversationId: string, seq: number) => void,
  ) {
    this.node = spec.firstNode;
    for (const id of spec.conversationIds) this.followed.set(id, { seqs: new Set(), last: 0, afterResume: false });
  }

  get open(): boolean {
    return this.ready && this.socket?.readyState === WebSocket.OPEN;
  }

  /** The node its socket is on now (index into `wsUrls`). */
  get nodeIndex(): number {
    return this.node;
  }

  /** Seqs received in `conversationId`. */
  received(conversationId: string): ReadonlySet<number> {
    return this.followed.get(conversationId)?.seqs ?? new Set();
  }

  /** Opens the socket (with the last cursor if there is one); retries a failed handshake up to 5 times. */
  async connect(): Promise<void> {
    const resuming = this.cursor !== null;
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.openOnce();
        break;
      } catch (error) {
        this.counters.connectFailures += 1;
        if (attempt === 5) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      }
    }
    this.counters.connects += 1;
    if (resuming) this.counters.resumes += 1;
  }

  /** Drops the socket (`abrupt`: without a close handshake); the next `connect` goes to the other node. */
  async drop(abrupt: boolean): Promise<void> {
    const socket = this.socket;
    if (socket === null) return;
    this.dropping = true;
    this.ready = false;
    await new Promise<void>((resolve) => {
      if (socket.readyState === WebSocket.CLOSED) return resolve();
      socket.once('close', () => resolve());
      if (abrupt) socket.terminate();
      else socket.close(1000);
      setTimeout(() => {
        socket.terminate();
        resolve();
      }, 2000).unref();
    });
    this.socket = null;
    this.dropping = false;
    this.node = (this.node + 1) % this.spec.wsUrls.length;
    for (const conversation of this.followed.values()) conversation.afterResume = true;
  }

  /** Sends a typing frame in `conversationId`; false when the socket is not open. */
  typing(conversationId: string): boolean {
    if (!this.open) return false;
    this.socket!.send(JSON.stringify({ type: 'typing', conversationId }));
    return true;
  }

  private openOnce(): Promise<void> {
    const base = this.spec.wsUrls[this.node]!;
    const url = this.cursor === null ? base : `${base}?cursor=${encodeURIComponent(this.cursor)}`;
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers: { authorization: `Bearer ${this.spec.token}` }, perMessageDeflate: false });
      this.socket = socket;
      this.ready = false;
      const timer = setTimeout(() => {
        socket.terminate();
        reject(new Error(`${this.spec.userId}: no ready frame within ${READY_TIMEOUT_MS} ms`));
      }, READY_TIMEOUT_MS);
      socket.on('message', (data: Buffer) => {
        this.onFrame(data);
        if (this.ready) {
          clearTimeout(timer);
          resolve();
        }
      });
      settleOpening(socket, timer, reject, () => this.ready, (code) => {
        if (this.dropping || this.socket !== socket) return;
        this.counters.serverCloses[code] = (this.counters.serverCloses[code] ?? 0) + 1;
        this.ready = false;
        // The server closed it (shutdown, slow consumer…): resume elsewhere as a real client would.
        this.socket = null;
        this.node = (this.node + 1) % this.spec.wsUrls.length;
        for (const conversation of this.followed.values()) conversation.afterResume = true;
        this.connect().catch(() => undefined);
      });
    });
  }

  private onFrame(data: Buffer): void {
    const frame = JSON.parse(data.toString()) as { type: string; cursor?: string; conversationId?: string; message?: { conversationId: string; seq: number; senderId: string } };
    if (frame.cursor !== undefined) this.cursor = frame.cursor;
    switch (frame.type) {
      case 'ready':
        this.ready = true;
        return;
      case 'resync.required':
        this.counters.resyncs += 1;
        return;
      case 'typing':
        this.counters.typingReceived += 1;
        return;
      case 'error':
        this.counters.errorFrames += 1;
        return;
      case 'message.created':
        if (frame.message !== undefined) this.onMessageCreated(frame.message);
        return;
      default:
      // Other durable events (read, presence…) only move the cursor.
    }
  }

  private onMessageCreated({ conversationId, seq, senderId }: { conversationId: string; seq: number; senderId: string }): void {
    this.counters.messageFrames += 1;
    const conversation = this.followed.get(conversationId);
    if (conversation === undefined) {
      this.counters.foreign += 1;
      return;
    }
    if (conversation.seqs.has(seq)) {
      this.counters.duplicates += 1;
      return;
    }
    conversation.seqs.add(seq);
    if (seq !== conversation.last + 1) {
      if (conversation.afterResume) this.counters.gapsAfterResume += 1;
      else this.counters.outOfOrder += 1;
    }
    conversation.afterResume = false;
    conversation.last = Math.max(conversation.last, seq);
    if (senderId !== this.spec.userId) this.onMessage(this, conversationId, seq);
  }

  /** Closes the socket for good (end of the run). */
  async close(): Promise<void> {
    await this.drop(false);
  }
}
