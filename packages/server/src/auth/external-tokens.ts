/**
 * Access tokens of the tenants' external OpenID Connect providers → user principals.
 *
 * Each node keeps a registry of every provider of every tenant (issuer → providers), loaded at
 * start, reloaded when a provider changes anywhere (`forget` then `reload`, driven by the
 * revocation bus), when that bus may have missed messages, and every `reloadIntervalMs` as a
 * safety net. `claims` looks only at the registry (no I/O); `verify` does the rest.
 *
 * Verification guarantees — anything else is ServiceError('invalid_token') with a generic detail:
 *   - the provider is the one whose issuer equals `iss` and whose audience is in `aud` (a token
 *     naming the audiences of two providers of one issuer is refused: it has no one tenant);
 *   - the algorithm is in the provider's list (never `none` nor HS*: the stored lists cannot hold
 *     them), the signature verifies under a key of the provider's JWKS;
 *   - `exp` is present and in the future, `nbf` and `iat` not in the future (60 s leeway); `sub` is
 *     1..MAX_EXTERNAL_SUBJECT_LENGTH characters without control characters;
 *   - it is not an ID token (`nonce`, `at_hash`, `c_hash`, or a Keycloak `typ: "ID"`): an ID token
 *     is addressed to a client, and accepting it would let any client of the provider sign in.
 * The user is then created on first sight (engine.users.ensureExternal: one user per (provider,
 * sub), whichever node sees it first); storage failures propagate (503), never a 401.
 *
 * Keys: one remote JWKS (jose) per provider, shared by every request, fetched through the outbound
 * fetch. A token whose `kid` is unknown refetches at most once per `jwksCooldownMs` (default 30 s)
 * per provider, so random `kid`s cannot make Parley hammer a provider. A provider stored without a
 * jwks_uri (configured from the environment while its issuer was unreachable) is discovered on the
 * first token, again at most once per cooldown after a failure.
 */
import { createRemoteJWKSet, customFetch, decodeJwt, decodeProtectedHeader, jwtVerify, type FetchImplementation, type JWTVerifyGetKey } from 'jose';
import { externalDisplayName, externalUsername, MAX_EXTERNAL_SUBJECT_LENGTH } from '../domain/external-identity.js';
import { labelViolation } from '../domain/rules.js';
import type { IdentityProvider, TenantId } from '../domain/types.js';
import type { Engine } from '../engine/engine.js';
import type { OutboundFetch } from '../outbound/index.js';
import type { IdGenerator } from '../services/ids.js';
import { ServiceError } from '../services/service-error.js';
import { unverifiedIssuer, type CredentialVerifier } from './authenticator.js';
import type { DiscoverIssuer } from './oidc-discovery.js';
import type { Principal } from './principal.js';

const CLOCK_TOLERANCE_SECONDS = 60;
const MAX_JWKS_BYTES = 512 * 1024;
const JWKS_TIMEOUT_MS = 5_000;

export interface ExternalTokensDeps {
  engine: Pick<Engine, 'identityProviders' | 'users'>;
  fetch: OutboundFetch;
  discover: DiscoverIssuer;
  ids: Pick<IdGenerator, 'user'>;
  /** Milliseconds since the epoch, for token times (tests move it). */
  clock: () => number;
  /** Least time between two JWKS fetches of one provider caused by unknown `kid`s. Default 30 s. */
  jwksCooldownMs?: number;
  /** Safety-net reload of the registry. Default 60 s; 0 turns it off. */
  reloadIntervalMs?: number;
  log?: { warn(object: object, message: string): void };
}

export interface ExternalTokens {
  /** For the authenticator's verifier list. */
  readonly verifier: CredentialVerifier;
  /** Loads the registry and starts the periodic reload. */
  start(): Promise<void>;
  /** Reloads every provider from the engine (coalesced: the last reload started wins). */
  reload(): Promise<void>;
  /** Drops the provider from the registry at once (its tokens fail from now on), before a reload. */
  forget(tenantId: TenantId, providerId: string): void;
  close(): void;
}

type UserPrincipal = Extract<Principal, { kind: 'user' }>;

/** One provider as this node uses it: the stored record, its key set, its lazy discovery. */
interface Entry {
  readonly provider: IdentityProvider;
  /** JSON of the record: an unchanged provider keeps its entry (and its JWKS cache) across reloads. */
  readonly fingerprint: string;
  keys: JWTVerifyGetKey | null;
  discovering: Promise<JWTVerifyGetKey> | null;
  lastDiscoveryFailureAt: number;
}

