/**
 * A resume client worker: many simulated users in one thread, each with one WebSocket at a time.
 * Every client records the durable frames it receives (conversation, seq) and the last cursor,
 * so that after its server is killed it can reconnect elsewhere with that cursor, and the main
 * thread can tell what each client lost or got twice and when it had everything.
 */
import { parentPort, workerData } from 'node:worker_threads';
import WebSocket from 'ws';
import { monoMs, sleep } from '../clock.js';
import { closeSockets, settleOpening } from '../ws-clients.js';
import { mapLimit } from '../concurrency.js';
import type { ResumeConnectReply, ResumeReport, ResumeRequest, ResumeStatsReply, ResumeWorkerData } from './protocol.js';

const { clients: specs, localAddresses } = workerData as ResumeWorkerData;
const port = parentPort!;

const READY = Buffer.from('{"type":"ready"');
const RESYNC = Buffer.from('{"type":"resync.required"');
const CURSOR = Buffer.from('"cursor":"');
/** A refused or failed handshake is retried, as a real client would, this many times in all. */
const CONNECT_ATTEMPTS = 5;

interface Client {
  socket: WebSocket | null;
  ready: boolean;
  cursor: string | null;
  /** Seqs of the client's conversation received (over every connection). */
  seqs: Set<number>;
  duplicates: number;
  unexpected: number;
  resyncs: number;
  /** Received seqs that are expected. */
  matched: number;
  caughtAt: number | null;
}

const clients: Client[] = specs.map(() => ({
  socket: null, ready: false, cursor: null, seqs: new Set(), duplicates: 0, unexpected: 0, resyncs: 0, matched: 0, caughtAt: null,
}));
/** Conversation → the seqs its members must have; null until the main thread says. */
let expected: Map<string, Set<number>> | null = null;
let closes: Record<string, number> = {};
let frames = 0;
let lastFrameAt = monoMs();

function checkCaughtUp(index: number): void {
  const client = clients[index]!;
  if (expected === null || client.caughtAt !== null || !client.ready) return;
  if (client.matched === (expected.get(specs[index]!.conversationId)?.size ?? 0)) client.caughtAt = monoMs();
}

/** A durable frame: `{…,"cursor":"…"}`; message.created frames carry the seq checked here. */
function onDurable(index: number, data: Buffer): void {
  const client = clients[index]!;
  const frame = JSON.parse(data.toString()) as { type: string; cursor: string; message?: { conversationId: string; seq: number } };
  client.cursor = frame.cursor;
  if (frame.type !== 'message.created' || !frame.message) return;
  const { conversationId, seq } = frame.message;
  if (conversationId !== specs[index]!.conversationId) {
    client.unexpected += 1;
    return;
  }
  if (client.seqs.has(seq)) {
    client.duplicates += 1;
    return;
  }
  client.seqs.add(seq);
  if (expected?.get(conversationId)?.has(seq)) client.matched += 1;
  checkCaughtUp(index);
}

function onFrame(index: number, data: Buffer): void {
  frames += 1;
  lastFrameAt = monoMs();
  const client = clients[index]!;
  if (data.subarray(0, READY.length).equals(READY)) {
    const cursor = (JSON.parse(data.toString()) as { cursor?: string }).cursor;
    if (cursor !== undefined) client.cursor = cursor;
    client.ready = true;
    checkCaughtUp(index);
  } else if (data.subarray(0, RESYNC.length).equals(RESYNC)) {
    client.resyncs += 1;
  } else if (data.indexOf(CURSOR) >= 0) {
    onDurable(index, data);
  }
  // Anything else (presence, typing, pong) is ephemeral: not counted.
}

