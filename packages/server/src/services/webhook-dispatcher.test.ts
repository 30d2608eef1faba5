/**
 * The dispatcher against a real engine (memory and Redis) and a real HTTP receiver on 127.0.0.1:
 * the per-webhook concurrency bound, isolation of a hanging receiver, disabling after a failing
 * window, and the hand-over of a stopped node's webhooks. End-to-end behaviour through the API
 * (signatures, ordering, retries, crashes) is in webhooks*.test.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { TenantId } from '../domain/types.js';
import type { Webhook, WebhookId } from '../domain/webhooks.js';
import type { Engine } from '../engine/engine.js';
import { createOutboundFetch, createOutboundPolicy } from '../outbound/index.js';
import { createTestEngine, ENGINE_KINDS } from '../test-support/engines.js';
import { DEFAULT_WEBHOOK_DISPATCH, MAX_RETRY_DELAY_MS, retryDelay, WebhookDispatcher, type WebhookDispatchSettings } from './webhook-dispatcher.js';

const TENANT = 'acme' as TenantId;
const fetch = createOutboundFetch({ policy: createOutboundPolicy({ allowedHosts: ['127.0.0.1'] }) });
const quiet = { warn: () => undefined };

interface Receiver {
  url: string;
  /** Requests answered or under way, by path. */
  received: Map<string, number>;
  /** Most requests open at once, by path. */
  peak: Map<string, number>;
  close(): Promise<void>;
}

