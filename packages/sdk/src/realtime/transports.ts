/**
 * The two ways the connection reaches the server: a WebSocket on `/v1/realtime`, or the same
 * stream as Server-Sent Events on `/v1/events` read with a streamed `fetch` (which, unlike
 * EventSource, sends the token in the Authorization header and runs in Node as in browsers).
 * A transport is used once: it reports `onOpen` at most once and `onClose` exactly once.
 */
import type { WebSocketConstructor, WebSocketLike } from './deps.js';
import { createSseParser } from './sse-parser.js';
import { CloseCodes, parseServerFrame, type ClientFrame, type ServerFrame } from './wire.js';

export type TransportKind = 'websocket' | 'sse';

/** Why a transport ended. */
export interface TransportClosed {
  /** A WebSocket close code (the SSE stream's `close` event carries one too); 1006 when the connection was lost. */
  code: number;
  reason: string;
  /** The transport had opened (WebSocket open, or a 200 event stream) before it ended. */
  opened: boolean;
  /** The server refused the token (401 at the event stream). A refused WebSocket upgrade cannot be told apart from a lost one. */
  unauthorized?: boolean;
  /** The server asked to wait this long (429 Retry-After). */
  retryAfterMs?: number;
  /** The WebSocket constructor threw or was missing: this environment cannot use WebSockets at all. */
  unavailable?: boolean;
}

export interface TransportHandlers {
  onOpen(): void;
  onFrame(frame: ServerFrame): void;
  /** Any bytes from the server (frames, keep-alive comments): proof the connection lives. */
  onActivity(): void;
  onClose(closed: TransportClosed): void;
}

export interface RealtimeTransport {
  readonly kind: TransportKind;
  /** False when the frame cannot be sent (not open, or Server-Sent Events, which flow one way). */
  send(frame: ClientFrame): boolean;
  /** Ends the transport; `onClose` follows (with code 1000) unless it already ended. */
  close(): void;
}

export interface TransportTarget {
  baseUrl: string;
  token: string;
  cursor: string | null;
}

const WS_OPEN = 1;

function endpoint(baseUrl: string, path: string, query: Record<string, string | null>): string {
  const url = new URL(path, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  for (const [name, value] of Object.entries(query)) if (value !== null) url.searchParams.set(name, value);
  return url.toString();
}

/**
 * A WebSocket transport. The token goes in the `access_token` query parameter: browsers cannot
 * set headers on a WebSocket, and the server never logs it.
 */
export function openWebSocketTransport(
  WebSocketImpl: WebSocketConstructor | undefined,
  target: TransportTarget,
  handlers: TransportHandlers,
): RealtimeTransport {
  let ended = false;
  let opened = false;
  const end = (closed: Omit<TransportClosed, 'opened'>) => {
    if (ended) return;
    ended = true;
    handlers.onClose({ ...closed, opened });
  };
  let socket: WebSocketLike | null = null;
  try {
    if (!WebSocketImpl) throw new Error('no WebSocket implementation');
    const url = endpoint(target.baseUrl, 'v1/realtime', { access_token: target.token, cursor: target.cursor }).replace(/^http/, 'ws');
    socket = new WebSocketImpl(url);
  } catch {
    // Reported after the caller holds the transport, as every other close is.
    queueMicrotask(() => end({ code: CloseCodes.abnormal, reason: 'WebSocket unavailable', unavailable: true }));
  }
  if (socket) {
    const ws = socket;
    ws.addEventListener('open', () => {
      opened = true;
      handlers.onOpen();
    });
    ws.addEventListener('message', (event) => {
      handlers.onActivity();
      if (ended || typeof event.data !== 'string') return;
      const frame = parseServerFrame(event.data);
      if (frame) handlers.onFrame(frame);
    });
    // 'error' is always followed by 'close', which carries the code; listening keeps `ws` from throwing it.
    ws.addEventListener('error', () => {});
    ws.addEventListener('close', (event) => end({ code: event.code, reason: event.reason }));
  }
  return {
    kind: 'websocket',
    send(frame) {
      if (ended || !socket || socket.readyState !== WS_OPEN) return false;
      socket.send(JSON.stringify(frame));
      return true;
    },
    close() {
      if (ended) return;
      end({ code: CloseCodes.normal, reason: 'closed by the client' });
      try {
        socket?.close(CloseCodes.normal, 'closed by the client');
      } catch {
        // A socket still connecting may refuse close() in some implementations; it is abandoned either way.
      }
    },
  };
}

/** The event stream over a streamed fetch, the token in the Authorization header. */
export function openSseTransport(fetchImpl: typeof fetch, target: TransportTarget, handlers: TransportHandlers): RealtimeTransport {
  const abort = new AbortController();
  let ended = false;
  let opened = false;
  const end = (closed: Omit<TransportClosed, 'opened'>) => {
    if (ended) return;
    ended = true;
    abort.abort();
    handlers.onClose({ ...closed, opened });
  };

  const run = async () => {
    const response = await fetchImpl(endpoint(target.baseUrl, 'v1/events', { cursor: target.cursor }), {
      headers: { authorization: `Bearer ${target.token}`, accept: 'text/event-stream' },
      signal: abort.signal,
      cache: 'no-store',
    });
    if (!response.ok || !response.body) {
      await response.body?.cancel().catch(() => {});
      const retryAfter = Number(response.headers.get('retry-after'));
      return end({
        code: response.status === 401 ? CloseCodes.unauthorized : CloseCodes.abnormal,
        reason: `event stream answered ${response.status}`,
        ...(response.status === 401 ? { unauthorized: true } : {}),
        ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}),
      });
    }
    opened = true;
    handlers.onOpen();
    let serverClose: { code: number; reason: string } | null = null;
    const parser = createSseParser(
      (event) => {
        if (ended) return;
        if (event.event === 'close') {
          const parsed = parseServerFrame(event.data) as unknown as { code?: unknown; reason?: unknown } | null;
          serverClose = {
            code: typeof parsed?.code === 'number' ? parsed.code : CloseCodes.abnormal,
            reason: typeof parsed?.reason === 'string' ? parsed.reason : '',
          };
          return;
        }
        const frame = parseServerFrame(event.data);
        if (frame) handlers.onFrame(frame);
      },
      () => {},
    );
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done || ended) break;
      handlers.onActivity();
      parser.push(value);
    }
    end(serverClose ?? { code: CloseCodes.abnormal, reason: 'event stream ended' });
  };
  run().catch(() => end({ code: CloseCodes.abnormal, reason: 'event stream failed' }));

  return {
    kind: 'sse',
    send: () => false,
    close: () => end({ code: CloseCodes.normal, reason: 'closed by the client' }),
  };
}
