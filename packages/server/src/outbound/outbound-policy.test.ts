import { describe, expect, it } from 'vitest';
import { OutboundError, createOutboundPolicy, isRefusedAddress, normalizeHost } from './outbound-policy.js';

const refused = [
  '0.0.0.0', '0.1.2.3', '10.0.0.1', '10.255.255.255', '100.64.0.1', '100.127.255.254', '127.0.0.1', '127.1.2.3',
  '169.254.169.254', '172.16.0.1', '172.31.255.255', '192.0.0.8', '192.0.2.1', '192.168.1.1', '198.18.0.1',
  '198.51.100.7', '203.0.113.9', '224.0.0.1', '239.255.255.250', '240.0.0.1', '255.255.255.255',
  '::', '::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', '::ffff:169.254.169.254', '::ffff:7f00:1', '::127.0.0.1',
  '64:ff9b::a00:1', '2001::1', '2001:db8::1', '2002:a00:1::1', 'fc00::1', 'fd12:3456::1', 'fe80::1', 'febf::1',
  'fec0::1', 'ff02::1', 'fe80::1%eth0',
];
const allowed = ['8.8.8.8', '1.1.1.1', '93.184.216.34', '172.32.0.1', '100.128.0.1', '2606:4700::1111', '2a00:1450:4001::1'];

describe('isRefusedAddress', () => {
  it.each(refused)('refuses %s', (address) => expect(isRefusedAddress(address)).toBe(true));
  it.each(allowed)('accepts the public address %s', (address) => expect(isRefusedAddress(address)).toBe(false));
  it('refuses what is not an IP literal', () => expect(isRefusedAddress('example.com')).toBe(true));
});

describe('OutboundPolicy.checkUrl', () => {
  const policy = createOutboundPolicy({ allowedHosts: ['127.0.0.1', 'IdP.Internal', '[::1]'] });
  const strict = createOutboundPolicy();
  const refusal = (url: string, by = policy) => {
    try {
      by.checkUrl(url);
    } catch (error) {
      return error instanceof OutboundError ? error.kind : 'other';
    }
    return 'passed';
  };

  it('accepts https URLs with public or unresolved names', () => {
    expect(policy.checkUrl('https://idp.example.com/.well-known/openid-configuration').hostname).toBe('idp.example.com');
    expect(refusal('https://8.8.8.8/')).toBe('passed');
  });

  it('refuses http, other schemes, credentials and garbage', () => {
    expect(refusal('http://idp.example.com/')).toBe('refused');
    expect(refusal('ftp://idp.example.com/')).toBe('refused');
    expect(refusal('file:///etc/passwd')).toBe('refused');
    expect(refusal('https://user:pw@idp.example.com/')).toBe('refused');
    expect(refusal('not a url')).toBe('refused');
  });

  it.each(refused.filter((a) => !a.includes('%')))('refuses the literal https://%s/', (address) => {
    expect(refusal(`https://${address.includes(':') ? `[${address}]` : address}/`, strict)).toBe('refused');
  });

  it('refuses other spellings of loopback that the URL parser normalizes', () => {
    for (const url of ['https://0x7f.1/', 'https://2130706433/', 'https://0177.0.0.1/', 'https://127.1/', 'https://[::ffff:7f00:1]/']) {
      expect(refusal(url, strict), url).toBe('refused');
    }
  });

  it('lets allow-listed hosts through both rules, matching names case- and form-insensitively', () => {
    expect(refusal('http://127.0.0.1:8080/x')).toBe('passed');
    expect(refusal('http://idp.internal./x')).toBe('passed');
    expect(refusal('http://[::1]:9/')).toBe('passed');
    expect(refusal('http://127.0.0.2/')).toBe('refused');
    expect(refusal('http://0x7f.0.0.1/')).toBe('passed'); // the same address as the listed 127.0.0.1
  });
});

describe('OutboundPolicy.checkResolved', () => {
  const policy = createOutboundPolicy({ allowedHosts: ['idp.internal'] });
  it('refuses a name when any of its addresses is refused', () => {
    expect(() => policy.checkResolved('evil.test', ['8.8.8.8', '10.0.0.1'])).toThrow(OutboundError);
    expect(() => policy.checkResolved('evil.test', [])).toThrow(OutboundError);
    expect(() => policy.checkResolved('ok.test', ['8.8.8.8', '2606:4700::1111'])).not.toThrow();
  });
  it('does not check the addresses of allow-listed names', () => {
    expect(() => policy.checkResolved('IDP.internal', ['10.0.0.1'])).not.toThrow();
  });
});

describe('normalizeHost', () => {
  it('lower-cases, strips brackets and the trailing dot, canonicalizes IP literals', () => {
    expect(normalizeHost(' Example.COM. ')).toBe('example.com');
    expect(normalizeHost('[0:0:0:0:0:0:0:1]')).toBe('::1');
    expect(normalizeHost('0x7f.1')).toBe('127.0.0.1');
  });
});
