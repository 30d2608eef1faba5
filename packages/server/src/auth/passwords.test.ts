import { describe, expect, it } from 'vitest';
import { createPasswordHasher, decodePasswordHash, PRODUCTION_SCRYPT, TEST_SCRYPT } from './passwords.js';

describe('password hashing', () => {
  const hasher = createPasswordHasher({ cost: 'test' });

  it('verifies the right password and refuses a wrong one', async () => {
    const encoded = await hasher.hash('correct horse battery');
    expect(await hasher.verify('correct horse battery', encoded)).toBe(true);
    expect(await hasher.verify('correct horse batterY', encoded)).toBe(false);
    expect(await hasher.verify('', encoded)).toBe(false);
  });

  it('encodes its parameters, salt and key in the stored form', async () => {
    const encoded = await hasher.hash('s3cret-password');
    expect(encoded).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(decodePasswordHash(encoded)).toEqual({ params: TEST_SCRYPT, saltBytes: 16, keyBytes: 32 });
    expect(encoded).not.toContain('s3cret-password');
  });

  it('salts every hash: the same password never hashes the same way twice', async () => {
    const [a, b] = await Promise.all([hasher.hash('same password'), hasher.hash('same password')]);
    expect(a).not.toBe(b);
  });

  it('uses N=2^17, r=8, p=1 in production (the default)', async () => {
    const production = createPasswordHasher();
    expect(production.parameters).toEqual({ N: 131072, r: 8, p: 1 });
    const encoded = await production.hash('a production password');
    expect(encoded.startsWith('scrypt$131072$8$1$')).toBe(true);
    expect(decodePasswordHash(encoded)).toEqual({ params: PRODUCTION_SCRYPT, saltBytes: 16, keyBytes: 32 });
    expect(await production.verify('a production password', encoded)).toBe(true);
  });

  it('verifies with the parameters stored in the hash, so the cost can change later', async () => {
    const old = await hasher.hash('password from before');
    const production = createPasswordHasher();
    expect(await production.verify('password from before', old)).toBe(true);
    expect(production.needsRehash(old)).toBe(true);
    expect(hasher.needsRehash(old)).toBe(false);
  });

  it('answers false (never throws) for malformed or out-of-bounds stored hashes', async () => {
    const bad = [
      '',
      'plaintext',
      'bcrypt$10$abc',
      'scrypt$1000$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', // N not a power of two
      'scrypt$2097152$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', // N=2^21: too costly
      'scrypt$1024$8$1$!!$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      'scrypt$1024$8$1$AAAAAAAAAAAAAAAAAAAAAA',
    ];
    for (const encoded of bad) {
      expect(decodePasswordHash(encoded)).toBeNull();
      expect(await hasher.verify('anything at all', encoded)).toBe(false);
    }
  });

  it('does the work of a real check against the dummy hash and answers false', async () => {
    expect(await hasher.verifyAgainstDummy('whatever password')).toBe(false);
  });

  it('normalises Unicode, so composed and decomposed forms of a password match', async () => {
    const encoded = await hasher.hash('caf\u00e9-password');
    expect(await hasher.verify('cafe\u0301-password', encoded)).toBe(true);
  });

  it('fails fast with rate_limited when too many hashes wait', async () => {
    const tight = createPasswordHasher({ cost: 'test', maxConcurrent: 1, maxQueued: 1 });
    const results = await Promise.allSettled([tight.hash('password-1'), tight.hash('password-2'), tight.hash('password-3')]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    const rejected = results[2];
    expect(rejected?.status === 'rejected' && rejected.reason).toMatchObject({ code: 'rate_limited', status: 429 });
    // The slots are released: later calls work.
    expect(await tight.verify('password-1', await tight.hash('password-1'))).toBe(true);
  });
});
