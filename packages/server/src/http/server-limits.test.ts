/**
 * HTTP server limits over real sockets: a request that trickles in is cut off after
 * HTTP_REQUEST_TIMEOUT_MS and stores nothing, a slow but timely one succeeds, long-lived streams
 * (SSE, WebSocket) outlive the timeout, and HTTP_MAX_CONNECTIONS caps open sockets.
 */
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { openDirect } from '../test-support/conversations.js';
import { connectReady, connectSse, sendMarker } from '../test-support/realtime-fixtures.js';
import { registerUser, useTestServer, type TestUser } from '../test-support/server.js';

const TIMEOUT_MS = 1000;

/** Opens a raw TCP connection and collects what the server writes until it closes. */
async function rawConnection(url: string): Promise<{ socket: Socket; received: () => string; closed: Promise<number> }> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let text = '';
  socket.on('data', (chunk) => (text += chunk.toString()));
  socket.on('error', () => undefined);
  const openedAt = Date.now();
  const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now() - openedAt)));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, received: () => text, closed };
}

describe('HTTP server limits', () => {
  const ctx = useTestServer({ env: { HTTP_REQUEST_TIMEOUT_MS: String(TIMEOUT_MS), HTTP_HEADERS_TIMEOUT_MS: String(TIMEOUT_MS) } });
  let alice: TestUser;
  let bob: TestUser;
  let conversationId: string;

  beforeAll(async () => {
    [alice, bob] = await Promise.all([registerUser(ctx.api, 'alice'), registerUser(ctx.api, 'bob')]);
    conversationId = (await openDirect(ctx.api, alice.token, bob.id)).id;
  });

  const history = async () => (await ctx.api.get(`/v1/conversations/${conversationId}/messages`, alice.token)).body.items;

  it('cuts off a request whose body trickles in beyond the timeout (408, closed) and stores nothing', async () => {
    const body = JSON.stringify({ text: 'trickled' });
    const client = await rawConnection(ctx.url);
    client.socket.write(
      `POST /v1/conversations/${conversationId}/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${alice.token}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    // One byte every 200 ms: the body would take seconds, the timeout is 1 s.
    let sent = 0;
    const trickle = setInterval(() => {
      if (!client.socket.destroyed && sent < body.length) client.socket.write(body[sent++] ?? '');
    }, 200);
    const closedAfter = await client.closed;
    clearInterval(trickle);
    expect(sent).toBeLessThan(body.length);
    expect(client.received()).toMatch(/^HTTP\/1\.1 408 /);
    // Checked at least every quarter of the timeout: cut off well within twice the timeout.
    expect(closedAfter).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(closedAfter).toBeLessThan(2 * TIMEOUT_MS + 500);
    expect(await history()).toEqual([]);
  });

  it('cuts off a client that never finishes its headers', async () => {
    const client = await rawConnection(ctx.url);
    client.socket.write('GET /health/live HTTP/1.1\r\nHost: x\r\n');
    const closedAfter = await client.closed;
    expect(closedAfter).toBeLessThan(2 * TIMEOUT_MS + 500);
    expect(client.received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('serves a slow client whose request arrives within the timeout', async () => {
    const body = JSON.stringify({ text: 'slow but on time' });
    const client = await rawConnection(ctx.url);
    client.socket.write(
      `POST /v1/conversations/${conversationId}/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${bob.token}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
    );
    const half = Math.floor(body.length / 2);
    client.socket.write(body.slice(0, half));
    await sleep(TIMEOUT_MS / 3);
    client.socket.write(body.slice(half));
    await client.closed;
    expect(client.received()).toMatch(/^HTTP\/1\.1 201 /);
    expect((await history()).map((message: { text: string }) => message.text)).toContain('slow but on time');
  });

  it('serves the next request of a keep-alive connection that idled longer than the timeouts', async () => {
    const client = await rawConnection(ctx.url);
    const request = 'GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n';
    client.socket.write(request);
    await sleep(100);
    expect(client.received()).toMatch(/^HTTP\/1\.1 200 /);
    // Idle between requests is the keep-alive timeout's business (72 s), not the request timeout's.
    await sleep(2.5 * TIMEOUT_MS);
    client.socket.write(request);
    await sleep(100);
    expect(client.received().match(/HTTP\/1\.1 200 /g)).toHaveLength(2);
    // A status line, not any '408' (a Date or X-Request-Id header may contain those digits).
    expect(client.received()).not.toMatch(/HTTP\/1\.1 408 /);
    client.socket.destroy();
  });

  it('keeps an SSE stream and a WebSocket open well beyond the request timeout', async () => {
    const stream = await connectSse(ctx.url, { token: alice.token });
    const socket = await connectReady(ctx.url, alice.token, alice.id);
    try {
      await stream.waitFor((event) => event.data.type === 'ready');
      await sleep(3 * TIMEOUT_MS);
      const marker = await sendMarker(ctx.api, bob.token, conversationId, [socket]);
      const delivered = await stream.waitFor((event) => event.data.type === 'message.created' && event.data.message.id === marker.id);
      expect(delivered.data.message.text).toBe(marker.text);
    } finally {
      await Promise.all([stream.close(), socket.close()]);
    }
  });
});

describe('HTTP_MAX_CONNECTIONS', () => {
  const ctx = useTestServer({ env: { HTTP_MAX_CONNECTIONS: '3' } });

  it('drops connections beyond the cap at once, and accepts again when one closes', async () => {
    const held = await Promise.all([rawConnection(ctx.url), rawConnection(ctx.url), rawConnection(ctx.url)]);
    // The kernel accepts the TCP connection; Node closes it at once without reading anything.
    const extra = await rawConnection(ctx.url);
    extra.socket.write('GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(await extra.closed).toBeLessThan(1000);
    expect(extra.received()).toBe('');

    held[0]?.socket.destroy();
    await held[0]?.closed;
    await sleep(50);
    const response = await ctx.api.get('/health/live');
    expect(response.status).toBe(200);
    for (const connection of held) connection.socket.destroy();
  });
});

describe('HTTP limits with defaults', () => {
  const ctx = useTestServer();

  it('applies the documented defaults to the Node server', () => {
    const http = ctx.server.parley.app.server;
    expect({
      requestTimeout: http.requestTimeout,
      headersTimeout: http.headersTimeout,
      keepAliveTimeout: http.keepAliveTimeout,
      maxConnections: http.maxConnections,
    }).toEqual({ requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 72_000, maxConnections: 50_000 });
  });
});
