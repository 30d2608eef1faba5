import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Authenticator } from './auth/authenticator.js';
import type { Engine } from './engine/engine.js';
import { requireAuthentication } from './http/authentication.js';
import { answerClientError, answerFrameworkError, registerProblemHandlers, sendProblem } from './http/problems.js';
import { registerRateLimitHeaders } from './http/rate-limit-headers.js';
import { documentFrameworkRefusals, problems } from './http/route-schemas.js';
import type { RealtimeGateway } from './gateway/realtime-gateway.js';
import { sseRoutes } from './gateway/sse-routes.js';
import { createRequestIdGenerator, echoRequestId } from './http/request-id.js';
import { refuseForeignCharsets } from './http/media-type.js';
import { createValidatorCompiler, refuseMalformedText } from './http/validation.js';
import { registerCors } from './http/cors.js';
import { registerSecurityHeaders, swaggerUiCsp } from './http/security-headers.js';
import { isWebAppBuild, registerWebApp } from './http/web-app.js';
import type { HttpLimits } from './config.js';
import { adminRoutes } from './http/v1/admin-routes.js';
import { apiKeysRoutes } from './http/v1/api-keys-routes.js';
import { conversationsRoutes } from './http/v1/conversations-routes.js';
import { identityProvidersRoutes } from './http/v1/identity-providers-routes.js';
import { identityRoutes, wellKnownRoutes } from './http/v1/identity-routes.js';
import { messagesRoutes } from './http/v1/messages-routes.js';
import { moderationRoutes } from './http/v1/moderation-routes.js';
import { usersRoutes } from './http/v1/users-routes.js';
import { webhooksRoutes } from './http/v1/webhooks-routes.js';
import type { AccountsService } from './services/accounts-service.js';
import { healthRoutes } from './observability/health-routes.js';
import type { Metrics } from './observability/metrics.js';
import { recordHttpMetrics } from './observability/metrics.js';
import type { ApiKeysService } from './services/api-keys-service.js';
import type { ConversationsService } from './services/conversations-service.js';
import type { IdentityProvidersService } from './services/identity-providers-service.js';
import type { IdentityService } from './services/identity-service.js';
import type { MessagesService } from './services/messages-service.js';
import type { ModerationService } from './services/moderation-service.js';
import type { RateLimiter } from './services/rate-limiter.js';
import type { SigningKeysService } from './services/signing-keys-service.js';
import type { UsersService } from './services/users-service.js';
import type { WebhooksService } from './services/webhooks-service.js';

export const BODY_LIMIT_BYTES = 1024 * 1024;

export interface AppDeps {
  engine: Engine;
  authenticator: Authenticator;
  /** The named rate limits; SSE connects count against REALTIME_CONNECT. */
  rateLimiter: RateLimiter;
  isAdmin: (authorization: string | undefined) => boolean;
  services: {
    identity: IdentityService;
    identityProviders: IdentityProvidersService;
    apiKeys: ApiKeysService;
    users: UsersService;
    accounts: AccountsService;
    conversations: ConversationsService;
    messages: MessagesService;
    moderation: ModerationService;
    signingKeys: SigningKeysService;
    webhooks: WebhooksService;
  };
  metrics: Metrics;
  version: string;
  publicUrl: string;
  startedAt: number;
  isDraining: () => boolean;
  /** The node's realtime gateway: SSE at /v1/events (the WebSocket upgrade is attached by the caller). */
  gateway: RealtimeGateway;
  logger: FastifyServerOptions['logger'];
  /** Which X-Forwarded-For hops to believe (see Config.trustProxy). */
  trustProxy?: boolean | string[];
  /** Browser origins allowed to call the API (CORS); empty: no CORS headers at all. */
  corsOrigins: readonly string[];
  http: HttpLimits;
  /** Browser origins allowed on the realtime endpoints; null or absent: any. */
  realtimeOrigins?: readonly string[] | null;
  /** A built web client to serve at `/` (see http/web-app.ts); null or absent: none. */
  webAppDir?: string | null;
}

const DOCS_PREFIX = '/docs';
/** How often Node checks requests against their timeouts: a cut comes at most this (or a quarter of the headers timeout) late. */
const TIMEOUT_CHECK_INTERVAL_MS = 1000;

