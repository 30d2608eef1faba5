/**
 * The main thread's handle on the mix clients: one worker thread per server node, each holding
 * the users connected to that node (with its own source addresses), asked and answered as one.
 */
import { sleep } from '../clock.js';
import { RpcWorker } from '../worker-rpc.js';
import { NO_COUNTS, type MixClientSpec, type MixConnectReply, type MixCounters, type MixEndReply, type MixRequest, type MixStatsReply, type MixWorkerData } from './protocol.js';

/** Source addresses per worker: 127.0.0.2 and up (loopback is all of 127/8), so ports never run short. */
const ADDRESSES_PER_WORKER = 2;

const sum = <T>(replies: T[], pick: (reply: T) => number) => replies.reduce((total, reply) => total + pick(reply), 0);

export interface MixDeliveries extends Omit<MixEndReply, 'latencies'> {
  latencies: Float64Array[];
}

export class MixClients {
  private readonly workers: RpcWorker<MixRequest>[];
  /** User index → the worker holding its socket. */
  private readonly workerOf = new Map<number, RpcWorker<MixRequest>>();

  /** `byNode[n]`: the users whose socket goes to node n; one worker each. */
  constructor(byNode: MixClientSpec[][], connectConcurrency: number, readConcurrency: number) {
    this.workers = byNode.map((clients, worker) => {
      const localAddresses = Array.from({ length: ADDRESSES_PER_WORKER }, (_, i) => `127.0.0.${2 + worker * ADDRESSES_PER_WORKER + i}`);
      const data: MixWorkerData = { clients, localAddresses, connectConcurrency, readConcurrency };
      const rpc = new RpcWorker<MixRequest>(new URL('./client-worker.js', import.meta.url), data);
      for (const client of clients) this.workerOf.set(client.user, rpc);
      return rpc;
    });
  }

  private all<T>(request: Parameters<RpcWorker<MixRequest>['call']>[0]): Promise<T[]> {
    return Promise.all(this.workers.map((worker) => worker.call<T>(request)));
  }

  async connect(timeoutMs: number): Promise<MixConnectReply> {
    const replies = await this.all<MixConnectReply>({ op: 'connect', timeoutMs });
    return {
      connected: sum(replies, (r) => r.connected),
      failed: sum(replies, (r) => r.failed),
      firstError: replies.find((r) => r.firstError !== null)?.firstError ?? null,
    };
  }

  async stats(): Promise<MixStatsReply> {
    const replies = await this.all<MixStatsReply>({ op: 'stats' });
    return { open: sum(replies, (r) => r.open), quietMs: Math.min(...replies.map((r) => r.quietMs)) };
  }

  /** Waits until no frame arrived for `quietMs` (presence after thousands of connects), at most `timeoutMs`; true if it did. */
  async settle(quietMs: number, timeoutMs: number): Promise<boolean> {
    const started = Date.now();
    while (Date.now() - started < timeoutMs) {
      if ((await this.stats()).quietMs >= quietMs) return true;
      await sleep(100);
    }
    return false;
  }

  async begin(step: number, total: number, starts: SharedArrayBuffer, readers: SharedArrayBuffer, windowMs: number): Promise<void> {
    await this.all({ op: 'begin', step, total, starts, readers, windowMs });
  }

  /** The user's own socket sends a `typing` frame (not awaited by the sender's schedule). */
  typing(user: number, conversationId: string): void {
    this.workerOf.get(user)?.call({ op: 'typing', user, conversationId }).catch(() => undefined);
  }

  async end(): Promise<MixDeliveries> {
    const replies = await this.all<MixEndReply>({ op: 'end' });
    const closes: Record<string, number> = {};
    for (const reply of replies) for (const [code, count] of Object.entries(reply.closes)) closes[code] = (closes[code] ?? 0) + count;
    const counters = { ...NO_COUNTS };
    for (const key of Object.keys(counters) as (keyof MixCounters)[]) counters[key] = sum(replies, (r) => r[key]);
    return {
      latencies: replies.map((r) => r.latencies),
      received: sum(replies, (r) => r.received),
      withinWindow: sum(replies, (r) => r.withinWindow),
      stale: sum(replies, (r) => r.stale),
      ...counters,
      closes,
    };
  }

  async close(): Promise<void> {
    await this.all({ op: 'close' }).catch(() => undefined);
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }
}
