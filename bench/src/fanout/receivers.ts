/**
 * The main thread's handle on the receiver workers: one worker per server node, each holding the
 * members connected to that node. Requests are simple RPCs over the worker's message port.
 */
import { sleep } from '../clock.js';
import { RpcWorker } from '../worker-rpc.js';
import type { ClientSpec, ConnectReply, EndReply, ReceiverWorkerData, Request, StatsReply } from './receiver-protocol.js';

type ReceiverWorker = RpcWorker<Request>;

export interface StepDeliveries {
  latencies: Float64Array[];
  received: number;
  duplicates: number;
  stale: number;
  closes: Record<string, number>;
}

export class ReceiverPool {
  private constructor(private readonly workers: ReceiverWorker[]) {}

  /** One worker per group of clients (per node); nothing connects until `connect`. */
  static create(groups: ClientSpec[][], connectConcurrency = 50): ReceiverPool {
    return new ReceiverPool(groups.map((clients) => new RpcWorker<Request>(new URL('./receiver-worker.js', import.meta.url), { clients, connectConcurrency } satisfies ReceiverWorkerData)));
  }

  async connect(): Promise<ConnectReply> {
    const replies = await Promise.all(this.workers.map((worker) => worker.call<ConnectReply>({ op: 'connect' })));
    return {
      connected: replies.reduce((sum, r) => sum + r.connected, 0),
      failed: replies.reduce((sum, r) => sum + r.failed, 0),
      firstError: replies.find((r) => r.firstError !== null)?.firstError ?? null,
      ms: Math.max(...replies.map((r) => r.ms)),
    };
  }

  async stats(): Promise<StatsReply> {
    const replies = await Promise.all(this.workers.map((worker) => worker.call<StatsReply>({ op: 'stats' })));
    return {
      frames: replies.reduce((sum, r) => sum + r.frames, 0),
      quietMs: Math.min(...replies.map((r) => r.quietMs)),
      open: replies.reduce((sum, r) => sum + r.open, 0),
      received: replies.reduce((sum, r) => sum + r.received, 0),
    };
  }

  /**
   * Waits until no frame at all arrived for `quietMs` (e.g. the presence events that follow a
   * thousand connections), at most `timeoutMs`.
   */
  async settle(quietMs: number, timeoutMs: number): Promise<{ ms: number; settled: boolean }> {
    const started = Date.now();
    for (;;) {
      const { quietMs: quiet } = await this.stats();
      if (quiet >= quietMs) return { ms: Date.now() - started, settled: true };
      if (Date.now() - started > timeoutMs) return { ms: Date.now() - started, settled: false };
      await sleep(100);
    }
  }

  async begin(step: number, total: number, starts: SharedArrayBuffer): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.call({ op: 'begin', step, total, starts })));
  }

  async end(): Promise<StepDeliveries> {
    const replies = await Promise.all(this.workers.map((worker) => worker.call<EndReply>({ op: 'end' })));
    const closes: Record<string, number> = {};
    for (const reply of replies) for (const [code, count] of Object.entries(reply.closes)) closes[code] = (closes[code] ?? 0) + count;
    return {
      latencies: replies.map((r) => r.latencies),
      received: replies.reduce((sum, r) => sum + r.received, 0),
      duplicates: replies.reduce((sum, r) => sum + r.duplicates, 0),
      stale: replies.reduce((sum, r) => sum + r.stale, 0),
      closes,
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.call({ op: 'close' }).catch(() => undefined)));
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }
}
