/**
 * The external OpenID Connect providers a tenant trusts: managed by the operator or by the tenant's
 * own key, and one provider (`oidc` of the default tenant) configured from the environment.
 *
 * Guarantees:
 *   - A caller who may not administer the tenant, or a tenant that does not exist, gets 404
 *     tenant_not_found: nobody learns about another tenant.
 *   - PUT stores nothing unless the issuer's discovery document was fetched and names exactly that
 *     issuer (400 identity_provider_unreachable; 400 url_not_allowed when the outbound policy
 *     refuses the issuer or its jwks_uri).
 *   - Every change is announced on the revocation bus after it is stored, so every node reloads its
 *     registry and forgets the principals it verified with the old provider.
 */
import { DEFAULT_IDENTITY_PROVIDER_ALGORITHMS } from '@parley/protocol';
import type { DiscoverIssuer } from '../auth/oidc-discovery.js';
import { mayAdministerTenant, type TenantAdministrator } from '../domain/permissions.js';
import type { ExternalTokenAlgorithm, IdentityProvider, TenantId } from '../domain/types.js';
import { EXTERNAL_TOKEN_ALGORITHMS } from '../domain/types.js';
import type { Engine, Revocation } from '../engine/engine.js';
import type { Clock } from './ids.js';
import { ServiceError } from './service-error.js';

export const IDENTITY_PROVIDER_ID = /^[a-z0-9_-]{1,64}$/;
const MAX_URL_LENGTH = 512;
const MAX_CLAIM_NAME_LENGTH = 64;

export interface IdentityProviderInput {
  issuer: string;
  audience: string;
  algorithms?: string[];
  claims?: { displayName?: string; username?: string };
}

export interface IdentityProvidersService {
  /** Creates (`created`) or replaces the provider; see the module guarantees. */
  put(admin: TenantAdministrator, tenantId: string, providerId: string, input: IdentityProviderInput): Promise<{ provider: IdentityProvider; created: boolean }>;
  /** 404 identity_provider_not_found when absent. */
  get(admin: TenantAdministrator, tenantId: string, providerId: string): Promise<IdentityProvider>;
  list(admin: TenantAdministrator, tenantId: string): Promise<IdentityProvider[]>;
  /** 404 identity_provider_not_found when absent. */
  delete(admin: TenantAdministrator, tenantId: string, providerId: string): Promise<void>;
  /**
   * The environment's provider (`OIDC_ISSUER`...) as provider `providerId` of `tenantId`: stored when
   * absent or different. An unreachable issuer does not fail the start: a provider not stored yet
   * is stored without its jwks_uri (discovered when a token arrives), a stored one is kept.
   */
  ensureConfigured(
    tenantId: TenantId,
    providerId: string,
    input: IdentityProviderInput,
  ): Promise<'unchanged' | 'stored' | 'stored-undiscovered' | 'kept-stale'>;
}

export interface IdentityProvidersServiceDeps {
  engine: Pick<Engine, 'identityProviders' | 'tenants' | 'revocations'>;
  discover: DiscoverIssuer;
  clock: Clock;
  /**
   * Applies a revocation on this node at once. The bus delivers asynchronously, also to the node
   * that published; without this a request right after the answer could still be served by a
   * registry or cache from before the change.
   */
  revokeHere?: (revocation: Revocation) => void;
}