/**
 * Builds the HTTP application with explicit registration (no autoload), the same way for main.ts
 * and for tests. Nothing here opens a socket; `listen` is the caller's.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger ?? false,
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: deps.trustProxy ?? false,
    genReqId: createRequestIdGenerator(),
    requestIdHeader: false,
    // Ids may be 128 characters, percent-encoded ones three times that: schemas, not the router, refuse longer.
    routerOptions: { maxParamLength: 512 },
    // The reply it returns is thenable, but the answer is written synchronously: nothing to await.
    // eslint-disable-next-line @typescript-eslint/no-misused-promises
    frameworkErrors: answerFrameworkError,
    clientErrorHandler: answerClientError,
    // A request still arriving after these is cut off (408), however slowly it trickles in. An SSE
    // stream or a WebSocket is a request that has fully arrived, so these never end one.
    requestTimeout: deps.http.requestTimeoutMs,
    keepAliveTimeout: deps.http.keepAliveTimeoutMs,
    http: {
      requestTimeout: deps.http.requestTimeoutMs,
      headersTimeout: deps.http.headersTimeoutMs,
      connectionsCheckingInterval: Math.min(TIMEOUT_CHECK_INTERVAL_MS, Math.ceil(deps.http.headersTimeoutMs / 4)),
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  // Beyond this many open sockets Node drops new connections at once, before reading anything.
  app.server.maxConnections = deps.http.maxConnections;

  app.setValidatorCompiler(createValidatorCompiler());
  documentFrameworkRefusals(app);
  refuseMalformedText(app);
  refuseForeignCharsets(app);

  // JSON only: text/plain (Fastify's other default) would reach handlers as a string.
  app.removeContentTypeParser('text/plain');
  registerProblemHandlers(app);
  registerRateLimitHeaders(app);
  echoRequestId(app);
  await registerSecurityHeaders(app, { publicUrl: deps.publicUrl, docsPrefix: DOCS_PREFIX });
  await registerCors(app, deps.corsOrigins);
  // While draining, responses close their keep-alive connection so the server can finish closing.
  app.addHook('onSend', async (_request, reply) => {
    if (deps.isDraining()) reply.header('connection', 'close');
  });
  recordHttpMetrics(app, deps.metrics);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Parley API',
        version: '1.0.0',
        description: 'Instant messaging: users, conversations, messages. v1 changes only additively.',
      },
      servers: [{ url: deps.publicUrl }],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'A user access token (JWT) or a tenant API key (sk_...)' },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: DOCS_PREFIX, staticCSP: true, transformStaticCSP: swaggerUiCsp });

  await app.register(healthRoutes({ ...deps }));
  await app.register(wellKnownRoutes(deps.services.identity));
  await app.register(
    async (v1) => {
      v1.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
      await v1.register(identityRoutes({ identity: deps.services.identity, authenticator: deps.authenticator, isAdmin: deps.isAdmin }));
      await v1.register(
        identityProvidersRoutes({ identityProviders: deps.services.identityProviders, authenticator: deps.authenticator, isAdmin: deps.isAdmin }),
      );
      await v1.register(adminRoutes({ signingKeys: deps.services.signingKeys, isAdmin: deps.isAdmin }));
      await v1.register(apiKeysRoutes(deps.services.apiKeys, { authenticator: deps.authenticator, isAdmin: deps.isAdmin }));
      await v1.register(async (authenticated) => {
        requireAuthentication(authenticated, deps.authenticator);
        await authenticated.register(usersRoutes(deps.services.users, deps.services.accounts));
        await authenticated.register(conversationsRoutes(deps.services.conversations));
        await authenticated.register(messagesRoutes(deps.services.messages));
        await authenticated.register(moderationRoutes(deps.services.moderation));
        await authenticated.register(webhooksRoutes(deps.services.webhooks));
      });
      await v1.register(
        sseRoutes(deps.gateway, {
          authenticator: deps.authenticator,
          rateLimiter: deps.rateLimiter,
          keepAliveMs: 15_000,
          allowedOrigins: deps.realtimeOrigins ?? null,
        }),
      );
      v1.get(
        '/realtime',
        {
          schema: {
            tags: ['Realtime'],
            summary: 'WebSocket: upgrade this request (token in Authorization or access_token; resume with cursor)',
            security: [{ bearerAuth: [] }],
            response: problems(401, 426),
          },
        },
        async (request, reply) => sendProblem(request, reply, 'upgrade_required', { headers: { upgrade: 'websocket' } }),
      );
    },
    { prefix: '/v1' },
  );
  if (isWebAppBuild(deps.webAppDir ?? null)) await registerWebApp(app, deps.webAppDir!);
  return app;
}
