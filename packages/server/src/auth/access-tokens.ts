/**
 * Built-in access tokens: JWTs signed with the shared Ed25519 key (see signing-keys.ts).
 *
 * A token carries: header `alg: EdDSA`, `kid`, `typ: at+jwt`; claims `iss` (the deployment's
 * issuer URL), `sub` (user id), `tid` (tenant id), `aud: parley`, `iat`, `exp`.
 *
 * Verification guarantees — anything else is rejected with ServiceError('invalid_token') and a
 * generic detail that reveals nothing about which check failed:
 *   - the algorithm allow-list is exactly ['EdDSA'] (so `alg: none`, and HS256 "signed" with
 *     the public key as an HMAC secret, are refused before any key is used);
 *   - the signature verifies under the stored key named by `kid`;
 *   - `iss`, `aud` and `typ` match; `exp` is in the future and `iat` not in the future, each within
 *     `clockToleranceSeconds`; `sub` and `tid` are non-empty strings.
 */
import { decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import type { TenantId, UserId } from '../domain/types.js';
import { ServiceError } from '../services/service-error.js';
import { SIGNING_ALG, type SigningKeys } from './signing-keys.js';

export const ACCESS_TOKEN_AUDIENCE = 'parley';
/** RFC 9068 media type, so a JWT of another kind signed by the same key is never taken for one. */
const ACCESS_TOKEN_TYP = 'at+jwt';
export const DEFAULT_ACCESS_TOKEN_LIFETIME_SECONDS = 15 * 60;
/** Bounds of the lifetime a tenant back end may ask for when minting a token for its user. */
export const MIN_MINTED_LIFETIME_SECONDS = 60;
export const MAX_MINTED_LIFETIME_SECONDS = 24 * 60 * 60;
/** Longer strings are refused unparsed: no legitimate token comes close. */
const MAX_TOKEN_LENGTH = 8 * 1024;

export interface AccessTokenSubject {
  tenantId: TenantId;
  userId: UserId;
}

export interface VerifiedAccessToken extends AccessTokenSubject {
  /** Seconds since the epoch. */
  issuedAt: number;
  expiresAt: number;
}

export interface AccessTokens {
  /** The `iss` of every built-in token; also the OpenID issuer identifier. */
  readonly issuer: string;
  readonly defaultLifetimeSeconds: number;
  /**
   * The longest time after a token is signed that some node may still accept it: the longest
   * lifetime (MAX_MINTED_LIFETIME_SECONDS) plus the clock tolerance twice, since the signer's clock
   * may run ahead of the verifier's and the verifier accepts `exp` that much late. A signing key
   * that stops signing must stay published at least this long.
   */
  readonly maxAcceptedAgeMs: number;
  /**
   * Signs a token for the user. `expiresInSeconds` defaults to the configured lifetime and must be
   * an integer of 1..MAX_MINTED_LIFETIME_SECONDS (callers validate user input before this; a value
   * outside throws RangeError, a programming error).
   */
  sign(subject: AccessTokenSubject, options?: { expiresInSeconds?: number }): Promise<{ token: string; expiresIn: number }>;
  /** Verifies a token (see the module guarantees); throws ServiceError('invalid_token'). */
  verify(token: string): Promise<VerifiedAccessToken>;
}

export interface AccessTokensOptions {
  signingKeys: SigningKeys;
  /** The issuer URL, e.g. https://chat.example.com. Used verbatim as `iss`. */
  issuer: string;
  clock: () => number;
  lifetimeSeconds?: number;
  /** Allowed clock skew between nodes when checking `exp`/`iat`. Default 30 s. */
  clockToleranceSeconds?: number;
}

export function createAccessTokens(options: AccessTokensOptions): AccessTokens {
  const { signingKeys, issuer, clock } = options;
  const defaultLifetimeSeconds = options.lifetimeSeconds ?? DEFAULT_ACCESS_TOKEN_LIFETIME_SECONDS;
  const clockTolerance = options.clockToleranceSeconds ?? 30;
  assertLifetime(defaultLifetimeSeconds);

  return {
    issuer,
    defaultLifetimeSeconds,
    maxAcceptedAgeMs: (MAX_MINTED_LIFETIME_SECONDS + 2 * clockTolerance) * 1000,

    async sign(subject, signOptions = {}) {
      const expiresIn = signOptions.expiresInSeconds ?? defaultLifetimeSeconds;
      assertLifetime(expiresIn);
      const key = await signingKeys.current();
      const now = Math.floor(clock() / 1000);
      const token = await new SignJWT({ tid: subject.tenantId })
        .setProtectedHeader({ alg: SIGNING_ALG, kid: key.kid, typ: ACCESS_TOKEN_TYP })
        .setIssuer(issuer)
        .setSubject(subject.userId)
        .setAudience(ACCESS_TOKEN_AUDIENCE)
        .setIssuedAt(now)
        .setExpirationTime(now + expiresIn)
        .sign(key.privateKey);
      return { token, expiresIn };
    },

    async verify(token) {
      if (token.length > MAX_TOKEN_LENGTH) throw invalidToken();
      let kid: string;
      try {
        const header = decodeProtectedHeader(token);
        // Checked here as well as by jwtVerify so no key lookup happens for a foreign algorithm.
        if (header.alg !== SIGNING_ALG || typeof header.kid !== 'string') throw invalidToken();
        kid = header.kid;
      } catch {
        throw invalidToken();
      }
      // Storage errors while looking up keys propagate as they are (a 503, not a 401).
      const key = await signingKeys.publicKey(kid);
      if (key === null) throw invalidToken();
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: [SIGNING_ALG],
          issuer,
          audience: ACCESS_TOKEN_AUDIENCE,
          typ: ACCESS_TOKEN_TYP,
          clockTolerance,
          currentDate: new Date(clock()),
          requiredClaims: ['sub', 'tid', 'iat', 'exp'],
        });
        const { sub, tid, iat, exp } = payload;
        if (typeof sub !== 'string' || sub === '' || typeof tid !== 'string' || tid === '') throw invalidToken();
        if (typeof iat !== 'number' || typeof exp !== 'number') throw invalidToken();
        // jose accepts a future iat; a token "issued" beyond the tolerance was not issued by us.
        if (iat > clock() / 1000 + clockTolerance) throw invalidToken();
        return { tenantId: tid as TenantId, userId: sub as UserId, issuedAt: iat, expiresAt: exp };
      } catch {
        // Whatever failed (signature, claim, expiry), the caller learns only "invalid".
        throw invalidToken();
      }
    },
  };
}

function assertLifetime(seconds: number): void {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_MINTED_LIFETIME_SECONDS) {
    throw new RangeError(`Access token lifetime must be an integer of 1..${MAX_MINTED_LIFETIME_SECONDS} seconds`);
  }
}

function invalidToken(): ServiceError {
  return new ServiceError('invalid_token');
}
