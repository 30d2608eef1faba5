/**
 * Opaque refresh tokens with rotation and reuse detection, stored through RefreshTokenStore.
 *
 * A token reads `rt1.<tenant>.<familyId>.<generation>.<secret>`: the tenant id in base64url (so
 * any tenant id fits), a 128-bit random family id, the generation as a decimal integer, and a
 * 256-bit random secret, both base64url. Only sha256(secret) is stored.
 *
 * Guarantees:
 *   - Rotation: every successful `rotate` spends the presented token and returns the family's
 *     next generation; of concurrent rotations with one token exactly one spends it (the store's
 *     compare-and-rotate is atomic).
 *   - Grace window (`reuseGraceMs`, default 10 s, 0 disables): the token spent by the family's
 *     latest rotation, presented again within the window (two tabs refreshing at once), gets a
 *     sibling of the current token instead of revoking the family. After the window it is reuse.
 *   - Reuse detection (outside the grace window): presenting a spent token (one of the family's last 16 generations, with
 *     the secret it was issued with) revokes the whole family, so the newest token (possibly held
 *     by a thief, possibly by the user) stops working too. A token naming a spent generation with
 *     any other secret is forged, proves nothing and is merely invalid: it revokes nothing.
 *   - Sliding lifetime: each rotation extends the family to now + lifetime (default 30 days);
 *     a family unused that long expires.
 *   - Every failure (malformed, unknown, expired, revoked, reused, wrong secret) is the same
 *     ServiceError('invalid_refresh_token'); the secret never appears in an error or a log.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Engine } from '../engine/engine.js';
import type { TenantId, UserId } from '../domain/types.js';
import { ServiceError } from '../services/service-error.js';

export const DEFAULT_REFRESH_TOKEN_LIFETIME_MS = 30 * 24 * 60 * 60 * 1000;
export const DEFAULT_REFRESH_REUSE_GRACE_MS = 10_000;
const VERSION = 'rt1';
const FAMILY_ID_BYTES = 16;
const SECRET_BYTES = 32;
/** Tenant ids are short; anything longer is not a token of ours. */
const MAX_TOKEN_LENGTH = 512;

export interface IssuedRefreshToken {
  token: string;
  tenantId: TenantId;
  userId: UserId;
  /** Epoch ms after which the token no longer rotates. */
  expiresAt: number;
}

/** The parts of a well-formed token; says nothing about whether it is valid. */
export interface ParsedRefreshToken {
  tenantId: TenantId;
  familyId: string;
  generation: number;
  secret: string;
}

export interface RefreshTokens {
  /** Starts a new family (at login or registration) and returns its first token. */
  issue(tenantId: TenantId, userId: UserId): Promise<IssuedRefreshToken>;
  /** Spends `token` and returns the family's next one; throws invalid_refresh_token. */
  rotate(token: string): Promise<IssuedRefreshToken>;
  /**
   * Revokes the token's family. Idempotent and silent for unknown or revoked families (logout
   * reveals nothing); only a malformed token throws invalid_refresh_token.
   */
  revoke(token: string): Promise<void>;
  /**
   * Revokes every refresh family of the user (password change, account deletion). A family
   * started at the same moment may survive (see RefreshTokenStore.revokeUser).
   */
  revokeUser(tenantId: TenantId, userId: UserId): Promise<void>;
}

export interface RefreshTokensOptions {
  engine: Pick<Engine, 'refreshTokens'>;
  clock: () => number;
  lifetimeMs?: number;
  /** How long a just-spent token still gets a sibling instead of revoking its family (0: never). */
  reuseGraceMs?: number;
}

