/**
 * The templates of one host, under `<dataDir>/templates/`:
 *
 *   <name>/rootfs/         the tree, owners shifted into the capsule id range: overlay lower
 *   <name>/template.json   defaults, size, id mapping, recipe (./metadata.ts)
 *   .tmp/<name>/...        builds in progress and replaced trees being deleted
 *   .locks/<name>.lock     serialises builds of one template across processes
 *
 * A build fills `.tmp/<name>/build-*` and renames it to `<name>` only when complete, so a
 * crash leaves no half template; the next build of that name (under its lock, so nothing
 * else can be using them) deletes whatever `.tmp/<name>/` holds. A template that a mounted
 * capsule overlay uses as its lower layer is never replaced or removed.
 */
import { mkdir, readdir, rename } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { WrennError, type Logger } from '@wrenn/shared';
import type { IdMapping } from '../runtime/runtime.js';
import type { TemplateInfo } from '../rootfs/layers.js';
import { overlayOption, readMountInfo } from '../rootfs/mountinfo.js';
import { unmountAllUnder } from '../rootfs/mount.js';
import { removeTreeSafely } from '../rootfs/remove-tree.js';
import { run } from '../exec.js';
import type { TemplateRecipe } from './builder.js';
import { busyboxRecipe } from './busybox.js';
import { minimalRecipe, type MinimalRecipeOptions } from './minimal.js';
import { acquireFileLock } from './file-lock.js';
import {
  TEMPLATE_JSON_VERSION,
  assertValidTemplateName,
  readTemplateMetadata,
  sameIdMapping,
  writeTemplateMetadata,
  type TemplateDefaults,
  type TemplateMetadata,
} from './metadata.js';
import type { BuildPhase, ProgressListener } from './progress.js';
import { shiftTreeOwnership, validateIdMapping } from './shift.js';
import { measureShiftedTree } from './measure.js';

export interface TemplateStoreOptions {
  dataDir: string;
  idMapping: IdMapping;
  logger: Logger;
  /** Options of the `minimal` recipe (package archives); default: the host's apt sources. */
  minimal?: MinimalRecipeOptions;
}

export interface EnsureTemplateOptions {
  /** Build again even if a current template exists. */
  rebuild?: boolean;
  onProgress?: ProgressListener;
  signal?: AbortSignal;
}

export interface ImportRootfsOptions {
  /** Replace a template of that name (refused while a capsule uses it). */
  replace?: boolean;
  onProgress?: ProgressListener;
  signal?: AbortSignal;
}

export interface FlattenOptions {
  signal?: AbortSignal;
  onProgress?: ProgressListener;
}

const SHIFT_PHASE: BuildPhase = { message: 'shifting owners into the capsule id range', weight: 3 };
const FINALIZE_PHASE: BuildPhase = { message: 'finalizing', weight: 1 };

export class TemplateStore {
  readonly templatesDir: string;
  private readonly idMapping: IdMapping;
  private readonly logger: Logger;
  private readonly minimalOptions: MinimalRecipeOptions;
  /** One build per template name at a time inside this process (the lock file covers other processes). */
  private readonly inProcess = new Map<string, Promise<unknown>>();

  constructor(opts: TemplateStoreOptions) {
    validateIdMapping(opts.idMapping);
    this.templatesDir = join(resolve(opts.dataDir), 'templates');
    this.idMapping = { ...opts.idMapping };
    this.logger = opts.logger;
    this.minimalOptions = opts.minimal ?? {};
  }

  async get(name: string): Promise<TemplateInfo> {
    assertValidTemplateName(name);
    const metadata = await readTemplateMetadata(this.metadataPath(name));
    if (!metadata) throw new WrennError('template_not_found', `template ${name} does not exist`, { template: name });
    if (!sameIdMapping(metadata.idMapping, this.idMapping)) {
      throw new WrennError(
        'failed_precondition',
        `template ${name} was shifted for uid base ${metadata.idMapping.hostBase} (size ${metadata.idMapping.size}) but this host maps capsules to ` +
          `${this.idMapping.hostBase} (size ${this.idMapping.size}): rebuild or re-import it`,
        { template: name },
      );
    }
    return this.toInfo(metadata);
  }

