/**
 * FlattenTemplate's work on the host: a running capsule's root (template + writable layer,
 * seen through its overlay) becomes a new base template. The capsule's writable layer is
 * frozen for the copy (fsfreeze flushes its dirty pages first, so a file written just
 * before is in the copy whole, T2) and thawed on every path, so the capsule only waits.
 */
import { WrennError, type Logger } from '@wrenn/shared';
import type { TemplateInfo } from '../rootfs/layers.js';
import { capsuleRootfsPaths } from '../rootfs/paths.js';
import { freezeFilesystem, thawFilesystem } from '../rootfs/disk-copy.js';
import { run } from '../exec.js';
import type { TemplateDefaults } from './metadata.js';
import type { TemplateStore } from './store.js';

export interface FlattenCapsuleOptions {
  store: TemplateStore;
  capsuleDir: string;
  name: string;
  defaults: TemplateDefaults;
  logger: Logger;
  signal?: AbortSignal;
}

export interface FlattenedTemplate {
  template: TemplateInfo;
  /** Allocated bytes of the capsule's writable layer: what it added to its template. */
  addedBytes: number;
  durationMs: number;
}

export async function flattenCapsuleRoot(opts: FlattenCapsuleOptions): Promise<FlattenedTemplate> {
  const startedAt = performance.now();
  const paths = capsuleRootfsPaths(opts.capsuleDir);
  await freezeFilesystem(paths.upperMountDir, opts.signal);
  try {
    const du = await run('du', ['--summarize', '--block-size=1', '--one-file-system', '--', paths.upperDir], { signal: opts.signal });
    const addedBytes = Number(/^(\d+)/.exec(du.stdout)?.[1] ?? NaN);
    if (!Number.isFinite(addedBytes)) throw new WrennError('internal', `could not measure ${paths.upperDir}: du printed ${JSON.stringify(du.stdout.slice(0, 200))}`);
    const template = await opts.store.flatten(opts.name, paths.mergedDir, opts.defaults, { signal: opts.signal });
    const durationMs = Math.round(performance.now() - startedAt);
    opts.logger.info({ template: opts.name, sizeBytes: template.sizeBytes, addedBytes, durationMs }, 'capsule root flattened into a template');
    return { template, addedBytes, durationMs };
  } finally {
    await thawFilesystem(paths.upperMountDir).catch((err: unknown) => opts.logger.error({ err, mountDir: paths.upperMountDir }, 'thawing a flattened capsule failed'));
  }
}
