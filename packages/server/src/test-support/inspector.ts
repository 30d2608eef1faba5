/**
 * A DevTools-protocol session with a server process the test started with
 * `NODE_OPTIONS=--inspect=127.0.0.1:<port>` (inspectorEnv): the test can then run code on the
 * process's main thread — block its event loop, force a garbage collection, read its memory —
 * without any route or setting in the server itself. Only tests set the option.
 */
import WebSocket from 'ws';
import { freePort } from './ports.js';

/** The environment that makes a child process listen for an inspector on a free loopback port. */
export async function inspectorEnv(): Promise<{ port: number; env: Record<string, string> }> {
  const port = await freePort();
  return { port, env: { NODE_OPTIONS: `--inspect=127.0.0.1:${port}` } };
}

export interface InspectorSession {
  /**
   * Evaluates `expression` on the process's main thread and resolves with its value (returned by
   * value: JSON-like results only). Runs when the main thread takes the message, as an interrupt:
   * a synchronous expression blocks the event loop for as long as it runs.
   */
  evaluate(expression: string): Promise<unknown>;
  /** A full garbage collection (HeapProfiler.collectGarbage). */
  collectGarbage(): Promise<void>;
  close(): Promise<void>;
}

/** Connects to the inspector listening on `port` (the first target: the main thread). */
export async function openInspector(port: number): Promise<InspectorSession> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
  const target = targets[0];
  if (!target) throw new Error(`no inspector target on ${port}`);
  const socket = new WebSocket(target.webSocketDebuggerUrl, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (result: any) => void; reject: (error: Error) => void }>();
  socket.on('message', (data) => {
    const message = JSON.parse(data.toString()) as { id?: number; result?: any; error?: { message: string } };
    if (message.id === undefined) return; // an event
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.error) waiter?.reject(new Error(`inspector: ${message.error.message}`));
    else waiter?.resolve(message.result);
  });
  socket.on('close', () => {
    for (const waiter of pending.values()) waiter.reject(new Error('inspector session closed'));
    pending.clear();
  });
  const call = (method: string, params: object = {}) =>
    new Promise<any>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      socket.send(JSON.stringify({ id, method, params }));
    });
  return {
    async evaluate(expression) {
      const result = await call('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true });
      if (result.exceptionDetails) throw new Error(`inspector evaluate threw: ${JSON.stringify(result.exceptionDetails)}`);
      return result.result?.value;
    },
    async collectGarbage() {
      await call('HeapProfiler.collectGarbage');
    },
    async close() {
      if (socket.readyState === WebSocket.CLOSED) return;
      const closed = new Promise((resolve) => socket.once('close', resolve));
      socket.close();
      await closed;
    },
  };
}
