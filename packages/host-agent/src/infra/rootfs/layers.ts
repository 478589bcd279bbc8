/**
 * Root filesystem layers: a template's read-only lower layer (owners already shifted into
 * the capsule uid range) and a per-capsule writable upper layer on a sparse ext4 loop image
 * of max(disk size, template size), combined with overlayfs.
 */

export interface TemplateInfo {
  name: string;
  /** Read-only directory used as overlay lowerdir (owned by the mapped uid range). */
  lowerDir: string;
  /** Bytes used by the template's files (decides the minimum upper size, docs/decisions.md#h6). */
  sizeBytes: number;
  defaultUser: string;
  defaultWorkdir?: string;
  defaultEnv: Record<string, string>;
  createdAt: string;
}

export interface CapsuleRootfs {
  /** The merged overlay directory: the capsule's root. */
  readonly mergedDir: string;
  /** Loop device holding the upper layer. */
  readonly loopDevice: string;
  /** The sparse ext4 image file of the upper layer (kept across pause, deleted on destroy). */
  readonly imagePath: string;
  /** Size of the upper layer's filesystem: the capsule's disk limit. */
  readonly sizeBytes: number;
  /** Space used and total in the upper layer (what the capsule wrote), for metrics. */
  diskUsage(): Promise<{ usedBytes: number; totalBytes: number }>;
  /** Unmounts merged + upper, detaches the loop device; the image file is kept (pause) or removed (destroy). */
  unmount(): Promise<void>;
}
