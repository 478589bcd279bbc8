/**
 * Capsule start benchmark, through the host agent's RPC API as the control plane uses it:
 *  - Create → envd healthy → first `echo hi` result: cold, and claimed from the warm pool;
 *  - same run baselines: bare `runc run` of busybox `echo hi` (default runc spec, no user
 *    namespace, no network) and `unshare` of `echo hi` (new pid+mount namespaces);
 *  - 50 capsules created concurrently (wall time, errors);
 *  - idle host memory per capsule (RSS and PSS of its processes);
 *  - exec round trip of `true` through the agent vs a local spawn of `true`.
 *
 *   sudo npx tsx bench/capsule-start.ts [--runs 30] [--concurrent 50] [--template minimal]
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { hr, summary, table } from './lib/stats.js';
import { sharedTemplates, startTestAgent, newCapsuleId, type TestAgent } from '../packages/host-agent/test/agent-harness.js';
import { createBusyboxRootfs } from '../packages/host-agent/test/fixtures/busybox-rootfs.js';
import { run } from '../packages/host-agent/src/infra/exec.js';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '30' }, concurrent: { type: 'string', default: '50' }, template: { type: 'string', default: 'minimal' } },
});
const RUNS = Number(values.runs);
const CONCURRENT = Number(values.concurrent);
const TEMPLATE = values.template!;

async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return hr(process.hrtime.bigint() - t0);
}

function spawnQuiet(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    c.stderr.on('data', (b: Buffer) => (err += b));
    c.stdout.resume();
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}: ${err}`))));
  });
}

async function createAndEcho(t: TestAgent): Promise<{ ms: number; id: string; fromWarm: boolean }> {
  const id = newCapsuleId('bench-');
  let fromWarm = false;
  const ms = await timeIt(async () => {
    const c = await t.client.create({ capsuleId: id, template: TEMPLATE, vcpus: 1, memoryMb: 512, egress: true });
    fromWarm = c.capsule?.fromWarmPool ?? false;
    const r = await t.client.exec({ capsuleId: id, cmd: 'echo', args: ['hi'] });
    if (Buffer.from(r.stdout).toString() !== 'hi\n') throw new Error('unexpected echo output');
  });
  return { ms, id, fromWarm };
}

function processMemoryKb(pid: number): { rss: number; pss: number } {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    return { rss: Number(/^Rss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0), pss: Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0) };
  } catch {
    return { rss: 0, pss: 0 };
  }
}

function capsuleMemoryKb(t: TestAgent, id: string): { rss: number; pss: number } {
  const procs = readFileSync(`/sys/fs/cgroup/pids/${t.cgroupParent}/${id}/cgroup.procs`, 'utf8').trim().split('\n').filter(Boolean).map(Number);
  return procs.map(processMemoryKb).reduce((a, m) => ({ rss: a.rss + m.rss, pss: a.pss + m.pss }), { rss: 0, pss: 0 });
}

async function bareRuncBaseline(runs: number): Promise<number[]> {
  const fx = await createBusyboxRootfs(0);
  const root = join(fx.dir, 'runc-root');
  try {
    await run('runc', ['spec', '--bundle', fx.dir]);
    const specPath = join(fx.dir, 'config.json');
    const spec = JSON.parse(readFileSync(specPath, 'utf8'));
    spec.process.terminal = false;
    spec.process.args = ['/bin/busybox', 'echo', 'hi'];
    spec.root = { path: 'rootfs', readonly: true };
    writeFileSync(specPath, JSON.stringify(spec));
    const out: number[] = [];
    for (let i = 0; i < runs + 3; i++) {
      const ms = await timeIt(() => spawnQuiet('runc', ['--root', root, 'run', '--bundle', fx.dir, `bench-bare-${process.pid}-${i}`]));
      if (i >= 3) out.push(ms);
    }
    return out;
  } finally {
    await fx.remove();
  }
}

async function main(): Promise<void> {
  await sharedTemplates();
  const rows: Array<Record<string, string | number>> = [];
  const result: Record<string, number> = {};

  // Baselines first, on a quiet machine.
  const bare = summary(await bareRuncBaseline(RUNS));
  const unshareSamples: number[] = [];
  for (let i = 0; i < RUNS + 3; i++) {
    const ms = await timeIt(() => spawnQuiet('unshare', ['--fork', '--pid', '--mount-proc', 'echo', 'hi']));
    if (i >= 3) unshareSamples.push(ms);
  }
  const unshareS = summary(unshareSamples);

  // Cold starts.
  const cold = await startTestAgent({ env: { WRENN_DEFAULT_ROOTFS_SIZE: '5G' } });
  let coldS;
  let concurrentWall = 0;
  let concurrentErrors = 0;
  let idle = { rss: 0, pss: 0, n: 0 };
  let execS;
  let localS;
  try {
    for (let i = 0; i < 3; i++) {
      const w = await createAndEcho(cold);
      await cold.client.destroy({ capsuleId: w.id });
    }
    const coldSamples: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const r = await createAndEcho(cold);
      coldSamples.push(r.ms);
      await cold.client.destroy({ capsuleId: r.id });
    }
    coldS = summary(coldSamples);

    // Exec round trip through the agent vs a local spawn, interleaved.
    const execId = newCapsuleId('bench-exec-');
    await cold.client.create({ capsuleId: execId, template: TEMPLATE, vcpus: 1, memoryMb: 512 });
    const viaAgent: number[] = [];
    const local: number[] = [];
    for (let i = 0; i < 20 + 200; i++) {
      const a = await timeIt(() => cold.client.exec({ capsuleId: execId, cmd: 'true' }));
      const l = await timeIt(() => spawnQuiet('true', []));
      if (i >= 20) {
        viaAgent.push(a);
        local.push(l);
      }
    }
    execS = summary(viaAgent);
    localS = summary(local);
    await cold.client.destroy({ capsuleId: execId });

    // 50 at once.
    const ids = Array.from({ length: CONCURRENT }, () => newCapsuleId('bench-c-'));
    const t0 = process.hrtime.bigint();
    const results = await Promise.allSettled(ids.map((capsuleId) => cold.client.create({ capsuleId, template: TEMPLATE, vcpus: 1, memoryMb: 256 })));
    concurrentWall = hr(process.hrtime.bigint() - t0);
    concurrentErrors = results.filter((r) => r.status === 'rejected').length;
    const firstError = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
    if (firstError) console.error('first concurrent create error:', (firstError.reason as Error).message);

    // Idle memory: let them settle, then measure every capsule's processes.
    await new Promise((r) => setTimeout(r, 5000));
    for (const id of ids.filter((_, i) => results[i]!.status === 'fulfilled')) {
      const m = capsuleMemoryKb(cold, id);
      idle = { rss: idle.rss + m.rss, pss: idle.pss + m.pss, n: idle.n + 1 };
    }
    await Promise.allSettled(ids.map((capsuleId) => cold.client.destroy({ capsuleId })));
  } finally {
    await cold.close();
  }

  // Warm pool.
  const warm = await startTestAgent({ env: { WRENN_DEFAULT_ROOTFS_SIZE: '5G', WRENN_WARM_POOL: `${TEMPLATE}=2` } });
  let warmS;
  try {
    const waitPool = async () => {
      while (warm.agent.manager.warmCapsules().length < 2) await new Promise((r) => setTimeout(r, 20));
    };
    const samples: number[] = [];
    for (let i = 0; i < RUNS + 3; i++) {
      await waitPool();
      const r = await createAndEcho(warm);
      if (!r.fromWarm) throw new Error('warm-pool run was not served from the pool');
      if (i >= 3) samples.push(r.ms);
      await warm.client.destroy({ capsuleId: r.id });
    }
    warmS = summary(samples);
  } finally {
    await warm.close();
  }

  rows.push({ measure: 'create → first `echo hi` (cold)', p50_ms: coldS.p50, p95_ms: coldS.p95, target: 'p50 ≤ 300 ms' });
  rows.push({ measure: 'create → first `echo hi` (warm pool)', p50_ms: warmS.p50, p95_ms: warmS.p95, target: 'p50 ≤ 30 ms' });
  rows.push({ measure: 'baseline: bare `runc run` busybox echo', p50_ms: bare.p50, p95_ms: bare.p95, target: '' });
  rows.push({ measure: 'baseline: `unshare` echo', p50_ms: unshareS.p50, p95_ms: unshareS.p95, target: '' });
  rows.push({ measure: 'exec `true` through the agent', p50_ms: execS.p50, p95_ms: execS.p95, target: '' });
  rows.push({ measure: 'baseline: local spawn of `true`', p50_ms: localS.p50, p95_ms: localS.p95, target: `overhead ${(execS.p50 - localS.p50).toFixed(2)} ms (≤ 5 ms)` });
  console.log(`\ncapsule start benchmark (template ${TEMPLATE}, ${RUNS} runs each, node ${process.version})\n`);
  console.log(table(rows));
  console.log(
    `\n${CONCURRENT} concurrent creates: ${concurrentWall.toFixed(0)} ms wall, ${concurrentErrors} errors (target: no error)` +
      `\nidle host memory per capsule: RSS ${(idle.rss / Math.max(1, idle.n) / 1024).toFixed(1)} MB, PSS ${(idle.pss / Math.max(1, idle.n) / 1024).toFixed(1)} MB over ${idle.n} capsules (target ≤ 45 MB)`,
  );
  Object.assign(result, {
    coldP50Ms: coldS.p50,
    coldP95Ms: coldS.p95,
    warmP50Ms: warmS.p50,
    warmP95Ms: warmS.p95,
    bareRuncP50Ms: bare.p50,
    unshareP50Ms: unshareS.p50,
    execP50Ms: execS.p50,
    localSpawnP50Ms: localS.p50,
    concurrentWallMs: concurrentWall,
    concurrentErrors,
    idleRssMbPerCapsule: idle.rss / Math.max(1, idle.n) / 1024,
    idlePssMbPerCapsule: idle.pss / Math.max(1, idle.n) / 1024,
  });
  console.log(`\n${JSON.stringify(result)}`);
}

await main();
