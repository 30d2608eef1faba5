import { calculateJwkThumbprint } from 'jose';
import { describe, expect, it } from 'vitest';
import type { Engine, SigningKeyStore } from '../engine/engine.js';
import { createMemoryEngine } from '../engine/memory/memory-engine.js';
import { createSigningKeys, generateSigningKey } from './signing-keys.js';

/** The engine's key store, counting how often the key list is read. */
function countingStore(engine: Engine): { store: Pick<Engine, 'signingKeys'>; lists: () => number } {
  let lists = 0;
  const inner = engine.signingKeys;
  const signingKeys: SigningKeyStore = {
    ensureCurrent: (candidate) => inner.ensureCurrent(candidate),
    list: () => {
      lists += 1;
      return inner.list();
    },
    ensureIssuer: (candidate) => inner.ensureIssuer(candidate),
  };
  return { store: { signingKeys }, lists: () => lists };
}

describe('signing keys', () => {
  it('generates Ed25519 keys whose kid is the RFC 7638 thumbprint', async () => {
    const key = await generateSigningKey(1);
    expect(key.alg).toBe('EdDSA');
    expect(key.publicJwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519' });
    expect(key.publicJwk).not.toHaveProperty('d');
    expect(key.privateJwk).toHaveProperty('d');
    expect(key.kid).toBe(await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: key.publicJwk.x as string }));
  });

  it('gives every node the same current key, stored once', async () => {
    const engine = createMemoryEngine();
    const nodes = Array.from({ length: 5 }, () => createSigningKeys({ engine, clock: () => 0 }));
    const keys = await Promise.all(nodes.map((n) => n.current()));
    expect(new Set(keys.map((k) => k.kid)).size).toBe(1);
    expect(await engine.signingKeys.list()).toHaveLength(1);
  });

  it('caches the current key: repeated calls do not go back to storage', async () => {
    const engine = createMemoryEngine();
    let ensures = 0;
    const signingKeys: SigningKeyStore = {
      ensureCurrent: (c) => {
        ensures += 1;
        return engine.signingKeys.ensureCurrent(c);
      },
      list: () => engine.signingKeys.list(),
      ensureIssuer: (candidate) => engine.signingKeys.ensureIssuer(candidate),
    };
    const keys = createSigningKeys({ engine: { signingKeys }, clock: () => 0 });
    await Promise.all([keys.current(), keys.current()]);
    await keys.current();
    expect(ensures).toBe(1);
  });

  it('publishes only public members, with kid, alg and use', async () => {
    const keys = createSigningKeys({ engine: createMemoryEngine(), clock: () => 0 });
    const { kid } = await keys.current();
    const jwks = await keys.publicJwks();
    expect(jwks).toEqual([{ kty: 'OKP', crv: 'Ed25519', x: expect.any(String), kid, alg: 'EdDSA', use: 'sig' }]);
  });

  it('finds a key another node created by re-reading storage on an unknown kid', async () => {
    const engine = createMemoryEngine();
    const counted = countingStore(engine);
    let now = 0;
    const verifier = createSigningKeys({ engine: counted.store, clock: () => now, refreshIntervalMs: 30_000 });
    expect(await verifier.publicKey('not-yet')).toBeNull();
    const { kid } = await createSigningKeys({ engine, clock: () => now }).current();
    now += 30_000;
    expect(await verifier.publicKey(kid)).not.toBeNull();
    expect(counted.lists()).toBe(2);
  });

  it('re-reads storage at most once per interval however many unknown kids arrive', async () => {
    const engine = createMemoryEngine();
    const counted = countingStore(engine);
    let now = 1_000_000;
    const keys = createSigningKeys({ engine: counted.store, clock: () => now, refreshIntervalMs: 30_000 });
    await Promise.all(Array.from({ length: 50 }, (_, i) => keys.publicKey(`forged-${i}`)));
    expect(counted.lists()).toBe(1);
    now += 29_999;
    await keys.publicKey('forged-again');
    expect(counted.lists()).toBe(1);
    now += 1;
    const { kid } = await createSigningKeys({ engine, clock: () => now }).current();
    expect(await keys.publicKey(kid)).not.toBeNull();
    expect(counted.lists()).toBe(2);
    // Known kids are answered from memory.
    await keys.publicKey(kid);
    expect(counted.lists()).toBe(2);
  });
});
