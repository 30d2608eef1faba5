/**
 * The offline send queue: messages typed while offline (or while the server is unreachable)
 * are stored, then sent in order per conversation until the server acknowledges them.
 *
 * Guarantees:
 *   - each message gets its `clientMessageId` once, when queued, and keeps it across retries and
 *     reloads: the server stores it once however often it is sent (a repeat returns the original);
 *   - a message is persisted before its first send, and leaves storage only once acknowledged;
 *     a queue created later over the same storage (a page reload) sends what is still pending;
 *   - within a conversation, messages are sent one at a time in the order queued: one waiting
 *     for a retry holds back those queued after it;
 *   - a refusal that retrying cannot fix (a 4xx other than 408 and 429) marks the message
 *     `failed` (kept, with the status, until `retry` or `discard`) and the next one goes on;
 *     network failures, 408, 429 and 5xx are retried with backoff (honouring Retry-After).
 */
import { createBackoff, type Backoff } from '../realtime/backoff.js';
import { defaultScheduler, type Scheduler, type SendMessageRest } from '../realtime/deps.js';
import { Emitter } from '../realtime/emitter.js';
import type { Message } from '../realtime/wire.js';
import { MemoryQueueStorage, type QueueStorage } from './storage.js';

export type QueuedMessageStatus = 'pending' | 'sent' | 'failed';

export interface QueuedMessage {
  /** Assigned when queued; the server's idempotency key for this message. */
  clientMessageId: string;
  conversationId: string;
  text: string;
  replyTo?: string;
  status: QueuedMessageStatus;
  /** Send attempts so far (this page load and earlier ones). */
  attempts: number;
  queuedAt: string;
  /** The stored message, once `sent`. */
  message?: Message;
  /** Why the last attempt failed (`status` is the HTTP status when the server answered). */
  lastError?: { status?: number; message: string };
}

export interface OfflineQueueEvents {
  /** Any change of any item (queued, attempted, sent, failed, discarded). */
  change: readonly QueuedMessage[];
  sent: QueuedMessage;
  failed: QueuedMessage;
}

export interface OfflineQueueOptions {
  rest: SendMessageRest;
  /** Default: in memory (lost on reload). Browsers: `new WebStorageQueueStorage()`. */
  storage?: QueueStorage;
  /** The storage key: one per signed-in user, so that users of one browser do not send each other's messages. Default `parley.outbox`. */
  storageKey?: string;
  /** Retry delays per conversation. Default: windows of 500 ms doubling up to 30 s. */
  backoff?: { baseMs?: number; capMs?: number };
  /** Timers, clock and randomness (tests). */
  scheduler?: Partial<Scheduler>;
  /** Generates client message ids (matching `[A-Za-z0-9_.:-]{1,128}`); default `randomClientMessageId`. */
  newClientMessageId?: () => string;
}

/** A 4xx other than 408 (timeout) and 429 (rate limited) will not succeed by being repeated. */
const isPermanent = (status: number | undefined) => status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429;

/** The HTTP status of a failed send; undefined when no answer arrived (status 0 or none). */
function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === 'number' && status > 0 ? status : undefined;
}

/** The server's Retry-After, in ms (the SDK's ParleyError carries it as `retryAfterSeconds`). */
function retryAfterMsOf(error: unknown): number {
  const seconds = Number((error as { retryAfterSeconds?: unknown } | null)?.retryAfterSeconds);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 0;
}

/**
 * 128 random bits in hex. `crypto.getRandomValues`, unlike `randomUUID`, exists outside secure
 * contexts too (a page served over plain http from a LAN address).
 */
export function randomClientMessageId(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** What storage holds: the unacknowledged messages; anything unreadable counts as none. */
function parseStored(text: string | null): QueuedMessage[] {
  if (!text) return [];
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? (value as QueuedMessage[]) : [];
  } catch {
    return [];
  }
}

export class OfflineQueue extends Emitter<OfflineQueueEvents> {
  private readonly storage: QueueStorage;
  private readonly storageKey: string;
  private readonly scheduler: Scheduler;
  private items: QueuedMessage[] = [];
  /** Conversations with a send in flight or a retry scheduled. */
  private readonly busy = new Set<string>();
  private readonly retryTimers = new Map<string, unknown>();
  private readonly backoffs = new Map<string, Backoff>();
  /** Storage writes, one after another, so an older snapshot never overwrites a newer one. */
  private saving: Promise<void> = Promise.resolve();
  private stopped = false;
  /** Discarded here: not to be kept in storage even if another queue wrote it back. */
  private readonly forgotten = new Set<string>();

