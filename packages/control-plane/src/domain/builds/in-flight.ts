/**
 * What the rest of the control plane may do with the template builds running in this
 * process (`ctx.builds`). The runner that implements it (registry.ts) needs the whole
 * context to run a build, so the context names this interface, not the runner: no import circle.
 */
export interface BuildsInFlight {
  /** Starts taking pending builds (the builds worker calls it after listen). */
  start(): void;
  /** Stops: the builds in flight here are failed with the reason, and waited for. */
  stop(): Promise<void>;
  /** Whether build `id` runs in this process. */
  isRunning(id: string): boolean;
  /** Cancels build `id` if it runs here: its running step is stopped at once. */
  cancel(id: string): void;
  /** Looks for pending builds now (a build was created or one ended). */
  wake(): void;
}
