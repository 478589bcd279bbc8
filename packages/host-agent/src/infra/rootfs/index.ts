export type { CapsuleRootfs, TemplateInfo } from './layers.js';
export { capsuleRootfsPaths, type CapsuleRootfsPaths } from './paths.js';
export {
  capsuleDiskUsage,
  createCapsuleRootfs,
  mountExistingCapsuleRootfs,
  removeCapsuleRootfs,
  type CreateCapsuleRootfsOptions,
  type MountExistingCapsuleRootfsOptions,
} from './capsule-rootfs.js';
export { upperImageSizeBytes } from './ext4-image.js';
export { findLeftoverMounts, releaseLeftoverRootfs, releaseAllLeftoverRootfs, type LeftoverRootfs } from './leftovers.js';
export { readMountInfo, mountsAtOrUnder, overlayOption, type MountEntry } from './mountinfo.js';
export { listLoops, type LoopDevice } from './loop.js';
export { loopOverlayRootfs } from './loop-overlay-rootfs.js';
