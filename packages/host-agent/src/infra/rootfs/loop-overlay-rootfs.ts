/**
 * The rootfs functions bound to one host's id mapping and logger: the shape the capsule
 * manager's RootfsPort expects (create, mountExisting, remove, usage).
 */
import type { Logger } from '@wrenn/shared';
import type { IdMapping } from '../runtime/runtime.js';
import type { CapsuleRootfs, TemplateInfo } from './layers.js';
import { capsuleDiskUsage, createCapsuleRootfs, mountExistingCapsuleRootfs, removeCapsuleRootfs } from './capsule-rootfs.js';

export function loopOverlayRootfs(deps: { idMapping: IdMapping; logger: Logger }) {
  return {
    create(opts: { capsuleDir: string; template: TemplateInfo; diskSizeBytes: number; signal?: AbortSignal }): Promise<CapsuleRootfs> {
      return createCapsuleRootfs({ ...opts, idMapping: deps.idMapping, logger: deps.logger });
    },
    mountExisting(opts: { capsuleDir: string; template: TemplateInfo; signal?: AbortSignal }): Promise<CapsuleRootfs> {
      return mountExistingCapsuleRootfs({ ...opts, logger: deps.logger });
    },
    remove(capsuleDir: string): Promise<void> {
      return removeCapsuleRootfs(capsuleDir, { logger: deps.logger });
    },
    usage(capsuleDir: string): Promise<{ usedBytes: number; totalBytes: number }> {
      return capsuleDiskUsage(capsuleDir);
    },
  };
}