/** Answers per path: `handle` decides (it may never answer: a hang). */
async function startReceiver(handle: (path: string, request: IncomingMessage, response: ServerResponse) => void): Promise<Receiver> {
  const received = new Map<string, number>();
  const open = new Map<string, number>();
  const peak = new Map<string, number>();
  const server: Server = createServer((request, response) => {
    const path = request.url ?? '/';
    request.resume();
    received.set(path, (received.get(path) ?? 0) + 1);
    open.set(path, (open.get(path) ?? 0) + 1);
    peak.set(path, Math.max(peak.get(path) ?? 0, open.get(path) ?? 0));
    response.on('close', () => open.set(path, (open.get(path) ?? 1) - 1));
    request.on('end', () => handle(path, request, response));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    peak,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function webhook(id: string, url: string): Webhook {
  return {
    tenantId: TENANT,
    id: id as WebhookId,
    url,
    events: ['*'],
    description: null,
    enabled: true,
    createdAt: Date.now(),
    secrets: [{ secret: 'whsec_test', expiresAt: null }],
    failingSince: null,
    disabledAt: null,
  };
}

async function ping(engine: Engine, id: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await engine.webhooks.enqueue(TENANT, id as WebhookId, { eventId: `evt_${id}_${i}`, type: 'webhook.ping', at: Date.now(), event: { type: 'webhook.ping', n: i } });
  }
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('retryDelay', () => {
  it('doubles from the base with jitter between half and the whole delay, capped', () => {
    expect(retryDelay(1, 1000, () => 0)).toBe(500);
    expect(retryDelay(1, 1000, () => 0.999_999)).toBe(1000);
    expect(retryDelay(4, 1000, () => 0.5)).toBe(6000);
    expect(retryDelay(60, 1000, () => 0.999_999)).toBeLessThanOrEqual(MAX_RETRY_DELAY_MS);
    expect(retryDelay(60, 1000, () => 0.999_999)).toBeGreaterThan(MAX_RETRY_DELAY_MS * 0.999);
    expect(retryDelay(60, 1000, () => 0)).toBe(MAX_RETRY_DELAY_MS / 2);
  });
});

describe.each(ENGINE_KINDS)('WebhookDispatcher on %s', (kind) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setup(settings: Partial<WebhookDispatchSettings> = {}) {
    const { engine, cleanup } = await createTestEngine(kind);
    cleanups.push(cleanup);
    const start = async () => {
      const dispatcher = new WebhookDispatcher({
        store: engine.webhooks,
        fetch,
        clock: Date.now,
        settings: { ...DEFAULT_WEBHOOK_DISPATCH, leaseMs: 1500, ...settings },
        version: 'test',
        present: async (_tenantId, entry) => entry.event,
        log: quiet,
      });
      await dispatcher.start();
      cleanups.push(() => dispatcher.stop());
      return dispatcher;
    };
    return { engine, start };
  }

  it('keeps at most `concurrency` attempts open per webhook, and a hanging receiver does not hold back another webhook', async () => {
    const hanging: ServerResponse[] = [];
    let hang = true;
    const receiver = await startReceiver((path, _request, response) => {
      if (path === '/slow' && hang) hanging.push(response);
      else response.writeHead(204).end();
    });
    cleanups.push(() => receiver.close());
    const { engine, start } = await setup({ concurrency: 3, timeoutMs: 60_000 });
    // Answered at the end whatever happens, so a failing assertion does not leave stop() waiting on them.
    const answerHanging = async () => {
      hang = false;
      for (const response of hanging.splice(0)) response.writeHead(200).end();
    };
    await engine.webhooks.create(webhook('slow', `${receiver.url}/slow`), 20);
    await engine.webhooks.create(webhook('fast', `${receiver.url}/fast`), 20);
    await ping(engine, 'slow', 10);
    await ping(engine, 'fast', 30);
    await start();
    cleanups.push(answerHanging);
    await until(() => receiver.received.get('/fast') === 30, 'every delivery to the fast webhook');
    expect(receiver.received.get('/slow')).toBe(3);
    expect(receiver.peak.get('/slow')).toBe(3);
    expect(receiver.peak.get('/fast')).toBeLessThanOrEqual(3);
    // The outcome is recorded once the answer is in: the last one may still be on its way.
    const delivered = async () => (await engine.webhooks.deliveries(TENANT, 'fast' as WebhookId, 100))?.filter((delivery) => delivery.status === 'delivered').length;
    await until(async () => (await delivered()) === 30, 'the 30 fast deliveries recorded as delivered');
    expect(receiver.received.get('/slow')).toBe(3);
    await answerHanging();
  });

  it('disables a webhook whose attempts keep failing past the disable window, and stops delivering to it', async () => {
    const receiver = await startReceiver((_path, _request, response) => response.writeHead(503).end());
    cleanups.push(() => receiver.close());
    const { engine, start } = await setup({ retryBaseMs: 20, disableAfterMs: 300 });
    await engine.webhooks.create(webhook('down', `${receiver.url}/down`), 20);
    await ping(engine, 'down', 1);
    await start();
    await until(async () => (await engine.webhooks.get(TENANT, 'down' as WebhookId))?.enabled === false, 'the webhook to be disabled');
    const disabled = await engine.webhooks.get(TENANT, 'down' as WebhookId);
    expect(disabled?.disabledAt).not.toBeNull();
    expect(disabled?.failingSince).not.toBeNull();
    const attempts = receiver.received.get('/down') ?? 0;
    expect(attempts).toBeGreaterThan(1);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(receiver.received.get('/down')).toBe(attempts);
    const [record] = (await engine.webhooks.deliveries(TENANT, 'down' as WebhookId, 1)) ?? [];
    expect(record).toMatchObject({ status: 'pending', lastStatusCode: 503, lastError: 'http_503' });
  });

  it('gives its leases up on stop, so another node delivers at once rather than after the lease', async () => {
    let answered = 0;
    const receiver = await startReceiver((_path, _request, response) => {
      answered += 1;
      response.writeHead(200).end();
    });
    cleanups.push(() => receiver.close());
    const { engine, start } = await setup({ leaseMs: 60_000 });
    await engine.webhooks.create(webhook('handover', `${receiver.url}/handover`), 20);
    const first = await start();
    await ping(engine, 'handover', 1);
    await until(() => answered === 1, 'the first delivery');
    await first.stop();
    const second = await start();
    await ping(engine, 'handover', 1);
    await until(() => answered === 2, 'the delivery by the second node', 5000);
    expect(second.held().map((held) => held.id)).toEqual(['handover']);
  });
});
