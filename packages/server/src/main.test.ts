/**
 * Parley as operators run it: `node dist/main.js` processes, configured by environment, sharing
 * one real Redis. These tests need the build (`npm test` runs it first).
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createApiClient } from './test-support/api-client.js';
import { useNodePair } from './test-support/node-pair.js';
import { freePort } from './test-support/ports.js';
import { connectRealtime } from './test-support/realtime-client.js';
import { TEST_REDIS_URL, createTestRedis, deleteKeysWithPrefix, uniqueKeyPrefix } from './test-support/redis.js';
import { MAIN_JS, startServerProcess, type ServerProcess } from './test-support/server-process.js';

const PASSWORD = 'correct horse battery';

async function register(url: string, username: string) {
  const response = await createApiClient(url).post('/v1/auth/register', { username, password: PASSWORD });
  expect(response.status).toBe(201);
  return { id: response.body.user.id as string, token: response.body.accessToken as string };
}

describe('two nodes on one Redis', () => {
  // The same issuer on both nodes, as behind one load balancer: a token from one works on the other.
  const nodes = useNodePair({ PUBLIC_URL: 'http://parley.test' });

  it('accepts concurrent sends into one conversation on both nodes and numbers them 1..N with no gap or duplicate', async () => {
    const a = createApiClient(nodes.a.url);
    const b = createApiClient(nodes.b.url);
    const alice = await register(nodes.a.url, 'alice');
    const bob = await register(nodes.b.url, 'bob');
    const group = await a.post('/v1/conversations', { type: 'group', title: 'both nodes', members: [bob.id] }, alice.token);
    expect(group.status).toBe(201);
    const path = `/v1/conversations/${group.body.id}/messages`;

    const sends = 300;
    const responses = await Promise.all(
      Array.from({ length: sends }, (_, i) =>
        i % 2 === 0 ? a.post(path, { text: `a${i}` }, alice.token) : b.post(path, { text: `b${i}` }, bob.token),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(sends).fill(201));
    const seqs = responses.map((r) => r.body.seq as number).sort((x, y) => x - y);
    expect(seqs).toEqual(Array.from({ length: sends }, (_, i) => i + 1));

    // Both nodes read the same history: every message once, in seq order.
    for (const client of [a, b]) {
      const seen: number[] = [];
      let after = 0;
      for (;;) {
        const page = await client.get(`${path}?after=${after}&limit=100`, alice.token);
        seen.push(...page.body.items.map((m: { seq: number }) => m.seq));
        if (!page.body.hasMore) break;
        after = seen[seen.length - 1]!;
      }
      expect(seen).toEqual(Array.from({ length: sends }, (_, i) => i + 1));
    }
  });

  it('gives one direct conversation per pair when both nodes open it at once', async () => {
    const carol = await register(nodes.a.url, 'carol');
    const dave = await register(nodes.b.url, 'dave');
    const [fromA, fromB] = await Promise.all([
      createApiClient(nodes.a.url).post('/v1/conversations', { type: 'direct', members: [dave.id] }, carol.token),
      createApiClient(nodes.b.url).post('/v1/conversations', { type: 'direct', members: [carol.id] }, dave.token),
    ]);
    expect(fromA.body.id).toBe(fromB.body.id);
    expect([fromA.status, fromB.status].sort()).toEqual([200, 201]);
  });

  it('shares signing keys: both nodes publish the same JWKS', async () => {
    const [jwksA, jwksB] = await Promise.all([
      createApiClient(nodes.a.url).get('/.well-known/jwks.json'),
      createApiClient(nodes.b.url).get('/.well-known/jwks.json'),
    ]);
    expect(jwksA.body.keys.length).toBeGreaterThan(0);
    expect(jwksA.body).toEqual(jwksB.body);
  });

  it('drains on SIGTERM: both nodes close their Redis connections and exit 0', async () => {
    expect(await Promise.all([nodes.a.stop(), nodes.b.stop()])).toEqual([0, 0]);
    for (const node of [nodes.a, nodes.b]) expect(node.logs.some((entry) => entry.msg === 'shutdown complete')).toBe(true);
  });
});

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
}

describe('two nodes on one Redis started as the README says (no PUBLIC_URL, different PORTs)', () => {
  const keyPrefix = uniqueKeyPrefix();
  let nodeA: ServerProcess | undefined;
  let nodeB: ServerProcess | undefined;

  afterAll(async () => {
    await Promise.all([nodeA?.stop(), nodeB?.stop()]);
    const redis = createTestRedis();
    await deleteKeysWithPrefix(redis, keyPrefix);
    redis.disconnect();
  });

  it('accepts a token of one node on the other, over REST and realtime, under one stored issuer', async () => {
    const env = { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: keyPrefix, HOST: '127.0.0.1' };
    const [portA, portB] = [await freePort(), await freePort()];
    nodeA = await startServerProcess({ ...env, PORT: String(portA) });
    nodeB = await startServerProcess({ ...env, PORT: String(portB) });
    expect(nodeA.url).not.toBe(nodeB.url);

    const alice = await register(nodeA.url, 'alice');
    const me = await createApiClient(nodeB.url).get('/v1/users/me', alice.token);
    expect(me.status).toBe(200);
    expect(me.body.id).toBe(alice.id);

    const client = await connectRealtime(nodeB.url, { token: alice.token });
    try {
      await client.waitFor((frame) => frame.type === 'ready', 5000);
    } finally {
      await client.close();
    }

    // The first node's URL is the deployment's issuer; both nodes publish it and sign with it.
    const bob = await register(nodeB.url, 'bob');
    expect((await createApiClient(nodeA.url).get('/v1/users/me', bob.token)).status).toBe(200);
    const [configA, configB] = await Promise.all([
      createApiClient(nodeA.url).get('/.well-known/openid-configuration'),
      createApiClient(nodeB.url).get('/.well-known/openid-configuration'),
    ]);
    expect(configA.body.issuer).toBe(`http://127.0.0.1:${portA}`);
    expect(configB.body.issuer).toBe(configA.body.issuer);
    expect(claimsOf(alice.token).iss).toBe(configA.body.issuer);
    expect(claimsOf(bob.token).iss).toBe(configA.body.issuer);
  });
});

describe('a node process', () => {
  let node: ServerProcess | undefined;
  afterEach(async () => {
    await node?.stop('SIGKILL');
    node = undefined;
  });

  it("exits 0 on SIGTERM while still starting (a container's PID 1 would otherwise ignore it)", async () => {
    // A "Redis" that accepts connections and never answers holds the start at its first PING.
    let connected: () => void = () => undefined;
    const connecting = new Promise<void>((resolve) => (connected = resolve));
    const silent = createServer(() => connected());
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    const child = spawn(process.execPath, [MAIN_JS], {
      env: { PATH: process.env.PATH ?? '', PORT: '0', REDIS_URL: `redis://127.0.0.1:${port}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (code, signal) => resolve([code, signal])));
    try {
      await connecting; // the node is starting: it connects to storage
      child.kill('SIGTERM');
      expect(await exited).toEqual([0, null]);
      expect(output).toContain('stopped before listening');
    } finally {
      child.kill('SIGKILL');
      silent.close();
    }
  });

  it('on SIGTERM finishes the request in flight, stops accepting and exits 0', async () => {
    node = await startServerProcess({});
    const api = createApiClient(node.url);
    // Registration hashes with production scrypt parameters: long enough to still be in flight.
    const inFlight = api.post('/v1/auth/register', { username: 'inflight', password: PASSWORD });
    // SIGTERM only once the node has the request (a request arriving after it is refused with 503,
    // by design): on a loaded machine a fixed pause does not promise that.
    const started = Date.now();
    while (!node.logs.some((entry) => entry.msg === 'incoming request' && (entry.req as { url?: string } | undefined)?.url === '/v1/auth/register')) {
      if (Date.now() - started > 5000) throw new Error('the node never logged the registration request');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    node.child.kill('SIGTERM');
    const response = await inFlight;
    expect(response.status).toBe(201);
    expect(await node.exited).toBe(0);
    await expect(fetch(`${node.url}/health/live`)).rejects.toThrow();
    expect(node.logs.some((entry) => entry.msg === 'shutdown complete')).toBe(true);
  });

  it('never writes tokens or passwords to its logs', async () => {
    node = await startServerProcess({ LOG_LEVEL: 'trace' });
    const api = createApiClient(node.url);
    const secretPassword = 'a-password-nobody-should-see';
    const registered = await api.post('/v1/auth/register', { username: 'quiet', password: secretPassword });
    const token = registered.body.accessToken as string;
    await api.get('/v1/users/me', token);
    await api.get(`/v1/users/me?access_token=${token}`);
    await api.post('/v1/auth/refresh', { refreshToken: registered.body.refreshToken });
    await node.stop();
    const logged = JSON.stringify(node.logs);
    expect(node.logs.length).toBeGreaterThan(5);
    expect(logged).not.toContain(token);
    expect(logged).not.toContain(token.split('.')[2]);
    expect(logged).not.toContain(secretPassword);
    expect(logged).not.toContain(registered.body.refreshToken);
  });

  it('refuses to start with a clear message when a variable is invalid', async () => {
    await expect(startServerProcess({ PORT: 'eighty', PARLEY_ADMIN_KEY: 'too-short-secret' })).rejects.toThrow(
      /PORT="eighty".*[\s\S]*PARLEY_ADMIN_KEY=\(hidden\)/,
    );
  });
});
