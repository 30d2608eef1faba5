import { fileURLToPath } from 'node:url';
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import { IDENTITY_PROVIDER_ALGORITHMS } from '@parley/protocol';
import {
  RATE_LIMIT_NAMES,
  RATE_LIMITS,
  parseRateLimitSetting,
  type RateLimitSettings,
} from './services/rate-limiter.js';
import type { WebhookDispatchSettings } from './services/webhook-dispatcher.js';

/**
 * Every setting Parley reads, from environment variables (twelve-factor). One schema is both the
 * validation and the type; README.md's configuration table documents the same names.
 */
/** One trusted proxy: an IPv4/IPv6 address or CIDR range, or `loopback`, `linklocal`, `uniquelocal`. */
const PROXY_ENTRY = '(loopback|linklocal|uniquelocal|[0-9A-Fa-f]*[.:][0-9A-Fa-f.:]*(/[0-9]{1,3})?)';

/** One OUTBOUND_ALLOWED_HOSTS entry: a host name, an IPv4 address or an IPv6 address (brackets optional). */
const HOST_ENTRY = '([A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?)*\\.?|\\[?[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*\\]?)';

/** One OIDC_ALGORITHMS entry: an asymmetric JWS algorithm (never none or HS*). */
const ALGORITHM = IDENTITY_PROVIDER_ALGORITHMS.join('|');

/**
 * Where `npm run build` puts the web client: apps/web/dist of the repository, found from this
 * module (src/ and dist/ are both one level under packages/server).
 */
const DEFAULT_WEB_APP_DIR = fileURLToPath(new URL('../../../apps/web/dist/', import.meta.url));

const Env = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  PUBLIC_URL: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$' })),
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  REDIS_CLUSTER_NODES: Type.Optional(Type.String({ pattern: '^[^,\\s]+:\\d+(,[^,\\s]+:\\d+)*$' })),
  REDIS_SENTINELS: Type.Optional(Type.String({ pattern: '^[^,\\s]+:\\d+(,[^,\\s]+:\\d+)*$' })),
  REDIS_SENTINEL_NAME: Type.String({ minLength: 1, default: 'mymaster' }),
  REDIS_KEY_PREFIX: Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,64}$', default: 'parley:' }),
  PARLEY_ADMIN_KEY: Type.Optional(Type.String({ minLength: 32 })),
  SELF_REGISTRATION_TENANTS: Type.String({ default: 'default' }),
  ACCESS_TOKEN_TTL_SECONDS: Type.Integer({ minimum: 60, maximum: 86_400, default: 900 }),
  REFRESH_TOKEN_TTL_SECONDS: Type.Integer({ minimum: 3600, maximum: 31_536_000, default: 2_592_000 }),
  REFRESH_REUSE_GRACE_SECONDS: Type.Integer({ minimum: 0, maximum: 60, default: 10 }),
  MAX_GROUP_MEMBERS: Type.Integer({ minimum: 2, maximum: 100_000, default: 10_000 }),
  MAX_CONVERSATIONS_PER_USER: Type.Integer({ minimum: 1, maximum: 100_000, default: 10_000 }),
  IDEMPOTENCY_TTL_SECONDS: Type.Integer({ minimum: 60, maximum: 604_800, default: 86_400 }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({ minimum: 0, maximum: 600_000, default: 25_000 }),
  // false | true | proxy addresses, CIDR ranges or proxy-addr's names, comma-separated (see parseTrustProxy).
  TRUST_PROXY: Type.String({ pattern: `^(false|true|${PROXY_ENTRY}(,${PROXY_ENTRY})*)$`, default: 'false' }),
  EVENT_RETENTION_SECONDS: Type.Integer({ minimum: 60, maximum: 2_592_000, default: 86_400 }),
  EVENT_RETENTION_MAX_EVENTS: Type.Integer({ minimum: 100, maximum: 1_000_000, default: 10_000 }),
  REALTIME_HEARTBEAT_MS: Type.Integer({ minimum: 100, maximum: 300_000, default: 30_000 }),
  REALTIME_MAX_BUFFERED_BYTES: Type.Integer({ minimum: 16_384, maximum: 268_435_456, default: 1_048_576 }),
  REALTIME_CURSOR_WINDOW_MS: Type.Integer({ minimum: 1000, maximum: 3_600_000, default: 30_000 }),
  REALTIME_COMPRESSION: Type.Boolean({ default: false }),
  REALTIME_MAX_CONNECTIONS_PER_USER: Type.Integer({ minimum: 1, maximum: 10_000, default: 20 }),
  REALTIME_ORIGINS: Type.Optional(Type.String({ pattern: '^https?://[^\\s,]+(,https?://[^\\s,]+)*$' })),
  PRESENCE_INTERVAL_MS: Type.Integer({ minimum: 100, maximum: 60_000, default: 5_000 }),
  PRESENCE_TTL_MS: Type.Integer({ minimum: 300, maximum: 300_000, default: 15_000 }),
  WEB_APP_DIR: Type.Optional(Type.String({ minLength: 1 })),
  CORS_ORIGINS: Type.String({ pattern: '^$|^https?://[^/,\\s]+(,https?://[^/,\\s]+)*$', default: '' }),
  HTTP_REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600_000, default: 30_000 }),
  HTTP_HEADERS_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000 }),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600_000, default: 72_000 }),
  HTTP_MAX_CONNECTIONS: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 50_000 }),
  HTTP_LISTEN_BACKLOG: Type.Integer({ minimum: 1, maximum: 65_535, default: 4096 }),
  OUTBOUND_ALLOWED_HOSTS: Type.String({ pattern: `^(${HOST_ENTRY}(,${HOST_ENTRY})*)?$`, default: '' }),
  // At most half WEBHOOK_IN_FLIGHT_MS: an attempt must end well before its entry is handed out again.
  WEBHOOK_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 30_000, default: 10_000 }),
  WEBHOOK_RETRY_BASE_MS: Type.Integer({ minimum: 10, maximum: 3_600_000, default: 1000 }),
  WEBHOOK_RETRY_WINDOW_SECONDS: Type.Integer({ minimum: 1, maximum: 604_800, default: 86_400 }),
  WEBHOOK_DISABLE_AFTER_SECONDS: Type.Integer({ minimum: 1, maximum: 2_592_000, default: 86_400 }),
  WEBHOOK_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 64, default: 4 }),
  WEBHOOK_LEASE_MS: Type.Integer({ minimum: 300, maximum: 600_000, default: 15_000 }),
  WEBHOOK_SECRET_GRACE_SECONDS: Type.Integer({ minimum: 0, maximum: 604_800, default: 86_400 }),
  OIDC_ISSUER: Type.Optional(Type.String({ pattern: '^https?://[^\\s?#]+$', maxLength: 512 })),
  OIDC_AUDIENCE: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  OIDC_ALGORITHMS: Type.Optional(Type.String({ pattern: `^(${ALGORITHM})(,(${ALGORITHM}))*$` })),
  // RATE_LIMIT_SEND, RATE_LIMIT_LOGIN_FAILURES_ACCOUNT...: `<count>/<window>` or `off`, read below.
  ...Object.fromEntries(
    RATE_LIMIT_NAMES.map((name) => [
      `RATE_LIMIT_${name}`,
      Type.String({ default: RATE_LIMITS[name].default }),
    ]),
  ),
});
type Env = Static<typeof Env>;

