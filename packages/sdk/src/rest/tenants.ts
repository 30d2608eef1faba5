/**
 * Tenant administration: API keys and identity providers of one tenant (the operator key, or the
 * tenant's own key), and the operator-only operations (creating tenants, rotating signing keys).
 */
import { expectData, expectSuccess, type ParleyApi } from '../http.js';
import type {
  ApiKeyList,
  CreatedApiKey,
  CreatedTenant,
  CreateTenantInput,
  IdentityProvider,
  IdentityProviderInput,
  IdentityProviderList,
  RotatedSigningKey,
} from './types.js';

/** A tenant's API keys. Several may be valid at once, so a key is rotated by creating the new one first. */
export interface ApiKeysApi {
  /** A new key for the tenant; its secret is shown only in this answer. */
  create(tenantId: string): Promise<CreatedApiKey>;
  /** The tenant's live keys, never their secrets. */
  list(tenantId: string): Promise<ApiKeyList>;
  /** Revokes a key: it answers 401 from then on, on every node. */
  revoke(tenantId: string, keyId: string): Promise<void>;
}

/** The OpenID Connect providers whose access tokens sign a tenant's users in. */
export interface IdentityProvidersApi {
  /** Trusts a provider (created, or replaced when `providerId` exists); its metadata must be reachable. */
  put(tenantId: string, providerId: string, input: IdentityProviderInput): Promise<IdentityProvider>;
  /** One provider of the tenant. */
  get(tenantId: string, providerId: string): Promise<IdentityProvider>;
  /** Every provider of the tenant. */
  list(tenantId: string): Promise<IdentityProviderList>;
  /** Stops trusting a provider: its tokens answer 401 from then on. */
  delete(tenantId: string, providerId: string): Promise<void>;
}

/** What only the operator key (`PARLEY_ADMIN_KEY`) may do. */
export interface OperatorApi {
  /** Creates a tenant and its first API key (shown only in this answer). */
  createTenant(input: CreateTenantInput): Promise<CreatedTenant>;
  /** Makes a new key sign built-in access tokens on every node; tokens of the old key stay valid until they expire. */
  rotateSigningKeys(): Promise<RotatedSigningKey>;
}

export function apiKeysApi(api: ParleyApi): ApiKeysApi {
  return {
    create: (tenantId) => expectData(api.POST('/v1/tenants/{tenantId}/api-keys', { params: { path: { tenantId } }, body: {} })),
    list: (tenantId) => expectData(api.GET('/v1/tenants/{tenantId}/api-keys', { params: { path: { tenantId } } })),
    revoke: (tenantId, id) => expectSuccess(api.DELETE('/v1/tenants/{tenantId}/api-keys/{id}', { params: { path: { tenantId, id } } })),
  };
}

export function identityProvidersApi(api: ParleyApi): IdentityProvidersApi {
  const provider = (tenantId: string, providerId: string) => ({ params: { path: { tenantId, providerId } } });
  return {
    put: (tenantId, providerId, input) =>
      expectData(api.PUT('/v1/tenants/{tenantId}/identity-providers/{providerId}', { ...provider(tenantId, providerId), body: input })),
    get: (tenantId, providerId) => expectData(api.GET('/v1/tenants/{tenantId}/identity-providers/{providerId}', provider(tenantId, providerId))),
    list: (tenantId) => expectData(api.GET('/v1/tenants/{tenantId}/identity-providers', { params: { path: { tenantId } } })),
    delete: (tenantId, providerId) =>
      expectSuccess(api.DELETE('/v1/tenants/{tenantId}/identity-providers/{providerId}', provider(tenantId, providerId))),
  };
}

export function operatorApi(api: ParleyApi): OperatorApi {
  return {
    createTenant: (input) => expectData(api.POST('/v1/tenants', { body: input })),
    rotateSigningKeys: () => expectData(api.POST('/v1/admin/signing-keys/rotate')),
  };
}
