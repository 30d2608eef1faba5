/**
 * The harness's handle on a child process it drives over IPC: requests are `{ id, op, … }` objects
 * sent to the child, which answers each with `{ id, reply }`. A child that exits rejects every
 * request still waiting (with its last output), so no caller hangs on a dead process.
 */
import type { Managed } from './processes.js';

type Body<R> = R extends { id: number } ? Omit<R, 'id'> : never;

export class IpcProcess<Request extends { id: number; op: string }> {
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private nextId = 1;

  /** `managed` must have been started with `{ ipc: true }`. */
  constructor(readonly managed: Managed) {
    managed.child.on('message', (message: { id?: number; reply?: unknown }) => {
      if (message.id === undefined) return;
      this.pending.get(message.id)?.resolve(message.reply);
      this.pending.delete(message.id);
    });
    managed.child.once('exit', (code, signal) => {
      for (const { reject } of this.pending.values()) reject(new Error(`${managed.name} exited (${code ?? signal}):\n${managed.tail()}`));
      this.pending.clear();
    });
  }

  call<T>(body: Body<Request>): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      if (!this.managed.child.connected) {
        reject(new Error(`${this.managed.name} is not running:\n${this.managed.tail()}`));
        return;
      }
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.managed.child.send({ ...body, id });
    });
  }
}

/**
 * The child's side of IpcProcess: answers each request `{ id, … }` with `{ id, reply }`, the reply
 * being what `handle` resolves to. A request that fails ends the child (its output says why, and
 * the harness's IpcProcess rejects what was waiting); the harness going away (the IPC channel
 * closing) ends it too.
 */
export function serveIpc<Request extends { id: number }>(handle: (request: Request) => unknown): void {
  process.on('message', (request: Request) => {
    Promise.resolve()
      .then(() => handle(request))
      .then(
        (reply) => process.send!({ id: request.id, reply }),
        (error: unknown) => {
          console.error(error);
          process.exit(1);
        },
      );
  });
  process.on('disconnect', () => process.exit(0));
}
