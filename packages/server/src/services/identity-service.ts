/**
 * The use cases of identity: the built-in provider (register, login, refresh, logout), tenants
 * and their back ends (create tenant, upsert user, mint token), and the provider's metadata.
 *
 * Guarantees:
 *   - Every input is validated here too (not only by HTTP schemas, since other callers exist);
 *     a bad input is ServiceError('validation_failed') naming the field, and nothing is stored.
 *   - Login answers the same `invalid_credentials` after the same work whether the user is
 *     unknown, the tenant is unknown, or the password is wrong.
 *   - Secrets (passwords, tokens, keys) never appear in an error detail.
 *   - Registration answers the same 403 `forbidden` after the same work whether the tenant is
 *     closed to self-registration or does not exist.
 *   - Rate limits (rate-limiter.ts): failed logins count per tenant+username and per client IP;
 *     while either limit is exceeded every login of that account or from that IP answers 429,
 *     the right password too. Every attempt counts one failure of each before any hashing
 *     (alongside the credential lookup), and gets it back unless its password was checked and
 *     wrong: so however many attempts are in flight, at most the limit are ever checked.
 *     Registrations count per client IP. Hashing waits in a line fair between client IPs.
 *   - Password change counts like a login (LOGIN_FAILURES_ACCOUNT by username, LOGIN_FAILURES_IP),
 *     so a stolen access token cannot be used to guess the password faster than logins could;
 *     a wrong current password is 403 `invalid_password` (the token itself is fine). It ends every
 *     other session (refresh families) and answers a new one, hashed with the current parameters.
 *   - Self-registration is open only in the tenants listed in `selfRegistrationTenants` (by
 *     default just `defaultTenant`). Tenants created through POST /v1/tenants are meant for B2B
 *     back ends that upsert their own users, so they are closed unless the operator lists them.
 */
import { TENANT_ID_PATTERN, USERNAME_PATTERN } from '@parley/protocol';
import type { AccessTokens } from '../auth/access-tokens.js';
import { MAX_MINTED_LIFETIME_SECONDS, MIN_MINTED_LIFETIME_SECONDS } from '../auth/access-tokens.js';
import { generateApiKey } from '../auth/api-keys.js';
import type { PasswordHasher } from '../auth/passwords.js';
import type { Principal } from '../auth/principal.js';
import type { RefreshTokens } from '../auth/refresh-tokens.js';
import { SIGNING_ALG, type PublicJwk, type SigningKeys } from '../auth/signing-keys.js';
import type { Engine } from '../engine/engine.js';
import { findMalformedString, isWellFormed, labelViolation } from '../domain/rules.js';
import type { Tenant, TenantId, User, UserId } from '../domain/types.js';
import { clientSubject } from './client-address.js';
import { requireUser } from './conversation-access.js';
import type { Clock } from './ids.js';
import { bothInOrder, type QuotaListener, type RateLimiter, type RateLimitName, type RateLimitSubject } from './rate-limiter.js';
import { refuseViolation, ServiceError } from './service-error.js';

export interface IdentityServiceDeps {
  engine: Pick<Engine, 'tenants' | 'users'>;
  passwords: PasswordHasher;
  accessTokens: AccessTokens;
  refreshTokens: RefreshTokens;
  signingKeys: SigningKeys;
  /**
   * Where this node is reached (PUBLIC_URL or its own URL): the base of the endpoints listed in
   * the OpenID configuration. Default: the issuer. The issuer itself is the deployment's stored
   * one (accessTokens.issuer), which may name the node that started first.
   */
  publicUrl?: string;
  clock: Clock;
  rateLimiter: RateLimiter;
  ids: { user(): UserId };
  /** The tenant of requests that name none; created on first registration if absent. */
  defaultTenant: TenantId;
  /** Tenants open to self-registration. Default: just `defaultTenant`. */
  selfRegistrationTenants?: readonly string[];
}

/** What register, login and refresh answer. */
export interface AuthSession {
  user: User;
  accessToken: string;
  refreshToken: string;
  /** Seconds until the access token expires. */
  expiresIn: number;
}

export interface RegisterInput {
  username: string;
  password: string;
  displayName?: string;
  tenant?: string;
}

export interface ChangePasswordInput {
  currentPassword: string;
  newPassword: string;
}

export interface LoginInput {
  username: string;
  password: string;
  tenant?: string;
}

