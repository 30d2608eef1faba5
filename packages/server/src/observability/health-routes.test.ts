import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisClient } from '../engine/redis/redis-connection.js';
import { createRedisEngine } from '../engine/redis/redis-engine.js';
import { parseSamples, sumOf } from '../test-support/prometheus-text.js';
import { startLocalRedis, uniqueKeyPrefix, type LocalRedis } from '../test-support/redis.js';
import { registerUser, startTestServer, type TestServer } from '../test-support/server.js';

describe('health, info and metrics', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.stop());

  it('is live and ready, and says what it runs on', async () => {
    expect((await server.api.get('/health/live')).body).toEqual({ status: 'ok' });
    expect((await server.api.get('/health/ready')).status).toBe(200);
    const info = await server.api.get('/info');
    expect(info.body).toMatchObject({ name: 'parley', engine: 'memory', apiVersions: ['v1'], version: expect.any(String) });
    expect(info.body.uptimeSeconds).toBeGreaterThanOrEqual(0);
  });

  it('exports Prometheus metrics with default process metrics and HTTP durations by route template', async () => {
    const user = await registerUser(server.api);
    await server.api.get(`/v1/users/${user.id}`, user.token);
    const metrics = await server.api.get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(metrics.text).toContain('parley_process_cpu_user_seconds_total');
    expect(metrics.text).toMatch(/parley_http_request_duration_seconds_count\{method="GET",route="\/v1\/users\/:userId",status_code="200"\} 1/);
    // The raw id never becomes a label: cardinality stays bounded by the number of routes.
    expect(metrics.text).not.toContain(user.id);
  });
});

describe('readiness when Redis goes away', () => {
  let redis: LocalRedis;
  let server: TestServer;

  beforeAll(async () => {
    redis = await startLocalRedis();
    const engine = createRedisEngine({ redis: createRedisClient({ url: redis.url }), keyPrefix: uniqueKeyPrefix() });
    server = await startTestServer({ engine });
  });
  afterAll(async () => {
    await server?.stop();
    await redis?.stop();
  });

  it('answers 503 on readiness and storage_unavailable on the API while Redis is down, reports it in metrics, and recovers', async () => {
    const user = await registerUser(server.api);
    expect((await server.api.get('/health/ready')).status).toBe(200);

    await redis.pause();
    const ready = await server.api.get('/health/ready');
    expect(ready.status).toBe(503);
    const me = await server.api.get('/v1/users/me', user.token);
    expect(me.status).toBe(503);
    expect(me.body.code).toBe('storage_unavailable');
    expect(me.text).not.toMatch(/ECONNREFUSED|at .*\.js/);
    expect((await server.api.get('/health/live')).status).toBe(200);
    // What an operator's alerts see meanwhile (/metrics needs no storage).
    const metric = async (name: string, labels: Record<string, string> = {}) =>
      sumOf(parseSamples((await server.api.get('/metrics')).text), name, labels);
    await expect.poll(() => metric('parley_redis_connection_up', { role: 'commands' }), { timeout: 10_000 }).toBe(0);
    expect(await metric('parley_ready')).toBe(0);
    expect(await metric('parley_engine_call_errors_total')).toBeGreaterThan(0);

    await redis.resume();
    await expect.poll(async () => (await server.api.get('/health/ready')).status, { timeout: 10_000 }).toBe(200);
    expect((await server.api.get('/v1/users/me', user.token)).status).toBe(200);
    expect(await metric('parley_redis_connection_up', { role: 'commands' })).toBe(1);
    expect(await metric('parley_ready')).toBe(1);
  });
});
