import { Type } from 'typebox';
import { Nullable, Timestamp } from './common.js';
import { TENANT_ID_PATTERN } from './identity.js';

/** The public id of a tenant API key: derived from the key, safe to show and log. */
export const ApiKeyId = Type.String({ pattern: '^[A-Za-z0-9_-]{16}$', description: 'Public id of an API key (never the secret)' });

/** An API key id in a path: any id-shaped value (an unknown one is 404, not 400, like other ids). */
const ApiKeyIdParam = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'Public id of an API key' });

const TenantIdParam = Type.String({ pattern: TENANT_ID_PATTERN, description: 'Tenant id' });

export const TenantApiKeysParams = Type.Object({ tenantId: TenantIdParam });

export const TenantApiKeyParams = Type.Object({ tenantId: TenantIdParam, id: ApiKeyIdParam });

/** POST takes no fields today; an empty object (or no body) keeps room for later optional ones. */
export const CreateApiKeyBody = Type.Object({}, { additionalProperties: false });

export const CreatedApiKey = Type.Object({
  id: ApiKeyId,
  apiKey: Type.String({ description: 'The key (sk_...): shown once, stored only as a hash' }),
  createdAt: Timestamp,
});

export const ApiKeySummary = Type.Object({
  id: ApiKeyId,
  createdAt: Timestamp,
  lastUsedAt: Nullable(
    Type.String({
      format: 'date-time',
      description: 'Last recorded use (recorded at most once a minute per key and server node, so up to a minute behind); null when never used',
    }),
  ),
});

export const ApiKeyList = Type.Object({
  items: Type.Array(ApiKeySummary, { maxItems: 10, description: 'Live keys, oldest first (a tenant holds at most 10)' }),
});
