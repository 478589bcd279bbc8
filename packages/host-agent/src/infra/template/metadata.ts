/**
 * template.json: what the agent needs to use a template without looking at its files
 * (defaults, size for docs/decisions.md#h6, the id mapping its owners were shifted into) and what decides
 * whether a built-in template must be rebuilt (its recipe version).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { WrennError } from '@wrenn/shared';
import type { IdMapping } from '../runtime/runtime.js';
import type { TemplateInfo } from '../rootfs/layers.js';

/** Format of template.json; bump when fields change incompatibly. */
export const TEMPLATE_JSON_VERSION = 1;

/** `build`: a capsule's root flattened by FlattenTemplate (a template build's result). */
export type TemplateSourceKind = 'minimal' | 'busybox' | 'import' | 'build';

export interface TemplateSource {
  kind: TemplateSourceKind;
  /** Version of the built-in recipe; a newer recipe makes `ensure*` rebuild. */
  recipeVersion: number;
}

export interface TemplateDefaults {
  defaultUser: string;
  defaultWorkdir?: string;
  defaultEnv?: Record<string, string>;
}

export interface TemplateMetadata extends Omit<TemplateInfo, 'lowerDir'> {
  version: number;
  idMapping: IdMapping;
  source: TemplateSource;
  build: { durationMs: number; shiftMs: number; entries: number };
}

const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export function assertValidTemplateName(name: string): void {
  if (!NAME_PATTERN.test(name) || name.includes('..')) {
    throw new WrennError(
      'invalid_argument',
      `invalid template name ${JSON.stringify(name)}: use 1-63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
  }
}

export async function writeTemplateMetadata(path: string, metadata: TemplateMetadata): Promise<void> {
  await writeFile(path, `${JSON.stringify(metadata, null, 2)}\n`, { mode: 0o644 });
}

/** Reads template.json; undefined when it does not exist, an error when it is not valid. */
export async function readTemplateMetadata(path: string): Promise<TemplateMetadata | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw err;
  }
  const parsed = JSON.parse(text) as Partial<TemplateMetadata>;
  const valid =
    parsed.version === TEMPLATE_JSON_VERSION &&
    typeof parsed.name === 'string' &&
    typeof parsed.sizeBytes === 'number' &&
    typeof parsed.defaultUser === 'string' &&
    typeof parsed.createdAt === 'string' &&
    typeof parsed.idMapping?.hostBase === 'number' &&
    typeof parsed.idMapping?.size === 'number' &&
    typeof parsed.source?.kind === 'string' &&
    typeof parsed.defaultEnv === 'object';
  if (!valid) throw new WrennError('internal', `${path} is not a valid template.json (version ${String(parsed.version)}): rebuild the template`);
  return parsed as TemplateMetadata;
}

export function sameIdMapping(a: IdMapping, b: IdMapping): boolean {
  return a.hostBase === b.hostBase && a.size === b.size;
}
