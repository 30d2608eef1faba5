/**
 * `GET /v1/realtime` as a WebSocket: authentication at the upgrade (401 before any socket
 * exists), JSON text frames, protocol-level pings that find dead peers, and a transport that
 * reports how much a client has left unread.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { ERROR_CODES, type ErrorCode } from '@parley/protocol';
import type { Authenticator } from '../auth/authenticator.js';
import type { Principal } from '../auth/principal.js';
import { createRequestIdGenerator } from '../http/request-id.js';
import { BASELINE_HEADERS } from '../http/security-headers.js';
import { rateLimitHeaders, type RateLimiter, type RateLimitQuota } from '../services/rate-limiter.js';
import { ServiceError } from '../services/service-error.js';
import { isOriginAllowed } from './origins.js';
import { admitRealtimeConnection } from './realtime-admission.js';
import type { Connection } from './connection.js';
import type { RealtimeGateway } from './realtime-gateway.js';
import { CloseCodes, type Transport } from './transport.js';

export const REALTIME_PATH = '/v1/realtime';
const MAX_FRAMES_BEFORE_READY = 100;

export interface WebSocketOptions {
  authenticator: Authenticator;
  /** Counts REALTIME_CONNECT per user at the upgrade. */
  rateLimiter: RateLimiter;
  isDraining: () => boolean;
  /** Protocol ping interval; a peer that has not answered the previous ping is dropped. */
  heartbeatIntervalMs: number;
  /** Largest client frame accepted (typing and ping are tiny). */
  maxFrameBytes: number;
  /** permessage-deflate costs CPU and memory per socket: off unless the operator wants it. */
  compression: boolean;
  /** Browser origins allowed to connect (see origins.ts); null: any. */
  allowedOrigins: readonly string[] | null;
}

const BASELINE_HEADER_LINES = Object.entries(BASELINE_HEADERS)
  .map(([name, value]) => `${name}: ${value}\r\n`)
  .join('');

/**
 * The upgrade is refused with a bare HTTP response carrying a problem document, and the headers
 * of the refusal (Retry-After and the RateLimit fields of a rate-limited upgrade).
 */
