/**
 * Listening TCP sockets of the network namespace, read from /proc/net/tcp and tcp6 (the
 * capsule's own, since envd runs in the capsule's netns), and the socket inodes this
 * process owns (so envd never forwards its own server or its own forwarders).
 */
import { promises as fsp } from 'node:fs';
import { posix } from 'node:path';

export interface TcpListener {
  /** Dotted IPv4, or compressed IPv6; IPv4-mapped IPv6 addresses are given as IPv4. */
  readonly address: string;
  readonly port: number;
  readonly inode: number;
}

const TCP_LISTEN = '0A';

/** `0100007F` (little-endian hex) → `127.0.0.1`. */
function ipv4FromHex(hex: string): string {
  const n = Number.parseInt(hex, 16);
  return `${n & 255}.${(n >>> 8) & 255}.${(n >>> 16) & 255}.${n >>> 24}`;
}

/** 32 hex digits, four little-endian 32-bit words → address text. */
function ipv6FromHex(hex: string): string {
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    for (let b = 3; b >= 0; b--) bytes.push(Number.parseInt(word.slice(b * 2, b * 2 + 2), 16));
  }
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (mapped) return bytes.slice(12).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  // The URL parser prints the canonical compressed form ("::1", "::").
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

/** Parses the text of /proc/net/tcp (`ipv6` false) or /proc/net/tcp6 into its LISTEN sockets. */
export function parseProcNetTcp(text: string, ipv6: boolean): TcpListener[] {
  const out: TcpListener[] = [];
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    const local = fields[1];
    if (!local || fields[3] !== TCP_LISTEN) continue;
    const [addrHex = '', portHex = ''] = local.split(':');
    out.push({
      address: ipv6 ? ipv6FromHex(addrHex) : ipv4FromHex(addrHex),
      port: Number.parseInt(portHex, 16),
      inode: Number(fields[9]),
    });
  }
  return out;
}

/** Every LISTEN socket of the namespace; a missing tcp6 (IPv6 disabled) is no error. */
export async function readTcpListeners(procNetDir: string): Promise<TcpListener[]> {
  const [v4, v6] = await Promise.all([
    fsp.readFile(posix.join(procNetDir, 'tcp'), 'utf8'),
    fsp.readFile(posix.join(procNetDir, 'tcp6'), 'utf8').catch(() => ''),
  ]);
  return [...parseProcNetTcp(v4, false), ...parseProcNetTcp(v6, true)];
}

/** Inodes of the sockets open in this process (from /proc/self/fd links `socket:[N]`). */
export async function ownSocketInodes(): Promise<Set<number>> {
  const inodes = new Set<number>();
  const fds = await fsp.readdir('/proc/self/fd').catch(() => [] as string[]);
  await Promise.all(
    fds.map(async (fd) => {
      const link = await fsp.readlink(`/proc/self/fd/${fd}`).catch(() => '');
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m) inodes.add(Number(m[1]));
    }),
  );
  return inodes;
}
