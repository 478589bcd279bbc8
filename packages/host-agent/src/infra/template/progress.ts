/**
 * Progress of a template build, reported phase by phase (the CLI draws a bar from it, the
 * agent logs it). `percent` is an estimate from each phase's usual share of the build time.
 */
export interface TemplateBuildProgress {
  template: string;
  /** 1-based index of the phase that is starting (totalSteps + 1 never happens; see `done`). */
  step: number;
  totalSteps: number;
  message: string;
  percent?: number;
  /** True on the last report, once the template is in place. */
  done?: boolean;
}

export type ProgressListener = (progress: TemplateBuildProgress) => void;

/** A phase of a build and its rough share of the build's time (any unit; they are normalised). */
export interface BuildPhase {
  message: string;
  weight: number;
}
