import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Authenticator } from '../auth/authenticator.js';
import type { Principal } from '../auth/principal.js';
import { ServiceError } from '../services/service-error.js';
import { quotasOf } from './rate-limit-headers.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `requireAuthentication` before any handler of a protected scope runs. */
    principal: Principal | null;
  }
}

/**
 * Makes every route of the scope it is called in require a credential. It runs on request,
 * before the body is read, so an anonymous caller learns nothing from body validation.
 */
export function requireAuthentication(scope: FastifyInstance, authenticator: Authenticator): void {
  scope.addHook('onRequest', async (request) => {
    request.principal = await authenticator.authenticate(request.headers.authorization, quotasOf(request));
  });
}

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new ServiceError('unauthorized');
  return request.principal;
}

/**
 * An `onRequest` hook for routes only the operator may call: refuses (401) anything but the
 * operator key, before the body is read, like every other credential check.
 */
export function requireOperatorKey(isAdmin: (authorization: string | undefined) => boolean) {
  return async (request: FastifyRequest): Promise<void> => {
    if (!isAdmin(request.headers.authorization)) throw new ServiceError('unauthorized', 'The operator key is required');
  };
}
