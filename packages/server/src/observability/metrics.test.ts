import { describe, expect, it } from 'vitest';
import { createTestTenant, openDirect, sendMessage } from '../test-support/conversations.js';
import { parseSamples, sumOf, type Sample } from '../test-support/prometheus-text.js';
import { connectRealtime } from '../test-support/realtime-client.js';
import { connectSse, useRealtimeClients, useClosingAfterEach, type SseClient } from '../test-support/realtime-fixtures.js';
import { registerUser, useTestServer } from '../test-support/server.js';

const ULID = /[0-9A-HJKMNP-TV-Z]{26}/;

describe('metrics after a small journey (Redis engine)', () => {
  const handle = useTestServer({ kind: 'redis' });
  const realtime = useRealtimeClients(() => handle.url);
  const sse = useClosingAfterEach<SseClient>();

  it('count what users did, by bounded labels only', async () => {
    const { api, url } = handle;
    const tenant = await createTestTenant(api);
    const [alice, bob] = await tenant.users(['alice', 'bob']);
    const registered = await registerUser(api);
    const bobSocket = await realtime.connect(bob!);
    const aliceStream = sse.track(await connectSse(url, { token: alice!.token }));
    await aliceStream.waitFor((event) => event.data?.type === 'ready');

    const conversation = await openDirect(api, alice!.token, bob!.id);
    const message = await sendMessage(api, alice!.token, conversation.id, 'hello');
    await bobSocket.waitFor((frame) => frame.type === 'message.created' && frame.message?.id === message.id);
    await aliceStream.waitFor((event) => event.data?.type === 'message.created' && event.data.message?.id === message.id);
    // A resume with a cursor that is not ours: resync.required.
    const resumed = realtime.track(await connectRealtime(url, { token: bob!.token, cursor: 'not-a-cursor' }));
    await resumed.waitFor((frame) => frame.type === 'resync.required');
    // Refused credentials: none, and one that does not verify.
    expect((await api.get('/v1/users/me')).status).toBe(401);
    expect((await api.get('/v1/users/me', 'not-a-token')).status).toBe(401);

    const scrape = await api.get('/metrics');
    expect(scrape.status).toBe(200);
    const samples = parseSamples(scrape.text);
    const names = new Set(samples.map((sample) => sample.name));
    // Every metric is Parley's: rules and dashboards select by the prefix.
    expect([...names].filter((name) => !name.startsWith('parley_'))).toEqual([]);

    expect(sumOf(samples, 'parley_messages_accepted_total')).toBe(1);
    expect(sumOf(samples, 'parley_realtime_events_received_total', { kind: 'event' })).toBeGreaterThanOrEqual(1);
    expect(sumOf(samples, 'parley_realtime_events_received_total', { kind: 'inbox' })).toBeGreaterThanOrEqual(1);
    expect(sumOf(samples, 'parley_realtime_events_delivered_total', { transport: 'websocket', mode: 'live' })).toBeGreaterThanOrEqual(1);
    expect(sumOf(samples, 'parley_realtime_events_delivered_total', { transport: 'sse', mode: 'live' })).toBeGreaterThanOrEqual(1);
    const latencyCount = sumOf(samples, 'parley_realtime_delivery_latency_seconds_count');
    expect(latencyCount).toBe(sumOf(samples, 'parley_realtime_events_delivered_total', { mode: 'live' }));
    // Sub-second on one machine: the sum of latencies is below a second per delivery.
    expect(sumOf(samples, 'parley_realtime_delivery_latency_seconds_sum')).toBeLessThan(latencyCount);
    expect(sumOf(samples, 'parley_realtime_connections', { transport: 'websocket' })).toBe(2);
    expect(sumOf(samples, 'parley_realtime_connections', { transport: 'sse' })).toBe(1);
    expect(sumOf(samples, 'parley_realtime_resumes_total', { outcome: 'resync' })).toBe(1);
    expect(sumOf(samples, 'parley_realtime_resync_required_total')).toBe(1);
    expect(names).toContain('parley_realtime_slow_consumer_closes_total');
    expect(sumOf(samples, 'parley_realtime_slow_consumer_closes_total')).toBe(0);
    expect(sumOf(samples, 'parley_authentication_failures_total', { reason: 'unauthorized' })).toBe(1);
    expect(sumOf(samples, 'parley_authentication_failures_total', { reason: 'invalid_token' })).toBe(1);
    expect(
      sumOf(samples, 'parley_http_request_duration_seconds_count', {
        method: 'POST',
        route: '/v1/conversations/:id/messages',
        status_code: '201',
      }),
    ).toBe(1);
    expect(sumOf(samples, 'parley_http_request_duration_seconds_count', { route: '/v1/users/me', status_code: '401' })).toBe(2);
    // A user's send counts its SEND unit in the append's step (MessageStore.appendCounted).
    expect(sumOf(samples, 'parley_engine_call_duration_seconds_count', { store: 'messages', method: 'appendCounted' })).toBe(1);
    expect(sumOf(samples, 'parley_engine_call_errors_total')).toBe(0);
    expect(samples.find((sample) => sample.name === 'parley_redis_connection_up' && sample.labels.role === 'commands')?.value).toBe(1);
    expect(samples.find((sample) => sample.name === 'parley_redis_connection_up' && sample.labels.role === 'subscriber')?.value).toBe(1);
    expect(names).toContain('parley_nodejs_eventloop_lag_p99_seconds');
    expect(names).toContain('parley_process_resident_memory_bytes');
    expect((await api.get('/health/ready')).status).toBe(200);
    expect(sumOf(parseSamples((await api.get('/metrics')).text), 'parley_ready')).toBe(1);

    // No label value is an id: not a ULID, not the tenant, not a user, not a message.
    const ids = [tenant.id, alice!.id, bob!.id, registered.id, conversation.id, message.id];
    const offending = samples.filter((sample: Sample) =>
      Object.values(sample.labels).some((value) => ULID.test(value) || ids.some((id) => value.includes(id))),
    );
    expect(offending).toEqual([]);
  });
});