export function createIdentityProvidersService(deps: IdentityProvidersServiceDeps): IdentityProvidersService {
  const { engine, discover, clock } = deps;

  async function requireTenant(admin: TenantAdministrator, tenantId: string): Promise<TenantId> {
    const id = tenantId as TenantId;
    if (!mayAdministerTenant(admin, id) || (await engine.tenants.get(id)) === null) throw new ServiceError('tenant_not_found');
    return id;
  }

  async function announce(tenantId: TenantId, providerId: string): Promise<void> {
    const revocation: Revocation = { kind: 'identity-provider', tenantId, providerId };
    await engine.revocations.publish(revocation);
    deps.revokeHere?.(revocation);
  }

  async function store(provider: IdentityProvider): Promise<{ provider: IdentityProvider; created: boolean }> {
    const result = await engine.identityProviders.put(provider);
    if (result.status === 'conflict') throw new ServiceError('identity_provider_conflict');
    if (result.status === 'too_many') throw new ServiceError('too_many_identity_providers');
    await announce(provider.tenantId, provider.id);
    return { provider: result.provider, created: result.status === 'created' };
  }

  return {
    async put(admin, tenantId, providerId, input) {
      const tenant = await requireTenant(admin, tenantId);
      const settings = validate(providerId, input);
      const { jwksUri } = await discover(settings.issuer);
      const now = clock();
      return store({ tenantId: tenant, id: providerId, ...settings, jwksUri, createdAt: now, updatedAt: now });
    },

    async get(admin, tenantId, providerId) {
      const tenant = await requireTenant(admin, tenantId);
      const provider = IDENTITY_PROVIDER_ID.test(providerId) ? await engine.identityProviders.get(tenant, providerId) : null;
      if (!provider) throw new ServiceError('identity_provider_not_found');
      return provider;
    },

    async list(admin, tenantId) {
      return engine.identityProviders.list(await requireTenant(admin, tenantId));
    },

    async delete(admin, tenantId, providerId) {
      const tenant = await requireTenant(admin, tenantId);
      if (!IDENTITY_PROVIDER_ID.test(providerId) || !(await engine.identityProviders.delete(tenant, providerId))) {
        throw new ServiceError('identity_provider_not_found');
      }
      await announce(tenant, providerId);
    },

    async ensureConfigured(tenantId, providerId, input) {
      const settings = validate(providerId, input);
      const stored = await engine.identityProviders.get(tenantId, providerId);
      const same =
        stored !== null &&
        stored.jwksUri !== '' &&
        JSON.stringify([stored.issuer, stored.audience, stored.algorithms, stored.claims]) ===
          JSON.stringify([settings.issuer, settings.audience, settings.algorithms, settings.claims]);
      if (same) return 'unchanged';
      const now = clock();
      let jwksUri: string;
      try {
        ({ jwksUri } = await discover(settings.issuer));
      } catch (error) {
        if (!(error instanceof ServiceError) || error.code === 'url_not_allowed') throw error;
        if (stored !== null) return 'kept-stale';
        jwksUri = '';
      }
      await store({ tenantId, id: providerId, ...settings, jwksUri, createdAt: now, updatedAt: now });
      return jwksUri === '' ? 'stored-undiscovered' : 'stored';
    },
  };
}

/** What the schema cannot say: the issuer's URL shape, and defaults. */
function validate(providerId: string, input: IdentityProviderInput): Pick<IdentityProvider, 'issuer' | 'audience' | 'algorithms' | 'claims'> {
  if (!IDENTITY_PROVIDER_ID.test(providerId)) throw invalid('providerId must be 1..64 characters of a-z, 0-9, _ and -');
  const { issuer, audience } = input;
  if (typeof issuer !== 'string' || issuer.length === 0 || issuer.length > MAX_URL_LENGTH) throw invalid(`issuer must be a URL of at most ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw invalid('issuer must be an absolute URL');
  }
  // OpenID Connect issuers are https URLs without query or fragment (http passes only for hosts
  // OUTBOUND_ALLOWED_HOSTS names: the outbound policy decides at discovery).
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw invalid('issuer must be an https URL without query, fragment or credentials');
  }
  if (typeof audience !== 'string' || audience.length === 0 || audience.length > MAX_URL_LENGTH) throw invalid(`audience must be 1..${MAX_URL_LENGTH} characters`);
  const algorithms = input.algorithms ?? [...DEFAULT_IDENTITY_PROVIDER_ALGORITHMS];
  const allowed: ReadonlySet<string> = new Set(EXTERNAL_TOKEN_ALGORITHMS);
  if (algorithms.length === 0 || algorithms.some((alg) => !allowed.has(alg)) || new Set(algorithms).size !== algorithms.length) {
    throw invalid(`algorithms must be distinct values of ${EXTERNAL_TOKEN_ALGORITHMS.join(', ')} (never none or HS*)`);
  }
  const claims: IdentityProvider['claims'] = {};
  for (const name of ['displayName', 'username'] as const) {
    const value = input.claims?.[name];
    if (value === undefined) continue;
    if (typeof value !== 'string' || !/^[\x21-\x7e]+$/.test(value) || value.length > MAX_CLAIM_NAME_LENGTH) {
      throw invalid(`claims.${name} must be a claim name of 1..${MAX_CLAIM_NAME_LENGTH} printable ASCII characters`);
    }
    claims[name] = value;
  }
  return { issuer, audience, algorithms: algorithms as ExternalTokenAlgorithm[], claims };
}

function invalid(detail: string): ServiceError {
  return new ServiceError('validation_failed', detail);
}
