/**
 * E2B compatibility benchmark: the unmodified `e2b` SDK against Wrenn's E2B API (sandbox
 * traffic through the control plane's port proxy to envd) versus Wrenn's own SDK on the
 * native API, in the same run, against the same control plane and host agent:
 *  - create → first command result (`Sandbox.create` + `commands.run('true')` vs
 *    `capsules.create` + `capsules.exec`), alternating the two sides;
 *  - a command round trip on a running sandbox, interleaved.
 * Both sides run the same process (`/bin/bash -l -c true`: what the e2b SDK asks envd to
 * run for `commands.run('true')`), so the difference is the path, not the work.
 *
 *   sudo npx tsx bench/e2b.ts [--runs 20] [--execs 300]
 */
import { parseArgs } from 'node:util';
import { Sandbox } from 'e2b';
import { hr, summary, table } from './lib/stats.js';
import { startControlPlane, seedTeam } from '../packages/control-plane/test/harness.js';
import { Wrenn } from '../packages/sdk/src/index.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' }, execs: { type: 'string', default: '300' } } });
const RUNS = Number(values.runs);
const EXECS = Number(values.execs);
const WARMUP = 3;

async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return hr(process.hrtime.bigint() - t0);
}

async function main(): Promise<void> {
  const t = await startControlPlane({ withAgent: true });
  const team = await seedTeam(t.cp);
  process.env.E2B_API_URL = t.url;
  process.env.E2B_SANDBOX_URL = t.url;
  process.env.E2B_API_KEY = team.apiKey;
  const wrenn = new Wrenn({ baseUrl: t.url, apiKey: team.apiKey });
  const cleanup: Array<() => Promise<unknown>> = [];
  try {
    const e2b = {
      async createAndRun() {
        const sbx = await Sandbox.create({ timeoutMs: 600_000 });
        const res = await sbx.commands.run('true');
        if (res.exitCode !== 0) throw new Error('e2b: true failed');
        return () => sbx.kill();
      },
    };
    const native = {
      async createAndRun() {
        const c = await wrenn.capsules.create({ template: 'minimal', memoryMb: 512 });
        const res = await wrenn.capsules.exec(c.id, { cmd: '/bin/bash', args: ['-l', '-c', 'true'] });
        if (res.exitCode !== 0) throw new Error('native: true failed');
        return () => wrenn.capsules.destroy(c.id);
      },
    };

    const createE2b: number[] = [];
    const createNative: number[] = [];
    for (let i = 0; i < RUNS + WARMUP; i++) {
      for (const [side, samples] of [
        [e2b, createE2b],
        [native, createNative],
      ] as const) {
        let done: () => Promise<unknown> = async () => {};
        const ms = await timeIt(async () => (done = await side.createAndRun()));
        await done();
        if (i >= WARMUP) samples.push(ms);
      }
    }

    const sbx = await Sandbox.create({ timeoutMs: 600_000 });
    cleanup.push(() => sbx.kill());
    const capsule = await wrenn.capsules.create({ template: 'minimal', memoryMb: 512 });
    cleanup.push(() => wrenn.capsules.destroy(capsule.id));
    const runE2b: number[] = [];
    const runNative: number[] = [];
    for (let i = 0; i < EXECS + 20; i++) {
      const a = await timeIt(() => sbx.commands.run('true'));
      const b = await timeIt(() => wrenn.capsules.exec(capsule.id, { cmd: '/bin/bash', args: ['-l', '-c', 'true'] }));
      if (i >= 20) {
        runE2b.push(a);
        runNative.push(b);
      }
    }

    const c1 = summary(createE2b);
    const c2 = summary(createNative);
    const r1 = summary(runE2b);
    const r2 = summary(runNative);
    console.log(
      table([
        { measure: 'create → first run (e2b SDK, E2B API + proxy)', p50: c1.p50, p95: c1.p95, n: c1.n },
        { measure: 'create → first exec (Wrenn SDK, native API)', p50: c2.p50, p95: c2.p95, n: c2.n },
        { measure: 'commands.run("true") (e2b SDK)', p50: r1.p50, p95: r1.p95, n: r1.n },
        { measure: 'exec bash -l -c true (Wrenn SDK)', p50: r2.p50, p95: r2.p95, n: r2.n },
      ]),
    );
    console.log(`\ncreate → first command: e2b ${(c1.p50 - c2.p50).toFixed(1)} ms over native (target ≤ +10 ms)`);
    console.log(`command round trip:     e2b ${(r1.p50 - r2.p50).toFixed(1)} ms over native (target ≤ +2 ms)`);
  } finally {
    for (const c of cleanup.reverse()) await c().catch(() => {});
    await t.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