/** Who is asking, as far as the transport knows; per-IP limits apply only when `ip` is known. */
export interface ClientContext {
  ip?: string;
  /** Receives every rate limit decision taken for the call (to advertise quotas in responses). */
  onQuota?: QuotaListener;
}

export interface UpsertUserInput {
  displayName: string;
  /** Replaces the stored metadata; absent or null clears it (PUT semantics). */
  metadata?: Record<string, unknown> | null;
}

export interface OpenIdConfiguration {
  issuer: string;
  jwks_uri: string;
  token_endpoint: string;
  response_types_supported: string[];
  subject_types_supported: string[];
  id_token_signing_alg_values_supported: string[];
  token_endpoint_auth_methods_supported: string[];
  claims_supported: string[];
}

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;
export const DISPLAY_NAME_MAX_LENGTH = 64;
export const TENANT_NAME_MAX_LENGTH = 128;
export const METADATA_MAX_BYTES = 8 * 1024;
const USER_ID = /^[A-Za-z0-9_.:@-]{1,128}$/;
const USERNAME = new RegExp(USERNAME_PATTERN);
const TENANT_ID = new RegExp(TENANT_ID_PATTERN);

export type IdentityService = ReturnType<typeof createIdentityService>;

export function createIdentityService(deps: IdentityServiceDeps) {
  const { engine, passwords, accessTokens, refreshTokens, signingKeys, clock, rateLimiter, ids, defaultTenant } = deps;
  const openTenants = new Set<string>(deps.selfRegistrationTenants ?? [defaultTenant]);

  /** Signs an access token and starts a refresh family for a user who just proved who they are. */
  async function startSession(user: User): Promise<AuthSession> {
    const subject = { tenantId: user.tenantId, userId: user.id };
    const [access, refresh] = await Promise.all([accessTokens.sign(subject), refreshTokens.issue(user.tenantId, user.id)]);
    return { user, accessToken: access.token, refreshToken: refresh.token, expiresIn: access.expiresIn };
  }

  /** Creates the default tenant when absent. Idempotent and safe to race (first writer wins). */
  async function ensureDefaultTenant(): Promise<Tenant> {
    const existing = await engine.tenants.get(defaultTenant);
    if (existing) return existing;
    await engine.tenants.create({ id: defaultTenant, name: 'Default', createdAt: clock() }, null);
    const created = await engine.tenants.get(defaultTenant);
    if (!created) throw new Error('The default tenant vanished right after being created');
    return created;
  }

  return {
    ensureDefaultTenant,

    /** Creates a built-in user and signs them in. 409 username_taken; 403 forbidden when the tenant is closed or unknown. */
    async register(input: RegisterInput, client: ClientContext = {}): Promise<AuthSession> {
      const username = requireString(input.username, 'username');
      if (!USERNAME.test(username)) throw invalid('username must be 3..32 characters of a-z, 0-9, _ . -');
      const password = requirePassword(input.password, true);
      const displayName = input.displayName === undefined ? username : requireLabel(input.displayName, 'displayName', DISPLAY_NAME_MAX_LENGTH);
      const tenantId = requireTenantId(input.tenant, defaultTenant);

      const source = client.ip === undefined ? undefined : clientSubject(client.ip);
      // Every attempt counts, alongside the tenant read (one round trip for both); over the limit is 429 first.
      const counted = source === undefined ? Promise.resolve(null) : rateLimiter.consume('REGISTER_IP', { tenantId: null, subject: source }, client.onQuota);
      // Unknown and closed tenants answer alike, after the same work (no lookup), so registration
      // does not reveal which tenants exist.
      if (!openTenants.has(tenantId)) {
        await counted;
        throw registrationClosed();
      }
      const [, tenant] = await bothInOrder(counted, tenantId === defaultTenant ? ensureDefaultTenant() : engine.tenants.get(tenantId));
      if (!tenant) throw registrationClosed();

      const passwordHash = await passwords.hash(password, source);
      const result = await engine.users.register(tenantId, {
        id: ids.user(),
        username,
        displayName,
        passwordHash,
        createdAt: clock(),
      });
      if (result.status === 'username_taken') throw new ServiceError('username_taken');
      return startSession(result.user);
    },

    /** Signs a built-in user in. Every credential failure is the same 401 after the same work. */
    async login(input: LoginInput, client: ClientContext = {}): Promise<AuthSession> {
      const username = requireString(input.username, 'username');
      const password = requirePassword(input.password, false);
      const tenantId = requireTenantId(input.tenant, defaultTenant);
      const source = client.ip === undefined ? undefined : clientSubject(client.ip);
      const limited: [RateLimitName, RateLimitSubject][] = [['LOGIN_FAILURES_ACCOUNT', { tenantId, subject: username }]];
      if (source !== undefined) limited.push(['LOGIN_FAILURES_IP', { tenantId: null, subject: source }]);

      // A username no one can have registered still costs a hash, so shape reveals nothing either.
      // Each attempt counts a failure of both limits up front, alongside the lookup (one round
      // trip), so attempts in flight cannot all pass a check that only later counts: at most the
      // limit are ever hashed. An exceeded limit refuses before hashing, the right password too.
      const counted = limited.map(([name, who]) => rateLimiter.consume(name, who, client.onQuota));
      const [looked, ...counts] = await Promise.allSettled([
        USERNAME.test(username) ? engine.users.findCredentials(tenantId, username) : null,
        ...counted,
      ]);
      /** Gives back the units this attempt counted: it was no failed guess. */
      const refund = () =>
        Promise.all(limited.map(([name, who], i) => (counts[i]?.status === 'fulfilled' ? rateLimiter.refund(name, who, client.onQuota) : null)));
      // The original error says more than a failed refund would (hence those are dropped).
      const refused = counts.find((result) => result.status === 'rejected');
      if (looked.status === 'rejected' || refused) {
        await refund().catch(() => null);
        throw looked.status === 'rejected' ? looked.reason : refused?.reason;
      }
      const credentials = looked.value;
      let matches: boolean;
      try {
        matches = credentials
          ? await passwords.verify(password, credentials.passwordHash, source)
          : await passwords.verifyAgainstDummy(password, source);
      } catch (error) {
        await refund().catch(() => null); // not checked (e.g. the hash queue is full): no guess was made
        throw error;
      }
      if (!credentials || !matches) throw new ServiceError('invalid_credentials');
      const [session] = await Promise.all([startSession(credentials.user), refund()]);
      return session;
    },

    /**
     * Replaces the caller's password after checking the current one, revokes every refresh family
     * of theirs and starts a new session (the caller stays signed in, every other device is
     * signed out at its next refresh; access tokens already issued run until they expire).
     * 403 invalid_password (counted as a failed login), 403 password_not_set for users without
     * a password (tenant-upserted or external), 400 for a new password registration would refuse.
     */
    async changePassword(principal: Principal, input: ChangePasswordInput, client: ClientContext = {}): Promise<AuthSession> {
      const caller = requireUser(principal, 'Changing your password');
      const currentPassword = requirePassword(input.currentPassword, false, 'currentPassword');
      const newPassword = requirePassword(input.newPassword, true, 'newPassword');
      const user = await engine.users.get(caller.tenantId, caller.userId);
      if (!user) throw new ServiceError('user_not_found');
      if (user.username === null) throw new ServiceError('password_not_set');
      const source = client.ip === undefined ? undefined : clientSubject(client.ip);
      const limited: [RateLimitName, RateLimitSubject][] = [['LOGIN_FAILURES_ACCOUNT', { tenantId: caller.tenantId, subject: user.username }]];
      if (source !== undefined) limited.push(['LOGIN_FAILURES_IP', { tenantId: null, subject: source }]);

      // As in login: a failure of each limit is counted up front, alongside the credential read,
      // and given back unless the password was checked and wrong.
      const counted = limited.map(([name, who]) => rateLimiter.consume(name, who, client.onQuota));
      const [looked, ...counts] = await Promise.allSettled([engine.users.findCredentials(caller.tenantId, user.username), ...counted]);
      const refund = () =>
        Promise.all(limited.map(([name, who], i) => (counts[i]?.status === 'fulfilled' ? rateLimiter.refund(name, who, client.onQuota) : null)));
      const refused = counts.find((result) => result.status === 'rejected');
      if (looked.status === 'rejected' || refused) {
        await refund().catch(() => null);
        throw looked.status === 'rejected' ? looked.reason : refused?.reason;
      }
      const credentials = looked.value;
      if (!credentials || credentials.user.id !== caller.userId) {
        await refund().catch(() => null);
        throw new ServiceError('password_not_set');
      }
      let matches: boolean;
      let nextHash: string;
      try {
        matches = await passwords.verify(currentPassword, credentials.passwordHash, source);
        // Always the current parameters: a change is also the moment to upgrade an old hash.
        nextHash = matches ? await passwords.hash(newPassword, source) : '';
      } catch (error) {
        await refund().catch(() => null);
        throw error;
      }
      if (!matches) throw new ServiceError('invalid_password');
      await refund();
      // A concurrent change from the same password won: this one's "current" password is no longer.
      if (!(await engine.users.replacePasswordHash(caller.tenantId, caller.userId, credentials.passwordHash, nextHash, clock()))) {
        throw new ServiceError('invalid_password');
      }
      await refreshTokens.revokeUser(caller.tenantId, caller.userId);
      return startSession(credentials.user);
    },

    /** Spends the refresh token for a new pair. Reuse of a spent token revokes its family (401). */
    async refresh(refreshToken: string): Promise<AuthSession> {
      const token = requireToken(refreshToken);
      const next = await refreshTokens.rotate(token);
      const user = await engine.users.get(next.tenantId, next.userId);
      if (!user) {
        // The user was deleted (its families were revoked, but one may have been started meanwhile).
        await refreshTokens.revoke(next.token);
        throw new ServiceError('invalid_refresh_token');
      }
      const access = await accessTokens.sign({ tenantId: user.tenantId, userId: user.id });
      return { user, accessToken: access.token, refreshToken: next.token, expiresIn: access.expiresIn };
    },

    /** Revokes the token's family (204). Unknown or already revoked families succeed silently. */
    async logout(refreshToken: string): Promise<void> {
      await refreshTokens.revoke(requireToken(refreshToken));
    },

    /**
     * Creates a tenant with a new API key (operator only: the caller has checked the admin key).
     * The key is returned once and stored only as a hash. 409 tenant_exists.
     */
    async createTenant(input: { id: string; name: string }): Promise<{ tenant: Tenant; apiKey: string }> {
      const id = requireString(input.id, 'id');
      if (!TENANT_ID.test(id)) throw invalid('id must be 2..63 characters of a-z, 0-9 and -, starting with a letter or digit');
      const name = requireLabel(input.name, 'name', TENANT_NAME_MAX_LENGTH);
      const tenant: Tenant = { id: id as TenantId, name, createdAt: clock() };
      const { apiKey, id: keyId, hash } = generateApiKey(tenant.id);
      if (!(await engine.tenants.create(tenant, { id: keyId, hash, createdAt: tenant.createdAt }))) throw new ServiceError('tenant_exists');
      return { tenant, apiKey };
    },

    /** Creates or replaces a user of the calling tenant (tenant keys only). 409 user_deleted: ids are not reused. */
    async upsertUser(principal: Principal, userId: string, input: UpsertUserInput): Promise<{ user: User; created: boolean }> {
      const tenantId = requireTenantPrincipal(principal, 'Upserting users');
      const id = requireUserId(userId);
      const displayName = requireLabel(input.displayName, 'displayName', DISPLAY_NAME_MAX_LENGTH);
      const metadata = requireMetadata(input.metadata);
      const result = await engine.users.upsert(tenantId, { id, displayName, metadata }, clock());
      if (!result) throw new ServiceError('user_deleted');
      return result;
    },

    /** Signs an access token for a user of the calling tenant (tenant keys only). 404 user_not_found. */
    async mintToken(principal: Principal, userId: string, expiresIn?: number): Promise<{ accessToken: string; expiresIn: number }> {
      const tenantId = requireTenantPrincipal(principal, 'Minting tokens');
      const id = requireUserId(userId);
      if (
        expiresIn !== undefined &&
        (!Number.isInteger(expiresIn) || expiresIn < MIN_MINTED_LIFETIME_SECONDS || expiresIn > MAX_MINTED_LIFETIME_SECONDS)
      ) {
        throw invalid(`expiresIn must be an integer of ${MIN_MINTED_LIFETIME_SECONDS}..${MAX_MINTED_LIFETIME_SECONDS} seconds`);
      }
      const user = await engine.users.get(tenantId, id);
      if (!user) throw new ServiceError('user_not_found');
      const signed = await accessTokens.sign(
        { tenantId, userId: id },
        expiresIn === undefined ? {} : { expiresInSeconds: expiresIn },
      );
      return { accessToken: signed.token, expiresIn: signed.expiresIn };
    },

    /** GET /.well-known/jwks.json: the public keys of built-in tokens. */
    async jwks(): Promise<{ keys: PublicJwk[] }> {
      return { keys: await signingKeys.publicJwks() };
    },

    /**
     * GET /.well-known/openid-configuration: `issuer` is the deployment's issuer, exactly the
     * `iss` of built-in tokens; the endpoints are on this node's public URL, which is reachable.
     */
    openidConfiguration(): OpenIdConfiguration {
      const issuer = accessTokens.issuer;
      const base = (deps.publicUrl ?? issuer).replace(/\/+$/, '');
      return {
        issuer,
        jwks_uri: `${base}/.well-known/jwks.json`,
        token_endpoint: `${base}/v1/auth/login`,
        response_types_supported: ['token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: [SIGNING_ALG],
        token_endpoint_auth_methods_supported: ['none'],
        claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'tid'],
      };
    },
  };
}

