/**
 * Verifying a webhook delivery's `Parley-Signature` header with WebCrypto (`crypto.subtle`), so
 * it runs in Node 20+, Deno, Bun, Cloudflare Workers and browsers alike. The header is
 * `t=<unix seconds>,v1=<hex>[,v1=<hex>…]`, each `v1` the HMAC-SHA256 of `<t>.<raw body>` keyed by
 * one valid secret (two during a secret rotation); any matching `v1` verifies.
 */

/** A delivery signed longer ago than this (seconds), or this far in the future, is refused as a possible replay. */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

export interface VerifyWebhookInput {
  /** The `Parley-Signature` header. */
  header: string | null | undefined;
  /**
   * The raw request body exactly as received (bytes, or their UTF-8 text). Not a re-serialised
   * parse: any change in whitespace or key order breaks the signature.
   */
  body: string | Uint8Array;
  /** The webhook's signing secret (`whsec_…`). */
  secret: string;
  /** The time to check against, ms since the epoch; defaults to now. */
  now?: number;
  /** Accepted age of the signature in seconds; defaults to {@link WEBHOOK_TOLERANCE_SECONDS}. */
  toleranceSeconds?: number;
}

const encoder = new TextEncoder();
const HEX_SIGNATURE = /^[0-9a-f]{64}$/;

/**
 * Resolves true when the header carries a `v1` signature of `body` by `secret` made within the
 * tolerance of `now` (either way); false for a missing or malformed header, a stale timestamp or
 * no matching signature. Comparison takes the same time wherever the signatures differ.
 */
export async function verifyWebhook(input: VerifyWebhookInput): Promise<boolean> {
  if (!input.header) return false;
  const parts = input.header.split(',').map((part) => {
    const [key = '', ...value] = part.trim().split('=');
    return [key, value.join('=')] as const;
  });
  const timestamp = Number(parts.find(([key]) => key === 't')?.[1]);
  const now = input.now ?? Date.now();
  if (!Number.isSafeInteger(timestamp) || Math.abs(now / 1000 - timestamp) > (input.toleranceSeconds ?? WEBHOOK_TOLERANCE_SECONDS)) return false;
  const candidates = parts.filter(([key, value]) => key === 'v1' && HEX_SIGNATURE.test(value)).map(([, value]) => value);
  if (candidates.length === 0) return false;
  const expected = await hmacSha256Hex(input.secret, signedPayload(timestamp, input.body));
  // Check every candidate (no early exit), each in constant time.
  let matched = false;
  for (const candidate of candidates) matched = constantTimeEqual(candidate, expected) || matched;
  return matched;
}

/** `<t>.<raw body>` as bytes. */
function signedPayload(timestamp: number, body: string | Uint8Array): Uint8Array<ArrayBuffer> {
  const prefix = encoder.encode(`${timestamp}.`);
  const bytes = typeof body === 'string' ? encoder.encode(body) : body;
  const payload = new Uint8Array(prefix.length + bytes.length);
  payload.set(prefix, 0);
  payload.set(bytes, prefix.length);
  return payload;
}

async function hmacSha256Hex(secret: string, payload: Uint8Array<ArrayBuffer>): Promise<string> {
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const signature = new Uint8Array(await crypto.subtle.sign('HMAC', key, payload));
  return Array.from(signature, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** Equal-length hex strings compared without an early exit. */
function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let index = 0; index < a.length; index++) difference |= a.charCodeAt(index) ^ b.charCodeAt(index);
  return difference === 0;
}
