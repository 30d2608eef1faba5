import { BlockList, isIP } from 'node:net';

/**
 * The pure rules of outbound requests (docs/security.md, *Outbound requests*): which URLs and which resolved
 * addresses Parley may call. No I/O here; outbound-fetch.ts applies these rules on every connection.
 *
 * Guarantees:
 * - Only `https:` URLs pass, and only with a host (no credentials in the URL).
 * - An address in a range a server should never call is refused: unspecified, loopback, private,
 *   CGNAT, link-local, unique-local, site-local, multicast, documentation/benchmark/reserved ranges,
 *   and IPv6 forms that embed an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo),
 *   whatever the embedded address, so no spelling of a private address slips through.
 * - Hosts named in the allow-list (`OUTBOUND_ALLOWED_HOSTS`) are exempt from both the https rule and
 *   the address rule; the allow-list matches the URL's host name (or IP literal), never a resolved address.
 */

/** Why an outbound request did not happen or failed. `refused` maps to 400 `url_not_allowed`. */
export type OutboundErrorKind = 'refused' | 'timeout' | 'too_large' | 'too_many_redirects' | 'network';

/** A failed outbound request; `kind` says which rule or failure (see OutboundErrorKind). */
export class OutboundError extends Error {
  constructor(
    readonly kind: OutboundErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'OutboundError';
  }
}

/** True when the error is a policy refusal (services answer 400 `url_not_allowed`). */
export function isUrlRefused(error: unknown): error is OutboundError {
  return error instanceof OutboundError && error.kind === 'refused';
}

const IPV4_REFUSED: [string, number][] = [
  ['0.0.0.0', 8], // "this network", including 0.0.0.0
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // CGNAT shared address space
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local (cloud metadata services live here)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation (TEST-NET-1)
  ['192.88.99.0', 24], // 6to4 relay anycast (deprecated)
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation (TEST-NET-2)
  ['203.0.113.0', 24], // documentation (TEST-NET-3)
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, including the broadcast 255.255.255.255
];

const IPV6_REFUSED: [string, number][] = [
  ['::', 96], // unspecified ::, loopback ::1 and the deprecated IPv4-compatible ::a.b.c.d
  ['::ffff:0:0', 96], // IPv4-mapped ::ffff:a.b.c.d
  ['64:ff9b::', 96], // NAT64 well-known prefix (embeds an IPv4 address)
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard-only
  ['2001::', 23], // IETF protocol assignments, including Teredo 2001::/32
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4 (embeds an IPv4 address)
  ['fc00::', 7], // unique-local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
];

// One list per family: a BlockList matches IPv4 addresses against IPv6 rules as IPv4-mapped, so the
// ::ffff:0:0/96 rule would otherwise refuse every IPv4 address.
const REFUSED_V4 = new BlockList();
for (const [network, prefix] of IPV4_REFUSED) REFUSED_V4.addSubnet(network, prefix, 'ipv4');
const REFUSED_V6 = new BlockList();
for (const [network, prefix] of IPV6_REFUSED) REFUSED_V6.addSubnet(network, prefix, 'ipv6');

/** True when `address` (an IPv4 or IPv6 literal) is one a server should never call; non-IPs are refused too. */
export function isRefusedAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(bare);
  if (family === 4) return REFUSED_V4.check(bare, 'ipv4');
  if (family === 6) return address.includes('%') || REFUSED_V6.check(bare, 'ipv6');
  return true;
}

/**
 * A host as compared with the allow-list: lower case, no IPv6 brackets, no trailing dot, IP literals
 * in the canonical form the WHATWG URL parser gives them (so `0x7f.1` is `127.0.0.1`).
 */
export function normalizeHost(host: string): string {
  const trimmed = host.trim().toLowerCase().replace(/\.$/, '');
  const bare = trimmed.replace(/^\[|\]$/g, '');
  try {
    const parsed = new URL(`http://${isIP(bare) === 6 ? `[${bare}]` : bare}/`).hostname;
    return parsed.replace(/^\[|\]$/g, '').replace(/\.$/, '');
  } catch {
    return bare;
  }
}

export interface OutboundPolicyOptions {
  /** Host names or IP literals exempt from the https and address rules (`OUTBOUND_ALLOWED_HOSTS`). */
  allowedHosts?: readonly string[];
}

/** The outbound rules with the deployment's allow-list; shared by every outbound caller. */
export interface OutboundPolicy {
  /** True when `host` (a URL host name or IP literal) is on the allow-list. */
  isAllowedHost(host: string): boolean;
  /**
   * Parses and checks a URL before any connection: scheme, credentials, and — when the host is an
   * IP literal — the address. Returns the parsed URL; throws OutboundError `refused` otherwise.
   * Host names are checked later, on their resolved addresses (checkResolved).
   */
  checkUrl(url: string | URL): URL;
  /** Throws OutboundError `refused` unless every address `host` resolved to may be called. */
  checkResolved(host: string, addresses: readonly string[]): void;
}

export function createOutboundPolicy(options: OutboundPolicyOptions = {}): OutboundPolicy {
  const allowed = new Set((options.allowedHosts ?? []).map(normalizeHost).filter(Boolean));
  const isAllowedHost = (host: string) => allowed.has(normalizeHost(host));
  const refuse = (reason: string): never => {
    throw new OutboundError('refused', reason);
  };
  return {
    isAllowedHost,
    checkUrl(input) {
      let url: URL;
      try {
        url = new URL(input);
      } catch {
        return refuse('The URL is not valid');
      }
      if (url.protocol !== 'https:' && url.protocol !== 'http:') refuse(`The scheme ${url.protocol} is not allowed`);
      if (url.hostname === '') refuse('The URL has no host');
      if (url.username !== '' || url.password !== '') refuse('The URL must not carry credentials');
      if (isAllowedHost(url.hostname)) return url;
      if (url.protocol !== 'https:') refuse('Only https URLs are allowed');
      const bare = url.hostname.replace(/^\[|\]$/g, '');
      if (isIP(bare) !== 0 && isRefusedAddress(bare)) refuse('The URL points to an address that is not allowed');
      return url;
    },
    checkResolved(host, addresses) {
      if (isAllowedHost(host)) return;
      if (addresses.length === 0) refuse(`${host} did not resolve`);
      if (addresses.some(isRefusedAddress)) refuse(`${host} resolves to an address that is not allowed`);
    },
  };
}