export function createRefreshTokens(options: RefreshTokensOptions): RefreshTokens {
  const store = options.engine.refreshTokens;
  const { clock } = options;
  const lifetimeMs = options.lifetimeMs ?? DEFAULT_REFRESH_TOKEN_LIFETIME_MS;
  const reuseGraceMs = options.reuseGraceMs ?? DEFAULT_REFRESH_REUSE_GRACE_MS;

  return {
    async issue(tenantId, userId) {
      const familyId = randomBytes(FAMILY_ID_BYTES).toString('base64url');
      const secret = newSecret();
      const now = clock();
      const expiresAt = now + lifetimeMs;
      await store.create({ tenantId, familyId, userId, generation: 0, secretHash: hashSecret(secret), expiresAt }, now);
      return { token: formatRefreshToken({ tenantId, familyId, generation: 0, secret }), tenantId, userId, expiresAt };
    },

    async rotate(token) {
      const parsed = parseRefreshToken(token);
      if (parsed === null) throw invalidRefreshToken();
      const now = clock();
      const nextSecret = newSecret();
      const expiresAt = now + lifetimeMs;
      const result = await store.rotate(
        parsed.tenantId,
        parsed.familyId,
        parsed.generation,
        hashSecret(parsed.secret),
        { secretHash: hashSecret(nextSecret), expiresAt },
        now,
        reuseGraceMs,
      );
      // 'reused' has already revoked the family inside the store's atomic step.
      if (result.status !== 'rotated') throw invalidRefreshToken();
      const { family } = result;
      return {
        token: formatRefreshToken({
          tenantId: family.tenantId,
          familyId: family.familyId,
          generation: family.generation,
          secret: nextSecret,
        }),
        tenantId: family.tenantId,
        userId: family.userId,
        expiresAt: family.expiresAt,
      };
    },

    async revoke(token) {
      const parsed = parseRefreshToken(token);
      if (parsed === null) throw invalidRefreshToken();
      // The secret is not checked: the store has no check-without-rotate, and the 128-bit random
      // family id is itself known only to holders of a token of that family. (Rotation, unlike
      // logout, does check: a forged spent generation does not revoke.)
      await store.revoke(parsed.tenantId, parsed.familyId);
    },

    async revokeUser(tenantId, userId) {
      await store.revokeUser(tenantId, userId);
    },
  };
}

export function formatRefreshToken(parts: ParsedRefreshToken): string {
  return [VERSION, Buffer.from(parts.tenantId, 'utf8').toString('base64url'), parts.familyId, String(parts.generation), parts.secret].join('.');
}

/** Splits a token into its parts; null unless it has exactly the shape this module produces. */
export function parseRefreshToken(token: string): ParsedRefreshToken | null {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) return null;
  const parts = token.split('.');
  if (parts.length !== 5 || parts[0] !== VERSION) return null;
  const [, tenantPart, familyId, generationPart, secret] = parts;
  if (tenantPart === undefined || familyId === undefined || generationPart === undefined || secret === undefined) return null;
  if (!isBase64url(tenantPart) || !isBase64urlOfBytes(familyId, FAMILY_ID_BYTES) || !isBase64urlOfBytes(secret, SECRET_BYTES)) {
    return null;
  }
  if (!/^(0|[1-9][0-9]{0,14})$/.test(generationPart)) return null;
  const tenantId = Buffer.from(tenantPart, 'base64url').toString('utf8');
  // Reject non-canonical encodings: one token string per token.
  if (tenantId === '' || Buffer.from(tenantId, 'utf8').toString('base64url') !== tenantPart) return null;
  return { tenantId: tenantId as TenantId, familyId, generation: Number(generationPart), secret };
}

/** The stored form of a secret: sha256, base64url. A random 256-bit secret needs no slow hash. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('base64url');
}

function newSecret(): string {
  return randomBytes(SECRET_BYTES).toString('base64url');
}

function isBase64url(text: string): boolean {
  return /^[A-Za-z0-9_-]+$/.test(text);
}

function isBase64urlOfBytes(text: string, bytes: number): boolean {
  return isBase64url(text) && text.length === Math.ceil((bytes * 4) / 3) && Buffer.from(text, 'base64url').toString('base64url') === text;
}

function invalidRefreshToken(): ServiceError {
  return new ServiceError('invalid_refresh_token');
}
