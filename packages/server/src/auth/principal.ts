import type { TenantId, UserId } from '../domain/types.js';

/**
 * Who is calling, resolved from exactly one credential. Every service call takes one, and every
 * authorization decision (domain/permissions.ts) is a pure function of it.
 */
export type Principal =
  /** A user, authenticated by a built-in, tenant-minted or external-issuer access token. */
  | {
      kind: 'user';
      tenantId: TenantId;
      userId: UserId;
      /** When the credential stops being valid (ms since the epoch); a realtime connection closes then. */
      expiresAt?: number;
      /** The tenant's external identity provider that issued the token; absent for built-in tokens. */
      providerId?: string;
    }
  /** A tenant's back end, authenticated by its `sk_` API key: acts on anything of its tenant. */
  | { kind: 'tenant'; tenantId: TenantId };
