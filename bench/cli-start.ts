/**
 * Start-up of the `wrenn` command as users run it (the compiled CLI, plain node), against
 * `node -e 0` in the same run, interleaved round by round so a drifting machine moves all
 * alike:
 *  - `wrenn --version`;
 *  - `wrenn capsules ls` against a real control plane (embedded PGlite, in this process);
 *  - the same `--version` from TypeScript sources through tsx (how the CLI ran before it
 *    was compiled), for reference.
 * Whole-process wall time, spawn to exit. Target: ≤ 250 ms for both commands.
 *
 *   npx tsx bench/cli-start.ts [--runs 20]
 */
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { hr, summary, table } from './lib/stats.js';
import { startControlPlane, seedTeam } from '../packages/control-plane/test/harness.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' } } });
const RUNS = Number(values.runs);
const REPO = join(import.meta.dirname, '..');
const BIN = join(REPO, 'packages/cli/bin/wrenn.mjs');
const SRC = join(REPO, 'packages/cli/src/main.ts');

function timed(argv: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, argv, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stdout.resume();
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = hr(process.hrtime.bigint() - t0);
      if (code !== 0) reject(new Error(`${argv.join(' ')} exited ${code}: ${err}`));
      else resolve(ms);
    });
  });
}

const cp = await startControlPlane();
try {
  const team = await seedTeam(cp.cp);
  const env = { ...process.env, WRENN_API_URL: cp.url, WRENN_API_KEY: team.apiKey, HOME: tmpdir() };
  // Users run `wrenn` from anywhere; tsx resolves from the working directory, so the
  // reference runs in the repository.
  const cases: Array<[string, string[], string]> = [
    ['node -e 0 (baseline)', ['-e', '0'], tmpdir()],
    ['wrenn --version', [BIN, '--version'], tmpdir()],
    ['wrenn capsules ls', [BIN, 'capsules', 'ls'], tmpdir()],
    ['--version from source through tsx (before)', ['--import', 'tsx', SRC, '--version'], REPO],
  ];
  const samples = new Map<string, number[]>(cases.map(([name]) => [name, []]));
  for (const [, argv, cwd] of cases) await timed(argv, env, cwd); // warm-up: page cache
  for (let i = 0; i < RUNS; i++) {
    for (const [name, argv, cwd] of cases) samples.get(name)!.push(await timed(argv, env, cwd));
  }
  const base = summary(samples.get(cases[0]![0])!).p50;
  console.log(`CLI start-up, ${RUNS} interleaved runs, whole process (ms)`);
  console.log(
    table(
      cases.map(([name]) => {
        const s = summary(samples.get(name)!);
        return { command: name, p50: s.p50, p95: s.p95, min: s.min, 'over node -e 0 (p50)': s.p50 - base };
      }),
    ),
  );
} finally {
  await cp.close();
}
