import { Type } from 'typebox';
import { Timestamp } from './common.js';
import { TENANT_ID_PATTERN } from './identity.js';

export const IDENTITY_PROVIDER_ID_PATTERN = '^[a-z0-9_-]{1,64}$';
/** Asymmetric JWS algorithms only: `none` and every HS* (a shared secret Parley does not have) are refused. */
export const IDENTITY_PROVIDER_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA'] as const;
export const DEFAULT_IDENTITY_PROVIDER_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const;

const Algorithm = Type.Union(IDENTITY_PROVIDER_ALGORITHMS.map((alg) => Type.Literal(alg)));
const ClaimName = Type.String({ minLength: 1, maxLength: 64, pattern: '^[\\x21-\\x7e]+$' });

export const TenantIdentityProviderParams = Type.Object({
  tenantId: Type.String({ pattern: TENANT_ID_PATTERN, description: 'Tenant id' }),
});

export const IdentityProviderParams = Type.Object({
  tenantId: Type.String({ pattern: TENANT_ID_PATTERN, description: 'Tenant id' }),
  providerId: Type.String({ pattern: IDENTITY_PROVIDER_ID_PATTERN, description: '1..64 of [a-z0-9_-]' }),
});

export const IdentityProviderClaims = Type.Object(
  {
    displayName: Type.Optional(ClaimName),
    username: Type.Optional(ClaimName),
  },
  {
    additionalProperties: false,
    description:
      'Claims naming the user: displayName (tried before `name`, then `preferred_username`), and username (taken when valid and free)',
  },
);

export const PutIdentityProviderBody = Type.Object(
  {
    issuer: Type.String({
      minLength: 1,
      maxLength: 512,
      description: "The provider's issuer identifier; `{issuer}/.well-known/openid-configuration` must name exactly it",
    }),
    audience: Type.String({ minLength: 1, maxLength: 512, description: 'The audience (`aud`) its access tokens carry for Parley' }),
    algorithms: Type.Optional(
      Type.Array(Algorithm, {
        minItems: 1,
        maxItems: IDENTITY_PROVIDER_ALGORITHMS.length,
        uniqueItems: true,
        description: `Allowed signing algorithms; default ${DEFAULT_IDENTITY_PROVIDER_ALGORITHMS.join(', ')}`,
      }),
    ),
    claims: Type.Optional(IdentityProviderClaims),
  },
  { additionalProperties: false },
);

export const IdentityProvider = Type.Object({
  id: Type.String(),
  issuer: Type.String(),
  audience: Type.String(),
  algorithms: Type.Array(Type.String()),
  claims: IdentityProviderClaims,
  jwksUri: Type.String({ description: "The provider's key set, from its discovery document" }),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

export const IdentityProviderList = Type.Object({ items: Type.Array(IdentityProvider) });
