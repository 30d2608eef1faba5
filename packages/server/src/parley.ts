import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { buildApp } from './app.js';
import { createAccessTokens } from './auth/access-tokens.js';
import { createAdminKeyCheck } from './auth/admin-key.js';
import { createAuthenticator } from './auth/authenticator.js';
import { createExternalTokens } from './auth/external-tokens.js';
import { createIssuerDiscovery } from './auth/oidc-discovery.js';
import { createPasswordHasher } from './auth/passwords.js';
import { createRefreshTokens } from './auth/refresh-tokens.js';
import { createSigningKeys, CURRENT_KEY_RECHECK_INTERVAL_MS } from './auth/signing-keys.js';
import type { Config } from './config.js';
import { createEngine } from './engine/create-engine.js';
import type { Engine, Revocation } from './engine/engine.js';
import type { TenantId } from './domain/types.js';
import { measureAuthentication } from './observability/authentication-metrics.js';
import { measureEngine } from './observability/engine-metrics.js';
import { createMetrics, recordRealtimeMetrics, recordStorageConnectionMetrics, recordWebhookMetrics } from './observability/metrics.js';
import {
  createOutboundFetch,
  createOutboundPolicy,
  defaultResolve,
  type OutboundFetch,
  type OutboundPolicy,
  type Resolve,
} from './outbound/index.js';
import { createAccountsService } from './services/accounts-service.js';
import { createApiKeysService } from './services/api-keys-service.js';
import { createConversationsService } from './services/conversations-service.js';
import { createIdentityProvidersService } from './services/identity-providers-service.js';
import { createIdentityService } from './services/identity-service.js';
import { systemClock, createIdGenerator, type Clock } from './services/ids.js';
import { createMessagesService } from './services/messages-service.js';
import { createModerationService } from './services/moderation-service.js';
import { createRateLimiter } from './services/rate-limiter.js';
import { createSigningKeysService } from './services/signing-keys-service.js';
import { createUsersService } from './services/users-service.js';
import { createRealtimeService } from './services/realtime-service.js';
import { WebhookDispatcher } from './services/webhook-dispatcher.js';
import { createWebhooksService } from './services/webhooks-service.js';
import { DEFAULT_GATEWAY_SETTINGS, RealtimeGateway, type RealtimeGatewayDeps } from './gateway/realtime-gateway.js';
import { attachWebSocket } from './gateway/websocket.js';
import { createWebhookPresenter } from './gateway/wire-events.js';
import { VERSION } from './version.js';

export const DEFAULT_TENANT = 'default' as TenantId;
/** The default tenant's identity provider configured by OIDC_ISSUER / OIDC_AUDIENCE. */
export const ENVIRONMENT_PROVIDER_ID = 'oidc';
/** Client frames are typing and ping: tiny. */
const MAX_CLIENT_FRAME_BYTES = 4096;

export interface ParleyOptions {
  logger?: FastifyServerOptions['logger'];
  /** Use this engine instead of creating one from the config (tests share one across servers). */
  engine?: Engine;
  clock?: Clock;
  /** 'test' lowers the password hashing cost; only tests pass it. */
  passwordCost?: 'production' | 'test';
  /** Name resolution for outbound requests (tests stub it to name hosts without DNS); node:dns by default. */
  outboundResolve?: Resolve;
  /** Least time between JWKS refetches of one identity provider for unknown `kid`s; default 30 s (tests shorten it). */
  jwksCooldownMs?: number;
}

/** A running (or ready to run) Parley node: the app, its engine and an orderly way to stop. */
export interface Parley {
  readonly app: FastifyInstance;
  readonly engine: Engine;
  /**
   * Outbound requests under the deployment's policy (`OUTBOUND_ALLOWED_HOSTS`): for OIDC discovery,
   * JWKS and webhooks.
   */
  readonly outbound: { readonly policy: OutboundPolicy; readonly fetch: OutboundFetch };
  /** Starts listening; resolves with the base URL. */
  listen(port?: number, host?: string): Promise<string>;
  /**
   * Graceful stop: readiness fails at once, no new connections are accepted, in-flight requests
   * finish, then storage connections close. Safe to call more than once.
   */
  shutdown(): Promise<void>;
}

