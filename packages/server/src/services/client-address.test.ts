import { describe, expect, it } from 'vitest';
import { clientSubject } from './client-address.js';

describe('clientSubject', () => {
  it('counts IPv4 addresses one by one, mapped or not', () => {
    expect(clientSubject('203.0.113.7')).toBe('203.0.113.7');
    expect(clientSubject('::ffff:203.0.113.7')).toBe('203.0.113.7');
  });

  it('counts IPv6 addresses per /64, however they are written', () => {
    expect(clientSubject('2001:db8:0:1::1')).toBe('2001:db8:0:1::/64');
    expect(clientSubject('2001:0db8:0000:0001:abcd:ef01:2345:6789')).toBe('2001:db8:0:1::/64');
    expect(clientSubject('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientSubject('::1')).toBe('0:0:0:0::/64');
    expect(clientSubject('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
  });
});
