/**
 * E2B egress rules of a sandbox: `allow_internet_access`, `network.allowOut` (IPv4
 * addresses, CIDRs, domain names) and `network.denyOut` (addresses, CIDRs), where an
 * allowed destination wins over a denied one and `allow_internet_access: false` means
 * "deny 0.0.0.0/0". The host agent enforces them (nftables; names resolved at the host and
 * kept fresh) and keeps them in its capsule record, so they survive pause/resume and an
 * agent restart; the e2b_sandboxes row keeps them as given, for GET and for updates.
 * Whatever a sandbox allows, the host's deny set (private ranges unless the operator
 * allowed them) still applies. Checking and translating the rules only: replacing them on a
 * running sandbox is network-update.ts.
 */
import { WrennError } from '@wrenn/shared';

export interface SandboxNetwork {
  allowInternetAccess: boolean;
  allowOut: string[];
  denyOut: string[];
}

/** What the host agent is told: egress on/off and its lists. */
export interface AgentEgress {
  egress: boolean;
  denyOut: string[];
  allowOut: string[];
}

export const ALL_TRAFFIC = '0.0.0.0/0';
const MAX_ENTRIES = 256;
const QUAD = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const DOMAIN = new RegExp(`^(?=.{1,253}$)${LABEL}(?:\\.${LABEL})*$`, 'i');

function ipv4(text: string): number | undefined {
  const m = QUAD.exec(text);
  if (!m) return undefined;
  const octets = m.slice(1).map(Number);
  if (octets.some((o) => o > 255)) return undefined;
  return octets.reduce((a, o) => a * 256 + o, 0);
}

function isCidr(entry: string): boolean {
  const [addr, len, ...rest] = entry.split('/');
  if (rest.length > 0 || addr === undefined) return false;
  const a = ipv4(addr);
  if (a === undefined) return false;
  if (len === undefined) return true;
  if (!/^\d{1,2}$/.test(len) || Number(len) > 32) return false;
  const hostBits = 32 - Number(len);
  return hostBits === 32 ? a === 0 : a % 2 ** hostBits === 0;
}

function bad(field: string, entry: string, why: string): WrennError {
  return new WrennError('invalid_argument', `network.${field}: "${entry}" ${why}`, { field: `network.${field}`, value: entry });
}

/**
 * The lists checked before anything is created or changed (the agent checks again).
 * Wildcard names cannot be enforced by address and are refused; so are names in denyOut
 * (E2B refuses them too) and IPv6 (capsules have IPv4 only).
 */
export function checkedNetwork(n: SandboxNetwork): SandboxNetwork {
  for (const [field, list] of [['allowOut', n.allowOut], ['denyOut', n.denyOut]] as const) {
    if (list.length > MAX_ENTRIES) throw new WrennError('invalid_argument', `network.${field} has ${list.length} entries: at most ${MAX_ENTRIES}`, { field: `network.${field}` });
  }
  for (const e of n.denyOut) if (!isCidr(e)) throw bad('denyOut', e, 'is not an IPv4 address or CIDR block with no host bits set (domain names are not supported in denyOut)');
  for (const e of n.allowOut) {
    if (e.startsWith('*')) throw bad('allowOut', e, 'is a wildcard domain: Wrenn allows the addresses a name resolves to at the host, so list each name');
    if (!isCidr(e) && (/^[\d./]+$/.test(e) || !DOMAIN.test(e))) throw bad('allowOut', e, 'is not an IPv4 address, a CIDR block with no host bits set, or a domain name');
  }
  return { allowInternetAccess: n.allowInternetAccess, allowOut: [...new Set(n.allowOut)], denyOut: [...new Set(n.denyOut)] };
}

/** E2B's meaning as the agent's policy: no internet and nothing allowed = egress off entirely. */
export function agentEgressOf(n: SandboxNetwork): AgentEgress {
  const denyOut = n.allowInternetAccess ? n.denyOut : [ALL_TRAFFIC, ...n.denyOut.filter((c) => c !== ALL_TRAFFIC)];
  const egress = n.allowInternetAccess || n.allowOut.length > 0;
  return egress ? { egress, denyOut, allowOut: n.allowOut } : { egress, denyOut: [], allowOut: [] };
}