  constructor(private readonly options: OfflineQueueOptions) {
    super();
    this.storage = options.storage ?? new MemoryQueueStorage();
    this.storageKey = options.storageKey ?? 'parley.outbox';
    this.scheduler = { ...defaultScheduler, ...options.scheduler };
  }

  /** Reads what earlier queues over the same storage left pending, and starts sending it. */
  async load(): Promise<void> {
    const stored = parseStored(await this.storage.get(this.storageKey));
    const known = new Set(this.items.map((item) => item.clientMessageId));
    this.items.push(...stored.filter((item) => !known.has(item.clientMessageId)));
    this.changed();
    this.pumpAll();
  }

  /** Every message this queue knows: pending and failed ones (persisted) and those sent during this page load. */
  get messages(): readonly QueuedMessage[] {
    return this.items;
  }

  get pending(): readonly QueuedMessage[] {
    return this.items.filter((item) => item.status === 'pending');
  }

  get failed(): readonly QueuedMessage[] {
    return this.items.filter((item) => item.status === 'failed');
  }

  /**
   * Queues a message: it has its clientMessageId and is persisted when this resolves, and is
   * sent as soon as the messages queued before it in its conversation are.
   */
  async send(conversationId: string, text: string, options: { replyTo?: string } = {}): Promise<QueuedMessage> {
    const item: QueuedMessage = {
      clientMessageId: (this.options.newClientMessageId ?? randomClientMessageId)(),
      conversationId,
      text,
      ...(options.replyTo === undefined ? {} : { replyTo: options.replyTo }),
      status: 'pending',
      attempts: 0,
      queuedAt: new Date(this.scheduler.now()).toISOString(),
    };
    this.items.push(item);
    try {
      await this.persist();
    } catch (error) {
      // Not stored means not queued: the caller learns it now rather than losing it on reload.
      this.items = this.items.filter((candidate) => candidate !== item);
      throw error;
    }
    this.changed();
    this.pump(conversationId);
    return item;
  }

