import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  IdentityProvider,
  IdentityProviderList,
  IdentityProviderParams,
  PutIdentityProviderBody,
  TenantIdentityProviderParams,
} from '@parley/protocol';
import type { Authenticator } from '../../auth/authenticator.js';
import type { IdentityProvidersService } from '../../services/identity-providers-service.js';
import { AUTHENTICATED, problems } from '../route-schemas.js';
import { requireTenantAdministration, tenantAdministratorOf } from '../tenant-administration.js';
import { presentIdentityProvider } from './present.js';

export interface IdentityProvidersRoutesDeps {
  identityProviders: IdentityProvidersService;
  authenticator: Authenticator;
  /** True when the Authorization header carries the operator key. */
  isAdmin: (authorization: string | undefined) => boolean;
}

/** A tenant's external OpenID Connect providers, managed by the operator key or the tenant's own key. */
export const identityProvidersRoutes =
  ({ identityProviders, authenticator, isAdmin }: IdentityProvidersRoutesDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    requireTenantAdministration(app, { authenticator, isAdmin });
    const tags = ['Identity providers'];
    const path = '/tenants/:tenantId/identity-providers/:providerId';

    app.put(
      path,
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: "Trust an OpenID Connect provider's access tokens for the tenant, created 201 or replaced 200 (operator key or the tenant's key)",
          params: IdentityProviderParams,
          body: PutIdentityProviderBody,
          response: { 200: IdentityProvider, 201: IdentityProvider, ...problems(400, 401, 403, 404, 409, 413, 415, 429) },
        },
      },
      async (request, reply) => {
        const { tenantId, providerId } = request.params;
        const { provider, created } = await identityProviders.put(tenantAdministratorOf(request), tenantId, providerId, request.body);
        return reply.code(created ? 201 : 200).send(presentIdentityProvider(provider));
      },
    );

    app.get(
      path,
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: "One identity provider of the tenant (operator key or the tenant's key)",
          params: IdentityProviderParams,
          response: { 200: IdentityProvider, ...problems(400, 401, 403, 404, 429) },
        },
      },
      async (request) => {
        const { tenantId, providerId } = request.params;
        return presentIdentityProvider(await identityProviders.get(tenantAdministratorOf(request), tenantId, providerId));
      },
    );

    app.delete(
      path,
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: "Stop trusting the provider: its tokens answer 401 from then on, on every node (operator key or the tenant's key)",
          params: IdentityProviderParams,
          response: { 204: Type.Null(), ...problems(400, 401, 403, 404, 429) },
        },
      },
      async (request, reply) => {
        const { tenantId, providerId } = request.params;
        await identityProviders.delete(tenantAdministratorOf(request), tenantId, providerId);
        return reply.code(204).send(null);
      },
    );

    app.get(
      '/tenants/:tenantId/identity-providers',
      {
        schema: {
          tags,
          ...AUTHENTICATED,
          summary: "Every identity provider of the tenant, at most 10 (operator key or the tenant's key)",
          params: TenantIdentityProviderParams,
          response: { 200: IdentityProviderList, ...problems(400, 401, 403, 404, 429) },
        },
      },
      async (request) => ({
        items: (await identityProviders.list(tenantAdministratorOf(request), request.params.tenantId)).map(presentIdentityProvider),
      }),
    );
  };
