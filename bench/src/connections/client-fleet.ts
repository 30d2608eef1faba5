/**
 * The harness's handle on its idle-client processes (client-process.ts): one per 5,000 clients, at
 * least two, each on its own loopback source address. Requests are simple RPCs over IPC.
 */
import { fileURLToPath } from 'node:url';
import { monoMs } from '../clock.js';
import { startProcess, type Managed } from '../processes.js';
import { splitEvenly } from '../fanout/target.js';
import type { ConnectReply, FleetRequest, FleetStats } from './protocol.js';

const CLIENT_SCRIPT = fileURLToPath(new URL('./client-process.js', import.meta.url));
/** Clients per process: far below its 20,000 open files and one source address's ~28,000 ports. */
const CLIENTS_PER_PROCESS = 5000;
/** Handshakes in flight per process. */
const CONNECT_CONCURRENCY = 50;

type RequestBody = FleetRequest extends infer R ? (R extends { op: string } ? Omit<R, 'id'> : never) : never;

class ClientProcess {
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private nextId = 1;

  constructor(
    readonly managed: Managed,
    readonly localAddress: string,
  ) {
    managed.child.on('message', (message: { id: number; reply: unknown }) => {
      this.pending.get(message.id)?.resolve(message.reply);
      this.pending.delete(message.id);
    });
    managed.child.once('exit', (code) => {
      for (const { reject } of this.pending.values()) reject(new Error(`${managed.name} exited (${code}):\n${managed.tail()}`));
      this.pending.clear();
    });
  }

  call<T>(body: RequestBody): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.managed.child.send({ ...body, id });
    });
  }
}

export class ClientFleet {
  private constructor(private readonly processes: ClientProcess[]) {}

  /** Enough processes for `maxClients` (at least two, so the spread itself is always exercised). */
  static start(maxClients: number): ClientFleet {
    const count = Math.max(2, Math.ceil(maxClients / CLIENTS_PER_PROCESS));
    return new ClientFleet(
      Array.from({ length: count }, (_, i) => {
        const name = `idle-clients-${i + 1}`;
        return new ClientProcess(startProcess(name, process.execPath, [CLIENT_SCRIPT], {}, { ipc: true }), `127.0.0.${i + 2}`);
      }),
    );
  }

  get pids(): number[] {
    return this.processes.map((p) => p.managed.pid);
  }

  /** Opens one client per header set, spread evenly over the processes, all at once; `ms` is the wall time until the last is ready. */
  async connect(url: string, headers: Array<Record<string, string>>): Promise<ConnectReply> {
    const started = monoMs();
    const parts = splitEvenly(headers, this.processes.length);
    const replies = await Promise.all(
      this.processes.map((p, i) => p.call<ConnectReply>({ op: 'connect', url, localAddress: p.localAddress, headers: parts[i]!, concurrency: CONNECT_CONCURRENCY })),
    );
    return {
      connected: replies.reduce((sum, r) => sum + r.connected, 0),
      failed: replies.reduce((sum, r) => sum + r.failed, 0),
      firstError: replies.find((r) => r.firstError !== null)?.firstError ?? null,
      ms: monoMs() - started,
    };
  }

  async stats(): Promise<FleetStats> {
    const replies = await Promise.all(this.processes.map((p) => p.call<FleetStats>({ op: 'stats' })));
    return {
      open: replies.reduce((sum, r) => sum + r.open, 0),
      frames: replies.reduce((sum, r) => sum + r.frames, 0),
      quietMs: Math.min(...replies.map((r) => r.quietMs)),
      closedByServer: replies.reduce((sum, r) => sum + r.closedByServer, 0),
    };
  }

  async stop(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.call({ op: 'close' }).catch(() => undefined)));
    await Promise.all(this.processes.map((p) => p.managed.stop()));
  }
}