/** config → engine → services → app: the one place where Parley's parts are wired together. */
export async function createParley(config: Config, options: ParleyOptions = {}): Promise<Parley> {
  const clock = options.clock ?? systemClock;
  const ids = createIdGenerator();
  // Connection errors are logged through the app's logger once it exists; ioredis reconnects by itself.
  let logConnectionError: (error: Error) => void = () => undefined;
  const metrics = createMetrics();
  // Every storage call below is timed (observability/engine-metrics.ts).
  const engine = measureEngine(
    options.engine ??
      createEngine({
        keyPrefix: config.keyPrefix,
        retention: config.eventRetention,
        ...redisOptions(config),
        onRedisError: (error) => logConnectionError(error),
      }),
    metrics,
  );
  recordStorageConnectionMetrics(metrics, engine);
  // Fail fast at start when storage is unreachable.
  await engine.ping();
  const signingKeys = createSigningKeys({ engine, clock });
  const accessTokens = createAccessTokens({
    signingKeys,
    issuer: await deploymentIssuer(engine, config.publicUrl),
    clock,
    lifetimeSeconds: config.accessTokenTtlSeconds,
  });
  const refreshTokens = createRefreshTokens({
    engine,
    clock,
    lifetimeMs: config.refreshTokenTtlSeconds * 1000,
    reuseGraceMs: config.refreshReuseGraceSeconds * 1000,
  });
  // Counted in the engine, so every node on the same storage shares the limits.
  const rateLimiter = createRateLimiter({ store: engine.rateLimits, settings: config.rateLimits, clock });
  const identity = createIdentityService({
    engine,
    passwords: createPasswordHasher({ cost: options.passwordCost ?? 'production' }),
    accessTokens,
    refreshTokens,
    signingKeys,
    publicUrl: config.publicUrl,
    clock,
    rateLimiter,
    ids,
    defaultTenant: DEFAULT_TENANT,
    selfRegistrationTenants: config.selfRegistrationTenants,
  });
  const outboundPolicy = createOutboundPolicy({ allowedHosts: config.outbound.allowedHosts });
  // DNS asked directly, getaddrinfo only for what DNS does not know, capped (see createResolve).
  const outboundResolve = options.outboundResolve ?? defaultResolve;
  const outbound = { policy: outboundPolicy, fetch: createOutboundFetch({ policy: outboundPolicy, resolve: outboundResolve }) };
  const discover = createIssuerDiscovery(outbound);
  // Warnings before the app (and its logger) exist have nowhere to go; none are expected then.
  let warn: (object: object, message: string) => void = () => undefined;
  const externalTokens = createExternalTokens({
    engine,
    fetch: outbound.fetch,
    discover,
    ids,
    clock,
    ...(options.jwksCooldownMs !== undefined ? { jwksCooldownMs: options.jwksCooldownMs } : {}),
    log: { warn: (object, message) => warn(object, message) },
  });
  const reloadIdentityProviders = () => {
    externalTokens.reload().catch((error: unknown) => warn({ err: error }, 'identity provider reload failed'));
  };
  // Refused credentials are counted by reason, on every surface that authenticates (REST, SSE, WebSocket).
  const authenticator = measureAuthentication(
    createAuthenticator({ engine, accessTokens, rateLimiter, clock, externalVerifiers: [externalTokens.verifier] }),
    metrics,
  );
  // What each node forgets when any node of the deployment revokes something (engine.revocations):
  // one handler per cache of verified credentials or keys, and what to do after a missed message.
  // A rotation (any node) makes every node re-read the signing keys, so the next token it signs
  // carries the new kid; after a missed message too, since the missed one may have been a rotation.
  let logSigningKeyFailure: (error: unknown) => void = () => undefined;
  const reloadSigningKeys = () => {
    signingKeys.reload().catch((error: unknown) => logSigningKeyFailure(error));
  };
  const revocationHandlers: ((revocation: Revocation) => void)[] = [
    (revocation) => authenticator.forget(revocation),
    (revocation) => {
      if (revocation.kind === 'signing-keys') reloadSigningKeys();
    },
    (revocation) => {
      if (revocation.kind !== 'identity-provider') return;
      externalTokens.forget(revocation.tenantId, revocation.providerId);
      reloadIdentityProviders();
    },
  ];
  const interruptionHandlers: (() => void)[] = [() => authenticator.forgetAll(), reloadSigningKeys, reloadIdentityProviders];
  const revokeHere = (revocation: Revocation) => {
    for (const handle of revocationHandlers) handle(revocation);
  };
  const revocationListener = await engine.revocations.listen(
    revokeHere,
    () => {
      for (const handle of interruptionHandlers) handle();
    },
  );
  const adminKeyMatches = createAdminKeyCheck(config.adminKey ?? undefined);
  let draining = false;
  const startedAt = Date.now();

  // Make sure every node shares one key and the default tenant.
  await identity.ensureDefaultTenant();
  await signingKeys.current();

  const identityProviders = createIdentityProvidersService({ engine, discover, clock, revokeHere });

  const realtime = createRealtimeService({
    engine,
    clock,
    // A connection follows every conversation of its user: the cap on conversations bounds it.
    maxConversationsPerConnection: config.maxConversationsPerUser,
  });
  let log: RealtimeGatewayDeps['log'] = { warn: () => undefined, error: () => undefined };
  const gateway = new RealtimeGateway({
    engine,
    realtime,
    clock,
    log: { warn: (object, message) => log.warn(object, message), error: (object, message) => log.error(object, message) },
    settings: {
      ...DEFAULT_GATEWAY_SETTINGS,
      cursorWindowMs: config.realtime.cursorWindowMs,
      maxBufferedBytes: config.realtime.maxBufferedBytes,
      retentionMs: config.eventRetention.maxAgeMs,
      presenceIntervalMs: config.realtime.presenceIntervalMs,
      presenceTtlMs: config.realtime.presenceTtlMs,
      maxConnectionsPerUser: config.realtime.maxConnectionsPerUser,
    },
    observer: metrics.realtime,
  });
  // A deleted account's connections close on every node, whichever node deleted it.
  revocationHandlers.push((revocation) => {
    if (revocation.kind === 'user') gateway.closeUser(revocation.tenantId, revocation.userId);
  });

  recordRealtimeMetrics(metrics, gateway.hub);
  let webhookLog: { warn(object: object, message: string): void } = { warn: () => undefined };
  const webhookDispatcher = new WebhookDispatcher({
    store: engine.webhooks,
    // Warm connections to each receiver (every new one still checked by the policy).
    fetch: createOutboundFetch({ policy: outboundPolicy, resolve: outboundResolve, keepAlive: true }),
    clock,
    settings: config.webhooks,
    version: VERSION,
    observer: metrics.webhooks,
    present: createWebhookPresenter((tenantId, conversationId) => realtime.firstMembers(tenantId, conversationId)),
    log: { warn: (object, message) => webhookLog.warn(object, message) },
  });
  recordWebhookMetrics(metrics, webhookDispatcher, engine.webhooks, clock);
  const app = await buildApp({
    gateway,
    engine,
    authenticator,
    rateLimiter,
    isAdmin: (authorization) => adminKeyMatches(authorization?.replace(/^Bearer\s+/i, '')),
    services: {
      identity,
      identityProviders,
      apiKeys: createApiKeysService({ engine, clock }),
      users: createUsersService({ engine, clock, rateLimiter }),
      accounts: createAccountsService({ engine, refreshTokens, clock }),
      conversations: createConversationsService({
        engine,
        clock,
        ids,
        maxGroupMembers: config.maxGroupMembers,
        maxConversationsPerUser: config.maxConversationsPerUser,
      }),
      messages: createMessagesService({
        engine,
        clock,
        rateLimiter,
        ids,
        idempotencyTtlMs: config.idempotencyTtlSeconds * 1000,
        onAccepted: () => metrics.messagesAccepted.inc(),
      }),
      moderation: createModerationService({ engine, clock }),
      signingKeys: createSigningKeysService({ engine, signingKeys, accessTokens, clock }),
      webhooks: createWebhooksService({
        store: engine.webhooks,
        policy: outbound.policy,
        clock,
        ids,
        resolve: outboundResolve,
        secretGraceMs: config.webhooks.secretGraceMs,
      }),
    },
    metrics,
    version: VERSION,
    publicUrl: config.publicUrl,
    startedAt,
    isDraining: () => draining,
    logger: options.logger ?? false,
    trustProxy: config.trustProxy,
    corsOrigins: config.corsOrigins,
    http: config.http,
    realtimeOrigins: config.realtime.origins,
    webAppDir: config.webAppDir,
  });

  logConnectionError = (error) => app.log.warn({ err: error }, 'Redis connection error');
  log = app.log;
  const websocket = attachWebSocket(app, gateway, {
    authenticator,
    rateLimiter,
    isDraining: () => draining,
    heartbeatIntervalMs: config.realtime.heartbeatMs,
    maxFrameBytes: MAX_CLIENT_FRAME_BYTES,
    compression: config.realtime.compression,
    allowedOrigins: config.realtime.origins,
  });
  warn = (object, message) => app.log.warn(object, message);
  if (config.oidc) {
    const outcome = await identityProviders.ensureConfigured(DEFAULT_TENANT, ENVIRONMENT_PROVIDER_ID, config.oidc);
    if (outcome === 'stored-undiscovered' || outcome === 'kept-stale') {
      app.log.warn(
        { issuer: config.oidc.issuer, outcome },
        outcome === 'kept-stale'
          ? 'OIDC_ISSUER is unreachable: keeping the stored provider until it can be updated'
          : 'OIDC_ISSUER is unreachable: its metadata will be fetched when its first token arrives',
      );
    }
  }
  await externalTokens.start();
  await gateway.start();
  webhookLog = app.log;
  await webhookDispatcher.start();
  // The safety net for a rotation announcement this node never heard: re-read the keys now and then.
  logSigningKeyFailure = (error) => app.log.warn({ err: error }, 'signing keys: re-read failed; the next recheck retries');
  const signingKeyRecheck = setInterval(reloadSigningKeys, CURRENT_KEY_RECHECK_INTERVAL_MS);
  signingKeyRecheck.unref();

  let stopping: Promise<void> | null = null;
  return {
    app,
    engine,
    outbound,
    async listen(port = config.port, host = config.host) {
      await app.listen({ port, host, backlog: config.http.listenBacklog });
      const address = app.server.address();
      if (address === null || typeof address === 'string') return String(address);
      return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    },
    shutdown() {
      stopping ??= (async () => {
        draining = true;
        externalTokens.close();
        clearInterval(signingKeyRecheck);
        try {
          // Realtime clients are told to reconnect elsewhere (1012) before HTTP stops accepting.
          await gateway.shutdown();
          // Attempts under way finish (each within WEBHOOK_TIMEOUT_MS) and leases are given up, so
          // another node takes this node's webhooks over at once.
          await webhookDispatcher.stop();
          await revocationListener.close();
          websocket.close();
          await app.close();
        } finally {
          await engine.close();
        }
      })();
      return stopping;
    },
  };
}

