/**
 * What the template store needs from a recipe: its phases (for progress) and a function
 * that fills an empty directory with an unshifted root tree (owners as inside the capsule).
 */
import type { Logger } from '@wrenn/shared';
import type { BuildPhase } from './progress.js';
import type { TemplateDefaults, TemplateSource } from './metadata.js';

export interface BuildContext {
  /** Not yet existing directory the recipe creates and fills. */
  rootfsDir: string;
  signal?: AbortSignal;
  logger: Logger;
  /** Announces that phase `index` (into `phases`) starts. */
  phase(index: number): void;
}

export interface TemplateRecipe {
  source: TemplateSource;
  /** The tree it makes is already owned by capsule-range ids (a capsule's root): measured, not shifted. */
  alreadyShifted?: boolean;
  phases: BuildPhase[];
  build(ctx: BuildContext): Promise<TemplateDefaults>;
}
