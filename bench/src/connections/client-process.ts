/**
 * One process of idle WebSocket clients for the `connections` workload. A process may hold at most
 * 20,000 open files here and one source address offers ~28,000 ephemeral ports towards one server
 * port, so the harness spreads its clients over several of these, each binding its own loopback
 * source address (127.0.0.2, 127.0.0.3, …). A client is connected once its first frame (`ready`)
 * arrived; afterwards it only answers the server's protocol pings (ws does that itself).
 */
import WebSocket from 'ws';
import { settleOpening } from '../ws-clients.js';
import { monoMs } from '../clock.js';
import { mapLimit } from '../concurrency.js';
import type { ConnectReply, FleetRequest, FleetStats } from './protocol.js';
import { serveIpc } from '../ipc-process.js';

const CONNECT_TIMEOUT_MS = 60_000;
const READY = '{"type":"ready"';

const sockets: WebSocket[] = [];
let frames = 0;
let lastFrameAt = monoMs();
let closedByServer = 0;
let closing = false;

function open(url: string, localAddress: string, headers: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers, localAddress, perMessageDeflate: false });
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`no ready frame within ${CONNECT_TIMEOUT_MS} ms`));
    }, CONNECT_TIMEOUT_MS);
    let ready = false;
    socket.on('message', (data: Buffer) => {
      frames += 1;
      lastFrameAt = monoMs();
      if (!ready && data.toString('latin1', 0, READY.length) === READY) {
        ready = true;
        clearTimeout(timer);
        sockets.push(socket);
        resolve();
      }
    });
    settleOpening(socket, timer, reject, () => ready, () => {
      if (!closing) closedByServer += 1;
    });
  });
}

async function connect(request: Extract<FleetRequest, { op: 'connect' }>): Promise<ConnectReply> {
  const started = monoMs();
  let failed = 0;
  let firstError: string | null = null;
  await mapLimit(request.headers, request.concurrency, async (headers) => {
    try {
      await open(request.url, request.localAddress, headers);
    } catch (error) {
      failed += 1;
      firstError ??= error instanceof Error ? error.message : String(error);
    }
  });
  return { connected: request.headers.length - failed, failed, firstError, ms: monoMs() - started };
}

async function closeAll(): Promise<void> {
  closing = true;
  // terminate: the server sees the TCP close at once; a close handshake from 19k sockets would
  // only measure the server's teardown, which no figure here is about.
  for (const socket of sockets) socket.terminate();
  sockets.length = 0;
}

serveIpc<FleetRequest>(async (request) => {
  switch (request.op) {
    case 'connect':
      return connect(request);
    case 'stats':
      return {
        open: sockets.filter((socket) => socket.readyState === WebSocket.OPEN).length,
        frames,
        quietMs: monoMs() - lastFrameAt,
        closedByServer,
      } satisfies FleetStats;
    case 'close':
      await closeAll();
      return {};
  }
});
