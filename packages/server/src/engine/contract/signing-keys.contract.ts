/** Contract of signing-key rotation: a new current key, the replaced ones listed until they retire. */
import { describe, expect, it } from 'vitest';
import { SIGNING_KEYS_MAX, type StoredSigningKey } from '../engine.js';
import { DAY, expectEngineError, HOUR, T0, type ContractContext } from './fixtures.contract.js';

function signingKey(kid: string, createdAt = T0): StoredSigningKey {
  return {
    kid,
    alg: 'EdDSA',
    privateJwk: { kty: 'OKP', crv: 'Ed25519', d: `private-${kid}`, x: `public-${kid}` },
    publicJwk: { kty: 'OKP', crv: 'Ed25519', x: `public-${kid}` },
    createdAt,
  };
}

export function signingKeysContract(context: ContractContext): void {
  describe('signing-key rotation', () => {
    it('makes the candidate current and lists the replaced key until it retires', async () => {
      const { signingKeys } = context.engine;
      await signingKeys.ensureCurrent(signingKey('k1'));
      expect(await signingKeys.rotate(signingKey('k2', T0 + HOUR), T0 + HOUR, DAY)).toEqual({
        status: 'rotated',
        current: signingKey('k2', T0 + HOUR),
        previous: [{ kid: 'k1', retiresAt: T0 + HOUR + DAY }],
      });
      // First writer still wins, and the writer is now the rotation.
      expect(await signingKeys.ensureCurrent(signingKey('k9'))).toEqual(signingKey('k2', T0 + HOUR));
      expect(await signingKeys.list(T0 + HOUR)).toEqual([
        signingKey('k2', T0 + HOUR),
        { ...signingKey('k1'), retiresAt: T0 + HOUR + DAY },
      ]);
      expect((await signingKeys.list(T0 + HOUR))[0]).not.toHaveProperty('retiresAt');
    });

    it('omits a retired key from its retirement on, and forgets it for good', async () => {
      const { signingKeys } = context.engine;
      await signingKeys.ensureCurrent(signingKey('k1'));
      await signingKeys.rotate(signingKey('k2'), T0, DAY);
      expect((await signingKeys.list(T0 + DAY - 1)).map((key) => key.kid)).toEqual(['k2', 'k1']);
      expect((await signingKeys.list(T0 + DAY)).map((key) => key.kid)).toEqual(['k2']);
      // Deleted, not merely hidden: an earlier time does not bring it back.
      expect((await signingKeys.list(T0)).map((key) => key.kid)).toEqual(['k2']);
    });

    it('lists the current key first, then the retiring ones, the last to retire first', async () => {
      const { signingKeys } = context.engine;
      await signingKeys.ensureCurrent(signingKey('k1'));
      await signingKeys.rotate(signingKey('k2'), T0, DAY);
      const third = await signingKeys.rotate(signingKey('k3'), T0 + HOUR, DAY);
      // A key already retiring keeps its date.
      expect(third).toMatchObject({
        status: 'rotated',
        previous: [
          { kid: 'k2', retiresAt: T0 + HOUR + DAY },
          { kid: 'k1', retiresAt: T0 + DAY },
        ],
      });
      const listed = await signingKeys.list(T0 + HOUR);
      expect(listed.map((key) => [key.kid, key.retiresAt])).toEqual([
        ['k3', undefined],
        ['k2', T0 + HOUR + DAY],
        ['k1', T0 + DAY],
      ]);
      expect((await signingKeys.list(T0 + DAY)).map((key) => key.kid)).toEqual(['k3', 'k2']);
    });

    it('makes the candidate the first key when there is none', async () => {
      const { signingKeys } = context.engine;
      expect(await signingKeys.rotate(signingKey('k1'), T0, DAY)).toEqual({ status: 'rotated', current: signingKey('k1'), previous: [] });
      expect(await signingKeys.ensureCurrent(signingKey('k2'))).toEqual(signingKey('k1'));
      expect(await signingKeys.list(T0)).toEqual([signingKey('k1')]);
    });

    it('refuses a rotation beyond SIGNING_KEYS_MAX listed keys until the oldest retires', async () => {
      const { signingKeys } = context.engine;
      await signingKeys.ensureCurrent(signingKey('k0'));
      for (let i = 1; i < SIGNING_KEYS_MAX; i += 1) {
        expect((await signingKeys.rotate(signingKey(`k${i}`), T0 + i, DAY)).status).toBe('rotated');
      }
      const before = await signingKeys.list(T0 + HOUR);
      expect(before).toHaveLength(SIGNING_KEYS_MAX);
      expect(await signingKeys.rotate(signingKey('late'), T0 + HOUR, DAY)).toEqual({ status: 'limit', retryAt: T0 + 1 + DAY });
      expect(await signingKeys.list(T0 + HOUR)).toEqual(before);
      expect((await signingKeys.ensureCurrent(signingKey('x'))).kid).toBe(`k${SIGNING_KEYS_MAX - 1}`);

      // Once k0 (retired at T0 + 1 + DAY) is gone, there is room for one more.
      const later = await signingKeys.rotate(signingKey('late'), T0 + 1 + DAY, DAY);
      expect(later.status).toBe('rotated');
      const listed = await signingKeys.list(T0 + 1 + DAY);
      expect(listed).toHaveLength(SIGNING_KEYS_MAX);
      expect(listed[0]!.kid).toBe('late');
      expect(listed.map((key) => key.kid)).not.toContain('k0');
    });

    it('serialises concurrent rotations: each replaced key is listed, one candidate ends current', async () => {
      const { signingKeys } = context.engine;
      await signingKeys.ensureCurrent(signingKey('k0'));
      const candidates = Array.from({ length: SIGNING_KEYS_MAX - 1 }, (_, i) => `c${i}`);
      const results = await Promise.all(candidates.map((kid) => signingKeys.rotate(signingKey(kid), T0, DAY)));
      expect(results.every((result) => result.status === 'rotated')).toBe(true);
      const listed = await signingKeys.list(T0);
      expect(listed.map((key) => key.kid).sort()).toEqual(['k0', ...candidates].sort());
      expect(listed.filter((key) => key.retiresAt === undefined)).toHaveLength(1);
      expect(listed[0]!.kid).toBe((await signingKeys.ensureCurrent(signingKey('x'))).kid);
    });

    it('refuses a candidate whose kid is stored already, changing nothing', async () => {
      const { signingKeys } = context.engine;
      await signingKeys.ensureCurrent(signingKey('k1'));
      await signingKeys.rotate(signingKey('k2'), T0, DAY);
      await expectEngineError(signingKeys.rotate(signingKey('k1'), T0, DAY), 'invalid_argument');
      await expectEngineError(signingKeys.rotate(signingKey('k2'), T0, DAY), 'invalid_argument');
      expect((await signingKeys.list(T0)).map((key) => key.kid)).toEqual(['k2', 'k1']);
    });

    it('refuses a negative retirement delay', async () => {
      const { signingKeys } = context.engine;
      await expectEngineError(signingKeys.rotate(signingKey('k1'), T0, -1), 'invalid_argument');
      expect(await signingKeys.list(T0)).toEqual([]);
    });
  });
}
