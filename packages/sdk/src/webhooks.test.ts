/**
 * verifyWebhook (WebCrypto) against signatures made by the server's own signer
 * (packages/server/src/services/webhook-signature.ts): it accepts what the server signs, with
 * either secret during a rotation, refuses tampering, other secrets and stale or future
 * timestamps, and agrees with the server's Node verifier on random inputs. (A real delivery,
 * received over HTTP and verified, is in rest/rest.test.ts.)
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { signatureHeader, verifyWebhookSignature } from '../../server/src/services/webhook-signature.js';
import type { EpochMs } from '../../server/src/domain/types.js';
import { verifyWebhook, WEBHOOK_TOLERANCE_SECONDS } from './webhooks.js';

const SECRET = 'whsec_0123456789abcdef0123456789abcdef';
const OTHER = 'whsec_fedcba9876543210fedcba9876543210';
const NOW = 1_790_000_000_000 as EpochMs;
const BODY = JSON.stringify({ id: 'evt_1', type: 'message.created', tenantId: 't', createdAt: '2026-09-21T12:00:00Z', data: { text: 'héllo 👋' } });

describe('verifyWebhook', () => {
  it("accepts the server's signature of the raw body, as text or bytes", async () => {
    const header = signatureHeader([SECRET], NOW, BODY);
    expect(await verifyWebhook({ header, body: BODY, secret: SECRET, now: NOW })).toBe(true);
    expect(await verifyWebhook({ header, body: new TextEncoder().encode(BODY), secret: SECRET, now: NOW })).toBe(true);
  });

  it('accepts either secret while a rotation signs with two (two v1= values)', async () => {
    const header = signatureHeader([OTHER, SECRET], NOW, BODY);
    expect(header.match(/v1=/g)).toHaveLength(2);
    expect(await verifyWebhook({ header, body: BODY, secret: SECRET, now: NOW })).toBe(true);
    expect(await verifyWebhook({ header, body: BODY, secret: OTHER, now: NOW })).toBe(true);
  });

  it('refuses another secret, a changed body, a re-serialised body and a missing or malformed header', async () => {
    const header = signatureHeader([SECRET], NOW, BODY);
    expect(await verifyWebhook({ header, body: BODY, secret: OTHER, now: NOW })).toBe(false);
    expect(await verifyWebhook({ header, body: BODY.replace('héllo', 'hello'), secret: SECRET, now: NOW })).toBe(false);
    expect(await verifyWebhook({ header, body: JSON.stringify(JSON.parse(BODY), null, 2), secret: SECRET, now: NOW })).toBe(false);
    for (const bad of [null, undefined, '', 't=abc,v1=00', header.replace(/v1=[0-9a-f]+/, 'v1=xyz'), header.replace(/t=\d+,/, ''), header.replace(/,v1=.*/, '')]) {
      expect(await verifyWebhook({ header: bad, body: BODY, secret: SECRET, now: NOW }), String(bad)).toBe(false);
    }
  });

  it(`refuses timestamps more than ${WEBHOOK_TOLERANCE_SECONDS} s old or ahead (replays), accepts within`, async () => {
    const signedAt = (offsetSeconds: number) => signatureHeader([SECRET], (NOW + offsetSeconds * 1000) as EpochMs, BODY);
    expect(await verifyWebhook({ header: signedAt(-299), body: BODY, secret: SECRET, now: NOW })).toBe(true);
    expect(await verifyWebhook({ header: signedAt(299), body: BODY, secret: SECRET, now: NOW })).toBe(true);
    expect(await verifyWebhook({ header: signedAt(-301), body: BODY, secret: SECRET, now: NOW })).toBe(false);
    expect(await verifyWebhook({ header: signedAt(301), body: BODY, secret: SECRET, now: NOW })).toBe(false);
    expect(await verifyWebhook({ header: signedAt(-600), body: BODY, secret: SECRET, now: NOW, toleranceSeconds: 900 })).toBe(true);
    // Without `now`, the current time: a signature made now verifies.
    expect(await verifyWebhook({ header: signatureHeader([SECRET], Date.now() as EpochMs, BODY), body: BODY, secret: SECRET })).toBe(true);
  });

  it("agrees with the server's verifier on random bodies, secrets, ages and tampering", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: 'grapheme', maxLength: 200 }),
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.integer({ min: -400, max: 400 }),
        fc.boolean(),
        fc.boolean(),
        async (body, secret, ageSeconds, tamperBody, wrongSecret) => {
          const header = signatureHeader([secret], (NOW - ageSeconds * 1000) as EpochMs, body);
          const received = tamperBody ? `${body}.` : body;
          const key = wrongSecret ? `${secret}x` : secret;
          const expected = verifyWebhookSignature(header, received, key, NOW);
          expect(await verifyWebhook({ header, body: received, secret: key, now: NOW })).toBe(expected);
          expect(expected).toBe(!tamperBody && !wrongSecret && Math.abs(ageSeconds) <= WEBHOOK_TOLERANCE_SECONDS);
        },
      ),
      { numRuns: 300 },
    );
  });
});
