/**
 * Which sockets a sandbox's network namespace holds, read from the kernel's tables in
 * /proc/<pid>/net (the namespace of that process). A checkpoint asks whether any of them
 * needs the network while CRIU restores it:
 * - a TCP socket in a connected state (CRIU re-opens it with TCP repair, which needs the
 *   address and a route; and the dump must lock the network so no packet changes its
 *   state meanwhile);
 * - a socket bound to an address that is neither the wildcard nor loopback (its bind
 *   fails until the capsule's address exists), or a connected UDP socket;
 * - anything raw or ICMP (rare: treated as needing the network rather than reasoned about).
 * TIME_WAIT sockets belong to no process and are not dumped.
 */
import { readFile } from 'node:fs/promises';

/** TCP states (include/net/tcp_states.h) that hold no connection. */
const TCP_UNCONNECTED = new Set(['06' /* TIME_WAIT */, '07' /* CLOSE */, '0A' /* LISTEN */]);
const TABLES = ['tcp', 'tcp6', 'udp', 'udp6', 'udplite', 'udplite6', 'raw', 'raw6', 'icmp', 'icmp6'] as const;

export interface SocketLine {
  table: Table;
  /** Hex as in /proc/net/*: IPv4 `0100007F:1F90`, IPv6 32 hex digits then the port. */
  local: string;
  remote: string;
  /** Hex TCP state (`0A` listen, `01` established, ...). */
  state: string;
}

type Table = (typeof TABLES)[number];

/** Entries of the /proc/net tables (default: all) of `pid`'s network namespace; undefined if they cannot be read. */
export async function readSockets(pid: number, tables: readonly Table[] = TABLES): Promise<SocketLine[] | undefined> {
  // Side by side: read one after the other, the ten tables take ~10 ms of a pause.
  const texts = await Promise.all(
    tables.map((table) =>
      readFile(`/proc/${pid}/net/${table}`, 'utf8').catch((err: NodeJS.ErrnoException) =>
        // A kernel without the protocol has no table; a process that is gone has none at all.
        err.code === 'ENOENT' && table !== 'tcp' ? '' : undefined,
      ),
    ),
  );
  if (texts.some((t) => t === undefined)) return undefined;
  const lines: SocketLine[] = [];
  texts.forEach((text, i) => {
    for (const row of text!.split('\n').slice(1)) {
      const cols = row.trim().split(/\s+/);
      if (cols.length >= 4) lines.push({ table: tables[i]!, local: cols[1]!, remote: cols[2]!, state: cols[3]! });
    }
  });
  return lines;
}

export function socketNeedsNetwork(s: SocketLine): boolean {
  if (s.table.startsWith('raw') || s.table.startsWith('icmp')) return true;
  if (s.table.startsWith('tcp')) {
    if (s.state === '06') return false;
    if (!TCP_UNCONNECTED.has(s.state)) return true;
  } else if (!isUnspecified(s.remote)) {
    return true; // a connected UDP socket
  }
  return !isUnspecified(s.local) && !isLoopback(s.local);
}

/**
 * TCP connections of `pid`'s network namespace on local `port` that are still open (any
 * state but LISTEN, TIME_WAIT and CLOSE); undefined if the tables cannot be read. Reads
 * only the TCP tables: it is polled.
 */
export async function openConnectionsOnPort(pid: number, port: number): Promise<number | undefined> {
  const suffix = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const sockets = await readSockets(pid, ['tcp', 'tcp6']);
  return sockets?.filter((s) => s.local.endsWith(suffix) && !TCP_UNCONNECTED.has(s.state)).length;
}

/** True unless every socket can be restored without the sandbox's network; true when unknown. */
export async function socketsNeedNetwork(pid: number): Promise<boolean> {
  const sockets = await readSockets(pid);
  return sockets === undefined || sockets.some(socketNeedsNetwork);
}

function addressHex(endpoint: string): string {
  return endpoint.split(':')[0]!.toUpperCase();
}

function isUnspecified(endpoint: string): boolean {
  return /^0+$/.test(addressHex(endpoint));
}

/** 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104; the kernel prints each 32-bit word little-endian. */
function isLoopback(endpoint: string): boolean {
  const hex = addressHex(endpoint);
  if (hex.length === 8) return hex.endsWith('7F');
  if (hex.length !== 32) return false;
  if (hex === '00000000000000000000000001000000') return true;
  return hex.startsWith('0000000000000000FFFF0000') && hex.endsWith('7F');
}