  async list(): Promise<TemplateInfo[]> {
    const names = (await readdir(this.templatesDir).catch(() => [] as string[])).filter((n) => !n.startsWith('.')).sort();
    const templates: TemplateInfo[] = [];
    for (const name of names) {
      try {
        templates.push(await this.get(name));
      } catch (err) {
        this.logger.warn({ err, template: name }, 'skipping unusable template');
      }
    }
    return templates;
  }

  /** Deletes a template; refused while a mounted capsule uses it. */
  async remove(name: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    assertValidTemplateName(name);
    await this.exclusive(name, opts.signal, async () => {
      if (!(await readTemplateMetadata(this.metadataPath(name)))) {
        throw new WrennError('template_not_found', `template ${name} does not exist`, { template: name });
      }
      await this.assertNotInUse(name);
      await this.moveAsideAndDelete(name);
      this.logger.info({ template: name }, 'template removed');
    });
  }

  ensureMinimal(opts: EnsureTemplateOptions = {}): Promise<TemplateInfo> {
    return this.ensure('minimal', minimalRecipe(this.minimalOptions), opts);
  }

  ensureBusybox(opts: EnsureTemplateOptions & { busyboxPath?: string } = {}): Promise<TemplateInfo> {
    return this.ensure('busybox', busyboxRecipe(opts.busyboxPath), opts);
  }

  /** Copies `srcDir` (owners as inside the capsule) into template `name` and shifts it. */
  async importRootfs(name: string, srcDir: string, defaults: TemplateDefaults, opts: ImportRootfsOptions = {}): Promise<TemplateInfo> {
    assertValidTemplateName(name);
    const source = resolve(srcDir);
    const recipe: TemplateRecipe = {
      source: { kind: 'import', recipeVersion: 1 },
      phases: [{ message: `copying ${source}`, weight: 10 }],
      async build(ctx) {
        ctx.phase(0);
        await run('cp', ['--archive', '--reflink=auto', '--no-target-directory', '--', source, ctx.rootfsDir], { signal: ctx.signal });
        return defaults;
      },
    };
    return this.exclusive(name, opts.signal, async () => {
      const existing = await readTemplateMetadata(this.metadataPath(name));
      if (existing && !opts.replace) {
        throw new WrennError('already_exists', `template ${name} already exists: remove it first or import with replace`, { template: name });
      }
      return this.build(name, recipe, opts);
    });
  }

  /**
   * Copies a mounted capsule root (`mergedDir`: its template and everything written on
   * top, owners already in the capsule id range) into a new template `name`. The caller
   * keeps the capsule from writing meanwhile (FlattenTemplate freezes its writable layer).
   */
  async flatten(name: string, mergedDir: string, defaults: TemplateDefaults, opts: FlattenOptions = {}): Promise<TemplateInfo> {
    assertValidTemplateName(name);
    const source = resolve(mergedDir);
    const recipe: TemplateRecipe = {
      source: { kind: 'build', recipeVersion: 1 },
      alreadyShifted: true,
      phases: [{ message: `copying the capsule root ${source}`, weight: 10 }],
      async build(ctx) {
        ctx.phase(0);
        // --one-file-system: whatever is mounted below the root (never expected) stays out.
        await run('cp', ['--archive', '--one-file-system', '--reflink=auto', '--no-target-directory', '--', source, ctx.rootfsDir], { signal: ctx.signal });
        return defaults;
      },
    };
    return this.exclusive(name, opts.signal, async () => {
      if (await readTemplateMetadata(this.metadataPath(name))) {
        throw new WrennError('already_exists', `template ${name} already exists: delete it first or choose another name`, { template: name });
      }
      return this.build(name, recipe, opts);
    });
  }

  /** Deletes a template that FlattenTemplate made (never a built-in or imported one); refused while in use. */
  async removeFlattened(name: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    assertValidTemplateName(name);
    const metadata = await readTemplateMetadata(this.metadataPath(name));
    if (!metadata) throw new WrennError('template_not_found', `template ${name} does not exist`, { template: name });
    if (metadata.source.kind !== 'build') {
      throw new WrennError('failed_precondition', `template ${name} was not made by a build (${metadata.source.kind}); only built templates are deleted through the API`, { template: name });
    }
    await this.remove(name, opts);
  }

