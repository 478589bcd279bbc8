/**
 * Phase timings for a multi-step operation's log line: `mark(name)` records the time
 * since the previous mark (or the start) under `name`.
 *
 * @example
 * const { phases, mark } = phaseTimer();
 * await mount(); mark('mountMs');
 * log.info({ ...phases }, 'resumed');
 */
export function phaseTimer(): { phases: Record<string, number>; mark: (name: string) => void } {
  const phases: Record<string, number> = {};
  let since = Date.now();
  return {
    phases,
    mark(name) {
      const now = Date.now();
      phases[name] = now - since;
      since = now;
    },
  };
}
