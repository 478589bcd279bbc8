/**
 * What /init sets and every handler reads: access token, default user and workdir,
 * environment variables and capsule metadata. One instance per envd process.
 */
import { mkdirSync, writeFileSync, renameSync, readFileSync } from 'node:fs';
import { posix } from 'node:path';
import type { EnvdInitRequest } from '@wrenn/shared';

export interface CapsuleMetadata {
  capsuleId?: string;
  templateId?: string;
  [key: string]: string | undefined;
}

export type InitRequest = EnvdInitRequest;

export class EnvdState {
  accessToken: string | undefined;
  defaultUser: string;
  defaultWorkdir: string | undefined;
  envVars: Record<string, string> = {};
  metadata: CapsuleMetadata = {};
  /** Set by /snapshot/prepare, cleared by the next /init (which is then a post-restore init). */
  preparedForSnapshot = false;
  readonly startedAt = Date.now();

  constructor(
    readonly runDir: string,
    defaultUser = 'root',
  ) {
    this.defaultUser = defaultUser;
  }

  /** Applies an /init request; fields that are absent keep their current value. */
  apply(init: InitRequest): void {
    if (init.accessToken !== undefined) this.accessToken = init.accessToken || undefined;
    if (init.defaultUser) this.defaultUser = init.defaultUser;
    if (init.defaultWorkdir !== undefined) this.defaultWorkdir = init.defaultWorkdir || undefined;
    if (init.envVars) this.envVars = { ...this.envVars, ...init.envVars };
    const metadata: CapsuleMetadata = { ...this.metadata, ...(init.metadata ?? {}) };
    if (init.capsuleId) metadata.capsuleId = init.capsuleId;
    if (init.templateId) metadata.templateId = init.templateId;
    this.metadata = metadata;
    this.writeMetadataFiles();
  }

  /** Re-reads metadata written by the host (after a restore the host may have rewritten it). */
  reloadMetadata(): void {
    try {
      const parsed = JSON.parse(readFileSync(posix.join(this.runDir, 'metadata.json'), 'utf8')) as CapsuleMetadata;
      this.metadata = { ...this.metadata, ...parsed };
    } catch {
      // No file yet: nothing was initialised before, keep what we have.
    }
  }

  /**
   * Writes metadata under the run dir for processes in the capsule: one JSON file and
   * one dotfile per well-known key, each replaced atomically.
   */
  private writeMetadataFiles(): void {
    mkdirSync(this.runDir, { recursive: true, mode: 0o755 });
    const files: Record<string, string> = { 'metadata.json': JSON.stringify(this.metadata, null, 2) + '\n' };
    if (this.metadata.capsuleId) files['.WRENN_CAPSULE_ID'] = this.metadata.capsuleId;
    if (this.metadata.templateId) files['.WRENN_TEMPLATE_ID'] = this.metadata.templateId;
    for (const [name, content] of Object.entries(files)) {
      const target = posix.join(this.runDir, name);
      const tmp = `${target}.tmp-${process.pid}`;
      writeFileSync(tmp, content, { mode: 0o644 });
      renameSync(tmp, target);
    }
  }
}
