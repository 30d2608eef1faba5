/** A WebSocket client for tests: connects like an SDK would and records every frame it receives. */
import WebSocket from 'ws';

export interface Frame {
  type: string;
  cursor?: string;
  [field: string]: any;
}

export interface RealtimeClient {
  readonly socket: WebSocket;
  readonly frames: Frame[];
  /** Close code and reason once closed. */
  closed: Promise<{ code: number; reason: string }>;
  /** The cursor of the last durable event received (or of `ready`). */
  lastCursor(): string | undefined;
  /** Resolves with the first frame (from the start, not only new ones) matching, or rejects after `timeoutMs`. */
  waitFor(predicate: (frame: Frame) => boolean, timeoutMs?: number): Promise<Frame>;
  /** Resolves once `count` frames match. */
  waitForCount(predicate: (frame: Frame) => boolean, count: number, timeoutMs?: number): Promise<Frame[]>;
  send(frame: unknown): void;
  close(): Promise<void>;
}

export interface ConnectOptions {
  token?: string;
  cursor?: string;
  /** Send the token as `access_token` instead of the Authorization header. */
  tokenInQuery?: boolean;
  /** More request headers (an Origin, as a browser sends). */
  headers?: Record<string, string>;
}

/** Opens a realtime connection; resolves once the socket is open (not necessarily `ready`). */
export async function connectRealtime(baseUrl: string, options: ConnectOptions = {}): Promise<RealtimeClient> {
  const url = new URL('/v1/realtime', baseUrl.replace(/^http/, 'ws'));
  if (options.cursor) url.searchParams.set('cursor', options.cursor);
  if (options.token && options.tokenInQuery) url.searchParams.set('access_token', options.token);
  const headers: Record<string, string> = { ...options.headers };
  if (options.token && !options.tokenInQuery) headers.authorization = `Bearer ${options.token}`;
  const socket = new WebSocket(url, { headers, perMessageDeflate: false });
  const frames: Frame[] = [];
  const watchers = new Set<() => void>();
  socket.on('message', (data) => {
    frames.push(JSON.parse(data.toString()) as Frame);
    for (const watcher of [...watchers]) watcher();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const watcher of [...watchers]) watcher();
    }),
  );
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('unexpected-response', (_request, response) => reject(new Error(`upgrade refused: ${response.statusCode}`)));
    socket.once('error', reject);
  });

  const waitForCount = (predicate: (frame: Frame) => boolean, count: number, timeoutMs = 10_000) =>
    new Promise<Frame[]>((resolve, reject) => {
      const check = () => {
        const matching = frames.filter(predicate);
        if (matching.length >= count) {
          watchers.delete(check);
          clearTimeout(timer);
          resolve(matching);
        }
      };
      const timer = setTimeout(() => {
        watchers.delete(check);
        reject(new Error(`timed out waiting for ${count} frames; have ${frames.filter(predicate).length}: ${JSON.stringify(frames.slice(-5))}`));
      }, timeoutMs);
      watchers.add(check);
      check();
    });

  return {
    socket,
    frames,
    closed,
    lastCursor: () => [...frames].reverse().find((frame) => typeof frame.cursor === 'string')?.cursor,
    waitFor: async (predicate, timeoutMs) => (await waitForCount(predicate, 1, timeoutMs))[0]!,
    waitForCount,
    send: (frame) => socket.send(JSON.stringify(frame)),
    async close() {
      if (socket.readyState === WebSocket.CLOSED) return;
      socket.close();
      await closed;
    },
  };
}
