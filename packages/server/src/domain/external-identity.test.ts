import { describe, expect, it } from 'vitest';
import { externalDisplayName, externalUsername } from './external-identity.js';

describe('naming a user from an external token', () => {
  const plain = { claims: {} };

  it('takes the configured claim, then name, then preferred_username, then the subject', () => {
    const claims = { nickname: 'Nick', name: 'Full Name', preferred_username: 'pref' };
    expect(externalDisplayName({ claims: { displayName: 'nickname' } }, claims, 'sub-1')).toBe('Nick');
    expect(externalDisplayName(plain, claims, 'sub-1')).toBe('Full Name');
    expect(externalDisplayName(plain, { preferred_username: 'pref' }, 'sub-1')).toBe('pref');
    expect(externalDisplayName(plain, {}, 'sub-1')).toBe('sub-1');
  });

  it('skips values that are not usable labels, trims and cuts to 64 characters', () => {
    expect(externalDisplayName(plain, { name: '   ', preferred_username: 'pref' }, 's')).toBe('pref');
    expect(externalDisplayName(plain, { name: 42, preferred_username: 'pref' }, 's')).toBe('pref');
    expect(externalDisplayName(plain, { name: 'bad\u0000name', preferred_username: 'pref' }, 's')).toBe('pref');
    expect(externalDisplayName(plain, { name: '\u202Eevil' }, 'subject')).toBe('subject');
    expect(externalDisplayName(plain, { name: '  Ada  ' }, 's')).toBe('Ada');
    expect([...externalDisplayName(plain, { name: '😀'.repeat(100) }, 's')]).toHaveLength(64);
  });

  it('takes a username only from the configured claim and only when valid', () => {
    const provider = { claims: { username: 'preferred_username' } };
    expect(externalUsername(provider, { preferred_username: 'ada.l' })).toBe('ada.l');
    expect(externalUsername(provider, { preferred_username: 'Ada' })).toBeNull();
    expect(externalUsername(provider, { preferred_username: 'ab' })).toBeNull();
    expect(externalUsername(provider, {})).toBeNull();
    expect(externalUsername(plain, { preferred_username: 'ada.l' })).toBeNull();
  });
});
