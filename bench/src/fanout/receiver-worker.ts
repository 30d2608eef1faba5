/**
 * A receiver worker: holds many WebSocket clients (the group's members on one node) in its own
 * thread, so that handling tens of thousands of frames per second neither delays the sender's
 * schedule on the main thread nor competes with the other node's receivers for one event loop.
 * It stamps each benchmark frame on arrival and computes its latency against the send time the
 * main thread wrote into shared memory.
 */
import { parentPort, workerData } from 'node:worker_threads';
import WebSocket from 'ws';
import { monoMs } from '../clock.js';
import { closeSockets, settleOpening } from '../ws-clients.js';
import { mapLimit } from '../concurrency.js';
import { Samples } from '../stats.js';
import { readMarked, textMarker } from '../marked-text.js';
import { TEXT_TAG, type ConnectReply, type EndReply, type ReceiverWorkerData, type Request, type StatsReply } from './receiver-protocol.js';

const { clients, connectConcurrency } = workerData as ReceiverWorkerData;
const port = parentPort!;
const marker = textMarker(TEXT_TAG);
const READY = Buffer.from('{"type":"ready"');
/** Socket.IO: the `ready` event our peer server emits once the socket joined the room. */
const SOCKET_IO_READY = Buffer.from('42["ready"');
const CONNECT_TIMEOUT_MS = 30_000;

interface Step {
  id: number;
  total: number;
  starts: Float64Array;
  latencies: Samples;
  /** One byte per (client, message): catches a frame delivered twice. */
  seen: Uint8Array;
  received: number;
  duplicates: number;
  stale: number;
  closes: Record<string, number>;
}

const sockets: WebSocket[] = [];
let frames = 0;
let lastFrameAt = monoMs();
let step: Step | null = null;
let closing = false;

function onFrame(client: number, data: Buffer): void {
  const now = monoMs();
  frames += 1;
  lastFrameAt = now;
  if (step === null) return;
  const marked = readMarked(data, marker);
  if (marked === null) return;
  const [stepId, index] = marked;
  if (stepId !== step.id) {
    step.stale += 1;
    return;
  }
  if (index >= step.total) return;
  const slot = client * step.total + index;
  if (step.seen[slot] === 1) {
    step.duplicates += 1;
    return;
  }
  step.seen[slot] = 1;
  step.received += 1;
  step.latencies.push(now - step.starts[index]!);
}

/**
 * Engine.IO v4 control packets: after the open packet ("0{…}") the client joins the default
 * namespace ("40"); the server's pings ("2") are answered ("3"). True when the frame was one.
 */
function handleEngineIo(socket: WebSocket, frame: Buffer): boolean {
  const kind = frame[0];
  if (kind === 0x30 /* '0' open */) {
    socket.send('40');
    return true;
  }
  if (kind === 0x32 /* '2' ping */) {
    socket.send('3');
    return true;
  }
  return false;
}

/** Opens one client and resolves once its first frame (`ready`) arrived. */
function open(client: number): Promise<void> {
  const spec = clients[client]!;
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(spec.url, { headers: spec.headers, perMessageDeflate: false });
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`no ready frame within ${CONNECT_TIMEOUT_MS} ms`));
    }, CONNECT_TIMEOUT_MS);
    let ready = false;
    const isReady = spec.protocol === 'socket.io' ? SOCKET_IO_READY : READY;
    socket.on('message', (data) => {
      const buffer = data as Buffer;
      if (spec.protocol === 'socket.io' && handleEngineIo(socket, buffer)) return;
      if (!ready) {
        if (buffer.subarray(0, isReady.length).equals(isReady)) {
          ready = true;
          clearTimeout(timer);
          sockets.push(socket);
          resolve();
        }
        return;
      }
      onFrame(client, buffer);
    });
    settleOpening(socket, timer, reject, () => ready, (code) => {
      if (!closing && step !== null) step.closes[code] = (step.closes[code] ?? 0) + 1;
    });
  });
}

async function connectAll(): Promise<ConnectReply> {
  const started = monoMs();
  let failed = 0;
  let firstError: string | null = null;
  await mapLimit(clients, connectConcurrency, async (_spec, index) => {
    try {
      await open(index);
    } catch (error) {
      failed += 1;
      firstError ??= error instanceof Error ? error.message : String(error);
    }
  });
  return { connected: clients.length - failed, failed, firstError, ms: monoMs() - started };
}

async function closeAll(): Promise<void> {
  closing = true;
  await closeSockets(sockets);
}

async function answer(request: Request): Promise<void> {
  let reply: unknown;
  const transfer: ArrayBuffer[] = [];
  switch (request.op) {
    case 'connect':
      reply = await connectAll();
      break;
    case 'stats':
      reply = {
        frames,
        quietMs: monoMs() - lastFrameAt,
        open: sockets.filter((socket) => socket.readyState === WebSocket.OPEN).length,
        received: step?.received ?? 0,
      } satisfies StatsReply;
      break;
    case 'begin':
      step = {
        id: request.step,
        total: request.total,
        starts: new Float64Array(request.starts),
        latencies: new Samples(request.total * clients.length),
        seen: new Uint8Array(request.total * clients.length),
        received: 0,
        duplicates: 0,
        stale: 0,
        closes: {},
      };
      reply = {};
      break;
    case 'end': {
      const ended = step!;
      step = null;
      const latencies = ended.latencies.toArray();
      transfer.push(latencies.buffer as ArrayBuffer);
      reply = { latencies, received: ended.received, duplicates: ended.duplicates, stale: ended.stale, closes: ended.closes } satisfies EndReply;
      break;
    }
    case 'close':
      await closeAll();
      reply = {};
      break;
  }
  port.postMessage({ id: request.id, reply }, transfer);
}

port.on('message', (request: Request) => {
  answer(request).catch((error: unknown) => {
    // In a worker this ends the worker only; the parent then fails every pending request.
    console.error(error);
    process.exit(1);
  });
});
