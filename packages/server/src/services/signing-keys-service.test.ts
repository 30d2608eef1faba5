import { describe, expect, it } from 'vitest';
import { createSigningKeys } from '../auth/signing-keys.js';
import type { Revocation } from '../engine/engine.js';
import { createMemoryEngine } from '../engine/memory/memory-engine.js';
import { MAX_PUBLISHED_SIGNING_KEYS, createSigningKeysService } from './signing-keys-service.js';
import { ServiceError } from './service-error.js';

const MAX_ACCEPTED_AGE_MS = 86_460_000;

function setup(now: () => number) {
  const engine = createMemoryEngine();
  const signingKeys = createSigningKeys({ engine, clock: now });
  const service = createSigningKeysService({ engine, signingKeys, accessTokens: { maxAcceptedAgeMs: MAX_ACCEPTED_AGE_MS }, clock: now });
  return { engine, signingKeys, service };
}

describe('signing-key rotation (service)', () => {
  it('signs with the new key on this node at once, tells every node, and keeps the old key past its tokens', async () => {
    const now = 1_000_000;
    const { engine, signingKeys, service } = setup(() => now);
    const heard: Revocation[] = [];
    const listener = await engine.revocations.listen((revocation) => heard.push(revocation), () => undefined);
    const old = await signingKeys.current();

    const rotation = await service.rotate();
    expect(rotation.kid).not.toBe(old.kid);
    expect(rotation.createdAt).toBe(now);
    expect((await signingKeys.current()).kid).toBe(rotation.kid);
    await new Promise((resolve) => setImmediate(resolve)); // the bus delivers asynchronously
    expect(heard).toEqual([{ kind: 'signing-keys' }]);
    // The longest accepted token age, plus the minute a node that missed the message may still sign with it.
    expect(rotation.previous).toEqual([{ kid: old.kid, retiresAt: now + MAX_ACCEPTED_AGE_MS + 60_000 }]);
    await listener.close();
  });

  it(`answers rate_limited with Retry-After beyond ${MAX_PUBLISHED_SIGNING_KEYS} published keys, and announces nothing`, async () => {
    let now = 1_000_000;
    const { engine, signingKeys, service } = setup(() => now);
    await signingKeys.current();
    for (let i = 1; i < MAX_PUBLISHED_SIGNING_KEYS; i += 1) {
      await service.rotate();
      now += 1000;
    }
    const heard: Revocation[] = [];
    const listener = await engine.revocations.listen((revocation) => heard.push(revocation), () => undefined);
    const error = await service.rotate().catch((caught: unknown) => caught);
    await new Promise((resolve) => setImmediate(resolve));
    expect(error).toBeInstanceOf(ServiceError);
    expect((error as ServiceError).code).toBe('rate_limited');
    // The first replaced key retires MAX_ACCEPTED_AGE_MS + 60 s after the first rotation.
    const retiresAt = 1_000_000 + MAX_ACCEPTED_AGE_MS + 60_000;
    expect((error as ServiceError).headers).toEqual({ 'Retry-After': String(Math.ceil((retiresAt - now) / 1000)) });
    expect(heard).toEqual([]);
    await listener.close();
  });
});
