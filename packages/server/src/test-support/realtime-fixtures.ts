/**
 * Helpers for the realtime tests (gateway/*.test.ts): clients that are connected and `ready`,
 * refused upgrades as a client sees them, "nothing else arrived" checks by marker, and a small
 * Server-Sent Events reader over fetch.
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { afterEach, expect } from 'vitest';
import type { ApiClient } from './api-client.js';
import { sendMessage } from './conversations.js';
import { connectRealtime, type ConnectOptions, type Frame, type RealtimeClient } from './realtime-client.js';

/** Connects and waits for the first frame, which must be `ready` for this user. */
export async function connectReady(baseUrl: string, token: string, userId: string, options: Omit<ConnectOptions, 'token'> = {}): Promise<RealtimeClient> {
  const client = await connectRealtime(baseUrl, { token, ...options });
  const ready = await client.waitFor(() => true);
  expect(ready, `first frame of ${userId}`).toEqual({ type: 'ready', userId, cursor: expect.any(String) });
  return client;
}

/**
 * Clients of one `describe` block that are closed after each test: `track` registers any client
 * (WebSocket or SSE) and returns it.
 */
export function useClosingAfterEach<T extends { close(): Promise<void> }>(): { track<C extends T>(client: C): C } {
  const open: T[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((client) => client.close()));
  });
  return {
    track(client) {
      open.push(client);
      return client;
    },
  };
}

/**
 * Realtime clients of one `describe` block against the server at `url()`: `connect` opens one
 * that is `ready` for the user (connectReady); every client is closed after each test.
 */
export function useRealtimeClients(url: () => string): {
  connect(user: { id: string; token: string }, options?: Omit<ConnectOptions, 'token'>): Promise<RealtimeClient>;
  track<C extends RealtimeClient>(client: C): C;
} {
  const { track } = useClosingAfterEach<RealtimeClient>();
  return {
    connect: async (user, options = {}) => track(await connectReady(url(), user.token, user.id, options)),
    track,
  };
}

/** Frames that are durable events (they carry a cursor), `ready` excluded. */
export const durable = (frames: readonly Frame[]): Frame[] => frames.filter((frame) => frame.type !== 'ready' && typeof frame.cursor === 'string');

/** Frames of message events of one conversation. */
export const messageFrames = (frames: readonly Frame[], conversationId: string, type = 'message.created'): Frame[] =>
  frames.filter((frame) => frame.type === type && frame.message?.conversationId === conversationId);

/** Seqs of the message.created frames of one conversation, in arrival order. */
export const seqsOf = (frames: readonly Frame[], conversationId: string): number[] =>
  messageFrames(frames, conversationId).map((frame) => frame.message.seq as number);

/** Whether a frame is about the conversation (any event shape that names one). */
export const aboutConversation = (frame: Frame, conversationId: string): boolean =>
  frame.conversationId === conversationId || frame.message?.conversationId === conversationId || frame.conversation?.id === conversationId;

export const uniqueText = (label = 'marker'): string => `${label}-${randomBytes(6).toString('hex')}`;

/**
 * Sends a message with a unique text in `conversationId` and waits until every client has it:
 * whatever was published before it on that conversation has been delivered by then.
 */
export async function sendMarker(api: ApiClient, token: string, conversationId: string, clients: RealtimeClient[]): Promise<any> {
  const text = uniqueText();
  const message = await sendMessage(api, token, conversationId, text);
  await Promise.all(clients.map((client) => client.waitFor((frame) => frame.type === 'message.created' && frame.message?.text === text)));
  return message;
}

/** Index of the message.created frame with this text (throws when absent). */
export function indexOfText(frames: readonly Frame[], text: string): number {
  const index = frames.findIndex((frame) => frame.type === 'message.created' && frame.message?.text === text);
  if (index < 0) throw new Error(`no message.created with text ${text}`);
  return index;
}

export interface RefusedUpgrade {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  /** Whether the socket ever opened (it must not). */
  opened: boolean;
}

/** Attempts an upgrade that should be refused; resolves with the HTTP answer the client got. */
export async function attemptRefusedUpgrade(
  baseUrl: string,
  options: { headers?: Record<string, string>; query?: Record<string, string>; path?: string } = {},
): Promise<RefusedUpgrade> {
  const url = new URL(options.path ?? '/v1/realtime', baseUrl.replace(/^http/, 'ws'));
  for (const [name, value] of Object.entries(options.query ?? {})) url.searchParams.set(name, value);
  const socket = new WebSocket(url, { headers: options.headers ?? {}, perMessageDeflate: false });
  let opened = false;
  socket.on('open', () => {
    opened = true;
    socket.terminate();
  });
  return new Promise<RefusedUpgrade>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no answer to the upgrade within 5 s')), 5000);
    socket.on('unexpected-response', (_request, response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString();
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = text;
        }
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body, opened });
        socket.terminate();
      });
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (opened) {
        clearTimeout(timer);
        resolve({ status: 101, headers: {}, body: undefined, opened });
      }
    });
  });
}

