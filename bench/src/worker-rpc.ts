/**
 * The main thread's handle on a load worker thread: requests are `{ id, op, … }` objects posted
 * to the worker, which answers each with `{ id, reply }`. A worker that fails or exits rejects
 * every request still waiting, so no caller hangs on a dead thread.
 */
import { Worker } from 'node:worker_threads';

type Body<R> = R extends { id: number } ? Omit<R, 'id'> : never;

export class RpcWorker<Request extends { id: number; op: string }> {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private nextId = 1;

  constructor(script: URL, workerData: unknown) {
    this.worker = new Worker(script, { workerData });
    this.worker.on('message', (message: { id: number; reply: unknown }) => {
      this.pending.get(message.id)?.resolve(message.reply);
      this.pending.delete(message.id);
    });
    this.worker.on('error', (error) => this.failAll(error));
    this.worker.on('exit', (code) => this.failAll(new Error(`worker exited (${code})`)));
  }

  private failAll(error: Error): void {
    for (const { reject } of this.pending.values()) reject(error);
    this.pending.clear();
  }

  call<T>(body: Body<Request>): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.worker.postMessage({ ...body, id });
    });
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
  }
}
