/**
 * The Ed25519 keys that sign built-in access tokens, shared by every node through the engine.
 *
 * Guarantees:
 *   - One current key cluster-wide: each node proposes a freshly generated key to
 *     `engine.signingKeys.ensureCurrent`, which is first-writer-wins, so nodes starting together
 *     all sign with the same key. A rotation (engine `rotate`) replaces it for every node.
 *   - `kid` is the RFC 7638 JWK thumbprint of the public key: stable, derived from the key itself.
 *   - Imported keys are cached in memory: signing and verifying do not read the engine.
 *   - After a rotation, `reload()` makes the next signature use the new key; nodes call it when a
 *     rotation is announced and every CURRENT_KEY_RECHECK_INTERVAL_MS in case they missed one. A
 *     read never overwrites a newer one, so a slow read cannot bring back the replaced key.
 *   - Unknown kids cost at most one engine read per `refreshIntervalMs` (default 30 s) however
 *     many requests present them, so forged kids cannot amplify into storage load. Concurrent
 *     refreshes share one read.
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { Engine, ListedSigningKey, StoredSigningKey } from '../engine/engine.js';

/** The JWS algorithm of every built-in token. Verification allows this one and nothing else. */
export const SIGNING_ALG = 'EdDSA' as const;

/**
 * How often a node re-reads the stored keys to learn of a rotation whose announcement it missed.
 * Until then it may still sign with the replaced key, so a replaced key stays listed this much
 * longer than its tokens live (see services/signing-keys-service.ts).
 */
export const CURRENT_KEY_RECHECK_INTERVAL_MS = 60_000;

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
  /**
   * Re-reads the stored keys now (not rate-limited: callers are the rotation announcement and a
   * timer, never a request) and drops the cached current key when storage names another one, so
   * the next signature uses the stored current key. Rejects when storage fails; the cache is kept.
   */
  reload(): Promise<void>;
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
  /** The kid of `current` once it has resolved; null while it loads (or when there is none). */
  let currentKid: string | null = null;
  let known: CachedKey[] = [];
  let lastRefreshAt = Number.NEGATIVE_INFINITY;
  let refreshing: Promise<void> | null = null;
  /** Reads are numbered as they start; one that finishes after a later one is discarded. */
  let readsStarted = 0;
  let lastApplied = 0;

  async function loadCurrent(): Promise<SigningKey> {
    const stored = await engine.signingKeys.ensureCurrent(await generateSigningKey(clock()));
    const cached = await toCached(stored);
    if (!known.some((k) => k.kid === cached.kid)) known = [cached, ...known];
    const privateKey = await importJWK(stored.privateJwk as JWK, SIGNING_ALG);
    if (!isCryptoKey(privateKey)) throw new Error('Stored signing key is not an asymmetric key');
    return { kid: stored.kid, privateKey };
  }

  function currentKey(): Promise<SigningKey> {
    if (current) return current;
    // Memoise the promise so concurrent first calls generate and store one candidate, and a
    // failed attempt (storage down) is retried by the next call instead of cached. Only the
    // attempt still memoised may record its kid or clear itself: reload() may have dropped it.
    const loading: Promise<SigningKey> = loadCurrent().then(
      (key) => {
        if (current === loading) currentKid = key.kid;
        return key;
      },
      (error: unknown) => {
        if (current === loading) current = null;
        throw error;
      },
    );
    current = loading;
    return loading;
  }

  /** Reads the stored keys and adopts them unless a read started later was adopted already. */
  async function read(): Promise<void> {
    const number = ++readsStarted;
    const listed = await engine.signingKeys.list(clock());
    const byKid = new Map(known.map((k) => [k.kid, k]));
    const cached = await Promise.all(
      listed.filter((k) => k.alg === SIGNING_ALG).map(async (k) => byKid.get(k.kid) ?? toCached(k)),
    );
    if (number < lastApplied) return;
    lastApplied = number;
    known = cached;
    const storedCurrent = listed.find((k: ListedSigningKey) => k.retiresAt === undefined);
    // A key that is loading (no kid yet) may be the replaced one: drop it too, the next call reloads.
    if (storedCurrent && current !== null && currentKid !== storedCurrent.kid) {
      current = null;
      currentKid = null;
    }
  }

  function refresh(): Promise<void> {
    if (refreshing) return refreshing;
    lastRefreshAt = clock();
    refreshing = (async () => {
      try {
        await read();
      } finally {
        refreshing = null;
      }
    })();
    return refreshing;
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

    reload: read,
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
