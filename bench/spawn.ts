/**
 * Starting the agent's tools through the spawn helper (packages/host-agent/src/infra/spawn)
 * against the baseline of spawning them directly from the process, in the same run, at
 * the memory sizes an agent process has: ~60 MB (agent alone, small), ~250 MB and ~550 MB
 * (`wrenn up`: agent, control plane and PGlite in one process). For each:
 *  - 20 `true` one after the other: wall time per tool;
 *  - 20 `true` at once: wall time of the batch;
 *  - the longest the event loop stalled meanwhile (a 1 ms interval timer's largest gap):
 *    what every other request of the process waits while tools start.
 *
 *   npx tsx bench/spawn.ts [--runs 5]
 */
import { parseArgs } from 'node:util';
import { run } from '../packages/host-agent/src/infra/exec.js';
import { summary, table } from './lib/stats.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const RUNS = Number(values.runs);
const held: Buffer[] = [];

/** Grows this process's resident memory to about `mb` MB (touched pages). */
function growTo(mb: number): void {
  while (process.memoryUsage().rss < mb * 1048576) held.push(Buffer.alloc(16 << 20, 1));
}

/** Runs `fn` while sampling the event loop; resolves with its wall time and the longest stall. */
async function withStallProbe(fn: () => Promise<unknown>): Promise<{ ms: number; stallMs: number }> {
  let last = performance.now();
  let stall = 0;
  const probe = setInterval(() => {
    const now = performance.now();
    stall = Math.max(stall, now - last);
    last = now;
  }, 1);
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  clearInterval(probe);
  return { ms, stallMs: stall };
}

async function measure(mode: 'helper' | 'direct') {
  if (mode === 'direct') process.env.WRENN_SPAWN_HELPER = 'off';
  else delete process.env.WRENN_SPAWN_HELPER;
  await run('true', []); // the helper started (once per process), untimed
  const serial: number[] = [];
  const batch: number[] = [];
  const stalls: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const s = await withStallProbe(async () => {
      for (let j = 0; j < 20; j++) await run('true', []);
    });
    serial.push(s.ms / 20);
    stalls.push(s.stallMs);
    const b = await withStallProbe(() => Promise.all(Array.from({ length: 20 }, () => run('true', []))));
    batch.push(b.ms);
    stalls.push(b.stallMs);
  }
  return {
    perToolMs: Number(summary(serial).p50.toFixed(2)),
    batchOf20Ms: Number(summary(batch).p50.toFixed(1)),
    maxStallMs: Number(Math.max(...stalls).toFixed(1)),
  };
}

const rows = [];
for (const mb of [60, 250, 550]) {
  growTo(mb);
  const rssMb = Math.round(process.memoryUsage().rss / 1048576);
  const direct = await measure('direct');
  const helper = await measure('helper');
  rows.push({ rssMb, mode: 'direct (baseline)', ...direct });
  rows.push({ rssMb, mode: 'spawn helper', ...helper });
}
console.log(`\`true\` started from a node process of the given RSS, median of ${RUNS}; maxStallMs: the event loop's longest stall in any run`);
console.log(table(rows));
