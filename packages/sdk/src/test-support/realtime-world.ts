/**
 * For the SDK's realtime tests: a real Parley server process per engine, tenant users, REST
 * bindings of the realtime layer's injected operations (small fetch calls), a network the test
 * can cut (WebSocket and event stream alike), and event recorders.
 */
import { afterAll, beforeAll } from 'vitest';
import WebSocket from 'ws';
import { createApiClient, type ApiClient } from '../../../server/src/test-support/api-client.js';
import { createTestTenant, type TenantUser, type TestTenant } from '../../../server/src/test-support/conversations.js';
import type { EngineKind } from '../../../server/src/test-support/engines.js';
import { TEST_REDIS_URL, uniqueKeyPrefix } from '../../../server/src/test-support/redis.js';
import { startServerProcess, type ServerProcess } from '../../../server/src/test-support/server-process.js';
import { ADMIN_KEY } from '../../../server/src/test-support/server.js';
import type { CatchUpRest, SendMessageRest, WebSocketConstructor } from '../realtime/deps.js';
import type { RealtimeConnection, RealtimeEvent } from '../realtime/connection.js';
import type { ConversationListItem, Message, MessagePage } from '../realtime/wire.js';

export interface ServerHandle {
  readonly url: string;
  readonly api: ApiClient;
  readonly tenant: TestTenant;
  readonly process: ServerProcess;
  /** Stops the process (SIGTERM: clients get 1012) and starts another on the same port and storage. */
  restart(): Promise<void>;
}

/** The environment of a server process on `kind` (Redis: its own key prefix). */
export function engineEnv(kind: EngineKind): Record<string, string> {
  return kind === 'redis' ? { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: uniqueKeyPrefix() } : {};
}

/** One server process for the file's tests (started before them, stopped after), with a tenant. */
export function useServerProcess(kind: EngineKind, env: Record<string, string> = {}): ServerHandle {
  let current: ServerProcess | undefined;
  let api: ApiClient | undefined;
  let tenant: TestTenant | undefined;
  const fullEnv = { PARLEY_ADMIN_KEY: ADMIN_KEY, ...engineEnv(kind), ...env };
  beforeAll(async () => {
    current = await startServerProcess(fullEnv);
    api = createApiClient(current.url);
    tenant = await createTestTenant(api);
  });
  afterAll(async () => {
    await current?.stop();
  });
  return {
    get url() {
      return current!.url;
    },
    get api() {
      return api!;
    },
    get tenant() {
      return tenant!;
    },
    get process() {
      return current!;
    },
    async restart() {
      const port = new URL(current!.url).port;
      await current!.stop();
      current = await startServerProcess({ ...fullEnv, PORT: port });
    },
  };
}