/** One handshake; resolves once `ready` arrived, rejects on refusal, early close or timeout. */
function openOnce(index: number, url: string, timeoutMs: number): Promise<void> {
  const client = clients[index]!;
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, {
      headers: { authorization: `Bearer ${specs[index]!.token}` },
      perMessageDeflate: false,
      localAddress: localAddresses[index % localAddresses.length],
    });
    client.socket = socket;
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`no ready frame within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('message', (data) => {
      onFrame(index, data as Buffer);
      if (client.ready) {
        clearTimeout(timer);
        resolve();
      }
    });
    settleOpening(socket, timer, reject, () => client.ready, (code) => {
      closes[code] = (closes[code] ?? 0) + 1;
    });
  });
}

async function connectAll(url: string, withCursor: boolean, concurrency: number, timeoutMs: number): Promise<ResumeConnectReply> {
  closes = {};
  let failed = 0;
  let errors = 0;
  let firstError: string | null = null;
  for (const client of clients) {
    client.ready = false;
    client.caughtAt = null;
  }
  await mapLimit(clients, concurrency, async (client, index) => {
    const target = withCursor && client.cursor !== null ? `${url}?cursor=${encodeURIComponent(client.cursor)}` : url;
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await openOnce(index, target, timeoutMs);
      } catch (error) {
        errors += 1;
        firstError ??= error instanceof Error ? error.message : String(error);
        if (attempt === CONNECT_ATTEMPTS) {
          failed += 1;
          return;
        }
        await sleep(100 * attempt);
      }
    }
  });
  return { connected: clients.length - failed, failed, errors, firstError };
}

function stats(): ResumeStatsReply {
  let open = 0;
  let caughtUp = 0;
  let lastCaughtUpAt: number | null = null;
  for (const client of clients) {
    if (client.socket?.readyState === WebSocket.OPEN) open += 1;
    if (client.caughtAt !== null) {
      caughtUp += 1;
      lastCaughtUpAt = Math.max(lastCaughtUpAt ?? 0, client.caughtAt);
    }
  }
  return { open, caughtUp, lastCaughtUpAt, frames, lastFrameAt };
}

function setExpected(seqs: Record<string, number[]>): void {
  expected = new Map(Object.entries(seqs).map(([conversationId, list]) => [conversationId, new Set(list)]));
  clients.forEach((client, index) => {
    const wanted = expected!.get(specs[index]!.conversationId);
    client.matched = 0;
    for (const seq of client.seqs) if (wanted?.has(seq)) client.matched += 1;
    client.caughtAt = null;
    checkCaughtUp(index);
  });
}

function report(): ResumeReport {
  let lost = 0;
  let clientsWithLoss = 0;
  clients.forEach((client, index) => {
    const missing = (expected?.get(specs[index]!.conversationId)?.size ?? 0) - client.matched;
    lost += missing;
    if (missing > 0) clientsWithLoss += 1;
  });
  const sum = (pick: (client: Client) => number) => clients.reduce((total, client) => total + pick(client), 0);
  return {
    clients: clients.length,
    lost,
    clientsWithLoss,
    duplicates: sum((c) => c.duplicates),
    unexpected: sum((c) => c.unexpected),
    resyncs: sum((c) => c.resyncs),
    closes,
  };
}

async function awaitClosed(timeoutMs: number): Promise<void> {
  const deadline = monoMs() + timeoutMs;
  while (monoMs() < deadline && clients.some((client) => client.socket !== null && client.socket.readyState !== WebSocket.CLOSED)) await sleep(20);
}

async function answer(request: ResumeRequest): Promise<unknown> {
  switch (request.op) {
    case 'connect':
      return connectAll(request.url, request.withCursor, request.concurrency, request.timeoutMs);
    case 'expect':
      setExpected(request.seqs);
      return {};
    case 'stats':
      return stats();
    case 'await-closed':
      await awaitClosed(request.timeoutMs);
      return stats();
    case 'report':
      return report();
    case 'close':
      await closeSockets(clients.flatMap(({ socket }) => (socket === null ? [] : [socket])));
      return {};
  }
}

port.on('message', (request: ResumeRequest) => {
  answer(request).then(
    (reply) => port.postMessage({ id: request.id, reply }),
    (error: unknown) => {
      // In a worker this ends the worker only; the parent then fails every pending request.
      console.error(error);
      process.exit(1);
    },
  );
});
