import { isIPv4, isIPv6 } from 'node:net';

/** What an IP address is, for the purpose of deciding whether a webhook may connect to it. */
export type AddressClass =
  | 'public'
  | 'private'
  | 'cgnat'
  | 'loopback'
  | 'link-local'
  | 'unspecified'
  | 'multicast'
  | 'reserved'
  | 'cloud-metadata';

interface Ipv4Range {
  base: number;
  bits: number;
  class: Exclude<AddressClass, 'public'>;
}

const ipv4 = (dotted: string): number =>
  dotted.split('.').reduce((value, octet) => value * 256 + Number(octet), 0);

// Most specific first: the metadata address lies inside link-local.
const ipv4Ranges: Ipv4Range[] = [
  { base: ipv4('169.254.169.254'), bits: 32, class: 'cloud-metadata' },
  { base: ipv4('0.0.0.0'), bits: 32, class: 'unspecified' },
  { base: ipv4('0.0.0.0'), bits: 8, class: 'reserved' },
  { base: ipv4('10.0.0.0'), bits: 8, class: 'private' },
  { base: ipv4('100.64.0.0'), bits: 10, class: 'cgnat' },
  { base: ipv4('127.0.0.0'), bits: 8, class: 'loopback' },
  { base: ipv4('169.254.0.0'), bits: 16, class: 'link-local' },
  { base: ipv4('172.16.0.0'), bits: 12, class: 'private' },
  { base: ipv4('192.0.0.0'), bits: 24, class: 'reserved' },
  { base: ipv4('192.0.2.0'), bits: 24, class: 'reserved' },
  { base: ipv4('192.88.99.0'), bits: 24, class: 'reserved' },
  { base: ipv4('192.168.0.0'), bits: 16, class: 'private' },
  { base: ipv4('198.18.0.0'), bits: 15, class: 'reserved' },
  { base: ipv4('198.51.100.0'), bits: 24, class: 'reserved' },
  { base: ipv4('203.0.113.0'), bits: 24, class: 'reserved' },
  { base: ipv4('224.0.0.0'), bits: 4, class: 'multicast' },
  { base: ipv4('240.0.0.0'), bits: 4, class: 'reserved' },
];

function classifyIpv4(value: number): AddressClass {
  const range = ipv4Ranges.find(
    ({ base, bits }) => Math.floor(value / 2 ** (32 - bits)) === base / 2 ** (32 - bits),
  );
  return range?.class ?? 'public';
}

/** The 16 bytes of an IPv6 address (zone id dropped, embedded dotted quad expanded). */
function ipv6Bytes(address: string): number[] {
  const [withoutZone] = address.split('%') as [string];
  let text = withoutZone;
  const dottedQuad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dottedQuad) {
    const value = ipv4(dottedQuad[1]!);
    text = `${text.slice(0, dottedQuad.index)}${(value >>> 16).toString(16)}:${(value & 0xffff).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const groups = (part: string | undefined) =>
    part ? part.split(':').map((group) => parseInt(group, 16)) : [];
  const before = groups(head);
  const after = groups(tail);
  const hextets = [...before, ...Array<number>(8 - before.length - after.length).fill(0), ...after];
  return hextets.flatMap((hextet) => [hextet >> 8, hextet & 0xff]);
}

const startsWith = (bytes: number[], prefix: number[]) =>
  prefix.every((byte, index) => bytes[index] === byte);
const embeddedIpv4 = (bytes: number[], at: number) =>
  ((bytes[at]! << 24) >>> 0) + (bytes[at + 1]! << 16) + (bytes[at + 2]! << 8) + bytes[at + 3]!;

function classifyIpv6(bytes: number[]): AddressClass {
  const zeroes = (count: number) => bytes.slice(0, count).every((byte) => byte === 0);
  if (zeroes(16)) return 'unspecified';
  if (zeroes(15) && bytes[15] === 1) return 'loopback';
  // IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::a.b.c.d) and the deprecated IPv4-compatible (::a.b.c.d) forms reach
  // the IPv4 address inside them: they are what that address is.
  if (zeroes(10) && bytes[10] === 0xff && bytes[11] === 0xff) return classifyIpv4(embeddedIpv4(bytes, 12));
  if (startsWith(bytes, [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0]))
    return classifyIpv4(embeddedIpv4(bytes, 12));
  if (zeroes(12)) return 'reserved';
  // 6to4 (2002:a.b.c.d::/48) relays to the IPv4 address in bits 16-48.
  if (startsWith(bytes, [0x20, 0x02])) return classifyIpv4(embeddedIpv4(bytes, 2));
  if (bytes.join(':') === ipv6Bytes('fd00:ec2::254').join(':')) return 'cloud-metadata';
  if ((bytes[0]! & 0xfe) === 0xfc) return 'private';
  if (bytes[0] === 0xfe && (bytes[1]! & 0xc0) === 0x80) return 'link-local';
  if (bytes[0] === 0xfe && (bytes[1]! & 0xc0) === 0xc0) return 'private';
  if (bytes[0] === 0xff) return 'multicast';
  // Documentation, Teredo (which hides an IPv4 address) and everything outside global unicast 2000::/3.
  if (startsWith(bytes, [0x20, 0x01, 0x0d, 0xb8]) || startsWith(bytes, [0x20, 0x01, 0, 0])) return 'reserved';
  return (bytes[0]! & 0xe0) === 0x20 ? 'public' : 'reserved';
}

/** Classifies a textual IP address as DNS or a URL parser returns it; anything that is not one is `reserved`. */
export function classifyAddress(address: string): AddressClass {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  if (isIPv4(bare)) return classifyIpv4(ipv4(bare));
  if (isIPv6(bare)) return classifyIpv6(ipv6Bytes(bare));
  return 'reserved';
}

export interface ResolvedAddress {
  address: string;
  family: number;
}

export type AddressVerdict = { allowed: true; address: ResolvedAddress } | { allowed: false; reason: string };

/**
 * Every address a host resolves to must be public (unless the target may reach private networks): a host resolving
 * to a public and a private address is refused, since which one a client picks is up to it. The verdict names the
 * one address to connect to, the one that was checked.
 */
export function vetAddresses(
  host: string,
  addresses: readonly ResolvedAddress[],
  allowPrivateNetwork: boolean,
): AddressVerdict {
  if (addresses.length === 0) return { allowed: false, reason: `ssrf: ${host} resolves to no address` };
  if (!allowPrivateNetwork) {
    for (const { address } of addresses) {
      const addressClass = classifyAddress(address);
      if (addressClass !== 'public') {
        return { allowed: false, reason: `ssrf: ${host} resolves to ${address} (${addressClass})` };
      }
    }
  }
  return { allowed: true, address: addresses[0]! };
}

/**
 * The host of a target URL as the connection will see it: the WHATWG parser already turned decimal, octal and hex
 * IPv4 spellings (`2130706433`, `0x7f.1`) into dotted quads; IPv6 literals lose their brackets.
 */
export function hostOf(url: URL): string {
  const { hostname } = url;
  return hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
}
