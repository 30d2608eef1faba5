import { afterAll, beforeAll } from 'vitest';
import { loadConfig } from '../config.js';
import type { Engine } from '../engine/engine.js';
import type { Resolve } from '../outbound/index.js';
import { createParley, type Parley } from '../parley.js';
import { createApiClient, type ApiClient } from './api-client.js';
import { createTestEngine, type EngineKind } from './engines.js';
import { GENEROUS_RATE_LIMITS } from './rate-limits.js';

export const ADMIN_KEY = 'test-admin-key-0123456789abcdef0123456789';

export interface TestServer {
  url: string;
  api: ApiClient;
  parley: Parley;
  engine: Engine;
  stop(): Promise<void>;
}

/**
 * Starts a real Parley on an ephemeral port of 127.0.0.1, on a fresh engine of `kind` (Redis: a
 * unique key prefix on the test Redis) unless `engine` is given. Password hashing uses the test
 * cost and rate limits are generous (GENEROUS_RATE_LIMITS) unless `env` sets them; everything
 * else is production wiring.
 */
export async function startTestServer(
  options: {
    kind?: EngineKind;
    engine?: Engine;
    env?: Record<string, string>;
    clock?: () => number;
    passwordCost?: 'production' | 'test';
    /** See ParleyOptions.jwksCooldownMs. */
    jwksCooldownMs?: number;
    /** See ParleyOptions.outboundResolve. */
    outboundResolve?: Resolve;
  } = {},
): Promise<TestServer> {
  const owned = options.engine ? null : await createTestEngine(options.kind ?? 'memory');
  const engine = options.engine ?? owned!.engine;
  const config = loadConfig({ PARLEY_ADMIN_KEY: ADMIN_KEY, PORT: '0', ...GENEROUS_RATE_LIMITS, ...options.env });
  const parley = await createParley(config, {
    engine,
    passwordCost: options.passwordCost ?? 'test',
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.jwksCooldownMs !== undefined ? { jwksCooldownMs: options.jwksCooldownMs } : {}),
    ...(options.outboundResolve ? { outboundResolve: options.outboundResolve } : {}),
  });
  const url = await parley.listen(0, '127.0.0.1');
  return {
    url,
    api: createApiClient(url),
    parley,
    engine,
    async stop() {
      await parley.shutdown();
      await owned?.cleanup();
    },
  };
}

export type TestServerOptions = Parameters<typeof startTestServer>[0];

/** The server of a `describe` block, through getters (it exists from `beforeAll` on). */
export interface TestServerHandle {
  readonly server: TestServer;
  readonly api: ApiClient;
  readonly url: string;
}

/**
 * Starts a test server (startTestServer with these options) in `beforeAll` of the enclosing
 * `describe` and stops it in `afterAll`.
 */
export function useTestServer(options: TestServerOptions = {}): TestServerHandle {
  let server: TestServer | undefined;
  beforeAll(async () => {
    server = await startTestServer(options);
  });
  afterAll(() => server?.stop());
  const started = (): TestServer => {
    if (!server) throw new Error('useTestServer: the server is not started yet (use it inside hooks and tests)');
    return server;
  };
  return {
    get server() {
      return started();
    },
    get api() {
      return started().api;
    },
    get url() {
      return started().url;
    },
  };
}

export interface TestUser {
  id: string;
  username: string;
  token: string;
  refreshToken: string;
}

let userCounter = 0;

/** Registers a user in the default tenant through the API and returns its tokens. */
export async function registerUser(api: ApiClient, username = `user${++userCounter}_${process.pid}`): Promise<TestUser> {
  const response = await api.post('/v1/auth/register', { username, password: 'correct horse battery' });
  if (response.status !== 201) throw new Error(`register ${username}: ${response.status} ${response.text}`);
  return { id: response.body.user.id, username, token: response.body.accessToken, refreshToken: response.body.refreshToken };
}

/** Creates a tenant with the operator key and returns its API key. */
export async function createTenant(api: ApiClient, id: string): Promise<string> {
  const response = await api.post('/v1/tenants', { id, name: `Tenant ${id}` }, ADMIN_KEY);
  if (response.status !== 201) throw new Error(`create tenant ${id}: ${response.status} ${response.text}`);
  return response.body.apiKey;
}