/**
 * The issuer (`iss` of built-in tokens, OpenID `issuer`) of the deployment: the one stored in the
 * engine by the first node that started, first writer wins. That node offers PUBLIC_URL when set,
 * else its own URL, so nodes started as the README says (one Redis, different PORTs, no
 * PUBLIC_URL) all sign and accept the same `iss`.
 *
 * The stored issuer always wins, also over a PUBLIC_URL set or changed later: the issuer is an
 * identifier, not an address (the OpenID endpoints are on PUBLIC_URL), and letting each node's
 * setting replace it would split a deployment during a rolling restart, or whenever two nodes
 * disagree, into nodes refusing each other's tokens. To adopt a new issuer deliberately, delete
 * the stored one (`<REDIS_KEY_PREFIX>{signing-keys}:issuer`) and restart every node: access tokens
 * of the old issuer are then refused and clients refresh (refresh tokens do not carry it).
 */
async function deploymentIssuer(engine: Engine, candidate: string): Promise<string> {
  return engine.signingKeys.ensureIssuer(candidate);
}

function redisOptions(config: Config) {
  const redis = config.redis;
  if (!redis) return {};
  return {
    ...(redis.url ? { redisUrl: redis.url } : {}),
    ...(redis.clusterNodes ? { redisClusterNodes: redis.clusterNodes } : {}),
    ...(redis.sentinels ? { redisSentinels: redis.sentinels, redisSentinelName: redis.sentinelName } : {}),
  };
}
