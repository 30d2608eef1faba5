/**
 * The Ed25519 keys that sign built-in access tokens, shared by every node through the engine.
 *
 * Guarantees:
 *   - One current key cluster-wide: each node proposes a freshly generated key to
 *     `engine.signingKeys.ensureCurrent`, which is first-writer-wins, so nodes starting together
 *     all sign with the same key.
 *   - `kid` is the RFC 7638 JWK thumbprint of the public key: stable, derived from the key itself.
 *   - Imported keys are cached in memory: signing and verifying do not read the engine.
 *   - Unknown kids cost at most one engine read per `refreshIntervalMs` (default 30 s) however
 *     many requests present them, so forged kids cannot amplify into storage load. Concurrent
 *     refreshes share one read.
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { Engine, StoredSigningKey } from '../engine/engine.js';

/** The JWS algorithm of every built-in token. Verification allows this one and nothing else. */
export const SIGNING_ALG = 'EdDSA' as const;

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
}

/** A public key as published in the JWKS. */
export interface PublicJwk extends JWK {
  kid: string;
  alg: typeof SIGNING_ALG;
  use: 'sig';
}

export interface SigningKeys {
  /** The key new tokens are signed with (created and stored on first use). */
  current(): Promise<SigningKey>;
  /**
   * The public key for `kid`, or null when no stored key has it. An unknown kid triggers one
   * re-read of the stored keys (rate-limited), so keys created by other nodes are found.
   */
  publicKey(kid: string): Promise<CryptoKey | null>;
  /** Every public key whose tokens may still be valid, current first, as JWKs with kid/alg/use. */
  publicJwks(): Promise<PublicJwk[]>;
}

export interface SigningKeysOptions {
  engine: Pick<Engine, 'signingKeys'>;
  clock: () => number;
  /** Minimum time between re-reads of the stored key list. Default 30 s. */
  refreshIntervalMs?: number;
}

interface CachedKey {
  kid: string;
  publicKey: CryptoKey;
  publicJwk: PublicJwk;
}

/** Generates a new Ed25519 key pair in the shape the engine stores. */
export async function generateSigningKey(now: number): Promise<StoredSigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(SIGNING_ALG, { crv: 'Ed25519', extractable: true });
  const privateJwk = await exportJWK(privateKey);
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return { kid, alg: SIGNING_ALG, privateJwk: { ...privateJwk }, publicJwk: { ...publicJwk }, createdAt: now };
}

export function createSigningKeys(options: SigningKeysOptions): SigningKeys {
  const { engine, clock } = options;
  const refreshIntervalMs = options.refreshIntervalMs ?? 30_000;

  let current: Promise<SigningKey> | null = null;
  let known: CachedKey[] = [];
  let lastRefreshAt = Number.NEGATIVE_INFINITY;
  let refreshing: Promise<void> | null = null;

  async function loadCurrent(): Promise<SigningKey> {
    const stored = await engine.signingKeys.ensureCurrent(await generateSigningKey(clock()));
    const cached = await toCached(stored);
    if (!known.some((k) => k.kid === cached.kid)) known = [cached, ...known];
    const privateKey = await importJWK(stored.privateJwk as JWK, SIGNING_ALG);
    if (!isCryptoKey(privateKey)) throw new Error('Stored signing key is not an asymmetric key');
    return { kid: stored.kid, privateKey };
  }

  function refresh(): Promise<void> {
    if (refreshing) return refreshing;
    lastRefreshAt = clock();
    refreshing = (async () => {
      try {
        const stored = await engine.signingKeys.list();
        known = await Promise.all(stored.filter((k) => k.alg === SIGNING_ALG).map(toCached));
      } finally {
        refreshing = null;
      }
    })();
    return refreshing;
  }

  function currentKey(): Promise<SigningKey> {
    // Memoise the promise so concurrent first calls generate and store one candidate, and a
    // failed attempt (storage down) is retried by the next call instead of cached.
    current ??= loadCurrent().catch((error: unknown) => {
      current = null;
      throw error;
    });
    return current;
  }

  return {
    current: currentKey,

    async publicKey(kid) {
      const hit = known.find((k) => k.kid === kid);
      if (hit) return hit.publicKey;
      if (refreshing) await refreshing;
      else if (clock() - lastRefreshAt >= refreshIntervalMs) await refresh();
      return known.find((k) => k.kid === kid)?.publicKey ?? null;
    },

    async publicJwks() {
      // Make sure this node's key exists and is listed, then serve the freshest list allowed.
      await currentKey();
      if (clock() - lastRefreshAt >= refreshIntervalMs) await refresh();
      return known.map((k) => ({ ...k.publicJwk }));
    },
  };
}

async function toCached(stored: StoredSigningKey): Promise<CachedKey> {
  // Publish only the public members: never spread a stored JWK that might carry `d`.
  const source = stored.publicJwk as JWK;
  const publicJwk: PublicJwk = { kty: source.kty, crv: source.crv, x: source.x, kid: stored.kid, alg: SIGNING_ALG, use: 'sig' };
  const publicKey = await importJWK(publicJwk, SIGNING_ALG);
  if (!isCryptoKey(publicKey)) throw new Error('Stored public key is not an asymmetric key');
  return { kid: stored.kid, publicKey, publicJwk };
}

function isCryptoKey(key: CryptoKey | Uint8Array): key is CryptoKey {
  return !(key instanceof Uint8Array);
}
