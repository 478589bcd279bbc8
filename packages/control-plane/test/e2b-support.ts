/**
 * Fixture for the E2B compatibility tests: a real control plane with a real host agent
 * (harness.ts), a seeded team, and the three environment variables a team moving from E2B
 * changes (E2B_API_URL, E2B_SANDBOX_URL, E2B_API_KEY) pointed at it, so the unmodified
 * `e2b` package is used exactly as an application would. `track()` remembers sandboxes
 * so `close()` kills whatever a failed test left.
 */
import type { Sandbox } from 'e2b';
import { startControlPlane, seedTeam, TIMER_WORKERS_OFF_BY_DEFAULT, type SeededTeam, type TestControlPlane } from './harness.js';

export interface E2bFixture {
  t: TestControlPlane;
  team: SeededTeam;
  track<S extends Sandbox>(s: S): S;
  close(): Promise<void>;
}

export async function startE2bFixture(opts: { env?: Record<string, string>; agentEnv?: Record<string, string> } = {}): Promise<E2bFixture> {
  // The E2B lifetime worker is what these tests exercise: it runs (the timer workers of
  // other tests stay off).
  const t = await startControlPlane({ withAgent: true, disableWorkers: TIMER_WORKERS_OFF_BY_DEFAULT, ...(opts.env ? { env: opts.env } : {}), ...(opts.agentEnv ? { agentEnv: opts.agentEnv } : {}) });
  const team = await seedTeam(t.cp);
  process.env.E2B_API_URL = t.url;
  process.env.E2B_SANDBOX_URL = t.url;
  process.env.E2B_API_KEY = team.apiKey;
  const ids = new Set<string>();
  return {
    t,
    team,
    track(s) {
      ids.add(s.sandboxId);
      return s;
    },
    async close() {
      for (const id of ids) await t.api('DELETE', `/v1/capsules/${id}`, { auth: team.apiKey }).catch(() => {});
      await t.close();
    },
  };
}
