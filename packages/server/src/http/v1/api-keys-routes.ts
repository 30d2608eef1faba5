import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ApiKeyList, CreateApiKeyBody, CreatedApiKey, TenantApiKeyParams, TenantApiKeysParams } from '@parley/protocol';
import type { TenantId } from '../../domain/types.js';
import type { ApiKeysService } from '../../services/api-keys-service.js';
import { AUTHENTICATED, problems } from '../route-schemas.js';
import { requireTenantAdministration, tenantAdministratorOf, type TenantAdministrationDeps } from '../tenant-administration.js';
import { presentApiKey, presentCreatedApiKey } from './present.js';

/** Key rotation: a tenant's API keys, administered by the operator key or the tenant's own key. */
export const apiKeysRoutes =
  (apiKeys: ApiKeysService, administration: TenantAdministrationDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    await app.register(async (scope) => {
      requireTenantAdministration(scope, administration);
      const keys = scope.withTypeProvider<TypeBoxTypeProvider>();
      const tags = ['Tenants'];

      keys.post(
        '/tenants/:tenantId/api-keys',
        {
          schema: {
            tags,
            ...AUTHENTICATED,
            summary: "Create an API key for the tenant (operator key or the tenant's key); the key is shown once",
            params: TenantApiKeysParams,
            body: Type.Optional(CreateApiKeyBody),
            response: { 201: CreatedApiKey, ...problems(400, 401, 403, 404, 409, 413, 415, 429) },
          },
          // The body is optional: Fastify validates a missing one as `null` (see mint token).
          preValidation: async (request) => {
            // Only a missing body: a JSON `null` is a body, and the schema refuses it (400).
            if (request.body === undefined) request.body = {};
          },
        },
        async (request, reply) => {
          const created = await apiKeys.create(tenantAdministratorOf(request), request.params.tenantId as TenantId);
          return reply.code(201).send(presentCreatedApiKey(created));
        },
      );

      keys.get(
        '/tenants/:tenantId/api-keys',
        {
          schema: {
            tags,
            ...AUTHENTICATED,
            summary: "List the tenant's live API keys, never their secrets (operator key or the tenant's key)",
            params: TenantApiKeysParams,
            response: { 200: ApiKeyList, ...problems(400, 401, 403, 404, 429) },
          },
        },
        async (request) => ({
          items: (await apiKeys.list(tenantAdministratorOf(request), request.params.tenantId as TenantId)).map(presentApiKey),
        }),
      );

      keys.delete(
        '/tenants/:tenantId/api-keys/:id',
        {
          schema: {
            tags,
            ...AUTHENTICATED,
            summary: "Revoke an API key: it answers 401 from then on, on every node (operator key or the tenant's key)",
            params: TenantApiKeyParams,
            response: { 204: Type.Null(), ...problems(400, 401, 403, 404, 429) },
          },
        },
        async (request, reply) => {
          await apiKeys.revoke(tenantAdministratorOf(request), request.params.tenantId as TenantId, request.params.id);
          return reply.code(204).send(null);
        },
      );
    });
  };
