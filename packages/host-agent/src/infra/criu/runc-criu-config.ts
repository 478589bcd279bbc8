/**
 * The CRIU configuration files runc passes to every checkpoint and restore of a capsule
 * (OCI annotation `org.criu.config`). It holds what runc 1.1 has no flag for:
 * - `network-lock nftables`: CRIU locks the capsule's network during a dump so no packet
 *   changes TCP state; its default uses iptables-restore, which hosts with only nftables
 *   lack. The nftables lock runs through CRIU's own libnftables.
 * - `network-lock skip` instead, for a capsule without TCP connections (nothing to keep
 *   still): the lock and unlock cost ~20 ms of the restore (libnftables) and as much of the
 *   dump. Dump and restore of one image must agree, so the choice travels with the image.
 * - `tcp-close`, only for the restore of a snapshot template into a new capsule (the peers
 *   of its connections belong to the original).
 *
 * runc keeps the config.json of a restore as the container's config, so the file named
 * there is read again by the container's later checkpoints: each bundle has its own file,
 * whose content the driver sets before every checkpoint and restore, and puts back to the
 * default right after a restore with tcp-close (a dump with tcp-close would drop the
 * capsule's connections and make its image restorable only with tcp-close).
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const RUNC_CRIU_CONFIG = 'network-lock nftables\n';
export const RUNC_CRIU_CLONE_CONFIG = 'network-lock nftables\ntcp-close\n';

export interface RuncCriuConfigs {
  /** Every checkpoint and restore. */
  default: string;
  /** Restores of a snapshot into a new capsule. */
  tcpClose: string;
}

export interface BundleCriuConfig {
  tcpClose: boolean;
  /** False: `network-lock skip` (the image holds no TCP connection). Default true. */
  lockNetwork?: boolean;
}

export function bundleCriuConfigText(opts: BundleCriuConfig): string {
  return `network-lock ${opts.lockNetwork === false ? 'skip' : 'nftables'}\n${opts.tcpClose ? 'tcp-close\n' : ''}`;
}

/** The bundle's own CRIU config file, written with the given content; returns its path. */
export async function writeBundleCriuConfig(bundleDir: string, opts: BundleCriuConfig): Promise<string> {
  const path = join(bundleDir, BUNDLE_CRIU_CONFIG);
  await writeFile(`${path}.tmp`, bundleCriuConfigText(opts), { mode: 0o644 });
  await rename(`${path}.tmp`, path);
  return path;
}

export const BUNDLE_CRIU_CONFIG = 'criu.conf';

/**
 * Writes both shared files under `dir` (idempotent) and returns their paths. Containers
 * started by earlier agents name them in their config; new ones use their bundle's file.
 */
export async function writeRuncCriuConfigs(dir: string): Promise<RuncCriuConfigs> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const paths = { default: join(dir, 'runc.conf'), tcpClose: join(dir, 'runc-tcp-close.conf') };
  await writeFile(paths.default, RUNC_CRIU_CONFIG, { mode: 0o644 });
  await writeFile(paths.tcpClose, RUNC_CRIU_CLONE_CONFIG, { mode: 0o644 });
  return paths;
}
