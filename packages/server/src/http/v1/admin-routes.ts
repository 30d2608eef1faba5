import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { SigningKeyRotationResult } from '@parley/protocol';
import { MAX_PUBLISHED_SIGNING_KEYS, type SigningKeysService } from '../../services/signing-keys-service.js';
import { requireOperatorKey } from '../authentication.js';
import { AUTHENTICATED, problems } from '../route-schemas.js';
import { presentSigningKeyRotation } from './present.js';

export interface AdminRoutesDeps {
  signingKeys: SigningKeysService;
  /** True when the Authorization header carries the operator key. */
  isAdmin: (authorization: string | undefined) => boolean;
}

/** Operations on the deployment itself, by the operator key only (no tenant key, no user). */
export const adminRoutes =
  ({ signingKeys, isAdmin }: AdminRoutesDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.post(
      '/admin/signing-keys/rotate',
      {
        schema: {
          tags: ['Operations'],
          ...AUTHENTICATED,
          summary: 'Make a new key sign built-in access tokens on every node (operator key)',
          description:
            'The replaced key stays in the JWKS, and its tokens stay valid, until the last of them has expired (retiresAt). ' +
            `At most ${MAX_PUBLISHED_SIGNING_KEYS} keys are published at once: beyond that, 429 until the oldest retires. No request body.`,
          response: { 201: SigningKeyRotationResult, ...problems(401, 429) },
        },
        onRequest: requireOperatorKey(isAdmin),
      },
      async (_request, reply) => reply.code(201).send(presentSigningKeyRotation(await signingKeys.rotate())),
    );
  };
