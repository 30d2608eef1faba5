/**
 * The main thread's handle on the resume clients: spread over a few worker threads (each with its
 * own source addresses), asked and answered as one.
 */
import { splitEvenly } from '../fanout/target.js';
import { RpcWorker } from '../worker-rpc.js';
import type { ResumeClientSpec, ResumeConnectReply, ResumeReport, ResumeRequest, ResumeStatsReply, ResumeWorkerData } from './protocol.js';

/** Source addresses per worker: 127.0.0.2 and up (loopback is all of 127/8), so ports never run short. */
const ADDRESSES_PER_WORKER = 2;

const sum = <T>(replies: T[], pick: (reply: T) => number) => replies.reduce((total, reply) => total + pick(reply), 0);

export class ResumeClients {
  private readonly workers: RpcWorker<ResumeRequest>[];

  constructor(clients: ResumeClientSpec[], threads: number) {
    this.workers = splitEvenly(clients, Math.min(threads, clients.length)).map((group, worker) => {
      const localAddresses = Array.from({ length: ADDRESSES_PER_WORKER }, (_, i) => `127.0.0.${2 + worker * ADDRESSES_PER_WORKER + i}`);
      return new RpcWorker<ResumeRequest>(new URL('./client-worker.js', import.meta.url), { clients: group, localAddresses } satisfies ResumeWorkerData);
    });
  }

  private all<T>(request: Parameters<RpcWorker<ResumeRequest>['call']>[0]): Promise<T[]> {
    return Promise.all(this.workers.map((worker) => worker.call<T>(request)));
  }

  /** Every client opens a socket to `url` (with its last cursor when `withCursor`); resolves once each is ready or failed. */
  async connect(url: string, withCursor: boolean, concurrency: number, timeoutMs: number): Promise<ResumeConnectReply> {
    const perWorker = Math.max(1, Math.ceil(concurrency / this.workers.length));
    const replies = await this.all<ResumeConnectReply>({ op: 'connect', url, withCursor, concurrency: perWorker, timeoutMs });
    return {
      connected: sum(replies, (r) => r.connected),
      failed: sum(replies, (r) => r.failed),
      errors: sum(replies, (r) => r.errors),
      firstError: replies.find((r) => r.firstError !== null)?.firstError ?? null,
    };
  }

  async expect(seqs: Record<string, number[]>): Promise<void> {
    await this.all({ op: 'expect', seqs });
  }

  async stats(): Promise<ResumeStatsReply> {
    return merge(await this.all<ResumeStatsReply>({ op: 'stats' }));
  }

  /** Waits until every socket has seen its server go (a kill -9 shows as a close), at most `timeoutMs`. */
  async awaitClosed(timeoutMs: number): Promise<ResumeStatsReply> {
    return merge(await this.all<ResumeStatsReply>({ op: 'await-closed', timeoutMs }));
  }

  async report(): Promise<ResumeReport> {
    const replies = await this.all<ResumeReport>({ op: 'report' });
    const closes: Record<string, number> = {};
    for (const reply of replies) for (const [code, count] of Object.entries(reply.closes)) closes[code] = (closes[code] ?? 0) + count;
    return {
      clients: sum(replies, (r) => r.clients),
      lost: sum(replies, (r) => r.lost),
      clientsWithLoss: sum(replies, (r) => r.clientsWithLoss),
      duplicates: sum(replies, (r) => r.duplicates),
      unexpected: sum(replies, (r) => r.unexpected),
      resyncs: sum(replies, (r) => r.resyncs),
      closes,
    };
  }

  async close(): Promise<void> {
    await this.all({ op: 'close' }).catch(() => undefined);
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }
}

function merge(replies: ResumeStatsReply[]): ResumeStatsReply {
  const caught = replies.flatMap((r) => (r.lastCaughtUpAt === null ? [] : [r.lastCaughtUpAt]));
  return {
    open: sum(replies, (r) => r.open),
    caughtUp: sum(replies, (r) => r.caughtUp),
    lastCaughtUpAt: caught.length === replies.length ? Math.max(...caught) : null,
    frames: sum(replies, (r) => r.frames),
    lastFrameAt: Math.max(...replies.map((r) => r.lastFrameAt)),
  };
}
