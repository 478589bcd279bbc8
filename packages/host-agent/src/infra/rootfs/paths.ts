/**
 * Where a capsule's root filesystem pieces live inside its directory. Leftover cleanup
 * recognises a capsule's mounts and loop devices by these names.
 */
import { join } from 'node:path';

export const IMAGE_FILE = 'upper.ext4';
export const UPPER_MOUNT_DIR = 'upper-mnt';
export const MERGED_DIR = 'rootfs';

export interface CapsuleRootfsPaths {
  capsuleDir: string;
  /** Sparse ext4 image holding the writable layer. */
  imagePath: string;
  /** Where the image is mounted. */
  upperMountDir: string;
  /** overlay upperdir and workdir, inside the image. */
  upperDir: string;
  workDir: string;
  /** The merged overlay: the capsule's root. */
  mergedDir: string;
}

export function capsuleRootfsPaths(capsuleDir: string): CapsuleRootfsPaths {
  const upperMountDir = join(capsuleDir, UPPER_MOUNT_DIR);
  return {
    capsuleDir,
    imagePath: join(capsuleDir, IMAGE_FILE),
    upperMountDir,
    upperDir: join(upperMountDir, 'upper'),
    workDir: join(upperMountDir, 'work'),
    mergedDir: join(capsuleDir, MERGED_DIR),
  };
}