/** A socket that must not become a live connection: it is either refused at the upgrade or closed before any frame. */
export async function attemptRealtime(baseUrl: string, token: string): Promise<{ refusedStatus?: number; closeCode?: number; frames: Frame[] }> {
  const url = new URL('/v1/realtime', baseUrl.replace(/^http/, 'ws'));
  const socket = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
  const frames: Frame[] = [];
  socket.on('message', (data) => frames.push(JSON.parse(data.toString()) as Frame));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('neither refused nor closed within 5 s')), 5000);
    socket.on('unexpected-response', (_request, response) => {
      clearTimeout(timer);
      resolve({ refusedStatus: response.statusCode ?? 0, frames });
      socket.terminate();
    });
    socket.on('error', () => undefined);
    socket.on('close', (code) => {
      clearTimeout(timer);
      resolve({ closeCode: code, frames });
    });
  });
}

// ─── Server-Sent Events ──────────────────────────────────────────────────────────────────────

export interface SseEvent {
  id?: string;
  event?: string;
  /** The data field parsed as JSON. */
  data: any;
}

export interface SseClient {
  readonly response: Response;
  readonly events: SseEvent[];
  /** Comment lines (`: ...`) received. */
  readonly comments: string[];
  /** Resolves when the server ends the stream (or it is aborted). */
  readonly ended: Promise<void>;
  waitFor(predicate: (event: SseEvent) => boolean, timeoutMs?: number): Promise<SseEvent>;
  waitForCount(predicate: (event: SseEvent) => boolean, count: number, timeoutMs?: number): Promise<SseEvent[]>;
  /** The id of the last event that had one (what EventSource would send as Last-Event-ID). */
  lastEventId(): string | undefined;
  close(): Promise<void>;
}

export interface SseOptions {
  token?: string;
  tokenInQuery?: boolean;
  lastEventId?: string;
  cursor?: string;
  /** More request headers (an Origin, as a browser sends). */
  headers?: Record<string, string>;
}

/** Opens GET /v1/events. When the answer is not 200 the client has no events, `ended` resolves and the body is left unread. */
export async function connectSse(baseUrl: string, options: SseOptions = {}): Promise<SseClient> {
  const url = new URL('/v1/events', baseUrl);
  if (options.token && options.tokenInQuery) url.searchParams.set('access_token', options.token);
  if (options.cursor) url.searchParams.set('cursor', options.cursor);
  const headers: Record<string, string> = { accept: 'text/event-stream', ...options.headers };
  if (options.token && !options.tokenInQuery) headers.authorization = `Bearer ${options.token}`;
  if (options.lastEventId) headers['last-event-id'] = options.lastEventId;
  const abort = new AbortController();
  const response = await fetch(url, { headers, signal: abort.signal });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const watchers = new Set<() => void>();
  const notify = () => {
    for (const watcher of [...watchers]) watcher();
  };

  const parseBlock = (block: string) => {
    const event: { id?: string; event?: string; data: string[] } = { data: [] };
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        comments.push(line.slice(1).trim());
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'id') event.id = value;
      else if (field === 'event') event.event = value;
      else if (field === 'data') event.data.push(value);
    }
    if (event.data.length === 0) return;
    events.push({ ...(event.id !== undefined ? { id: event.id } : {}), ...(event.event ? { event: event.event } : {}), data: JSON.parse(event.data.join('\n')) });
  };

  const ended = (async () => {
    // Not a stream: the body (a problem document) is the caller's to read.
    if (response.status !== 200 || !response.body) return;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          parseBlock(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
        notify();
      }
    } catch {
      // Aborted by close().
    } finally {
      notify();
    }
  })();
  let finished = false;
  // `ended` never rejects: its reading loop catches the abort.
  ended.then(
    () => {
      finished = true;
      notify();
    },
    () => undefined,
  );

  const waitForCount = (predicate: (event: SseEvent) => boolean, count: number, timeoutMs = 10_000) =>
    new Promise<SseEvent[]>((resolve, reject) => {
      const check = () => {
        const matching = events.filter(predicate);
        if (matching.length >= count) {
          watchers.delete(check);
          clearTimeout(timer);
          resolve(matching);
        } else if (finished) {
          watchers.delete(check);
          clearTimeout(timer);
          reject(new Error(`stream ended with ${matching.length} of ${count} matching events: ${JSON.stringify(events.slice(-5))}`));
        }
      };
      const timer = setTimeout(() => {
        watchers.delete(check);
        reject(new Error(`timed out waiting for ${count} events; have ${events.filter(predicate).length}: ${JSON.stringify(events.slice(-5))}`));
      }, timeoutMs);
      watchers.add(check);
      check();
    });

  return {
    response,
    events,
    comments,
    ended,
    waitForCount,
    waitFor: async (predicate, timeoutMs) => (await waitForCount(predicate, 1, timeoutMs))[0]!,
    lastEventId: () => [...events].reverse().find((event) => event.id !== undefined)?.id,
    async close() {
      abort.abort();
      await ended;
    },
  };
}
