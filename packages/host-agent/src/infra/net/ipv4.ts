/**
 * IPv4 address arithmetic for the address pool: dotted quads ↔ 32-bit integers and CIDR
 * parsing. Unsigned math throughout (`>>> 0`) because JS bit operators are signed.
 */
import { WrennError } from '@wrenn/shared';

export interface Ipv4Cidr {
  /** Network address as an unsigned 32-bit integer (host bits cleared). */
  network: number;
  prefixLen: number;
  /** Number of addresses in the block. */
  size: number;
}

const QUAD = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function parseIpv4(text: string): number | undefined {
  const m = QUAD.exec(text);
  if (!m) return undefined;
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(m[i]);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value >>> 0;
}

export function formatIpv4(value: number): string {
  const v = value >>> 0;
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** Parses `a.b.c.d/n`; the address must be the block's network address (no host bits set). */
export function parseIpv4Cidr(text: string): Ipv4Cidr {
  const [addr, len, ...rest] = text.split('/');
  const network = addr === undefined ? undefined : parseIpv4(addr);
  const prefixLen = len !== undefined && /^\d{1,2}$/.test(len) ? Number(len) : NaN;
  if (network === undefined || rest.length > 0 || !(prefixLen >= 0 && prefixLen <= 32)) {
    throw new WrennError('invalid_argument', `"${text}" is not an IPv4 CIDR block (expected e.g. 10.88.0.0/16)`, {
      cidr: text,
    });
  }
  const size = 2 ** (32 - prefixLen);
  if (network % size !== 0) {
    throw new WrennError(
      'invalid_argument',
      `"${text}" has host bits set: use the network address ${formatIpv4(network - (network % size))}/${prefixLen}`,
      { cidr: text },
    );
  }
  return { network, prefixLen, size };
}

export function cidrContains(cidr: Ipv4Cidr, address: number): boolean {
  return address >= cidr.network && address < cidr.network + cidr.size;
}
