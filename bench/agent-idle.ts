/**
 * Memory of an idle host agent as shipped (the compiled bundle, plain node) against, in the
 * same run: an idle `node` process (the floor) and the agent from its TypeScript sources
 * through tsx (how it ran before it was compiled). Each agent starts on its own data dir
 * and names (no capsule), settles for --settle seconds, then its resident memory (VmRSS)
 * and proportional share (Pss, from smaps_rollup) are read, with its spawn helper's apart.
 * Target: ≤ 90 MB RSS. Needs root (the agent sets up cgroups and nftables).
 *
 *   sudo npx tsx bench/agent-idle.ts [--settle 10]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { table } from './lib/stats.js';
import { REPO, removeTestIdentity, testAgentIdentity } from '../packages/host-agent/test/agent-harness.js';

const { values } = parseArgs({ options: { settle: { type: 'string', default: '10' } } });
const SETTLE_MS = Number(values.settle) * 1000;

function memOf(pid: number): { rssMb: number; pssMb: number } {
  const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  const pss = Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))![1]);
  return { rssMb: rss / 1024, pssMb: pss / 1024 };
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const list = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
    if (list) out.push(...list.split(/\s+/).map(Number));
  }
  return out;
}

function waitFor(child: ChildProcess, pattern: RegExp | undefined): Promise<void> {
  if (!pattern) return Promise.resolve();
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (pattern.test(out)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`exited early (${code}): ${out}`)));
  });
}

async function measure(name: string, argv: string[], agent: boolean) {
  const id = agent ? testAgentIdentity() : undefined;
  const child = spawn(process.execPath, argv, {
    cwd: REPO,
    env: { ...process.env, ...(id?.env ?? {}), WRENN_SKIP_TEMPLATE_BUILD: '1', WRENN_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await waitFor(child, agent ? /listening on/ : undefined);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const own = memOf(child.pid!);
    const helpers = childrenOf(child.pid!).map(memOf);
    return {
      process: name,
      'RSS MB': own.rssMb,
      'PSS MB': own.pssMb,
      'spawn helper RSS MB': helpers.reduce((a, h) => a + h.rssMb, 0),
    };
  } finally {
    child.kill('SIGTERM');
    if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
    if (id) await removeTestIdentity(id);
  }
}

const rows = [
  await measure('idle node (floor)', ['-e', 'setInterval(() => {}, 1e6)'], false),
  await measure('wrenn-agent, compiled (bin/wrenn-agent.mjs)', [join(REPO, 'packages/host-agent/bin/wrenn-agent.mjs')], true),
  await measure('wrenn-agent from sources through tsx (before)', ['--import', 'tsx', join(REPO, 'packages/host-agent/src/start/main.ts')], true),
];
console.log(`idle memory after ${SETTLE_MS / 1000} s, no capsule`);
console.log(table(rows));
