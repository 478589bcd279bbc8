/**
 * Template build benchmark: a 5-step recipe from `minimal` built through the API (as users
 * do), against the same steps run by hand in a capsule (exec through the agent) as the
 * baseline, in the same run:
 *  - build time (request → template saved) vs the by-hand steps (create + 5 execs + destroy);
 *  - time to the first `echo hi` in a capsule from the result vs from `minimal`;
 *  - the flattened template's size vs `minimal`'s, against the data the steps added.
 *
 *   sudo npx tsx bench/build.ts [--runs 3] [--data-mb 32]
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { summary, table } from './lib/stats.js';
import { startControlPlane, seedTeam } from '../packages/control-plane/test/harness.js';
import { newCapsuleId } from '../packages/host-agent/test/agent-harness.js';
import { Wrenn } from '../packages/sdk/src/index.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, 'data-mb': { type: 'string', default: '32' } } });
const RUNS = Math.max(1, Number(values.runs));
const DATA_MB = Math.max(1, Number(values['data-mb']));

/** Five steps; the third writes DATA_MB of incompressible data the template must keep. */
const RECIPE = [
  'USER builder',
  'WORKDIR /home/builder/app',
  `RUN head -c ${DATA_MB}M /dev/urandom > data.bin`,
  'ENV APP_MODE=bench',
  'RUN python3 -c "import sys; print(sys.version)" > version.txt',
];
const BY_HAND = [
  'id -u builder >/dev/null 2>&1 || useradd --create-home --user-group --shell /bin/bash builder',
  'mkdir -p /home/builder/app && chown builder:builder /home/builder/app',
  `cd /home/builder/app && su builder -c 'head -c ${DATA_MB}M /dev/urandom > data.bin'`,
  'true',
  `cd /home/builder/app && su builder -c 'python3 -c "import sys; print(sys.version)" > version.txt'`,
];

async function main(): Promise<void> {
  const t = await startControlPlane({ withAgent: true });
  const agent = t.agent!.client;
  const team = await seedTeam(t.cp);
  const sdk = new Wrenn({ baseUrl: t.url, apiKey: team.apiKey });
  const built: string[] = [];
  const buildMs: number[] = [];
  const handMs: number[] = [];
  const firstFromBuilt: number[] = [];
  const firstFromMinimal: number[] = [];
  let sizes = { minimal: 0, built: 0 };
  try {
    const firstEcho = async (template: string) => {
      const t0 = performance.now();
      const c = await sdk.capsules.create({ template });
      const r = await sdk.capsules.exec(c.id, { cmd: 'echo', args: ['hi'] });
      const ms = performance.now() - t0;
      if (r.stdout !== 'hi\n') throw new Error(`unexpected ${JSON.stringify(r.stdout)}`);
      await sdk.capsules.destroy(c.id);
      return ms;
    };
    for (let i = 0; i < RUNS; i++) {
      const name = `bench-build-${process.pid}-${randomBytes(3).toString('hex')}`;
      const t0 = performance.now();
      const b = await sdk.builds.create({ name, recipe: RECIPE, skipPrePost: true });
      built.push(name);
      let done = b;
      for await (const ev of sdk.builds.watch(b.id)) done = ev;
      if (done.status !== 'success') throw new Error(`build ${b.id} ${done.status}: ${done.error}`);
      buildMs.push(performance.now() - t0);

      const h0 = performance.now();
      const id = newCapsuleId('cl-bench-hand');
      await agent.create({ capsuleId: id, template: 'minimal', vcpus: 1, memoryMb: 512 });
      try {
        for (const step of BY_HAND) {
          const r = await agent.exec({ capsuleId: id, cmd: '/bin/sh', args: ['-c', step], user: 'root', timeoutSec: 300 });
          if (r.exitCode !== 0) throw new Error(`by-hand step failed: ${step}: ${Buffer.from(r.stderr).toString()}`);
        }
      } finally {
        await agent.destroy({ capsuleId: id });
      }
      handMs.push(performance.now() - h0);

      firstFromBuilt.push(await firstEcho(name));
      firstFromMinimal.push(await firstEcho('minimal'));
    }
    const list = await sdk.builds.templates();
    sizes = { minimal: list.find((x) => x.name === 'minimal')?.sizeBytes ?? 0, built: list.find((x) => x.name === built[0])?.sizeBytes ?? 0 };
  } finally {
    for (const name of built) await sdk.builds.deleteTemplate(name).catch((err) => console.error(`template ${name} not deleted:`, err));
    await t.close();
  }
  const ms = (xs: number[]) => summary(xs).p50.toFixed(0);
  const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
  console.log(`template build: ${RECIPE.length} steps from minimal, ${DATA_MB} MB written, ${RUNS} run(s), medians`);
  console.log(
    table([
      { what: 'build → template saved (API, incl. capsule create, sync, flatten)', wrenn: `${ms(buildMs)} ms`, baseline: `${ms(handMs)} ms (same steps by hand in a capsule)` },
      { what: 'create → first echo, from the result', wrenn: `${ms(firstFromBuilt)} ms`, baseline: `${ms(firstFromMinimal)} ms (from minimal)` },
      { what: 'template size', wrenn: `${mb(sizes.built)} MiB`, baseline: `minimal ${mb(sizes.minimal)} MiB + ${DATA_MB} MiB data = ${mb(sizes.minimal + DATA_MB * 1024 * 1024)} MiB` },
    ]),
  );
}

await main();
