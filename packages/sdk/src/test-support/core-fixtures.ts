/**
 * Fixtures of the SDK core's tests: a real `node dist/main.js` server on either engine (the
 * server's own test-support starts it), a fetch that records every request the SDK sends, and
 * the server's own count of requests per route read from its /metrics.
 */
import { randomBytes } from 'node:crypto';
import { parseSamples, sumOf } from '../../../server/src/test-support/prometheus-text.js';
import type { EngineKind } from '../../../server/src/test-support/engines.js';
import { TEST_REDIS_URL, createTestRedis, deleteKeysWithPrefix, uniqueKeyPrefix } from '../../../server/src/test-support/redis.js';
import { startServerProcess, type ServerProcess } from '../../../server/src/test-support/server-process.js';
import { freePort } from '../../../server/src/test-support/ports.js';

/** The operator key the test servers run with (PARLEY_ADMIN_KEY: at least 32 characters). */
export const ADMIN_KEY = 'sdk-test-admin-key-0123456789abcdef0123';

export interface SdkTestServer {
  url: string;
  process: ServerProcess;
  stop(): Promise<void>;
}

const started = new Set<ServerProcess>();
process.once('exit', () => {
  for (const server of started) if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
});

/**
 * A real server process on `kind` (Redis: the test Redis under a fresh key prefix, removed by
 * `stop`), on an explicit free port: with PORT=0 the server would publish `http://127.0.0.1:0` as
 * its issuer and JWKS URL.
 */
export async function startSdkTestServer(kind: EngineKind, env: Record<string, string> = {}): Promise<SdkTestServer> {
  const keyPrefix = uniqueKeyPrefix();
  const engineEnv: Record<string, string> = kind === 'redis' ? { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: keyPrefix } : {};
  const port = String(await freePort());
  const server = await startServerProcess({ PARLEY_ADMIN_KEY: ADMIN_KEY, SHUTDOWN_TIMEOUT_MS: '5000', PORT: port, ...engineEnv, ...env });
  started.add(server);
  return {
    url: server.url,
    process: server,
    async stop() {
      await server.stop('SIGTERM');
      started.delete(server);
      if (kind !== 'redis') return;
      const redis = createTestRedis();
      try {
        await deleteKeysWithPrefix(redis, keyPrefix);
      } finally {
        await redis.quit();
      }
    },
  };
}

export interface SentRequest {
  method: string;
  /** The URL's path, percent-encoded as sent. */
  path: string;
  /** The bearer token sent, or null. */
  token: string | null;
  status: number | null;
}

/** A fetch for the SDK that records every request it sends (and its answer's status) in `sent`. */
export function recordingFetch(): { fetch: (request: Request) => Promise<Response>; sent: SentRequest[] } {
  const sent: SentRequest[] = [];
  return {
    sent,
    async fetch(request) {
      const entry: SentRequest = {
        method: request.method,
        path: new URL(request.url).pathname,
        token: request.headers.get('authorization')?.replace(/^Bearer /, '') ?? null,
        status: null,
      };
      sent.push(entry);
      const response = await globalThis.fetch(request);
      entry.status = response.status;
      return response;
    },
  };
}

/** How many requests the server answered on `route` (its route template) with `status`, from its /metrics. */
export async function serverRequestCount(baseUrl: string, method: string, route: string, status?: number): Promise<number> {
  const text = await (await globalThis.fetch(`${baseUrl}/metrics`)).text();
  const labels: Record<string, string> = { method, route, ...(status === undefined ? {} : { status_code: String(status) }) };
  return sumOf(parseSamples(text), 'parley_http_request_duration_seconds_count', labels);
}

/** A username no other test uses. */
export function uniqueUsername(prefix = 'u'): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}