function registrationClosed(): ServiceError {
  return new ServiceError('forbidden', 'This tenant does not allow self-registration');
}

function invalid(detail: string): ServiceError {
  return new ServiceError('validation_failed', detail);
}

function requireString(value: unknown, field: string): string {
  if (typeof value !== 'string') throw invalid(`${field} must be a string`);
  return value;
}

/** Lengths count characters (code points), as the API states them, not UTF-16 units. */
function length(text: string): number {
  return [...text].length;
}

function requirePassword(value: unknown, forRegistration: boolean, field = 'password'): string {
  const password = requireString(value, field);
  const n = length(password);
  // Login accepts any length a registration could have produced (and never hashes huge input).
  const min = forRegistration ? PASSWORD_MIN_LENGTH : 1;
  if (n < min || n > PASSWORD_MAX_LENGTH) throw invalid(`${field} must be ${min}..${PASSWORD_MAX_LENGTH} characters`);
  // A lone surrogate has no UTF-8 form: two different passwords would hash alike.
  if (!isWellFormed(password)) throw invalid(`${field} must be well-formed Unicode (no lone surrogates)`);
  return password;
}

function requireLabel(value: unknown, field: string, max: number): string {
  const trimmed = requireString(value, field).trim();
  const n = length(trimmed);
  if (n < 1 || n > max) throw invalid(`${field} must be 1..${max} characters`);
  refuseViolation(field, labelViolation(trimmed));
  return trimmed;
}

