import { createSocket } from 'node:dgram';
import diagnostics from 'node:diagnostics_channel';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createCheckedLookup, createOutboundFetch, createResolve, limitResolve, type Resolve } from './outbound-fetch.js';
import { OutboundError, createOutboundPolicy, isUrlRefused } from './outbound-policy.js';

// Every client socket this file opens is watched: it may only ever reach 127.0.0.1.
const reached: string[] = [];
const onSocket = (message: unknown) => {
  const socket = (message as { socket: Socket }).socket;
  socket.on('lookup', (_error: Error | null, address: string) => reached.push(address));
  socket.on('connect', () => reached.push(socket.remoteAddress ?? 'unknown'));
};

let server: http.Server;
let port = 0;
let connections = 0;
let base = '';

beforeAll(async () => {
  diagnostics.subscribe('net.client.socket', onSocket);
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const to = url.searchParams.get('to');
    switch (url.pathname) {
      case '/hello':
        res.end('hello');
        return;
      case '/echo': {
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', () => res.end(`${req.method} ${Buffer.concat(chunks).toString()}`));
        return;
      }
      case '/redirect':
        res.writeHead(Number(url.searchParams.get('status') ?? 302), { location: to ?? '/hello' }).end();
        return;
      case '/loop':
        res.writeHead(302, { location: '/loop' }).end();
        return;
      case '/big':
        res.writeHead(200, { 'content-length': String(2_000_000) });
        res.end(Buffer.alloc(2_000_000, 'x'));
        return;
      case '/chunked': {
        res.writeHead(200);
        let sent = 0;
        const more = () => {
          if (res.destroyed || sent >= 2_000_000) return void res.end();
          sent += 10_000;
          res.write(Buffer.alloc(10_000, 'x'), more);
        };
        more();
        return;
      }
      case '/exact':
        res.end(Buffer.alloc(1000, 'x'));
        return;
      case '/silent':
        return; // never answers
      case '/drip': {
        res.writeHead(200);
        const timer = setInterval(() => res.write('.'), 20);
        res.on('close', () => clearInterval(timer));
        return;
      }
      default:
        res.writeHead(404).end();
    }
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  diagnostics.unsubscribe('net.client.socket', onSocket);
  expect(reached.length).toBeGreaterThan(0);
  expect(reached.filter((address) => address !== '127.0.0.1')).toEqual([]);
});

beforeEach(() => {
  connections = 0;
});