/** The name of every environment variable Parley reads (the deployment manifests' tests hold them to it). */
export const ENVIRONMENT_VARIABLES: readonly string[] = Object.keys(Env.properties);

/** Limits of the HTTP server; long-lived streams (SSE, WebSocket) are not requests in progress. */
export interface HttpLimits {
  /** The whole request, headers and body, must arrive within this (else 408 and close). */
  requestTimeoutMs: number;
  /** The headers must arrive within this; never more than requestTimeoutMs. */
  headersTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** Open connections (HTTP, SSE and WebSocket alike); beyond it new ones are dropped at once. */
  maxConnections: number;
  /**
   * Connections the kernel holds for the process before it accepts them (listen(2) backlog; the
   * kernel caps it at net.core.somaxconn). When thousands of clients reconnect at once, a full
   * queue drops their SYNs and each retries after 1, 3, 7, 15, 31 s: Node's default of 511 turned
   * a 10,000-client reconnect storm into half a minute of waiting on an idle node.
   */
  listenBacklog: number;
}

export interface Config {
  port: number;
  host: string;
  /** Base URL clients reach this server at; the issuer of built-in tokens when this node is the first of the deployment to start (see deploymentIssuer in parley.ts). */
  publicUrl: string;
  logLevel: Env['LOG_LEVEL'];
  redis: { url?: string; clusterNodes?: string[]; sentinels?: { host: string; port: number }[]; sentinelName: string } | null;
  keyPrefix: string;
  adminKey: string | null;
  selfRegistrationTenants: string[];
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  /** A just-spent refresh token presented again this soon gets a sibling instead of revoking its family (0: never). */
  refreshReuseGraceSeconds: number;
  maxGroupMembers: number;
  /** Conversations one user may be a member of; a realtime connection follows them all. */
  maxConversationsPerUser: number;
  idempotencyTtlSeconds: number;
  shutdownTimeoutMs: number;
  /**
   * Which X-Forwarded-For hops to believe (Fastify `trustProxy`): false none; true every hop (only
   * behind a proxy that overwrites the header); a list: hops whose address is one of these
   * addresses or CIDR ranges, so the client address is the first one, from the server outwards,
   * not added by a listed proxy (right behind a proxy that appends to the header).
   */
  trustProxy: boolean | string[];
  /** Browser origins allowed to call the API (CORS); empty: none. */
  corsOrigins: string[];
  /** The built web client served at `/` (see http/web-app.ts); null: none served. */
  webAppDir: string | null;
  http: HttpLimits;
  eventRetention: { maxEvents: number; maxAgeMs: number };
  realtime: {
    heartbeatMs: number;
    maxBufferedBytes: number;
    cursorWindowMs: number;
    compression: boolean;
    /** Open realtime connections of one user, across all nodes (the oldest on the node goes first). */
    maxConnectionsPerUser: number;
    /** Browser origins allowed to open realtime connections; null: no check. */
    origins: string[] | null;
    presenceIntervalMs: number;
    presenceTtlMs: number;
  };
  /** Each named limit (docs/security.md, *Rate limits*); null when set to `off`. */
  rateLimits: RateLimitSettings;
  /** Outbound requests (docs/security.md, *Outbound requests*; src/outbound). */
  outbound: {
    /** Host names or IPs exempt from the https-only and address rules. */
    allowedHosts: string[];
  };
  /** Webhook delivery (docs/webhooks.md, *Configuration*). */
  webhooks: WebhookDispatchSettings & { secretGraceMs: number };
  /** The default tenant's provider `oidc` (OIDC_ISSUER, OIDC_AUDIENCE, OIDC_ALGORITHMS); null when unset. */
  oidc: { issuer: string; audience: string; algorithms?: string[] } | null;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

const SECRET_VARIABLES = new Set(['PARLEY_ADMIN_KEY', 'REDIS_URL']);

/** The exit status of a command whose configuration is invalid (sysexits EX_CONFIG). */
export const EX_CONFIG = 78;

/**
 * loadConfig for a command's entry point: an invalid configuration is written to stderr (what is
 * wrong, secrets hidden) and answered with null, for the caller to exit with EX_CONFIG.
 */
export function loadConfigOrReport(environment: NodeJS.ProcessEnv = process.env): Config | null {
  try {
    return loadConfig(environment);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return null;
  }
}

/** Reads and validates the environment; throws ConfigError naming every bad variable (never its secret value). */
export function loadConfig(environment: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, unknown> = {};
  for (const name of Object.keys(Env.properties)) {
    const value = environment[name];
    if (value !== undefined && value !== '') raw[name] = value;
  }
  const env = Value.Convert(Env, Value.Default(Env, raw)) as Env;
  // Checked one variable at a time so that every bad variable is named, once.
  const problems = Object.entries(Env.properties).flatMap(([name, schema]) => {
    const value = (env as Record<string, unknown>)[name];
    if (value === undefined || Value.Check(schema, value)) return [];
    const first = [...Value.Errors(schema, value)][0];
    const shown = SECRET_VARIABLES.has(name) ? '(hidden)' : JSON.stringify(raw[name]);
    return [`${name}=${shown}: ${first?.message ?? 'invalid'}`];
  });
  const rateLimits = {} as RateLimitSettings;
  for (const name of RATE_LIMIT_NAMES) {
    const variable = `RATE_LIMIT_${name}`;
    const text = (env as Record<string, unknown>)[variable];
    if (typeof text !== 'string') continue;
    const parsed = parseRateLimitSetting(text);
    if (parsed !== null && 'error' in parsed) problems.push(`${variable}=${JSON.stringify(text)}: ${parsed.error}`);
    else rateLimits[name] = parsed;
  }
  if ((env.OIDC_ISSUER === undefined) !== (env.OIDC_AUDIENCE === undefined)) {
    problems.push('OIDC_ISSUER and OIDC_AUDIENCE: set both or neither');
  }
  if (env.OIDC_ALGORITHMS !== undefined && env.OIDC_ISSUER === undefined) problems.push('OIDC_ALGORITHMS: needs OIDC_ISSUER and OIDC_AUDIENCE');
  if (problems.length > 0) throw new ConfigError(problems);
  const hostPorts = (list: string) =>
    list.split(',').map((entry) => {
      const at = entry.lastIndexOf(':');
      return { host: entry.slice(0, at), port: Number(entry.slice(at + 1)) };
    });
  const redis =
    env.REDIS_CLUSTER_NODES !== undefined
      ? { clusterNodes: env.REDIS_CLUSTER_NODES.split(','), sentinelName: env.REDIS_SENTINEL_NAME }
      : env.REDIS_SENTINELS !== undefined
        ? { sentinels: hostPorts(env.REDIS_SENTINELS), sentinelName: env.REDIS_SENTINEL_NAME, ...(env.REDIS_URL ? { url: env.REDIS_URL } : {}) }
        : env.REDIS_URL !== undefined
          ? { url: env.REDIS_URL, sentinelName: env.REDIS_SENTINEL_NAME }
          : null;
  return {
    port: env.PORT,
    host: env.HOST,
    publicUrl: (env.PUBLIC_URL ?? `http://${env.HOST.includes(':') ? `[${env.HOST}]` : env.HOST}:${env.PORT}`).replace(/\/+$/, ''),
    logLevel: env.LOG_LEVEL,
    redis,
    keyPrefix: env.REDIS_KEY_PREFIX,
    adminKey: env.PARLEY_ADMIN_KEY ?? null,
    // `off` closes self-registration everywhere (an empty value means the default, like every variable).
    selfRegistrationTenants:
      env.SELF_REGISTRATION_TENANTS.trim() === 'off' ? [] : env.SELF_REGISTRATION_TENANTS.split(',').map((t) => t.trim()).filter(Boolean),
    accessTokenTtlSeconds: env.ACCESS_TOKEN_TTL_SECONDS,
    refreshTokenTtlSeconds: env.REFRESH_TOKEN_TTL_SECONDS,
    refreshReuseGraceSeconds: env.REFRESH_REUSE_GRACE_SECONDS,
    maxGroupMembers: env.MAX_GROUP_MEMBERS,
    maxConversationsPerUser: env.MAX_CONVERSATIONS_PER_USER,
    idempotencyTtlSeconds: env.IDEMPOTENCY_TTL_SECONDS,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    corsOrigins: env.CORS_ORIGINS.split(',').filter(Boolean).map(serializedOrigin),
    webAppDir: env.WEB_APP_DIR === 'off' ? null : (env.WEB_APP_DIR ?? DEFAULT_WEB_APP_DIR),
    http: {
      requestTimeoutMs: env.HTTP_REQUEST_TIMEOUT_MS,
      headersTimeoutMs: Math.min(env.HTTP_HEADERS_TIMEOUT_MS, env.HTTP_REQUEST_TIMEOUT_MS),
      keepAliveTimeoutMs: env.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      maxConnections: env.HTTP_MAX_CONNECTIONS,
      listenBacklog: env.HTTP_LISTEN_BACKLOG,
    },
    eventRetention: { maxEvents: env.EVENT_RETENTION_MAX_EVENTS, maxAgeMs: env.EVENT_RETENTION_SECONDS * 1000 },
    realtime: {
      heartbeatMs: env.REALTIME_HEARTBEAT_MS,
      maxBufferedBytes: env.REALTIME_MAX_BUFFERED_BYTES,
      cursorWindowMs: env.REALTIME_CURSOR_WINDOW_MS,
      compression: env.REALTIME_COMPRESSION,
      maxConnectionsPerUser: env.REALTIME_MAX_CONNECTIONS_PER_USER,
      origins: env.REALTIME_ORIGINS === undefined ? null : env.REALTIME_ORIGINS.split(',').map(serializedOrigin),
      presenceIntervalMs: env.PRESENCE_INTERVAL_MS,
      presenceTtlMs: env.PRESENCE_TTL_MS,
    },
    rateLimits,
    outbound: { allowedHosts: env.OUTBOUND_ALLOWED_HOSTS.split(',').filter(Boolean) },
    webhooks: {
      timeoutMs: env.WEBHOOK_TIMEOUT_MS,
      retryBaseMs: env.WEBHOOK_RETRY_BASE_MS,
      retryWindowMs: env.WEBHOOK_RETRY_WINDOW_SECONDS * 1000,
      disableAfterMs: env.WEBHOOK_DISABLE_AFTER_SECONDS * 1000,
      concurrency: env.WEBHOOK_CONCURRENCY,
      leaseMs: env.WEBHOOK_LEASE_MS,
      secretGraceMs: env.WEBHOOK_SECRET_GRACE_SECONDS * 1000,
    },
    oidc:
      env.OIDC_ISSUER !== undefined && env.OIDC_AUDIENCE !== undefined
        ? {
            issuer: env.OIDC_ISSUER,
            audience: env.OIDC_AUDIENCE,
            ...(env.OIDC_ALGORITHMS !== undefined ? { algorithms: [...new Set(env.OIDC_ALGORITHMS.split(','))] } : {}),
          }
        : null,
  };
}

/** TRUST_PROXY as Fastify takes it; the schema's pattern has checked the shape. */
function parseTrustProxy(value: string): boolean | string[] {
  if (value === 'false') return false;
  if (value === 'true') return true;
  return value.split(',');
}

/**
 * An origin as browsers send it in `Origin` (lower-case scheme and host, no default port, no
 * trailing slash), so an allow-list entry written `https://App.example.com:443/` still matches.
 */
function serializedOrigin(origin: string): string {
  try {
    return new URL(origin).origin;
  } catch {
    return origin;
  }
}
