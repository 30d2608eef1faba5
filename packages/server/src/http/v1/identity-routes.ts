import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  AuthResult,
  ChangePasswordBody,
  CreateTenantBody,
  CreateTenantResult,
  LoginBody,
  MintTokenBody,
  MintTokenResult,
  RefreshBody,
  RegisterBody,
  UpsertUserBody,
  User,
  UserIdParam,
} from '@parley/protocol';
import type { Authenticator } from '../../auth/authenticator.js';
import type { AuthSession, IdentityService } from '../../services/identity-service.js';
import { principalOf, requireAuthentication, requireOperatorKey } from '../authentication.js';
import { quotasOf } from '../rate-limit-headers.js';
import { AUTHENTICATED, problems } from '../route-schemas.js';
import { presentTenant, presentUser } from './present.js';

export interface IdentityRoutesDeps {
  identity: IdentityService;
  authenticator: Authenticator;
  /** True when the Authorization header carries the operator key. */
  isAdmin: (authorization: string | undefined) => boolean;
}

const presentSession = (session: AuthSession) => ({ ...session, user: presentUser(session.user) });

/** The built-in provider (public), tenant creation (operator key) and tenant back-end calls (API key). */
export const identityRoutes =
  ({ identity, authenticator, isAdmin }: IdentityRoutesDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const auth = ['Authentication'];

    app.post(
      '/auth/register',
      {
        schema: {
          tags: auth,
          summary: 'Create a user with a password and sign in',
          body: RegisterBody,
          response: { 201: AuthResult, ...problems(400, 403, 404, 409, 413, 415, 429) },
        },
      },
      async (request, reply) =>
        reply.code(201).send(presentSession(await identity.register(request.body, { ip: request.ip, onQuota: quotasOf(request) }))),
    );

    app.post(
      '/auth/login',
      {
        schema: {
          tags: auth,
          summary: 'Sign in with username and password',
          body: LoginBody,
          response: { 200: AuthResult, ...problems(400, 401, 413, 415, 429) },
        },
      },
      async (request) => presentSession(await identity.login(request.body, { ip: request.ip, onQuota: quotasOf(request) })),
    );

    app.post(
      '/auth/refresh',
      {
        schema: {
          tags: auth,
          summary: 'Spend a refresh token for a new token pair (reusing a spent one revokes its family)',
          body: RefreshBody,
          response: { 200: AuthResult, ...problems(400, 401, 413, 415) },
        },
      },
      async (request) => presentSession(await identity.refresh(request.body.refreshToken)),
    );

    app.post(
      '/auth/logout',
      {
        schema: {
          tags: auth,
          summary: "Revoke the refresh token's family",
          body: RefreshBody,
          response: { 204: Type.Null(), ...problems(400, 401, 413, 415) },
        },
      },
      async (request, reply) => {
        await identity.logout(request.body.refreshToken);
        return reply.code(204).send(null);
      },
    );

    app.post(
      '/tenants',
      {
        schema: {
          tags: ['Tenants'],
          ...AUTHENTICATED,
          summary: 'Create a tenant and its API key (operator key); the key is shown once',
          body: CreateTenantBody,
          response: { 201: CreateTenantResult, ...problems(400, 401, 409, 413, 415) },
        },
        onRequest: requireOperatorKey(isAdmin),
      },
      async (request, reply) => {
        const { tenant, apiKey } = await identity.createTenant(request.body);
        return reply.code(201).send({ tenant: presentTenant(tenant), apiKey });
      },
    );

    await app.register(async (scope) => {
      requireAuthentication(scope, authenticator);
      const tenantScope = scope.withTypeProvider<TypeBoxTypeProvider>();
      const tags = ['Tenant back ends'];
      const UserParams = Type.Object({ userId: UserIdParam });

      tenantScope.post(
        '/auth/password',
        {
          schema: {
            tags: auth,
            ...AUTHENTICATED,
            summary: "Change the caller's password: every other session is signed out, the answer is a new one",
            body: ChangePasswordBody,
            response: { 200: AuthResult, ...problems(400, 401, 403, 413, 415, 429) },
          },
        },
        async (request) =>
          presentSession(
            await identity.changePassword(principalOf(request), request.body, { ip: request.ip, onQuota: quotasOf(request) }),
          ),
      );

      tenantScope.put(
        '/users/:userId',
        {
          schema: {
            tags,
            ...AUTHENTICATED,
            summary: 'Create or update a user of the calling tenant (tenant API key)',
            params: UserParams,
            body: UpsertUserBody,
            response: { 200: User, 201: User, ...problems(400, 401, 403, 409, 413, 415) },
          },
        },
        async (request, reply) => {
          const { user, created } = await identity.upsertUser(principalOf(request), request.params.userId, request.body);
          return reply.code(created ? 201 : 200).send(presentUser(user));
        },
      );

      tenantScope.post(
        '/users/:userId/tokens',
        {
          schema: {
            tags,
            ...AUTHENTICATED,
            summary: 'Mint an access token for a user of the calling tenant (tenant API key)',
            params: UserParams,
            body: Type.Optional(MintTokenBody),
            response: { 201: MintTokenResult, ...problems(400, 401, 403, 404, 413, 415) },
          },
          // The body is optional, but Fastify validates a missing body as `null` against the
          // object schema (400 "body must be object"): a request without one means `{}`.
          preValidation: async (request) => {
            // Only a missing body: a JSON `null` is a body, and the schema refuses it (400).
            if (request.body === undefined) request.body = {};
          },
        },
        async (request, reply) => {
          const minted = await identity.mintToken(principalOf(request), request.params.userId, request.body?.expiresIn);
          return reply.code(201).send(minted);
        },
      );
    });
  };

/** The provider's discovery documents, at the server root as OpenID Connect expects them. */
export const wellKnownRoutes =
  (identity: IdentityService): FastifyPluginAsyncTypebox =>
  async (app) => {
    const tags = ['Authentication'];
    // Open objects: every member a JWK or the discovery document carries is written out as given.
    const Jwks = Type.Object({ keys: Type.Array(Type.Object({ kid: Type.String() }, { additionalProperties: true })) }, { additionalProperties: true });
    const Discovery = Type.Object({ issuer: Type.String(), jwks_uri: Type.String() }, { additionalProperties: true });
    const jwksSchema = { tags, summary: 'Public keys of built-in access tokens', response: { 200: Jwks } };
    app.get('/.well-known/jwks.json', { schema: jwksSchema }, async (_request, reply) =>
      reply.header('cache-control', 'public, max-age=300').send(await identity.jwks()),
    );
    app.get('/.well-known/openid-configuration', { schema: { tags, summary: 'Issuer metadata', response: { 200: Discovery } } }, async (_request, reply) =>
      reply.header('cache-control', 'public, max-age=300').send(identity.openidConfiguration()),
    );
  };