/** A stub resolver: each name maps to fixed addresses; counts calls. */
function stubResolver(table: Record<string, string[]>) {
  const calls: string[] = [];
  const resolve: Resolve = async (host) => {
    calls.push(host);
    const addresses = table[host];
    if (addresses === undefined) throw Object.assign(new Error(`ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return { resolve, calls };
}

async function failure(promise: Promise<unknown>): Promise<OutboundError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof OutboundError) return error;
    throw error;
  }
  throw new Error('expected the request to fail');
}

describe('outbound fetch, allowed hosts', () => {
  const { resolve, calls } = stubResolver({ 'idp.test': ['127.0.0.1'] });
  const fetch = createOutboundFetch({ policy: createOutboundPolicy({ allowedHosts: ['127.0.0.1', 'idp.test'] }), resolve });

  it('fetches from an allow-listed IP over http', async () => {
    const response = await fetch(`${base}/hello`);
    expect(response).toMatchObject({ status: 200, url: `${base}/hello` });
    expect(response.body.toString()).toBe('hello');
  });

  it('connects an allow-listed name to the address its one lookup returned', async () => {
    calls.length = 0;
    const response = await fetch(`http://idp.test:${port}/hello`);
    expect(response.body.toString()).toBe('hello');
    expect(calls).toEqual(['idp.test']);
  });

  it('sends a body and follows same-host redirects (303 turns into GET)', async () => {
    expect((await fetch(`${base}/echo`, { method: 'POST', body: 'ping' })).body.toString()).toBe('POST ping');
    const redirected = await fetch(`${base}/redirect?to=/hello`);
    expect(redirected).toMatchObject({ status: 200, url: `${base}/hello` });
    const seeOther = await fetch(`${base}/redirect?status=303&to=/echo`, { method: 'POST', body: 'ping' });
    expect(seeOther.body.toString()).toBe('GET ');
    const kept = await fetch(`${base}/redirect?status=307&to=/echo`, { method: 'POST', body: 'ping' });
    expect(kept.body.toString()).toBe('POST ping');
  });

  it('stops after maxRedirects, and follows none with 0', async () => {
    expect((await failure(fetch(`${base}/loop`))).kind).toBe('too_many_redirects');
    const response = await fetch(`${base}/redirect?to=/hello`, { maxRedirects: 0 });
    expect(response.status).toBe(302);
  });

  it.each([
    ['another allowed-looking host', (p: number) => `http://idp.test:${p}/hello`],
    ['another loopback address', (p: number) => `http://127.0.0.2:${p}/hello`],
    ['localhost', (p: number) => `http://localhost:${p}/hello`],
    ['the metadata service', () => 'http://169.254.169.254/latest/meta-data/'],
    ['a private address over https', () => 'https://10.0.0.1/'],
    ['IPv6 loopback', (p: number) => `https://[::1]:${p}/`],
  ])('refuses a redirect to %s', async (_name, target) => {
    const error = await failure(fetch(`${base}/redirect?to=${encodeURIComponent(target(port))}`));
    expect(isUrlRefused(error)).toBe(true);
    expect(connections).toBe(1); // only the first request reached the server
  });

  it('cuts a response larger than maxBytes, declared or not, and accepts exactly maxBytes', async () => {
    expect((await failure(fetch(`${base}/big`, { maxBytes: 1000 }))).kind).toBe('too_large');
    expect((await failure(fetch(`${base}/chunked`, { maxBytes: 50_000 }))).kind).toBe('too_large');
    expect((await fetch(`${base}/exact`, { maxBytes: 1000 })).body.length).toBe(1000);
  });

  it('times out a server that never answers and one that drips its body', async () => {
    const started = Date.now();
    expect((await failure(fetch(`${base}/silent`, { timeoutMs: 200 }))).kind).toBe('timeout');
    expect((await failure(fetch(`${base}/drip`, { timeoutMs: 200 }))).kind).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('truncates instead of failing when asked, keeping the status (webhooks need only that)', async () => {
    const big = await fetch(`${base}/big`, { maxBytes: 1000, truncate: true });
    expect([big.status, big.body.length]).toEqual([200, 1000]);
    const chunked = await fetch(`${base}/chunked`, { maxBytes: 50_000, truncate: true });
    expect([chunked.status, chunked.body.length]).toEqual([200, 50_000]);
  });

  it('with keepAlive, reuses one connection per origin for requests one after another, and still checks every new one', async () => {
    const keepAlive = createOutboundFetch({ policy: createOutboundPolicy({ allowedHosts: ['127.0.0.1'] }), resolve, keepAlive: true });
    for (let i = 0; i < 5; i++) expect((await keepAlive(`${base}/echo`, { method: 'POST', body: `n${i}` })).body.toString()).toBe(`POST n${i}`);
    expect(connections).toBe(1);
    // Two at once need two connections; both are reused afterwards.
    await Promise.all([keepAlive(`${base}/hello`), keepAlive(`${base}/hello`)]);
    await Promise.all([keepAlive(`${base}/hello`), keepAlive(`${base}/hello`)]);
    expect(connections).toBe(2);
    const strict = createOutboundFetch({ policy: createOutboundPolicy(), resolve, keepAlive: true });
    expect(isUrlRefused(await failure(strict(`http://127.0.0.1:${port}/hello`)))).toBe(true);
  });

  it('reports connection failures and unknown names as network errors', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    expect((await failure(fetch(`http://127.0.0.1:${closedPort}/`))).kind).toBe('network');
    const strictFetch = createOutboundFetch({ policy: createOutboundPolicy(), resolve });
    expect((await failure(strictFetch('https://unknown.test/'))).kind).toBe('network');
  });
});

describe('outbound fetch, refused before any connection', () => {
  const refusedAddresses = [
    '127.0.0.1', '10.1.2.3', '172.16.5.4', '192.168.0.1', '169.254.169.254', '0.0.0.0', '100.64.0.1', '224.0.0.1',
    '255.255.255.255', '::1', '::', '::ffff:127.0.0.1', '::ffff:10.0.0.1', 'fe80::1', 'fd00::1', 'ff02::1',
  ];
  const table: Record<string, string[]> = Object.fromEntries(refusedAddresses.map((address, i) => [`r${i}.test`, [address]]));
  table['mixed.test'] = ['8.8.8.8', '10.0.0.1'];
  const { resolve, calls } = stubResolver(table);
  // 127.0.0.1 itself is not allow-listed here: every name resolving to it must be refused.
  const fetch = createOutboundFetch({ policy: createOutboundPolicy(), resolve });

  it.each(refusedAddresses.map((address, i) => [address, `r${i}.test`]))('refuses a name resolving to %s', async (_address, name) => {
    const error = await failure(fetch(`https://${name}:${port}/hello`));
    expect(error.kind).toBe('refused');
    expect(calls.at(-1)).toBe(name);
    expect(connections).toBe(0);
  });

  it('refuses a name when one of its addresses is refused', async () => {
    expect((await failure(fetch(`https://mixed.test:${port}/`))).kind).toBe('refused');
    expect(connections).toBe(0);
  });

  it.each(refusedAddresses)('refuses the literal %s without resolving', async (address) => {
    calls.length = 0;
    const host = address.includes(':') ? `[${address}]` : address;
    expect((await failure(fetch(`https://${host}:${port}/hello`))).kind).toBe('refused');
    expect(calls).toEqual([]);
    expect(connections).toBe(0);
  });

  it('refuses http before resolving', async () => {
    calls.length = 0;
    expect((await failure(fetch(`http://example.test:${port}/`))).kind).toBe('refused');
    expect(calls).toEqual([]);
  });
});

describe('createCheckedLookup', () => {
  it('checks every lookup, so a name that rebinds to a refused address is refused on the next connection', async () => {
    let answer = '8.8.8.8';
    const lookup = createCheckedLookup(createOutboundPolicy(), async () => [{ address: answer, family: 4 }]);
    const run = (all: boolean) =>
      new Promise<unknown>((resolve) => {
        lookup('rebind.test', { all }, (error, address) => resolve(error ?? address));
      });
    expect(await run(false)).toBe('8.8.8.8');
    expect(await run(true)).toEqual([{ address: '8.8.8.8', family: 4 }]);
    answer = '10.0.0.1';
    const error = await run(false);
    expect(isUrlRefused(error)).toBe(true);
  });
});

describe('limitResolve', () => {
  it('runs at most maxConcurrent lookups, holds a slot until its lookup really ends, and times callers out', async () => {
    const pending: { host: string; finish: () => void }[] = [];
    const slow: Resolve = (host) =>
      new Promise((resolve) => pending.push({ host, finish: () => resolve([{ address: '127.0.0.1', family: 4 }]) }));
    const limited = limitResolve(slow, { maxConcurrent: 2, timeoutMs: 100 });
    const first = limited('a.test');
    const second = limited('b.test');
    const third = limited('c.test');
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(pending.map((lookup) => lookup.host)).toEqual(['a.test', 'b.test']);
    // Every caller gives up at its deadline; the hung lookups still hold their slots.
    for (const caller of [first, second, third]) expect((await failure(caller)).kind).toBe('network');
    const fourth = limited('d.test');
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(pending.map((lookup) => lookup.host)).toEqual(['a.test', 'b.test']);
    pending[0]?.finish();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(pending.map((lookup) => lookup.host)).toEqual(['a.test', 'b.test', 'd.test']);
    pending[2]?.finish();
    expect(await fourth).toEqual([{ address: '127.0.0.1', family: 4 }]);
  });
});

describe('createResolve', () => {
  it('answers IP literals as they are and names DNS does not know from the hosts file (localhost)', async () => {
    const resolve = createResolve();
    expect(await resolve('127.0.0.1')).toEqual([{ address: '127.0.0.1', family: 4 }]);
    expect((await resolve('localhost')).map((entry) => entry.address)).toContain('127.0.0.1');
  });

  it('fails a name whose DNS server never answers after its timeout, without holding a getaddrinfo thread', async () => {
    // A DNS server that reads queries and never answers.
    const silent = createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    try {
      const resolve = createResolve({ timeoutMs: 100, tries: 1, servers: [`127.0.0.1:${silent.address().port}`] });
      const started = Date.now();
      const error = await failure(resolve('never.answers.test'));
      expect(error.kind).toBe('network');
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      silent.close();
    }
  });
});

describe('keepAlive and a receiver that closed the connection', () => {
  it('sends once more on a new connection when a reused one fails before any answer', async () => {
    let requests = 0;
    const closing = http.createServer((req, res) => {
      requests += 1;
      // The second request on a connection finds it closing: destroyed without an answer.
      if ((req.socket as { served?: number }).served === 1) return void req.socket.destroy();
      (req.socket as { served?: number }).served = 1;
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    await new Promise<void>((resolve) => closing.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(closing.address() as AddressInfo).port}/`;
      const keepAlive = createOutboundFetch({ policy: createOutboundPolicy({ allowedHosts: ['127.0.0.1'] }), keepAlive: true });
      expect((await keepAlive(url, { method: 'POST', body: 'one' })).body.toString()).toBe('ok');
      expect((await keepAlive(url, { method: 'POST', body: 'two' })).body.toString()).toBe('ok');
      expect(requests).toBe(3);
    } finally {
      closing.closeAllConnections();
      await new Promise((resolve) => closing.close(resolve));
    }
  });
});