  /** Deletes what crashed builds left in `.tmp/` (each name under its lock). */
  async removeStaleBuilds(opts: { signal?: AbortSignal } = {}): Promise<void> {
    for (const name of await readdir(join(this.templatesDir, '.tmp')).catch(() => [] as string[])) {
      try {
        assertValidTemplateName(name);
      } catch {
        continue; // not ours
      }
      await this.exclusive(name, opts.signal, () => this.clearScratch(name));
    }
  }

  private async ensure(name: string, recipe: TemplateRecipe, opts: EnsureTemplateOptions): Promise<TemplateInfo> {
    return this.exclusive(name, opts.signal, async () => {
      const existing = await readTemplateMetadata(this.metadataPath(name)).catch(() => undefined);
      const current =
        existing &&
        sameIdMapping(existing.idMapping, this.idMapping) &&
        existing.source.kind === recipe.source.kind &&
        existing.source.recipeVersion === recipe.source.recipeVersion;
      if (current && !opts.rebuild) {
        this.logger.debug({ template: name }, 'template is current; not rebuilding');
        return this.toInfo(existing);
      }
      return this.build(name, recipe, opts);
    });
  }

  /** Builds into `.tmp/<name>/build-*`, shifts, then swaps it into place. Caller holds the lock. */
  private async build(name: string, recipe: TemplateRecipe, opts: EnsureTemplateOptions): Promise<TemplateInfo> {
    const log = this.logger.child({ template: name });
    const startedAt = performance.now();
    await this.assertNotInUse(name);
    await this.clearScratch(name);

    const phases = [...recipe.phases, SHIFT_PHASE, FINALIZE_PHASE];
    const progress = phaseReporter(name, phases, log, opts.onProgress);
    const buildDir = join(this.scratchDir(name), `build-${process.pid}-${Date.now().toString(36)}`);
    await mkdir(buildDir, { recursive: true });
    const rootfsDir = join(buildDir, 'rootfs');
    let installed = false;
    try {
      const defaults = await recipe.build({ rootfsDir, signal: opts.signal, logger: log, phase: (i) => progress.start(i) });

      progress.start(recipe.phases.length);
      let shift: { entries: number; sizeBytes: number; durationMs: number };
      if (recipe.alreadyShifted) {
        shift = await measureShiftedTree(rootfsDir, this.idMapping, { signal: opts.signal });
        log.info(shift, 'tree measured (owners already in the capsule range)');
      } else {
        const shifted = await shiftTreeOwnership(rootfsDir, this.idMapping, { signal: opts.signal });
        log.info({ entries: shifted.entries, inodes: shifted.inodes, sizeBytes: shifted.sizeBytes, xattrFiles: shifted.xattrFiles, durationMs: shifted.durationMs }, 'owners shifted');
        shift = shifted;
      }

      progress.start(recipe.phases.length + 1);
      const metadata: TemplateMetadata = {
        version: TEMPLATE_JSON_VERSION,
        name,
        sizeBytes: shift.sizeBytes,
        defaultUser: defaults.defaultUser,
        ...(defaults.defaultWorkdir ? { defaultWorkdir: defaults.defaultWorkdir } : {}),
        defaultEnv: defaults.defaultEnv ?? {},
        createdAt: new Date().toISOString(),
        idMapping: { ...this.idMapping },
        source: recipe.source,
        build: { durationMs: Math.round(performance.now() - startedAt), shiftMs: shift.durationMs, entries: shift.entries },
      };
      await writeTemplateMetadata(join(buildDir, 'template.json'), metadata);
      // The tree is the lower layer of every capsule: make it durable before it becomes visible.
      await run('sync', ['--file-system', buildDir], { signal: opts.signal });
      await this.assertNotInUse(name);
      await this.moveAsideAndDelete(name);
      await rename(buildDir, this.templateDir(name));
      installed = true;
      progress.finish();
      log.info({ sizeBytes: metadata.sizeBytes, durationMs: Math.round(performance.now() - startedAt) }, 'template built');
      return this.toInfo(metadata);
    } catch (err) {
      if (opts.signal?.aborted) throw new WrennError('canceled', `building template ${name} was cancelled`, { template: name }, { cause: err });
      throw err;
    } finally {
      if (!installed) await this.discard(buildDir, log);
    }
  }

