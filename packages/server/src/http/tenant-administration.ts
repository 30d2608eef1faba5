/**
 * Who may administer a tenant (its API keys, identity providers): the operator, with the operator
 * key (`PARLEY_ADMIN_KEY`), or the tenant's own back end, with one of its API keys.
 *
 * `requireTenantAdministration` makes every route of a scope require one of the two, checked on
 * request before the body is read; anything else (a user token, another credential) is refused
 * like a missing credential by the authenticator, or 404 by the services when it is another
 * tenant's key (see mayAdministerTenant: another tenant is never revealed).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Authenticator } from '../auth/authenticator.js';
import type { TenantAdministrator } from '../domain/permissions.js';
import { ServiceError } from '../services/service-error.js';
import { quotasOf } from './rate-limit-headers.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `requireTenantAdministration` before any handler of its scope runs. */
    tenantAdministrator: TenantAdministrator | null;
  }
}

export interface TenantAdministrationDeps {
  authenticator: Authenticator;
  /** True when the Authorization header carries the operator key. */
  isAdmin: (authorization: string | undefined) => boolean;
}

export function requireTenantAdministration(scope: FastifyInstance, { authenticator, isAdmin }: TenantAdministrationDeps): void {
  scope.addHook('onRequest', async (request) => {
    if (isAdmin(request.headers.authorization)) {
      request.tenantAdministrator = { kind: 'operator' };
      return;
    }
    const principal = await authenticator.authenticate(request.headers.authorization, quotasOf(request));
    if (principal.kind !== 'tenant') throw new ServiceError('forbidden', 'The operator key or the tenant API key is required');
    request.tenantAdministrator = principal;
  });
}

export function tenantAdministratorOf(request: FastifyRequest): TenantAdministrator {
  if (!request.tenantAdministrator) throw new ServiceError('unauthorized');
  return request.tenantAdministrator;
}