function requireTenantId(value: unknown, fallback: TenantId): TenantId {
  if (value === undefined) return fallback;
  const tenant = requireString(value, 'tenant');
  if (!TENANT_ID.test(tenant)) throw invalid('tenant is not a valid tenant id');
  return tenant as TenantId;
}

function requireUserId(value: unknown): UserId {
  const id = requireString(value, 'userId');
  if (!USER_ID.test(id)) throw invalid('userId must be 1..128 characters of A-Z, a-z, 0-9 and _ . : @ -');
  // `/v1/users/me` always means the caller, so a user with that id could never be looked up.
  if (id === 'me') throw invalid("userId 'me' is reserved");
  return id as UserId;
}

function requireToken(value: unknown): string {
  if (typeof value !== 'string' || value === '') throw invalid('refreshToken must be a non-empty string');
  return value;
}

function requireTenantPrincipal(principal: Principal, action: string): TenantId {
  if (principal.kind !== 'tenant') throw new ServiceError('forbidden', `${action} needs a tenant API key`);
  return principal.tenantId;
}

/** A plain JSON object of at most 8 KiB serialised, returned as a detached JSON copy; null clears. */
function requireMetadata(value: unknown): Record<string, unknown> | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid('metadata must be a JSON object');
  const malformed = findMalformedString(value, 'metadata');
  if (malformed !== null) throw invalid(`${malformed} must be well-formed Unicode (no lone surrogates)`);
  let serialized: string;
  try {
    serialized = JSON.stringify(value);
  } catch {
    throw invalid('metadata must be serialisable as JSON');
  }
  if (Buffer.byteLength(serialized, 'utf8') > METADATA_MAX_BYTES) throw invalid(`metadata must be at most ${METADATA_MAX_BYTES} bytes as JSON`);
  return JSON.parse(serialized) as Record<string, unknown>;
}
