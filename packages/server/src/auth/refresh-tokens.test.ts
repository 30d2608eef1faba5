import { beforeEach, describe, expect, it } from 'vitest';
import type { TenantId, UserId } from '../domain/types.js';
import type { Engine } from '../engine/engine.js';
import { createMemoryEngine } from '../engine/memory/memory-engine.js';
import { createRefreshTokens, DEFAULT_REFRESH_REUSE_GRACE_MS, formatRefreshToken, hashSecret, parseRefreshToken, type RefreshTokens } from './refresh-tokens.js';

const tenant = 'default' as TenantId;
const alice = 'alice-id' as UserId;
const DAY = 24 * 60 * 60 * 1000;
const T0 = Date.UTC(2030, 0, 1);

async function expectInvalid(promise: Promise<unknown>): Promise<void> {
  await expect(promise).rejects.toMatchObject({ code: 'invalid_refresh_token', status: 401, detail: 'The refresh token is not valid' });
}

describe('refresh tokens', () => {
  let now: number;
  let engine: Engine;
  let tokens: RefreshTokens;

  beforeEach(() => {
    now = T0;
    engine = createMemoryEngine();
    tokens = createRefreshTokens({ engine, clock: () => now });
  });

  it('issues rt1.<tenant>.<family>.<generation>.<secret> and stores only the secret hash', async () => {
    const issued = await tokens.issue(tenant, alice);
    expect(issued.token).toMatch(/^rt1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}\.0\.[A-Za-z0-9_-]{43}$/);
    expect(issued).toMatchObject({ tenantId: tenant, userId: alice, expiresAt: T0 + 30 * DAY });
    const parsed = parseRefreshToken(issued.token);
    expect(parsed).toMatchObject({ tenantId: tenant, generation: 0 });
    // Rotating by hash works while the secret itself never needed to be stored.
    const stored = await engine.refreshTokens.rotate(tenant, parsed?.familyId ?? '', 0, hashSecret(parsed?.secret ?? ''), { secretHash: 'x', expiresAt: T0 + DAY }, T0);
    expect(stored).toMatchObject({ status: 'rotated', family: { userId: alice, generation: 1 } });
  });

  it('rotates to generation + 1 and spends the old token', async () => {
    const first = await tokens.issue(tenant, alice);
    now += DAY;
    const second = await tokens.rotate(first.token);
    expect(parseRefreshToken(second.token)).toMatchObject({ generation: 1, familyId: parseRefreshToken(first.token)?.familyId });
    expect(second).toMatchObject({ tenantId: tenant, userId: alice, expiresAt: now + 30 * DAY });
    const third = await tokens.rotate(second.token);
    expect(parseRefreshToken(third.token)?.generation).toBe(2);
  });

  it('revokes the whole family when a spent token is presented again after the grace window', async () => {
    const first = await tokens.issue(tenant, alice);
    const second = await tokens.rotate(first.token);
    now += DEFAULT_REFRESH_REUSE_GRACE_MS + 1;
    await expectInvalid(tokens.rotate(first.token));
    // The newest token, though never used, is dead too.
    await expectInvalid(tokens.rotate(second.token));
  });

  it('ignores a forged token naming a spent generation: the family lives on', async () => {
    const first = await tokens.issue(tenant, alice);
    const second = await tokens.rotate(first.token);
    const parsed = parseRefreshToken(first.token);
    if (parsed === null) throw new Error('unparsable token');
    // Someone who learned the family id (from logs, say) but not a secret forges generation 0.
    const forged = formatRefreshToken({ ...parsed, secret: 'A'.repeat(43) });
    await expectInvalid(tokens.rotate(forged));
    // The legitimate holder is not logged out.
    const third = await tokens.rotate(second.token);
    expect(parseRefreshToken(third.token)?.generation).toBe(2);
  });

  it('lets two tabs refresh with one token within the grace window: both new tokens keep working', async () => {
    const { token } = await tokens.issue(tenant, alice);
    const [tabA, tabB] = await Promise.all([tokens.rotate(token), tokens.rotate(token)]);
    expect(tabA.token).not.toBe(tabB.token);
    now += DEFAULT_REFRESH_REUSE_GRACE_MS; // the window's last millisecond
    const again = await tokens.rotate(token);
    const [nextA, nextB] = await Promise.all([tokens.rotate(tabA.token), tokens.rotate(tabB.token)]);
    for (const next of [again, nextA, nextB]) expect(next).toMatchObject({ userId: alice });
    // `again` is of the generation tab A spent: once the window has passed, it is reuse, and the
    // whole family is revoked.
    now += DEFAULT_REFRESH_REUSE_GRACE_MS + 1;
    await expectInvalid(tokens.rotate(again.token));
    await expectInvalid(tokens.rotate(nextB.token));
  });

  it('revokes every family of a user, not those of others', async () => {
    const bob = 'bob-id' as UserId;
    const [first, second, bobs] = await Promise.all([tokens.issue(tenant, alice), tokens.issue(tenant, alice), tokens.issue(tenant, bob)]);
    await tokens.revokeUser(tenant, alice);
    await expectInvalid(tokens.rotate(first.token));
    await expectInvalid(tokens.rotate(second.token));
    await expect(tokens.rotate(bobs.token)).resolves.toMatchObject({ userId: bob });
  });

  it('lets exactly one of two concurrent refreshes with one token succeed without a grace window', async () => {
    tokens = createRefreshTokens({ engine, clock: () => now, reuseGraceMs: 0 });
    const { token } = await tokens.issue(tenant, alice);
    const results = await Promise.allSettled([tokens.rotate(token), tokens.rotate(token)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const failed = results.find((r) => r.status === 'rejected');
    expect(failed?.status === 'rejected' && failed.reason).toMatchObject({ code: 'invalid_refresh_token' });
  });

  it('refuses a wrong secret, a future generation and an unknown family', async () => {
    const { token } = await tokens.issue(tenant, alice);
    const parsed = parseRefreshToken(token);
    if (!parsed) throw new Error('unparseable');
    const otherSecret = 'B'.repeat(42) + 'A';
    await expectInvalid(tokens.rotate(formatRefreshToken({ ...parsed, secret: otherSecret })));
    await expectInvalid(tokens.rotate(formatRefreshToken({ ...parsed, generation: 7 })));
    await expectInvalid(tokens.rotate(formatRefreshToken({ ...parsed, familyId: 'A'.repeat(21) + 'A' })));
    await expectInvalid(tokens.rotate(formatRefreshToken({ ...parsed, tenantId: 'other' as TenantId })));
  });

  it('expires after its lifetime without use', async () => {
    const { token } = await tokens.issue(tenant, alice);
    now += 30 * DAY + 1;
    await expectInvalid(tokens.rotate(token));
  });

  it('slides the lifetime forward on every rotation', async () => {
    const first = await tokens.issue(tenant, alice);
    now += 29 * DAY;
    const second = await tokens.rotate(first.token);
    now += 29 * DAY;
    await expect(tokens.rotate(second.token)).resolves.toMatchObject({ userId: alice });
  });

  it('revokes the family on logout, idempotently', async () => {
    const first = await tokens.issue(tenant, alice);
    const second = await tokens.rotate(first.token);
    await tokens.revoke(second.token);
    await tokens.revoke(second.token);
    await expectInvalid(tokens.rotate(second.token));
    // Another family of the same user is untouched.
    const other = await tokens.issue(tenant, alice);
    await expect(tokens.rotate(other.token)).resolves.toMatchObject({ userId: alice });
  });

  it('refuses malformed tokens with invalid_refresh_token', async () => {
    const { token } = await tokens.issue(tenant, alice);
    const parts = token.split('.');
    const malformed = [
      '',
      'garbage',
      token.replace(/^rt1/, 'rt2'),
      `${token}.extra`,
      parts.slice(0, 4).join('.'),
      [parts[0], parts[1], parts[2], '-1', parts[4]].join('.'),
      [parts[0], parts[1], parts[2], '01', parts[4]].join('.'),
      [parts[0], parts[1], parts[2], '0', `${parts[4]}A`].join('.'),
      [parts[0], '', parts[2], '0', parts[4]].join('.'),
      [parts[0], parts[1], 'short', '0', parts[4]].join('.'),
      'x'.repeat(5000),
    ];
    for (const bad of malformed) {
      expect(parseRefreshToken(bad)).toBeNull();
      await expectInvalid(tokens.rotate(bad));
      await expectInvalid(tokens.revoke(bad));
    }
    // None of that disturbed the real token.
    await expect(tokens.rotate(token)).resolves.toMatchObject({ userId: alice });
  });
});
