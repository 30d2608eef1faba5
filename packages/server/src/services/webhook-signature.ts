/**
 * The `Parley-Signature` header of a webhook delivery: `t=<unix seconds>,v1=<hex>[,v1=<hex>…]`, each
 * `v1` the HMAC-SHA256 of `<t>.<raw body>` keyed by one valid secret (the current one first, then
 * any rotated-out secret still within its grace), so a receiver holding either secret verifies.
 * docs/webhooks.md shows the receiving side; `verifyWebhookSignature` is the same recipe, used by
 * the tests.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { EpochMs } from '../domain/types.js';
import type { WebhookSecret } from '../domain/webhooks.js';

/** The secrets that sign at `now`: the current one and rotated-out ones not yet expired. */
export function signingSecrets(secrets: readonly WebhookSecret[], now: EpochMs): string[] {
  return secrets.filter((secret) => secret.expiresAt === null || secret.expiresAt > now).map((secret) => secret.secret);
}

function sign(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/** The header value for `body` sent at `now`. */
export function signatureHeader(secrets: readonly string[], now: EpochMs, body: string): string {
  const timestamp = Math.floor(now / 1000);
  return [`t=${timestamp}`, ...secrets.map((secret) => `v1=${sign(secret, timestamp, body)}`)].join(',');
}

/** Default tolerance of `verifyWebhookSignature`: a delivery signed longer ago is refused (replay). */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

/**
 * True when `header` carries a `v1` signature of `body` by `secret` made within `toleranceSeconds`
 * of `now` (either way). Constant-time comparison of each signature.
 */
export function verifyWebhookSignature(
  header: string,
  body: string,
  secret: string,
  now: EpochMs = Date.now(),
  toleranceSeconds = SIGNATURE_TOLERANCE_SECONDS,
): boolean {
  const parts = header.split(',').map((part) => part.trim().split('='));
  const timestamp = Number(parts.find(([key]) => key === 't')?.[1]);
  if (!Number.isSafeInteger(timestamp) || Math.abs(now / 1000 - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(sign(secret, timestamp, body), 'hex');
  return parts
    .filter(([key, value]) => key === 'v1' && value !== undefined && /^[0-9a-f]{64}$/.test(value))
    .some(([, value]) => timingSafeEqual(Buffer.from(value as string, 'hex'), expected));
}
