/**
 * Loop devices (losetup(8)) that expose a capsule's ext4 image file as a block device.
 */
import { readdir, readFile } from 'node:fs/promises';
import { WrennError } from '@wrenn/shared';
import { run } from '../exec.js';

export interface LoopDevice {
  /** e.g. /dev/loop3 */
  name: string;
  /** Backing file; " (deleted)" already stripped, see `backingFileDeleted`. */
  backingFile: string;
  backingFileDeleted: boolean;
}

export async function attachLoop(file: string, signal?: AbortSignal): Promise<string> {
  const { stdout } = await run('losetup', ['--find', '--show', file], { signal });
  const device = stdout.trim();
  if (!device.startsWith('/dev/')) throw new WrennError('internal', `losetup printed no device for ${file}: ${JSON.stringify(stdout)}`);
  return device;
}

/** Detaches `device`; a device that is no longer attached is fine. */
export async function detachLoop(device: string, signal?: AbortSignal): Promise<void> {
  const result = await run('losetup', ['--detach', device], { signal, allowFailure: true });
  if (result.code === 0) return;
  const still = (await listLoops(signal)).some((l) => l.name === device);
  if (still) throw new WrennError('internal', `detaching loop device ${device} failed: ${(result.stderr || result.stdout).trim()}`, { device });
}

/** Detaches every loop device whose backing file is `file` (also one deleted since). */
export async function detachLoopsBackedBy(file: string, signal?: AbortSignal): Promise<void> {
  for (const loop of await listLoops(signal)) {
    if (loop.backingFile === file) await detachLoop(loop.name, signal);
  }
}

/**
 * Attached loop devices and their backing files, read from sysfs (what losetup reads too,
 * without a process: this runs on every resume and pause); losetup where sysfs is missing.
 */
export async function listLoops(signal?: AbortSignal): Promise<LoopDevice[]> {
  const names = await readdir('/sys/block').catch(() => undefined);
  if (!names) {
    const { stdout } = await run('losetup', ['--json', '--list', '--output', 'NAME,BACK-FILE'], { signal });
    return parseLosetupJson(stdout);
  }
  const devices = await Promise.all(
    names
      .filter((n) => /^loop\d+$/.test(n))
      .map(async (n): Promise<LoopDevice | undefined> => {
        // No loop/backing_file: the device exists but nothing is attached to it.
        const raw = (await readFile(`/sys/block/${n}/loop/backing_file`, 'utf8').catch(() => '')).replace(/\n$/, '');
        if (!raw) return undefined;
        const deleted = raw.endsWith(' (deleted)');
        return { name: `/dev/${n}`, backingFile: deleted ? raw.slice(0, -' (deleted)'.length) : raw, backingFileDeleted: deleted };
      }),
  );
  return devices.filter((d): d is LoopDevice => d !== undefined);
}

export function parseLosetupJson(text: string): LoopDevice[] {
  if (!text.trim()) return []; // losetup prints nothing when no device is attached
  const parsed = JSON.parse(text) as { loopdevices?: Array<{ name?: string; 'back-file'?: string | null }> };
  const devices: LoopDevice[] = [];
  for (const d of parsed.loopdevices ?? []) {
    if (!d.name || !d['back-file']) continue;
    const raw = d['back-file'];
    const deleted = raw.endsWith(' (deleted)');
    devices.push({ name: d.name, backingFile: deleted ? raw.slice(0, -' (deleted)'.length) : raw, backingFileDeleted: deleted });
  }
  return devices;
}
