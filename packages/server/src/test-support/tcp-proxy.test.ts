/**
 * The fault-injection TCP proxy keeps its contract: a normal close arrives after the bytes sent
 * before it (with and without latency), bytes keep their order under jitter, and resetAll resets.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function listen(onConnection: (socket: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => {
    socket.on('error', () => {}); // the proxy's resets reach the server as ECONNRESET
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
  return { server, port: address.port };
}

async function proxyTo(port: number): Promise<TcpProxy> {
  const proxy = await startTcpProxy({ host: '127.0.0.1', port });
  cleanups.push(() => proxy.close());
  return proxy;
}

/** Connects through the proxy and collects everything until the connection ends or fails. */
function collect(proxy: TcpProxy, send?: (socket: Socket) => void): Promise<{ text: string; ending: 'end' | string }> {
  return new Promise((resolve) => {
    const socket = connect(proxy.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve({ text: Buffer.concat(chunks).toString(), ending: 'end' }));
    socket.on('error', (error: NodeJS.ErrnoException) => resolve({ text: Buffer.concat(chunks).toString(), ending: error.code ?? error.message }));
    socket.on('connect', () => send?.(socket));
  });
}

describe('startTcpProxy', () => {
  for (const latency of [null, { minMs: 20, maxMs: 50 }]) {
    it(`delivers what a server sent just before closing normally (latency ${latency ? `${latency.minMs}-${latency.maxMs} ms` : 'none'})`, async () => {
      const { port } = await listen((socket) => socket.end('hello world\n'));
      const proxy = await proxyTo(port);
      proxy.setLatency(latency);
      expect(await collect(proxy)).toEqual({ text: 'hello world\n', ending: 'end' });
      await expect.poll(() => proxy.openConnections()).toBe(0);
    });
  }

  it('passes a client half-close on after its bytes, and the answer back', async () => {
    // An echo server that answers once the client has finished (it ends after echoing everything).
    const { port } = await listen((socket) => {
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('end', () => socket.end(`got ${Buffer.concat(chunks).toString()}`));
    });
    const proxy = await proxyTo(port);
    proxy.setLatency({ minMs: 5, maxMs: 30 });
    expect(await collect(proxy, (socket) => socket.end('request'))).toEqual({ text: 'got request', ending: 'end' });
  });

  it('keeps the byte order in both directions under jitter', async () => {
    const { port } = await listen((socket) => socket.pipe(socket)); // echo, ends when the client ends
    const proxy = await proxyTo(port);
    proxy.setLatency({ minMs: 0, maxMs: 40 });
    const sent = Array.from({ length: 200 }, (_, index) => `${index};`);
    const received = await collect(proxy, (socket) => {
      // One chunk every few ms, so that chunks get different delays.
      let index = 0;
      const timer = setInterval(() => {
        const part = sent[index++];
        if (part === undefined) {
          clearInterval(timer);
          socket.end();
        } else socket.write(part);
      }, 1);
    });
    expect(received).toEqual({ text: sent.join(''), ending: 'end' });
  });

  it('holds a close in the black hole with the bytes before it, and lets both go on release', async () => {
    const { port } = await listen((socket) => socket.end('after the partition'));
    const proxy = await proxyTo(port);
    proxy.setBlackHole(true);
    let settled = false;
    const result = collect(proxy).then((value) => {
      settled = true;
      return value;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(settled).toBe(false);
    proxy.setBlackHole(false);
    expect(await result).toEqual({ text: 'after the partition', ending: 'end' });
  });

  it('resets every open connection on resetAll, discarding what it held', async () => {
    const { port } = await listen((socket) => socket.write('first'));
    const proxy = await proxyTo(port);
    const received = collect(proxy);
    await expect.poll(() => proxy.openConnections()).toBe(1);
    proxy.setBlackHole(true);
    expect(proxy.resetAll()).toBe(1);
    expect(proxy.openConnections()).toBe(0);
    const { ending } = await received;
    expect(ending).toBe('ECONNRESET');
  });
});
