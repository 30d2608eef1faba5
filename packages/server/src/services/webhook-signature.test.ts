import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signatureHeader, signingSecrets, verifyWebhookSignature } from './webhook-signature.js';

const NOW = 1_764_489_600_000;
const BODY = '{"id":"evt_1","type":"message.created"}';

describe('webhook signatures', () => {
  it('signs "<t>.<body>" with HMAC-SHA256, one v1 per secret, as a receiver recomputes it', () => {
    const header = signatureHeader(['whsec_a', 'whsec_b'], NOW, BODY);
    const t = NOW / 1000;
    const expected = (secret: string) => createHmac('sha256', secret).update(`${t}.${BODY}`).digest('hex');
    expect(header).toBe(`t=${t},v1=${expected('whsec_a')},v1=${expected('whsec_b')}`);
  });

  it('verifies with either secret, and refuses another secret, another body, or a stale timestamp', () => {
    const header = signatureHeader(['whsec_new', 'whsec_old'], NOW, BODY);
    expect(verifyWebhookSignature(header, BODY, 'whsec_new', NOW)).toBe(true);
    expect(verifyWebhookSignature(header, BODY, 'whsec_old', NOW + 299_000)).toBe(true);
    expect(verifyWebhookSignature(header, BODY, 'whsec_other', NOW)).toBe(false);
    expect(verifyWebhookSignature(header, `${BODY} `, 'whsec_new', NOW)).toBe(false);
    expect(verifyWebhookSignature(header, BODY, 'whsec_new', NOW + 301_000)).toBe(false);
    expect(verifyWebhookSignature('v1=00', BODY, 'whsec_new', NOW)).toBe(false);
    expect(verifyWebhookSignature(`t=${NOW / 1000},v1=zz`, BODY, 'whsec_new', NOW)).toBe(false);
  });

  it('signs with the current secret and with rotated-out ones until they expire', () => {
    const secrets = [
      { secret: 'current', expiresAt: null },
      { secret: 'previous', expiresAt: NOW + 1000 },
    ];
    expect(signingSecrets(secrets, NOW)).toEqual(['current', 'previous']);
    expect(signingSecrets(secrets, NOW + 1000)).toEqual(['current']);
  });
});
