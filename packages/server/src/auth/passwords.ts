/**
 * Password hashing for the built-in identity provider: scrypt from node:crypto.
 *
 * Guarantees:
 *   - Memory-hard: production cost is N=2^17, r=8, p=1 (128 MiB and a few hundred ms per hash),
 *     with a fresh 16-byte random salt per hash and a 32-byte derived key.
 *   - Self-describing: a stored hash reads `scrypt$<N>$<r>$<p>$<salt>$<key>` (salt and key in
 *     base64url), so verification uses the parameters the hash was made with and the cost can be
 *     raised later without invalidating existing passwords (`needsRehash` tells which are old).
 *   - Never blocks the event loop: the async `crypto.scrypt` runs on the libuv thread pool.
 *   - Equal cost for unknown users: `verifyAgainstDummy` does the same work as `verify` against
 *     a real hash made with the current parameters, so login timing does not reveal whether a
 *     username exists.
 *   - Bounded memory: at most `maxConcurrent` hashes run at once (each holds 128 MiB), and at
 *     most `maxQueued` wait; beyond that the call fails fast with `rate_limited` instead of
 *     queueing without bound under a login flood.
 *   - Fair: every call names its source (the client's address); waiting hashes start
 *     round-robin across sources and one source holds at most `maxQueuedPerSource` places in the
 *     line, so a flood from one client cannot make everyone else's login or registration fail.
 */
import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { createFairLimiter, UNKNOWN_SOURCE } from './fair-limiter.js';

export interface ScryptParameters {
  /** CPU/memory cost; a power of two. */
  N: number;
  /** Block size. */
  r: number;
  /** Parallelisation. */
  p: number;
}

/** What production uses. Tests prove `createPasswordHasher()` produces exactly these. */
export const PRODUCTION_SCRYPT: Readonly<ScryptParameters> = Object.freeze({ N: 2 ** 17, r: 8, p: 1 });
/** Cheap parameters so test suites can hash hundreds of passwords. Never for real passwords. */
export const TEST_SCRYPT: Readonly<ScryptParameters> = Object.freeze({ N: 2 ** 10, r: 8, p: 1 });

const SALT_BYTES = 16;
const KEY_BYTES = 32;
const PREFIX = 'scrypt';

/*
 * Bounds on parameters read back from a stored hash. Stored hashes come from our own storage, but
 * a corrupted or hostile value must not make one verification allocate gigabytes.
 */
const MAX_LOG2_N = 20;
const MAX_R = 32;
const MAX_P = 16;
const MAX_MEMORY_BYTES = 1024 * 1024 * 1024;

export interface PasswordHasher {
  /** The parameters new hashes are made with. */
  readonly parameters: Readonly<ScryptParameters>;
  /**
   * Hashes a password with a fresh random salt; returns the self-describing encoded form.
   * `source` (every method): who asks, e.g. the client address, for the fair waiting line.
   */
  hash(password: string, source?: string): Promise<string>;
  /**
   * True when `password` matches `encoded`. A malformed or unsupported `encoded` answers false
   * (it never throws for bad stored data), after doing the same work as a real check.
   */
  verify(password: string, encoded: string, source?: string): Promise<boolean>;
  /**
   * Does the work of `verify` against a hash no password matches, and answers false. Call it
   * when the user does not exist so that answer takes as long as a wrong password.
   */
  verifyAgainstDummy(password: string, source?: string): Promise<false>;
  /** True when `encoded` was made with parameters other than the current ones. */
  needsRehash(encoded: string): boolean;
}

export interface PasswordHasherOptions {
  /** `production` (the default) or `test`: cheap parameters, for test suites only. */
  cost?: 'production' | 'test';
  /** Hashes computed at once (each holds 128*N*r bytes). Default 2, leaving thread-pool room for fs/dns. */
  maxConcurrent?: number;
  /** Hashes allowed to wait for a slot before calls fail with `rate_limited`. Default 64. */
  maxQueued?: number;
  /** Of those, how many one source may hold. Default 4. */
  maxQueuedPerSource?: number;
}

