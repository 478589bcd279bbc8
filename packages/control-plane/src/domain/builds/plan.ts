/**
 * The steps a build runs: Wrenn's pre-build steps (unless `skip_pre_post`), the recipe,
 * and the post-build clean-up, each with the phase it belongs to and the line as written.
 *
 * Pre-build makes the recipe start as the base template's usual user in its home, as
 * Wrenn's builder does; its `apt update` is left to recipes that install packages (it
 * needs the network, and most recipes do not). Post-build runs as root and only frees
 * what package managers cache; it never touches what START processes may use.
 */
import { parseRecipe, type RecipeStep } from '@wrenn/shared';

export type BuildPhase = 'pre-build' | 'recipe' | 'post-build';

export interface PlannedStep {
  phase: BuildPhase;
  step: RecipeStep;
  /** The instruction as written (shown in logs and progress). */
  cmd: string;
  /** Runs as root whatever USER is current (post-build). */
  asRoot?: boolean;
}

const PRE_BUILD = ['USER wrenn-user', 'WORKDIR /home/wrenn-user'];
const POST_BUILD = ['RUN if command -v apt-get >/dev/null 2>&1; then apt-get clean && rm -rf /var/lib/apt/lists/*; fi'];

export function planBuild(recipe: readonly string[], skipPrePost: boolean): PlannedStep[] {
  const steps = parseRecipe(recipe).steps;
  const mine = (lines: string[], phase: BuildPhase, asRoot = false): PlannedStep[] =>
    parseRecipe(lines).steps.map((step) => ({ phase, step, cmd: lines[step.line - 1]!.trim(), ...(asRoot ? { asRoot } : {}) }));
  return [
    ...(skipPrePost ? [] : mine(PRE_BUILD, 'pre-build')),
    ...steps.map((step) => ({ phase: 'recipe' as const, step, cmd: recipe[step.line - 1]!.trim() })),
    ...(skipPrePost ? [] : mine(POST_BUILD, 'post-build', true)),
  ];
}

/** A build with START steps or a healthcheck keeps its processes: a snapshot template. */
export function resultType(plan: readonly PlannedStep[], healthcheck: string | undefined): 'base' | 'snapshot' {
  return healthcheck || plan.some((p) => p.step.kind === 'start') ? 'snapshot' : 'base';
}
