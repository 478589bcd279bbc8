/**
 * The CRIU configuration files runc passes to every checkpoint and restore of a capsule
 * (OCI annotation `org.criu.config`). It holds what runc 1.1 has no flag for:
 * - `network-lock nftables`: CRIU locks the capsule's network during a dump so no packet
 *   changes TCP state; its default uses iptables-restore, which hosts with only nftables
 *   lack. The nftables lock runs through CRIU's own libnftables.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const RUNC_CRIU_CONFIG = 'network-lock nftables\n';
export const RUNC_CRIU_CLONE_CONFIG = 'network-lock nftables\ntcp-close\n';

export interface RuncCriuConfigs {
  /** Every checkpoint and restore. */
  default: string;
  /** Restores of a snapshot into a new capsule. */
  tcpClose: string;
}

/** Writes both files under `dir` (idempotent) and returns their paths. */
export async function writeRuncCriuConfigs(dir: string): Promise<RuncCriuConfigs> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const paths = { default: join(dir, 'runc.conf'), tcpClose: join(dir, 'runc-tcp-close.conf') };
  await writeFile(paths.default, RUNC_CRIU_CONFIG, { mode: 0o644 });
  await writeFile(paths.tcpClose, RUNC_CRIU_CLONE_CONFIG, { mode: 0o644 });
  return paths;
}