export function createExternalTokens(deps: ExternalTokensDeps): ExternalTokens {
  const cooldown = deps.jwksCooldownMs ?? 30_000;
  const reloadIntervalMs = deps.reloadIntervalMs ?? 60_000;
  let byIssuer = new Map<string, Entry[]>();
  let reloadSequence = 0;
  let timer: NodeJS.Timeout | null = null;

  const jwksFetch: FetchImplementation = async (url, options) => {
    const response = await deps.fetch(url, {
      headers: Object.fromEntries(options.headers.entries()),
      timeoutMs: JWKS_TIMEOUT_MS,
      maxBytes: MAX_JWKS_BYTES,
      maxRedirects: 0,
    });
    return new Response(new Uint8Array(response.body), { status: response.status });
  };

  function keySet(jwksUri: string): JWTVerifyGetKey {
    return createRemoteJWKSet(new URL(jwksUri), {
      cooldownDuration: cooldown,
      timeoutDuration: JWKS_TIMEOUT_MS,
      [customFetch]: jwksFetch,
    });
  }

  function entryFor(provider: IdentityProvider, previous: Entry | undefined): Entry {
    const fingerprint = JSON.stringify(provider);
    if (previous?.fingerprint === fingerprint) return previous;
    return {
      provider,
      fingerprint,
      keys: provider.jwksUri === '' ? null : keySet(provider.jwksUri),
      discovering: null,
      lastDiscoveryFailureAt: -Infinity,
    };
  }

  function keysOf(entry: Entry): Promise<JWTVerifyGetKey> {
    if (entry.keys) return Promise.resolve(entry.keys);
    if (entry.discovering) return entry.discovering;
    if (Date.now() - entry.lastDiscoveryFailureAt < cooldown) return Promise.reject(new ServiceError('invalid_token'));
    entry.discovering = deps.discover(entry.provider.issuer).then(
      ({ jwksUri }) => {
        entry.keys = keySet(jwksUri);
        entry.discovering = null;
        return entry.keys;
      },
      (error: unknown) => {
        entry.lastDiscoveryFailureAt = Date.now();
        entry.discovering = null;
        deps.log?.warn({ err: error, issuer: entry.provider.issuer }, 'identity provider discovery failed');
        throw new ServiceError('invalid_token');
      },
    );
    return entry.discovering;
  }

  async function reload(): Promise<void> {
    const sequence = ++reloadSequence;
    const providers = await deps.engine.identityProviders.listAll();
    if (sequence !== reloadSequence) return; // a later reload started: its answer is newer
    const previous = new Map<string, Entry>();
    for (const entries of byIssuer.values()) for (const entry of entries) previous.set(keyOf(entry.provider.tenantId, entry.provider.id), entry);
    const next = new Map<string, Entry[]>();
    for (const provider of providers) {
      const entry = entryFor(provider, previous.get(keyOf(provider.tenantId, provider.id)));
      next.set(provider.issuer, [...(next.get(provider.issuer) ?? []), entry]);
    }
    byIssuer = next;
  }

  function isCurrent(entry: Entry): boolean {
    return byIssuer.get(entry.provider.issuer)?.includes(entry) ?? false;
  }

  const verifier: CredentialVerifier = {
    claims(token) {
      const issuer = unverifiedIssuer(token);
      return issuer !== null && byIssuer.has(issuer);
    },

    async verify(token) {
      let payload: ReturnType<typeof decodeJwt>;
      try {
        decodeProtectedHeader(token);
        payload = decodeJwt(token);
      } catch {
        throw invalidToken();
      }
      const audiences = typeof payload.aud === 'string' ? [payload.aud] : Array.isArray(payload.aud) ? payload.aud : [];
      const candidates = (byIssuer.get(payload.iss ?? '') ?? []).filter((entry) => audiences.includes(entry.provider.audience));
      const entry = candidates[0];
      if (entry === undefined || candidates.length > 1) throw invalidToken();
      if (payload.nonce !== undefined || payload.at_hash !== undefined || payload.c_hash !== undefined || payload.typ === 'ID') throw invalidToken();
      const { provider } = entry;
      const keys = await keysOf(entry);
      let verified: Awaited<ReturnType<typeof jwtVerify>>['payload'];
      try {
        ({ payload: verified } = await jwtVerify(token, keys, {
          issuer: provider.issuer,
          audience: provider.audience,
          algorithms: provider.algorithms,
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
          currentDate: new Date(deps.clock()),
          requiredClaims: ['exp', 'sub'],
        }));
      } catch {
        // Signature, algorithm, claim, expiry or key retrieval: the caller learns only "invalid".
        throw invalidToken();
      }
      const { sub, exp, iat } = verified;
      if (typeof sub !== 'string' || sub.length === 0 || sub.length > MAX_EXTERNAL_SUBJECT_LENGTH || labelViolation(sub) !== null) throw invalidToken();
      if (typeof exp !== 'number') throw invalidToken();
      // jose accepts an iat in the future; a token issued beyond the leeway is not one to trust.
      if (iat !== undefined && iat > deps.clock() / 1000 + CLOCK_TOLERANCE_SECONDS) throw invalidToken();
      const { user } = await deps.engine.users.ensureExternal(
        provider.tenantId,
        {
          id: deps.ids.user(),
          identity: { provider: provider.id, issuer: provider.issuer, subject: sub },
          displayName: externalDisplayName(provider, verified, sub),
          username: externalUsername(provider, verified),
        },
        deps.clock(),
      );
      // Deleted or replaced while this token was being verified: its tokens no longer count.
      if (!isCurrent(entry)) throw invalidToken();
      const principal: UserPrincipal = { kind: 'user', tenantId: provider.tenantId, userId: user.id, expiresAt: exp * 1000, providerId: provider.id };
      return principal;
    },
  };

  return {
    verifier,
    async start() {
      await reload();
      if (reloadIntervalMs > 0 && timer === null) {
        timer = setInterval(() => {
          reload().catch((error: unknown) => deps.log?.warn({ err: error }, 'identity provider reload failed'));
        }, reloadIntervalMs);
        timer.unref();
      }
    },
    reload,
    forget(tenantId, providerId) {
      const next = new Map<string, Entry[]>();
      for (const [issuer, entries] of byIssuer) {
        const kept = entries.filter((entry) => entry.provider.tenantId !== tenantId || entry.provider.id !== providerId);
        if (kept.length > 0) next.set(issuer, kept);
      }
      byIssuer = next;
      // A reload already under way read the store before this change: its answer must not win.
      reloadSequence++;
    },
    close() {
      if (timer !== null) clearInterval(timer);
      timer = null;
    },
  };
}

function keyOf(tenantId: TenantId, id: string): string {
  return JSON.stringify([tenantId, id]);
}

function invalidToken(): ServiceError {
  return new ServiceError('invalid_token');
}
