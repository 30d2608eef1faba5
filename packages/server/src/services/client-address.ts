/**
 * Which "client" a network address counts as for per-IP limits and the fair password queue.
 *
 * IPv4 addresses (and IPv4-mapped IPv6 ones) count one by one. An IPv6 client usually holds a
 * whole /64 (any host may pick addresses in it freely), so IPv6 addresses count per /64 prefix:
 * otherwise one machine could rotate through unlimited "clients".
 */
import { isIPv4, isIPv6 } from 'node:net';

export function clientSubject(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1] !== undefined) return mapped[1];
  if (isIPv4(address) || !isIPv6(address)) return address;
  const zoneless = address.split('%')[0] ?? address;
  const [head = '', tail = ''] = zoneless.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = zoneless.includes('::') ? (tail === '' ? [] : tail.split(':')) : [];
  const groups = zoneless.includes('::') ? [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups] : headGroups;
  return `${groups
    .slice(0, 4)
    .map((group) => Number.parseInt(group, 16).toString(16))
    .join(':')}::/64`;
}
