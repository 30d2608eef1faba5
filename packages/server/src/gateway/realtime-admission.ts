import type { Authenticator } from '../auth/authenticator.js';
import type { Principal } from '../auth/principal.js';
import type { QuotaListener, RateLimiter } from '../services/rate-limiter.js';

/**
 * Who may open a realtime connection (WebSocket or SSE), decided before any socket or stream
 * exists: the credential must verify, and a user's opening counts one REALTIME_CONNECT unit
 * (429 `rate_limited` with Retry-After when over it). Tenant keys count SERVER_KEY instead,
 * inside authentication. Frames on an open connection have their own per-connection limits.
 */
export async function admitRealtimeConnection(
  authenticator: Authenticator,
  rateLimiter: RateLimiter,
  credential: string | undefined,
  onQuota?: QuotaListener,
): Promise<Principal> {
  const principal = await authenticator.authenticate(credential, onQuota);
  if (principal.kind === 'user') {
    await rateLimiter.consume('REALTIME_CONNECT', { tenantId: principal.tenantId, subject: principal.userId }, onQuota);
  }
  return principal;
}