let userCounter = 0;
/** Fresh users of the tenant, with tokens. */
export async function users(server: ServerHandle, count: number): Promise<TenantUser[]> {
  const ids = Array.from({ length: count }, () => `u${++userCounter}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  return server.tenant.users(ids);
}

/** An error shaped as the SDK's REST layer raises it: the HTTP status, and Retry-After in seconds. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly retryAfterSeconds: number | null,
  ) {
    super(`HTTP ${status}: ${body}`);
  }
}

async function json<T>(fetchImpl: typeof fetch, url: string, token: string, init: RequestInit = {}): Promise<T> {
  const response = await fetchImpl(url, {
    ...init,
    headers: { authorization: `Bearer ${token}`, ...(init.body ? { 'content-type': 'application/json' } : {}) },
  });
  const text = await response.text();
  if (!response.ok) {
    const retryAfter = response.headers.get('retry-after');
    throw new HttpError(response.status, text, retryAfter === null ? null : Number(retryAfter));
  }
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

/** The realtime layer's REST operations, bound with fetch (what the SDK's REST client does for real). */
export function restFor(baseUrl: () => string, token: string, fetchImpl: typeof fetch = fetch): CatchUpRest & SendMessageRest {
  return {
    async listConversations() {
      const items: ConversationListItem[] = [];
      let cursor: string | null = null;
      do {
        const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
        const page: { items: ConversationListItem[]; nextCursor: string | null } = await json(fetchImpl, `${baseUrl()}/v1/conversations?limit=100${query}`, token);
        items.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor !== null);
      return items;
    },
    messagesAfter: (conversationId, afterSeq, limit) =>
      json<MessagePage>(fetchImpl, `${baseUrl()}/v1/conversations/${conversationId}/messages?after=${afterSeq}&limit=${limit}`, token),
    sendMessage: (conversationId, body) =>
      json<Message>(fetchImpl, `${baseUrl()}/v1/conversations/${conversationId}/messages`, token, { method: 'POST', body: JSON.stringify(body) }),
  };
}

/**
 * A network the test controls: while it is cut, WebSockets fail before opening and fetches
 * reject; cutting also ends the sockets and streams open through it (as a lost network does:
 * no close frame, code 1006).
 */
export interface TestNetwork {
  readonly WebSocket: WebSocketConstructor;
  readonly fetch: typeof fetch;
  cut(): void;
  restore(): void;
  /** WebSockets and event streams opened through it so far. */
  readonly opened: { websocket: number; sse: number };
  /** Seqs of the conversation's `message.created` frames the server sent over its WebSockets, before any de-duplication. */
  offeredSeqs(conversationId: string): number[];
}

export function createTestNetwork(): TestNetwork {
  let down = false;
  const sockets = new Set<WebSocket>();
  const streams = new Set<AbortController>();
  const opened = { websocket: 0, sse: 0 };
  const offered: Message[] = [];
  class CuttableWebSocket extends WebSocket {
    constructor(url: string) {
      // Port 1 refuses connections: the attempt fails as an unreachable server's does.
      super(down ? 'ws://127.0.0.1:1/v1/realtime' : url);
      if (!down) opened.websocket += 1;
      sockets.add(this);
      this.on('close', () => sockets.delete(this));
      this.on('message', (data: Buffer) => {
        const frame = JSON.parse(data.toString()) as { type?: string; message?: Message };
        if (frame.type === 'message.created' && frame.message) offered.push(frame.message);
      });
    }
  }
  const cuttableFetch: typeof fetch = async (input, init = {}) => {
    if (down) throw new TypeError('fetch failed (network cut)');
    const controller = new AbortController();
    streams.add(controller);
    const signal = init.signal ? AbortSignal.any([init.signal, controller.signal]) : controller.signal;
    if (String(input).includes('/v1/events')) opened.sse += 1;
    try {
      return await fetch(input, { ...init, signal });
    } finally {
      // Streams stay registered until cut: their bodies are read after fetch resolves.
      if (!String(input).includes('/v1/events')) streams.delete(controller);
    }
  };
  return {
    WebSocket: CuttableWebSocket,
    fetch: cuttableFetch,
    opened,
    offeredSeqs: (conversationId) => offered.filter((message) => message.conversationId === conversationId).map((message) => message.seq),
    cut() {
      down = true;
      for (const socket of sockets) socket.terminate();
      for (const stream of streams) stream.abort();
      streams.clear();
    },
    restore() {
      down = false;
    },
  };
}

/** Records a connection's durable events and states. */
export interface Recorder {
  readonly events: RealtimeEvent[];
  readonly states: string[];
  /** Message seqs delivered for the conversation, in delivery order. */
  seqs(conversationId: string): number[];
  waitFor(predicate: () => boolean, label: string, timeoutMs?: number): Promise<void>;
}

export function record(connection: RealtimeConnection): Recorder {
  const events: RealtimeEvent[] = [];
  const states: string[] = [connection.state];
  const watchers = new Set<() => void>();
  const notify = () => watchers.forEach((watcher) => watcher());
  connection.on('event', (event) => {
    events.push(event);
    notify();
  });
  connection.on('state', ({ state }) => {
    states.push(state);
    notify();
  });
  connection.on('resync', notify);
  return {
    events,
    states,
    seqs: (conversationId) =>
      events.filter((e) => e.type === 'message.created' && e.message.conversationId === conversationId).map((e) => (e as { message: Message }).message.seq),
    waitFor: (predicate, label, timeoutMs = 15_000) => waitUntil(predicate, label, timeoutMs, watchers),
  };
}

/** Resolves once `predicate` holds (checked on each notification and every 50 ms), or rejects naming `label`. */
export function waitUntil(predicate: () => boolean, label: string, timeoutMs = 15_000, watchers?: Set<() => void>): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!predicate()) return;
      finish();
      resolve();
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`timed out waiting for: ${label}`));
    }, timeoutMs);
    const poll = setInterval(check, 50);
    const finish = () => {
      clearTimeout(timer);
      clearInterval(poll);
      watchers?.delete(check);
    };
    watchers?.add(check);
    check();
  });
}

/** Two fresh users (a sender and a receiver, typically). */
export async function pair(server: ServerHandle): Promise<[TenantUser, TenantUser]> {
  const [first, second] = await users(server, 2);
  return [first!, second!];
}

export const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
