/**
 * The soak's steady mixed load, open loop: REST sends at a fixed rate (each from a random user into
 * its direct conversation or its group, half the time after a typing frame), read receipts posted
 * by receivers of a quarter of the messages, and every few seconds a few clients dropping their
 * socket (cleanly or abruptly, in turn) and resuming on the other node with their last cursor.
 * It keeps what the correctness check needs: every acknowledged message's seq and id, per conversation.
 */
import { randomUUID } from 'node:crypto';
import type { BenchUser } from '../parley-api.js';
import type { SoakClient } from './clients.js';

/** One conversation of the soak: its id and its members (user indexes). */
export interface SoakConversation {
  id: string;
  members: number[];
}

export interface LoadCounters {
  /** Sends started, answered 201, answered otherwise (status → count), or skipped (too many in flight). */
  sent: number;
  acknowledged: number;
  failedSends: Record<string, number>;
  skippedSends: number;
  typingSent: number;
  readsPosted: number;
  readsFailed: number;
  readsSkipped: number;
  /** Clients dropped on purpose so far. */
  drops: number;
  /** Resumes that failed even after retries. */
  resumeFailures: number;
}

export interface LoadSettings {
  rate: number;
  maxInFlight: number;
  resumeEveryMs: number;
  resumeBatch: number;
  awayMs: number;
}

/** Read receipts in flight at most: a receipt due beyond that is skipped (counted). */
const MAX_READS_IN_FLIGHT = 16;
const READ_FRACTION = 0.25;
const TYPING_FRACTION = 0.5;

export class SoakLoad {
  readonly counters: LoadCounters = {
    sent: 0, acknowledged: 0, failedSends: {}, skippedSends: 0, typingSent: 0, readsPosted: 0, readsFailed: 0, readsSkipped: 0, drops: 0, resumeFailures: 0,
  };
  /** Conversation id → seq → message id, of every acknowledged send. */
  readonly acknowledged = new Map<string, Map<number, string>>();
  private inFlight = new Set<Promise<void>>();
  private away = new Set<Promise<void>>();
  private awayClients = new Set<SoakClient>();
  private readsInFlight = 0;
  private timers: NodeJS.Timeout[] = [];
  private startedAt = 0;
  private abruptNext = false;

  constructor(
    private readonly users: readonly BenchUser[],
    /** Per user: the conversations it sends to. */
    private readonly conversationsOf: readonly (readonly SoakConversation[])[],
    private readonly clients: readonly SoakClient[],
    /** The node URL user i's requests go to. */
    private readonly urlOf: (user: number) => string,
    private readonly settings: LoadSettings,
  ) {}

  /** Starts sending, reading and resuming; `stop` ends it. */
  start(): void {
    this.startedAt = performance.now();
    for (const conversations of this.conversationsOf) for (const { id } of conversations) this.acknowledged.set(id, new Map());
    // Every 20 ms, the sends due by now: a steady rate whatever the timer's jitter.
    this.timers.push(setInterval(() => this.sendDue(), 20));
    this.timers.push(setInterval(() => this.dropSome(), this.settings.resumeEveryMs));
  }

  /** Stops the load, then waits for every send and read in flight and every away client to be back. */
  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    while (this.inFlight.size > 0 || this.away.size > 0 || this.readsInFlight > 0) {
      await Promise.all([...this.inFlight, ...this.away]);
      if (this.readsInFlight > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Called by a client for each new message of another member: a receipt for a quarter of them. */
  onMessage(client: SoakClient, conversationId: string, seq: number): void {
    if (Math.random() >= READ_FRACTION) return;
    if (this.readsInFlight >= MAX_READS_IN_FLIGHT) {
      this.counters.readsSkipped += 1;
      return;
    }
    this.readsInFlight += 1;
    const user = this.clients.indexOf(client);
    fetch(`${this.urlOf(user)}/v1/conversations/${conversationId}/read`, {
      method: 'POST',
      headers: { authorization: `Bearer ${client.spec.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ seq }),
    })
      .then(
        async (response) => {
          await response.arrayBuffer();
          if (response.status === 204) this.counters.readsPosted += 1;
          else this.counters.readsFailed += 1;
        },
        () => (this.counters.readsFailed += 1),
      )
      .finally(() => (this.readsInFlight -= 1));
  }

  private sendDue(): void {
    const due = Math.floor(((performance.now() - this.startedAt) * this.settings.rate) / 1000);
    while (this.counters.sent + this.counters.skippedSends < due) {
      if (this.inFlight.size >= this.settings.maxInFlight) {
        this.counters.skippedSends += 1;
        continue;
      }
      this.counters.sent += 1;
      const sending = this.sendOne().finally(() => this.inFlight.delete(sending));
      this.inFlight.add(sending);
    }
  }

  private async sendOne(): Promise<void> {
    const user = Math.floor(Math.random() * this.users.length);
    const choices = this.conversationsOf[user]!;
    const conversation = choices[Math.floor(Math.random() * choices.length)]!;
    if (Math.random() < TYPING_FRACTION && this.clients[user]!.typing(conversation.id)) this.counters.typingSent += 1;
    try {
      const response = await fetch(`${this.urlOf(user)}/v1/conversations/${conversation.id}/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.users[user]!.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ text: `soak ${this.counters.sent}`, clientMessageId: randomUUID() }),
      });
      const body = (await response.json()) as { id?: string; seq?: number };
      if (response.status === 201 && typeof body.seq === 'number' && typeof body.id === 'string') {
        this.counters.acknowledged += 1;
        this.acknowledged.get(conversation.id)!.set(body.seq, body.id);
      } else this.fail(String(response.status));
    } catch {
      this.fail('error');
    }
  }

  private fail(status: string): void {
    this.counters.failedSends[status] = (this.counters.failedSends[status] ?? 0) + 1;
  }

  /** Drops `resumeBatch` random open clients; each resumes on the other node after up to `awayMs`. */
  private dropSome(): void {
    for (let picked = 0; picked < this.settings.resumeBatch; picked += 1) {
      const client = this.clients[Math.floor(Math.random() * this.clients.length)]!;
      if (!client.open || this.awayClients.has(client)) continue;
      this.abruptNext = !this.abruptNext;
      const abrupt = this.abruptNext;
      this.counters.drops += 1;
      this.awayClients.add(client);
      const trip = (async () => {
        await client.drop(abrupt);
        await new Promise((resolve) => setTimeout(resolve, this.settings.awayMs * (0.5 + Math.random() / 2)));
        await client.connect();
      })()
        .catch(() => {
          this.counters.resumeFailures += 1;
        })
        .finally(() => {
          this.awayClients.delete(client);
          this.away.delete(trip);
        });
      this.away.add(trip);
    }
  }
}
