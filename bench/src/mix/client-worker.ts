/**
 * A mix client worker: thousands of simulated users in one thread, one WebSocket each. It stamps
 * every benchmark message frame on arrival (latency against the send time the main thread wrote
 * into shared memory), sends the `typing` frames the main thread asks for from the user's own
 * socket, and posts a read receipt (REST, bounded in flight) when the receiving user is the one
 * the sender picked for the message, as a client that displays the message would.
 */
import { Agent } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import WebSocket from 'ws';
import { monoMs } from '../clock.js';
import { mapLimit } from '../concurrency.js';
import { loopbackEndpoint, sendRequest } from '../load/http-send.js';
import { Samples } from '../stats.js';
import { closeSockets, settleOpening } from '../ws-clients.js';
import { readMarked, textMarker } from '../marked-text.js';
import { NO_COUNTS, TEXT_TAG, type MixCounters, type MixConnectReply, type MixEndReply, type MixRequest, type MixStatsReply, type MixWorkerData } from './protocol.js';

const { clients, localAddresses, connectConcurrency, readConcurrency } = workerData as MixWorkerData;
const port = parentPort!;
const marker = textMarker(TEXT_TAG);
const READY = Buffer.from('{"type":"ready"');
const TYPING = Buffer.from('{"type":"typing"');
const agent = new Agent({ keepAlive: true, maxSockets: readConcurrency });

interface Step {
  id: number;
  total: number;
  starts: Float64Array;
  readers: Int32Array;
  windowMs: number;
  latencies: Samples;
  received: number;
  withinWindow: number;
  stale: number;
}

const sockets: (WebSocket | null)[] = clients.map(() => null);
/** User index → position in `clients`. */
const byUser = new Map(clients.map((client, index) => [client.user, index]));
let lastFrameAt = monoMs();
let step: Step | null = null;
let closing = false;
let closes: Record<string, number> = {};
let counters: MixCounters = { ...NO_COUNTS };
let readsInFlight = 0;

/** Marks the conversation read up to the message's seq, from the user's node; skipped when too many are in flight. */
function postRead(client: number, frame: Buffer): void {
  if (readsInFlight >= readConcurrency) {
    counters.readsSkipped += 1;
    return;
  }
  const { message } = JSON.parse(frame.toString()) as { message: { conversationId: string; seq: number } };
  const spec = clients[client]!;
  readsInFlight += 1;
  sendRequest(agent, loopbackEndpoint(spec.httpUrl), {
    method: 'POST',
    path: `/v1/conversations/${encodeURIComponent(message.conversationId)}/read`,
    headers: { authorization: `Bearer ${spec.token}`, 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify({ seq: message.seq })),
  })
    .then(
      (status) => (status === 204 ? (counters.readsPosted += 1) : (counters.readsFailed += 1)),
      () => (counters.readsFailed += 1),
    )
    .finally(() => (readsInFlight -= 1));
}

function onFrame(client: number, data: Buffer): void {
  const now = monoMs();
  lastFrameAt = now;
  if (step === null) return;
  const marked = readMarked(data, marker);
  if (marked === null) {
    if (data.subarray(0, TYPING.length).equals(TYPING)) counters.typingReceived += 1;
    return;
  }
  const [stepId, index] = marked;
  if (stepId !== step.id) {
    step.stale += 1;
    return;
  }
  if (index >= step.total) return;
  const latency = now - step.starts[index]!;
  step.received += 1;
  if (latency <= step.windowMs) step.withinWindow += 1;
  step.latencies.push(latency);
  if (step.readers[index] === clients[client]!.user) postRead(client, data);
}

/** Opens one client and resolves once its `ready` frame arrived. */
function open(client: number, timeoutMs: number): Promise<void> {
  const spec = clients[client]!;
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(spec.wsUrl, {
      headers: { authorization: `Bearer ${spec.token}` },
      perMessageDeflate: false,
      localAddress: localAddresses[client % localAddresses.length],
    });
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`no ready frame within ${timeoutMs} ms`));
    }, timeoutMs);
    let ready = false;
    socket.on('message', (data) => {
      const buffer = data as Buffer;
      if (ready) return onFrame(client, buffer);
      if (!buffer.subarray(0, READY.length).equals(READY)) return;
      ready = true;
      clearTimeout(timer);
      sockets[client] = socket;
      lastFrameAt = monoMs();
      resolve();
    });
    settleOpening(socket, timer, reject, () => ready, (code) => {
      if (!closing) closes[code] = (closes[code] ?? 0) + 1;
    });
  });
}

async function connect(timeoutMs: number): Promise<MixConnectReply> {
  let failed = 0;
  let firstError: string | null = null;
  await mapLimit(clients, connectConcurrency, (_spec, index) =>
    open(index, timeoutMs).catch((error: unknown) => {
      failed += 1;
      firstError ??= error instanceof Error ? error.message : String(error);
    }),
  );
  return { connected: clients.length - failed, failed, firstError };
}

function typing(user: number, conversationId: string): void {
  const socket = sockets[byUser.get(user) ?? -1];
  if (socket?.readyState !== WebSocket.OPEN) return;
  socket.send(JSON.stringify({ type: 'typing', conversationId }));
  counters.typingSent += 1;
}

function end(): MixEndReply {
  const ended = step;
  step = null;
  const reply: MixEndReply = {
    latencies: ended?.latencies.toArray() ?? new Float64Array(0),
    received: ended?.received ?? 0,
    withinWindow: ended?.withinWindow ?? 0,
    stale: ended?.stale ?? 0,
    ...counters,
    closes,
  };
  counters = { ...NO_COUNTS };
  closes = {};
  return reply;
}

async function answer(request: MixRequest): Promise<unknown> {
  switch (request.op) {
    case 'connect':
      return connect(request.timeoutMs);
    case 'stats':
      return {
        open: sockets.filter((socket) => socket?.readyState === WebSocket.OPEN).length,
        quietMs: monoMs() - lastFrameAt,
      } satisfies MixStatsReply;
    case 'begin':
      step = {
        id: request.step,
        total: request.total,
        starts: new Float64Array(request.starts),
        readers: new Int32Array(request.readers),
        windowMs: request.windowMs,
        latencies: new Samples(1 << 16),
        received: 0,
        withinWindow: 0,
        stale: 0,
      };
      return {};
    case 'typing':
      typing(request.user, request.conversationId);
      return {};
    case 'end':
      return end();
    case 'close':
      closing = true;
      await closeSockets(sockets.flatMap((socket) => (socket === null ? [] : [socket])));
      agent.destroy();
      return {};
  }
}

port.on('message', (request: MixRequest) => {
  answer(request).then(
    (reply) => port.postMessage({ id: request.id, reply }),
    (error: unknown) => {
      // In a worker this ends the worker only; the parent then fails every pending request.
      console.error(error);
      process.exit(1);
    },
  );
});