  private async exclusive<T>(name: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    const previous = this.inProcess.get(name) ?? Promise.resolve();
    const task = previous.catch(() => {}).then(async () => {
      await mkdir(join(this.templatesDir, '.locks'), { recursive: true });
      const release = await acquireFileLock(join(this.templatesDir, '.locks', `${name}.lock`), {
        signal,
        onWait: (pid) => this.logger.info({ template: name, ownerPid: pid }, 'waiting for another process building this template'),
      });
      try {
        return await fn();
      } finally {
        await release();
      }
    });
    this.inProcess.set(name, task);
    try {
      return await task;
    } finally {
      if (this.inProcess.get(name) === task) this.inProcess.delete(name);
    }
  }

  /** Refuses to replace or delete a template that a mounted overlay uses as lower layer. */
  private async assertNotInUse(name: string): Promise<void> {
    const lowerDir = this.lowerDir(name);
    const users = (await readMountInfo()).filter((m) => m.fsType === 'overlay' && (overlayOption(m, 'lowerdir') ?? '').split(':').includes(lowerDir));
    if (users.length > 0) {
      throw new WrennError(
        'failed_precondition',
        `template ${name} is in use by ${users.length} mounted capsule root(s) (${users.map((m) => m.mountPoint).join(', ')}): destroy them first`,
        { template: name, mounts: users.map((m) => m.mountPoint) },
      );
    }
  }

  private async moveAsideAndDelete(name: string): Promise<void> {
    const trash = join(this.scratchDir(name), `trash-${process.pid}-${Date.now().toString(36)}`);
    await mkdir(this.scratchDir(name), { recursive: true });
    try {
      await rename(this.templateDir(name), trash);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    await this.discard(trash, this.logger);
  }

  /** Deletes `.tmp/<name>/`: only ever called under the template's lock. */
  private async clearScratch(name: string): Promise<void> {
    const dir = this.scratchDir(name);
    const entries = await readdir(dir).catch(() => [] as string[]);
    if (entries.length > 0) this.logger.info({ template: name, entries }, 'removing leftovers of an earlier build');
    for (const entry of entries) await this.discard(join(dir, entry), this.logger);
  }

  private async discard(dir: string, log: Logger): Promise<void> {
    try {
      // A build's chroot steps may have left mounts inside the tree; never rm through them.
      await unmountAllUnder(dir, { lazy: true });
      await removeTreeSafely(dir);
    } catch (err) {
      // Left in .tmp/: the next build of this template tries again.
      log.error({ err, dir }, 'could not delete a template build directory');
    }
  }

  private toInfo(metadata: TemplateMetadata): TemplateInfo {
    return {
      name: metadata.name,
      lowerDir: this.lowerDir(metadata.name),
      sizeBytes: metadata.sizeBytes,
      defaultUser: metadata.defaultUser,
      ...(metadata.defaultWorkdir ? { defaultWorkdir: metadata.defaultWorkdir } : {}),
      defaultEnv: metadata.defaultEnv,
      createdAt: metadata.createdAt,
    };
  }

  private templateDir(name: string): string {
    return join(this.templatesDir, name);
  }

  private lowerDir(name: string): string {
    return join(this.templateDir(name), 'rootfs');
  }

  private metadataPath(name: string): string {
    return join(this.templateDir(name), 'template.json');
  }

  private scratchDir(name: string): string {
    return join(this.templatesDir, '.tmp', name);
  }
}

/** Turns phase starts into progress reports and one log line per finished phase with its duration. */
function phaseReporter(template: string, phases: BuildPhase[], log: Logger, listener: ProgressListener | undefined) {
  const totalWeight = phases.reduce((sum, p) => sum + p.weight, 0);
  let current = -1;
  let currentStartedAt = performance.now();
  const endCurrent = () => {
    if (current < 0) return;
    log.info({ step: current + 1, totalSteps: phases.length, phase: phases[current]!.message, durationMs: Math.round(performance.now() - currentStartedAt) }, 'template build phase done');
  };
  return {
    start(index: number) {
      if (index <= current || index >= phases.length) return;
      endCurrent();
      current = index;
      currentStartedAt = performance.now();
      const doneWeight = phases.slice(0, index).reduce((sum, p) => sum + p.weight, 0);
      listener?.({ template, step: index + 1, totalSteps: phases.length, message: phases[index]!.message, percent: Math.round((100 * doneWeight) / totalWeight) });
    },
    finish() {
      endCurrent();
      current = phases.length;
      listener?.({ template, step: phases.length, totalSteps: phases.length, message: 'done', percent: 100, done: true });
    },
  };
}
