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
    list: (now) => {
      lists += 1;
      return inner.list(now);
    },
    rotate: (candidate, now, retireAfterMs) => inner.rotate(candidate, now, retireAfterMs),
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
    expect(await engine.signingKeys.list(0)).toHaveLength(1);
  });

  it('caches the current key: repeated calls do not go back to storage', async () => {
    const engine = createMemoryEngine();
    let ensures = 0;
    const signingKeys: SigningKeyStore = {
      ensureCurrent: (c) => {
        ensures += 1;
        return engine.signingKeys.ensureCurrent(c);
      },
      list: (now) => engine.signingKeys.list(now),
      rotate: (candidate, now, retireAfterMs) => engine.signingKeys.rotate(candidate, now, retireAfterMs),
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

  describe('after a rotation', () => {
    const DAY = 86_400_000;

    it('keeps signing with the cached key until reload, then signs with the new one', async () => {
      const engine = createMemoryEngine();
      const node = createSigningKeys({ engine, clock: () => 0 });
      const before = await node.current();
      const next = await generateSigningKey(1);
      await engine.signingKeys.rotate(next, 1, DAY);
      expect((await node.current()).kid).toBe(before.kid);
      await node.reload();
      expect((await node.current()).kid).toBe(next.kid);
    });

    it('still verifies tokens of the replaced key and publishes both keys, the new one first', async () => {
      const engine = createMemoryEngine();
      let now = 0;
      const node = createSigningKeys({ engine, clock: () => now });
      const old = await node.current();
      const next = await generateSigningKey(now);
      await engine.signingKeys.rotate(next, now, DAY);
      await node.reload();
      expect(await node.publicKey(old.kid)).not.toBeNull();
      expect(await node.publicKey(next.kid)).not.toBeNull();
      expect((await node.publicJwks()).map((jwk) => jwk.kid)).toEqual([next.kid, old.kid]);

      // Once the replaced key retires, its tokens no longer verify and it is no longer published.
      now = DAY;
      await node.reload();
      expect(await node.publicKey(old.kid)).toBeNull();
      expect((await node.publicJwks()).map((jwk) => jwk.kid)).toEqual([next.kid]);
    });

    it('keeps the cached key when storage names the same current key (no new key stored)', async () => {
      const engine = createMemoryEngine();
      let ensures = 0;
      const signingKeys: SigningKeyStore = {
        ensureCurrent: (candidate) => {
          ensures += 1;
          return engine.signingKeys.ensureCurrent(candidate);
        },
        list: (now) => engine.signingKeys.list(now),
        rotate: (candidate, now, retireAfterMs) => engine.signingKeys.rotate(candidate, now, retireAfterMs),
        ensureIssuer: (candidate) => engine.signingKeys.ensureIssuer(candidate),
      };
      const node = createSigningKeys({ engine: { signingKeys }, clock: () => 0 });
      const { kid } = await node.current();
      await node.reload();
      await node.reload();
      expect((await node.current()).kid).toBe(kid);
      expect(ensures).toBe(1);
      expect(await engine.signingKeys.list(0)).toHaveLength(1);
    });

    it('finds the new key of a node that has not heard yet through the unknown-kid re-read', async () => {
      const engine = createMemoryEngine();
      let now = 0;
      const rotating = createSigningKeys({ engine, clock: () => now });
      const unaware = createSigningKeys({ engine, clock: () => now, refreshIntervalMs: 30_000 });
      await Promise.all([rotating.current(), unaware.current()]);
      const next = await generateSigningKey(now);
      await engine.signingKeys.rotate(next, now, DAY);
      await rotating.reload();
      now += 30_000;
      expect(await unaware.publicKey((await rotating.current()).kid)).not.toBeNull();
      // Learning of the key this way also ends signing with the replaced one.
      expect((await unaware.current()).kid).toBe(next.kid);
    });

    it('never lets a read that started before the rotation undo a later reload', async () => {
      const engine = createMemoryEngine();
      let release: () => void = () => undefined;
      let holdNext = false;
      const signingKeys: SigningKeyStore = {
        ensureCurrent: (candidate) => engine.signingKeys.ensureCurrent(candidate),
        list: async (now) => {
          const listed = await engine.signingKeys.list(now);
          if (holdNext) {
            holdNext = false;
            await new Promise<void>((resolve) => (release = resolve));
          }
          return listed;
        },
        rotate: (candidate, now, retireAfterMs) => engine.signingKeys.rotate(candidate, now, retireAfterMs),
        ensureIssuer: (candidate) => engine.signingKeys.ensureIssuer(candidate),
      };
      const node = createSigningKeys({ engine: { signingKeys }, clock: () => 0 });
      await node.current();
      holdNext = true;
      const slow = node.publicKey('unknown-kid'); // reads the key list as it was before the rotation
      const next = await generateSigningKey(0);
      await engine.signingKeys.rotate(next, 0, DAY);
      await node.reload();
      release();
      expect(await slow).toBeNull();
      // Answered from what the reload read: the slow read did not replace it with the old list.
      expect(await node.publicKey(next.kid)).not.toBeNull();
      expect((await node.current()).kid).toBe(next.kid);
      expect((await node.publicJwks())[0]!.kid).toBe(next.kid);
    });

    it('keeps its cache when storage fails during reload', async () => {
      const engine = createMemoryEngine();
      let failing = false;
      const signingKeys: SigningKeyStore = {
        ensureCurrent: (candidate) => engine.signingKeys.ensureCurrent(candidate),
        list: (now) => (failing ? Promise.reject(new Error('storage down')) : engine.signingKeys.list(now)),
        rotate: (candidate, now, retireAfterMs) => engine.signingKeys.rotate(candidate, now, retireAfterMs),
        ensureIssuer: (candidate) => engine.signingKeys.ensureIssuer(candidate),
      };
      const node = createSigningKeys({ engine: { signingKeys }, clock: () => 0 });
      const { kid } = await node.current();
      failing = true;
      await expect(node.reload()).rejects.toThrow('storage down');
      expect((await node.current()).kid).toBe(kid);
      expect(await node.publicKey(kid)).not.toBeNull();
    });
  });
});
