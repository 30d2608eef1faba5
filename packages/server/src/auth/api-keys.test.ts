import { describe, expect, it } from 'vitest';
import type { TenantId } from '../domain/types.js';
import { createAdminKeyCheck } from './admin-key.js';
import { apiKeyMatches, generateApiKey, hashApiKey, parseApiKey } from './api-keys.js';

const acme = 'acme' as TenantId;

describe('tenant API keys', () => {
  it('generates sk_<tenant>_<256-bit secret> with its sha256 hash', () => {
    const { apiKey, hash } = generateApiKey(acme);
    expect(apiKey).toMatch(/^sk_acme_[A-Za-z0-9_-]{43}$/);
    expect(hash).toBe(hashApiKey(apiKey));
    expect(hash).toMatch(/^sha256:[A-Za-z0-9_-]{43}$/);
    expect(hash).not.toContain(apiKey.slice('sk_acme_'.length));
    expect(generateApiKey(acme).apiKey).not.toBe(apiKey);
  });

  it('parses the tenant even when the secret contains underscores', () => {
    const key = `sk_acme-corp_${'_'.repeat(10)}${'a'.repeat(33)}`;
    expect(parseApiKey(key)).toEqual({ tenantId: 'acme-corp', secret: `${'_'.repeat(10)}${'a'.repeat(33)}` });
  });

  it('matches only the exact key', () => {
    const { apiKey, hash } = generateApiKey(acme);
    expect(apiKeyMatches(apiKey, hash)).toBe(true);
    const last = apiKey.at(-1) === 'A' ? 'B' : 'A';
    expect(apiKeyMatches(apiKey.slice(0, -1) + last, hash)).toBe(false);
    expect(apiKeyMatches(apiKey, 'sha256:short')).toBe(false);
    expect(apiKeyMatches(apiKey, '')).toBe(false);
  });

  it("does not accept another tenant's secret under this tenant's name", () => {
    const a = generateApiKey(acme);
    const b = generateApiKey('globex' as TenantId);
    const transplanted = `sk_acme_${parseApiKey(b.apiKey)?.secret}`;
    expect(apiKeyMatches(transplanted, a.hash)).toBe(false);
    expect(apiKeyMatches(b.apiKey, a.hash)).toBe(false);
  });

  it('rejects malformed keys', () => {
    const secret = 'a'.repeat(43);
    for (const bad of ['', 'sk_', 'sk_acme', `pk_acme_${secret}`, `sk__${secret}`, `sk_ACME_${secret}`, `sk_acme_${secret}x`, `sk_acme_${'a'.repeat(42)}!`, `sk_a_${secret}`]) {
      expect(parseApiKey(bad)).toBeNull();
    }
  });

  it('refuses to generate a key for an invalid tenant id', () => {
    expect(() => generateApiKey('Not_Valid' as TenantId)).toThrow(RangeError);
  });
});

describe('operator key', () => {
  it('matches only the configured key, and nothing when none is configured', () => {
    const check = createAdminKeyCheck('x'.repeat(40));
    expect(check('x'.repeat(40))).toBe(true);
    expect(check('x'.repeat(39))).toBe(false);
    expect(check(undefined)).toBe(false);
    const disabled = createAdminKeyCheck(undefined);
    expect(disabled('')).toBe(false);
    expect(disabled(undefined)).toBe(false);
  });
});