  /** Resolves once `clientMessageId` is sent (with the stored message) or failed (rejects). */
  settled(clientMessageId: string): Promise<Message> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const item = this.items.find((candidate) => candidate.clientMessageId === clientMessageId);
        if (!item) reject(new Error(`unknown or discarded message ${clientMessageId}`));
        else if (item.status === 'sent') resolve(item.message!);
        else if (item.status === 'failed') reject(Object.assign(new Error(item.lastError?.message ?? 'send failed'), { status: item.lastError?.status }));
        else return false;
        return true;
      };
      if (check()) return;
      const unsubscribe = this.on('change', () => {
        if (check()) unsubscribe();
      });
    });
  }

  /** Retries every waiting conversation now (e.g. when the realtime connection is live again). */
  flush(): void {
    for (const [conversationId, timer] of this.retryTimers) {
      this.scheduler.clearTimeout(timer);
      this.retryTimers.delete(conversationId);
      this.busy.delete(conversationId);
      this.backoffs.get(conversationId)?.reset();
    }
    this.pumpAll();
  }

  /**
   * Flushes whenever `connection` is (re)connected: the server is reachable again, so waiting
   * messages need not sit out their backoff. Returns the function that stops it.
   */
  flushWhenConnected(connection: { on(name: 'ready', listener: () => void): () => void }): () => void {
    return connection.on('ready', () => this.flush());
  }

  /** Puts a failed message back in the queue (same clientMessageId). */
  async retry(clientMessageId: string): Promise<void> {
    const item = this.items.find((candidate) => candidate.clientMessageId === clientMessageId && candidate.status === 'failed');
    if (!item) return;
    item.status = 'pending';
    delete item.lastError;
    await this.persist();
    this.changed();
    this.pump(item.conversationId);
  }

  /** Forgets a failed (or sent) message. Pending ones cannot be discarded: they may already be stored. */
  async discard(clientMessageId: string): Promise<void> {
    const before = this.items.length;
    this.items = this.items.filter((item) => item.clientMessageId !== clientMessageId || item.status === 'pending');
    if (this.items.length === before) return;
    this.forgotten.add(clientMessageId);
    await this.persist();
    this.changed();
  }

  /**
   * Stops sending (pending messages stay stored for the next queue over this storage). From now
   * on the queue writes nothing to its storage, not even for an attempt still under way: after
   * an explicit sign-out the application may remove the storage key right after `stop()`
   * without it being written back.
   */
  stop(): void {
    this.stopped = true;
    for (const timer of this.retryTimers.values()) this.scheduler.clearTimeout(timer);
    this.retryTimers.clear();
  }

  private pumpAll(): void {
    for (const conversationId of new Set(this.pending.map((item) => item.conversationId))) this.pump(conversationId);
  }

  private pump(conversationId: string): void {
    if (this.stopped || this.busy.has(conversationId)) return;
    const next = this.items.find((item) => item.conversationId === conversationId && item.status === 'pending');
    if (!next) return;
    this.busy.add(conversationId);
    // `attempt` settles every outcome itself; a failure of storage is not a reason to crash the app.
    this.attempt(next).catch(() => this.busy.delete(conversationId));
  }

  private async attempt(item: QueuedMessage): Promise<void> {
    const { conversationId } = item;
    item.attempts += 1;
    let outcome: 'sent' | 'failed' | 'retry';
    let retryAfterMs = 0;
    try {
      const message = await this.options.rest.sendMessage(conversationId, {
        text: item.text,
        clientMessageId: item.clientMessageId,
        ...(item.replyTo === undefined ? {} : { replyTo: item.replyTo }),
      });
      item.status = 'sent';
      item.message = message;
      delete item.lastError;
      outcome = 'sent';
    } catch (error) {
      const status = statusOf(error);
      item.lastError = { ...(status === undefined ? {} : { status }), message: error instanceof Error ? error.message : String(error) };
      if (isPermanent(status)) {
        item.status = 'failed';
        outcome = 'failed';
      } else {
        outcome = 'retry';
        retryAfterMs = retryAfterMsOf(error);
      }
    }
    // Storage failing now is not fatal: the item is still in memory, and a repeat send after a
    // reload is harmless (same clientMessageId).
    await this.persist().catch(() => undefined);
    this.changed();
    if (outcome === 'sent') this.emit('sent', item);
    if (outcome === 'failed') this.emit('failed', item);
    if (outcome === 'retry') {
      const backoff = this.backoffOf(conversationId);
      const delay = Math.max(backoff.next(), retryAfterMs);
      if (this.stopped) return;
      this.retryTimers.set(
        conversationId,
        this.scheduler.setTimeout(() => {
          this.retryTimers.delete(conversationId);
          this.busy.delete(conversationId);
          this.pump(conversationId);
        }, delay),
      );
      return;
    }
    this.backoffOf(conversationId).reset();
    this.busy.delete(conversationId);
    this.pump(conversationId);
  }

  private backoffOf(conversationId: string): Backoff {
    let backoff = this.backoffs.get(conversationId);
    if (!backoff) this.backoffs.set(conversationId, (backoff = createBackoff({ ...this.options.backoff, random: this.scheduler.random })));
    return backoff;
  }

  /**
   * Writes the unacknowledged messages (pending and failed); sent and discarded ones need no
   * keeping. Messages in storage that this queue does not know (queued by another tab over the
   * same storage since this one loaded) are kept, so that no queue erases another's.
   */
  private persist(): Promise<void> {
    const write = this.saving
      // A failed write fails its caller, not every later one.
      .catch(() => undefined)
      .then(async () => {
        if (this.stopped) return;
        const stored = parseStored(await this.storage.get(this.storageKey));
        if (this.stopped) return;
        const known = new Set(this.items.map((item) => item.clientMessageId));
        const others = stored.filter((item) => !known.has(item.clientMessageId) && !this.forgotten.has(item.clientMessageId));
        const unacknowledged = this.items.filter((item) => item.status !== 'sent');
        // In the order queued, across tabs (a stable sort keeps each queue's own order on ties).
        const merged = [...others, ...unacknowledged].sort((a, b) => (a.queuedAt < b.queuedAt ? -1 : a.queuedAt > b.queuedAt ? 1 : 0));
        await this.storage.set(this.storageKey, JSON.stringify(merged));
      });
    this.saving = write;
    return write;
  }

  private changed(): void {
    this.emit('change', this.items);
  }
}

/** Creates a queue over `storage`, resuming what an earlier queue over it left pending. */
export async function createOfflineQueue(options: OfflineQueueOptions): Promise<OfflineQueue> {
  const queue = new OfflineQueue(options);
  await queue.load();
  return queue;
}