export function createPasswordHasher(options: PasswordHasherOptions = {}): PasswordHasher {
  const parameters = options.cost === 'test' ? TEST_SCRYPT : PRODUCTION_SCRYPT;
  const limit = createFairLimiter({
    maxConcurrent: options.maxConcurrent ?? 2,
    maxQueued: options.maxQueued ?? 64,
    maxQueuedPerSource: options.maxQueuedPerSource ?? 4,
  });

  const derive = (source: string, password: string, salt: Buffer, params: ScryptParameters, keyLength: number) =>
    limit(source, () => scryptAsync(normalize(password), salt, keyLength, params));

  async function verifyDecoded(source: string, password: string, decoded: DecodedHash): Promise<boolean> {
    const actual = await derive(source, password, decoded.salt, decoded.params, decoded.key.length);
    return timingSafeEqual(actual, decoded.key);
  }

  return {
    parameters,

    async hash(password, source = UNKNOWN_SOURCE) {
      const salt = randomBytes(SALT_BYTES);
      const key = await derive(source, password, salt, parameters, KEY_BYTES);
      return encode(parameters, salt, key);
    },

    async verify(password, encoded, source = UNKNOWN_SOURCE) {
      const decoded = decode(encoded);
      if (decoded === null) {
        // Same work as a real check, so bad stored data is not distinguishable by timing either.
        await verifyDecoded(source, password, dummyHash(parameters));
        return false;
      }
      return verifyDecoded(source, password, decoded);
    },

    async verifyAgainstDummy(password, source = UNKNOWN_SOURCE) {
      await verifyDecoded(source, password, dummyHash(parameters));
      return false;
    },

    needsRehash(encoded) {
      const decoded = decode(encoded);
      return (
        decoded === null ||
        decoded.params.N !== parameters.N ||
        decoded.params.r !== parameters.r ||
        decoded.params.p !== parameters.p ||
        decoded.key.length !== KEY_BYTES
      );
    },
  };
}

interface DecodedHash {
  params: ScryptParameters;
  salt: Buffer;
  key: Buffer;
}

/** Parses the encoded form; null for anything malformed or outside the safety bounds. */
export function decodePasswordHash(encoded: string): { params: ScryptParameters; saltBytes: number; keyBytes: number } | null {
  const decoded = decode(encoded);
  return decoded && { params: decoded.params, saltBytes: decoded.salt.length, keyBytes: decoded.key.length };
}

function encode(params: ScryptParameters, salt: Buffer, key: Buffer): string {
  return [PREFIX, params.N, params.r, params.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

function decode(encoded: string): DecodedHash | null {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== PREFIX) return null;
  const [, nText, rText, pText, saltText, keyText] = parts;
  const N = parsePositiveInt(nText);
  const r = parsePositiveInt(rText);
  const p = parsePositiveInt(pText);
  if (N === null || r === null || p === null) return null;
  const powerOfTwo = N >= 2 && (N & (N - 1)) === 0 && N <= 2 ** MAX_LOG2_N;
  if (!powerOfTwo || r > MAX_R || p > MAX_P || 128 * N * r > MAX_MEMORY_BYTES) return null;
  const salt = parseBase64url(saltText);
  const key = parseBase64url(keyText);
  if (salt === null || key === null || salt.length < 8 || salt.length > 64 || key.length < 16 || key.length > 64) {
    return null;
  }
  return { params: { N, r, p }, salt, key };
}

/** A well-formed hash at the current cost that no password matches (its key is random). */
function dummyHash(params: ScryptParameters): DecodedHash {
  return { params, salt: randomBytes(SALT_BYTES), key: randomBytes(KEY_BYTES) };
}

function parsePositiveInt(text: string | undefined): number | null {
  if (text === undefined || !/^[1-9][0-9]{0,9}$/.test(text)) return null;
  return Number(text);
}

function parseBase64url(text: string | undefined): Buffer | null {
  if (text === undefined || !/^[A-Za-z0-9_-]+$/.test(text)) return null;
  return Buffer.from(text, 'base64url');
}

/*
 * One Unicode form for the same visible password, so a password typed on a keyboard that
 * composes characters differently still matches.
 */
function normalize(password: string): Buffer {
  return Buffer.from(password.normalize('NFC'), 'utf8');
}

function scryptAsync(password: Buffer, salt: Buffer, keyLength: number, params: ScryptParameters): Promise<Buffer> {
  const options: ScryptOptions = {
    N: params.N,
    r: params.r,
    p: params.p,
    // Node refuses scrypt above 32 MiB by default; N=2^17, r=8 needs 128 MiB plus a little.
    maxmem: 128 * params.N * params.r * params.p + 32 * 1024 * 1024,
  };
  return new Promise((resolve, reject) => {
    scryptCallback(password, salt, keyLength, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}
