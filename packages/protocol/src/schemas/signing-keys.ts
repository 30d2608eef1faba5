import { Type } from 'typebox';
import { Timestamp } from './common.js';

/** What POST /v1/admin/signing-keys/rotate answers: the new key and those still published beside it. */
export const SigningKeyRotationResult = Type.Object({
  kid: Type.String({ description: 'Key id (JWK thumbprint) of the key that signs from now on' }),
  createdAt: Timestamp,
  previous: Type.Array(
    Type.Object({
      kid: Type.String(),
      retiresAt: Timestamp,
    }),
    {
      description:
        'Keys still published in the JWKS, the one just replaced first: tokens they signed verify until retiresAt, when the last of them has expired',
    },
  ),
});