function refuse(socket: Duplex, code: ErrorCode, requestId: string, headers: Record<string, string> = {}) {
  const { status, title } = ERROR_CODES[code];
  const body = JSON.stringify({ type: `urn:parley:problem:${code}`, title, status, detail: title, code });
  const extra = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${status} ${title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Request-Id: ${requestId}\r\n${BASELINE_HEADER_LINES}${extra}Connection: close\r\n\r\n${body}`,
  );
}

/**
* A socket's batch is written out at once when it reaches this much. Bytes still in a batch are
 * not counted as unread by the client (bufferedBytes), so the slow-consumer limit and a replay's
 * pacing (at a quarter of the smallest REALTIME_MAX_BUFFERED_BYTES, 16 KB) are off by less than this.
 */
const MAX_BATCH_BYTES = 4 * 1024;

/**
 * Frames written to one socket during one turn of the event loop leave together: the first corks
 * the raw socket, and one setImmediate per turn uncorks every socket corked in it (a socket whose
 * batch reaches MAX_BATCH_BYTES is uncorked at once). A burst — presence at connect, several events
 * heard in one read from Redis, a fan-out slice, a resume's replay — then costs one system call per
 * socket instead of one per frame, and a frame waits at most until the end of the turn that wrote it.
 */
class TurnFlusher {
  private due: WebSocketTransport[] = [];
  private readonly flushAll = () => {
    const transports = this.due;
    this.due = [];
    for (const transport of transports) transport.flush();
  };

  flushAtEndOfTurn(transport: WebSocketTransport): void {
    if (this.due.push(transport) === 1) setImmediate(this.flushAll);
  }
}

/**
 * The transport of one socket. A class, not an object of closures: its methods live once on the
 * prototype, and an idle connection holds nothing here but its sockets, the node's flusher and a number.
 */
class WebSocketTransport implements Transport {
  readonly kind = 'websocket';
  /** Bytes written since this transport corked the socket; > 0 exactly while it is corked by us. */
  private batched = 0;

  constructor(
    private readonly socket: WebSocket,
    private readonly raw: Duplex,
    private readonly flusher: TurnFlusher,
  ) {}

  sendEvent(frame: string): void {
    this.send(frame, Buffer.byteLength(frame));
  }

  sendEventBytes(frame: Buffer): void {
    this.send(frame, frame.length);
  }

  sendControl(frame: string): void {
    this.send(frame, Buffer.byteLength(frame));
  }

  /** What the current batch holds has not been offered to the network yet: not the client's doing. */
  bufferedBytes(): number {
    return Math.max(0, this.socket.bufferedAmount - this.batched);
  }

  /** Writes the batch out (uncorking a socket that ended or was destroyed meanwhile does nothing). */
  flush(): void {
    if (this.batched === 0) return;
    this.batched = 0;
    this.raw.uncork();
  }

  close(code: number, reason: string): void {
    const { socket } = this;
    if (socket.readyState === socket.CLOSED || socket.readyState === socket.CLOSING) return;
    socket.close(code, reason);
    // A peer that never completes the closing handshake is cut after a grace period.
    setTimeout(() => socket.terminate(), 5000).unref();
  }

  private send(frame: string | Buffer, bytes: number): void {
    if (this.batched === 0) {
      this.raw.cork();
      this.flusher.flushAtEndOfTurn(this);
    }
    this.batched += bytes;
    // A Buffer is the UTF-8 of a text frame (see Transport.sendEventBytes).
    this.socket.send(frame, { binary: false });
    if (this.batched >= MAX_BATCH_BYTES) this.flush();
  }
}

/** What the server keeps for one accepted socket, beside ws's own state. */
interface SocketState {
  /** Answered the last protocol ping (or just connected). */
  alive: boolean;
  /** The live connection; null until it is open (and if it never opens). */
  connection: Connection | null;
  /** Frames received before the connection was live and its earlier frames answered. */
  pending?: string[];
  /** Frames go straight to the gateway from now on. */
  answering: boolean;
}

export function attachWebSocket(app: FastifyInstance, gateway: RealtimeGateway, options: WebSocketOptions): { close(): void } {
  const newRequestId = createRequestIdGenerator();
  const server = new WebSocketServer({ noServer: true, perMessageDeflate: options.compression, maxPayload: options.maxFrameBytes });
  const flusher = new TurnFlusher();
  // The gateway's methods handle their own failures; this is the last line, so that a failure
  // nobody foresaw is logged instead of ending the process as an unhandled rejection.
  const logFailure = (promise: Promise<unknown>, message: string) => {
    promise.catch((error: unknown) => app.log.error({ err: error }, message));
  };
  // The RateLimit fields of an accepted upgrade, added to its 101 response.
  const quotaHeaders = new WeakMap<IncomingMessage, Record<string, string>>();
  server.on('headers', (headers, request) => {
    for (const [name, value] of Object.entries(quotaHeaders.get(request) ?? {})) headers.push(`${name}: ${value}`);
  });

  // Node stops listening for errors on a socket it hands to 'upgrade' handlers: until ws takes
  // the socket over, a client reset (ECONNRESET) would be an unhandled 'error' event, which ends
  // the process. Authentication and the connect limit may take a Redis round trip (seconds in a
  // stall), so this listener covers that window and stays on refused sockets.
  const onSocketError = (error: Error) => app.log.debug({ err: error }, 'realtime upgrade socket error');

  /**
   * Every accepted socket's state, and handlers shared by all sockets (`this` is the socket):
   * an idle connection holds one small object here instead of a closure per event.
   */
  const states = new WeakMap<WebSocket, SocketState>();
  function onPong(this: WebSocket) {
    states.get(this)!.alive = true;
  }
  // A protocol error from the client (frame too large, invalid UTF-8...): ws closes the socket
  // itself (1009, 1007...) and emits 'error', which must not go unheard (an unhandled 'error'
  // event would throw and take the process down).
  function onProtocolError(error: Error) {
    app.log.debug({ err: error }, 'realtime client protocol error');
  }
  function onMessage(this: WebSocket, data: RawData, isBinary: boolean) {
    const state = states.get(this)!;
    const text = isBinary ? '' : data.toString();
    if (!state.answering) {
      // Frames sent before the connection is live wait for it, within reason.
      if ((state.pending ??= []).push(text) > MAX_FRAMES_BEFORE_READY) this.close(CloseCodes.badFrame, 'too many frames before ready');
    } else if (state.connection) logFailure(gateway.onClientFrame(state.connection, text), 'realtime client frame failed');
  }
  function onClose(this: WebSocket) {
    const { connection } = states.get(this)!;
    if (connection) logFailure(gateway.closed(connection), 'realtime close failed');
  }

  /**
   * A socket past the upgrade. Defined here, not inside the upgrade handler, so that nothing of
   * the upgrade (request and its headers, head, URL, quotas) stays reachable from the socket.
   */
  const serve = (ws: WebSocket, raw: Duplex, principal: Principal, cursor: string | null) => {
    const state: SocketState = { alive: true, answering: false, connection: null };
    states.set(ws, state);
    ws.on('pong', onPong);
    ws.on('error', onProtocolError);
    ws.on('message', onMessage);
    ws.on('close', onClose);
    // Frames wait until the connection is live and the frames queued before it are answered,
    // so a client's frames are handled in the order it sent them.
    const opening = gateway.open(principal, new WebSocketTransport(ws, raw, flusher), cursor).then(async (opened) => {
      state.connection = opened;
      if (opened && ws.readyState !== ws.OPEN) return gateway.closed(opened);
      for (let text = state.pending?.shift(); opened && text !== undefined; text = state.pending?.shift()) {
        await gateway.onClientFrame(opened, text);
      }
      state.pending = undefined;
      state.answering = true;
    });
    logFailure(opening, 'realtime connection failed to open');
  };

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', onSocketError);
    const requestId = newRequestId(request);
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname !== REALTIME_PATH) return refuse(socket, 'not_found', requestId);
    if (options.isDraining()) return refuse(socket, 'storage_unavailable', requestId);
    if (!isOriginAllowed(options.allowedOrigins, request.headers.origin)) return refuse(socket, 'forbidden', requestId);
    const credential = request.headers.authorization ?? url.searchParams.get('access_token') ?? undefined;
    const quotas: RateLimitQuota[] = [];
    admitRealtimeConnection(options.authenticator, options.rateLimiter, credential, (quota) => quotas.push(quota)).then(
      (principal) => {
        quotaHeaders.set(request, rateLimitHeaders(quotas));
        if (socket.destroyed) return;
        socket.off('error', onSocketError);
        // Only what the connection needs is passed on: the upgrade request, its headers (the token
        // among them) and URL are not kept alive by the socket's handlers for its whole life.
        const cursor = url.searchParams.get('cursor');
        server.handleUpgrade(request, socket, head, (ws) => serve(ws, socket, principal, cursor));
      },
      (error: unknown) => {
        if (error instanceof ServiceError) return refuse(socket, error.code, requestId, error.headers);
        app.log.error({ err: error }, 'realtime authentication failed');
        refuse(socket, 'storage_unavailable', requestId);
      },
    )
      .catch((error: unknown) => {
        app.log.error({ err: error }, 'realtime upgrade failed');
        socket.destroy();
      });
  };
  app.server.on('upgrade', onUpgrade);

  const heartbeat = setInterval(() => {
    for (const ws of server.clients) {
      const state = states.get(ws);
      if (!state) continue; // still being upgraded
      if (!state.alive) {
        ws.terminate();
        continue;
      }
      state.alive = false;
      ws.ping();
    }
  }, options.heartbeatIntervalMs);
  heartbeat.unref();

  return {
    close() {
      clearInterval(heartbeat);
      app.server.off('upgrade', onUpgrade);
      server.close();
    },
  };
}
