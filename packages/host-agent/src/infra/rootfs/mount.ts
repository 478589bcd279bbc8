/**
 * mount(8)/umount(8) for the two filesystems of a capsule root: the ext4 image holding the
 * upper layer and the overlay on top of the template. Unmounting is idempotent (a path that
 * is not mounted is fine) so release functions can run on every path.
 */
import { WrennError, sleep } from '@wrenn/shared';
import { run } from '../exec.js';
import { mountsAtOrUnder, readMountInfo } from './mountinfo.js';

/** Tries of a loop mount before its error stands (see mountExt4Image). */
const MOUNT_ATTEMPTS = 3;

export interface OverlayLayers {
  lowerDir: string;
  upperDir: string;
  workDir: string;
}

export async function mountExt4(device: string, target: string, signal?: AbortSignal): Promise<void> {
  // noinit_itable: the image was made with lazy_itable_init, and the kernel's background
  // zeroing of inode tables would fill the sparse file with zeros (~1.5 % of its size).
  await run('mount', ['-t', 'ext4', '-o', 'noatime,noinit_itable', device, target], { signal });
}

/**
 * Attaches `image` to a free loop device and mounts it, in one mount(8) process (`-o loop`:
 * one process less than losetup + mount on the resume path). The device is set to
 * auto-clear: it detaches itself when the filesystem is unmounted. Returns the device.
 */
export async function mountExt4Image(image: string, target: string, signal?: AbortSignal): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const result = await run('mount', ['-t', 'ext4', '-o', 'loop,noatime,noinit_itable', image, target], { signal, allowFailure: true });
    if (result.code === 0) break;
    const why = (result.stderr || result.stdout).trim();
    // A free loop device picked while another one's auto-clear (or another process's loop
    // setup) is still settling can read as an empty disk for a moment: "can't read
    // superblock". Seen rarely with back-to-back unmount and mount of one image; the same
    // mount a few milliseconds later works. A disk that is really damaged fails every time.
    if (attempt >= MOUNT_ATTEMPTS || !/can't read superblock/.test(why)) {
      throw new WrennError('internal', `mount -t ext4 -o loop of ${image} at ${target} failed: ${why}`, { image, target });
    }
    await sleep(10 * attempt, signal);
  }
  const device = (await readMountInfo()).filter((m) => m.mountPoint === target).at(-1)?.source;
  if (!device?.startsWith('/dev/loop')) throw new WrennError('internal', `mounting ${image} at ${target} left no loop device mounted there`, { image, target });
  return device;
}

export async function mountOverlay(layers: OverlayLayers, target: string, signal?: AbortSignal): Promise<void> {
  for (const dir of [layers.lowerDir, layers.upperDir, layers.workDir]) assertOverlaySafePath(dir);
  const options = `lowerdir=${layers.lowerDir},upperdir=${layers.upperDir},workdir=${layers.workDir}`;
  const result = await run('mount', ['-t', 'overlay', 'overlay', '-o', options, target], { signal, allowFailure: true });
  if (result.code !== 0) {
    const why = (result.stderr || result.stdout).trim().split('\n').slice(-3).join('; ');
    throw new WrennError('internal', `mounting the overlay at ${target} on template layer ${layers.lowerDir} failed: ${why}`, {
      lowerDir: layers.lowerDir,
      target,
    });
  }
}

/**
 * Unmounts `target` if it is mounted. `lazy` detaches it even while busy (leftover
 * cleanup of a capsule whose processes are gone but whose files may still be open).
 */
export async function unmountIfMounted(target: string, opts: { lazy?: boolean; signal?: AbortSignal } = {}): Promise<boolean> {
  const mounted = (await readMountInfo()).some((m) => m.mountPoint === target);
  if (!mounted) return false;
  const args = opts.lazy ? ['--lazy', target] : [target];
  const result = await run('umount', args, { signal: opts.signal, allowFailure: true });
  if (result.code === 0) return true;
  if (!(await readMountInfo()).some((m) => m.mountPoint === target)) return true; // raced with another unmount
  throw new WrennError('internal', `unmounting ${target} failed: ${(result.stderr || result.stdout).trim()}`, { target });
}

/**
 * Unmounts every mount stacked at `target`; a busy one is detached lazily (its filesystem
 * goes away when the last user does). For destroy and leftover cleanup, where the capsule's
 * processes are already gone and waiting for stragglers helps nobody.
 */
export async function unmountAll(target: string, opts: { signal?: AbortSignal; onBusy?: (err: unknown) => void } = {}): Promise<void> {
  for (let i = 0; i < 16; i += 1) {
    if (!(await readMountInfo()).some((m) => m.mountPoint === target)) return;
    try {
      await unmountIfMounted(target, { signal: opts.signal });
    } catch (err) {
      opts.onBusy?.(err);
      await unmountIfMounted(target, { signal: opts.signal, lazy: true });
    }
  }
  throw new WrennError('internal', `${target} is still mounted after 16 unmounts`, { target });
}

/** Unmounts everything at or below `dir`, most recent mount first. */
export async function unmountAllUnder(dir: string, opts: { lazy?: boolean; signal?: AbortSignal } = {}): Promise<number> {
  let count = 0;
  for (const entry of mountsAtOrUnder(await readMountInfo(), dir)) {
    if (await unmountIfMounted(entry.mountPoint, opts)) count += 1;
  }
  return count;
}

// mount(8) splits overlay options on ',' and lowerdir on ':'; our paths never contain them.
function assertOverlaySafePath(path: string): void {
  if (/[,:\\\n]/.test(path)) {
    throw new WrennError('invalid_argument', `path ${JSON.stringify(path)} cannot be an overlay layer: it contains ',', ':', '\\' or a newline`);
  }
}
