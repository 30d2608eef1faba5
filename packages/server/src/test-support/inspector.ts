/**
 * A DevTools-protocol session with a server process the test started with INSPECTOR_ENV: the test
 * can then run code on the process's main thread — block its event loop, force a garbage
 * collection, read its memory — without any route or setting in the server itself. Only tests set
 * the option.
 *
 * bench/src/inspector.ts (another package) also talks CDP, one connection per call, for a
 * measurement now and then; this one keeps a session open for a whole test, evaluates arbitrary
 * code, and fails its pending calls when the process goes away.
 */
import WebSocket from 'ws';
import type { ServerProcess } from './server-process.js';

/**
 * The environment that makes a child process listen for an inspector on loopback, on a port the
 * child picks itself (port 0: no race with another process for a port chosen in advance; Node
 * prints the address on stderr).
 */
export const INSPECTOR_ENV: Readonly<Record<string, string>> = { NODE_OPTIONS: '--inspect=127.0.0.1:0' };

/** The inspector's WebSocket address, from Node's "Debugger listening on ws://…" line on stderr. */
export function inspectorUrlOf(server: ServerProcess): string {
  const url = /Debugger listening on (ws:\/\/\S+)/.exec(server.stderr())?.[1];
  if (!url) throw new Error(`no inspector address on the process's stderr: ${server.stderr()}`);
  return url;
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

/** Opens a session with the main thread of `server`, started with INSPECTOR_ENV. */
export async function openInspector(server: ServerProcess): Promise<InspectorSession> {
  const socket = new WebSocket(inspectorUrlOf(server), { perMessageDeflate: false });
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
  const failPending = (reason: string) => {
    for (const waiter of pending.values()) waiter.reject(new Error(reason));
    pending.clear();
  };
  // A process that dies (a fault test may kill one) resets the socket: that fails the pending
  // calls instead of becoming an uncaught exception in the test worker.
  socket.on('error', (error) => failPending(`inspector session failed: ${error.message}`));
  socket.on('close', () => failPending('inspector session closed'));
  const call = (method: string, params: object = {}) =>
    new Promise<any>((resolve, reject) => {
      if (socket.readyState !== WebSocket.OPEN) return reject(new Error('inspector session closed'));
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
