/**
 * Load benchmark (issue 15): capsule creates through the REST API on a loaded host, and
 * idle density.
 *  1. creates at 10, 25 and 50 concurrent with two busy loops on the host (started and
 *     killed here by PID): creates/s, p50/p99 create latency (request → 201), errors;
 *  2. baseline in the same run: the same 10-concurrent round on the quiet host;
 *  3. idle density (busy loops off): 0.25 vCPU / 128 MB capsules created until one is
 *     refused, --density-max is reached or --density-sec runs out; host memory per idle
 *     capsule (MemAvailable before − after) and how many would fit at that rate;
 *  and the RSS of the host agent (its own process: the compiled agent, registered through
 *  the real flow) and of this process (the control plane, in process) before and after.
 * Every capsule is destroyed, the busy loops killed and the agent stopped, even on failure.
 *
 *   sudo npx tsx bench/load.ts [--levels 10,25,50] [--template minimal] [--density-max 100] [--density-sec 120]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { summary, table } from './lib/stats.js';
import { startControlPlane, seedTeam, type TestControlPlane } from '../packages/control-plane/test/harness.js';
import { createHostViaApi, waitFor } from '../packages/control-plane/test/host-fixtures.js';
import { removeAgentProcess, sharedTemplates, startAgentProcess, testAgentIdentity, type AgentProcess } from '../packages/host-agent/test/agent-harness.js';

const { values } = parseArgs({
  options: {
    levels: { type: 'string', default: '10,25,50' },
    template: { type: 'string', default: 'minimal' },
    'density-max': { type: 'string', default: '100' },
    'density-sec': { type: 'string', default: '120' },
  },
});
const LEVELS = values.levels!.split(',').map(Number);
const TEMPLATE = values.template!;
const DENSITY_MAX = Number(values['density-max']);
const DENSITY_SEC = Number(values['density-sec']);

const mb = (bytes: number) => Math.round(bytes / 1048576);

function rssOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

function memAvailable(): number {
  const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  return Number(m![1]) * 1024;
}

/** Two processes spinning on the host's cores: the "busy host" of the issue. */
function busyLoops(): ChildProcess[] {
  return [0, 1].map(() => spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
}

function stop(children: ChildProcess[]): Promise<unknown> {
  return Promise.all(
    children.map((c) => {
      if (c.exitCode !== null || c.signalCode !== null) return undefined;
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      return gone;
    }),
  );
}

interface Round {
  latencies: number[];
  errors: string[];
  wallMs: number;
  ids: string[];
}

async function createRound(t: TestControlPlane, apiKey: string, n: number, shape: { vcpus: number; memory_mb: number }): Promise<Round> {
  const started = performance.now();
  const results = await Promise.all(
    Array.from({ length: n }, async () => {
      const t0 = performance.now();
      const r = await t.api('POST', '/v1/capsules', { auth: apiKey, body: { template: TEMPLATE, ...shape } });
      return { ms: performance.now() - t0, status: r.status, body: r.body };
    }),
  );
  const wallMs = performance.now() - started;
  const ok = results.filter((r) => r.status === 201);
  return {
    latencies: ok.map((r) => r.ms),
    errors: results.filter((r) => r.status !== 201).map((r) => `${r.status} ${r.body?.error?.code ?? ''}: ${r.body?.error?.message ?? ''}`),
    wallMs,
    ids: ok.map((r) => r.body.id as string),
  };
}

async function destroyAll(t: TestControlPlane, apiKey: string, ids: string[]): Promise<void> {
  // A few at a time: destroys are not what is measured.
  for (let i = 0; i < ids.length; i += 8) {
    await Promise.all(ids.slice(i, i + 8).map((id) => t.api('DELETE', `/v1/capsules/${id}`, { auth: apiKey })));
  }
  ids.length = 0;
}

async function main(): Promise<void> {
  await sharedTemplates();
  const t = await startControlPlane();
  const admin = await seedTeam(t.cp, { isAdmin: true });
  const team = await seedTeam(t.cp);
  const identity = testAgentIdentity();
  let agent: AgentProcess | undefined;
  let loops: ChildProcess[] = [];
  const live: string[] = [];
  const rows: Array<Record<string, string | number>> = [];
  try {
    const { hostId, token } = await createHostViaApi(t, admin.jwt, 'load bench');
    agent = await startAgentProcess(identity, { args: ['--register', token, '--control-plane', t.url], env: { WRENN_HEARTBEAT_SEC: '2' } });
    await waitFor('host online', async () => (await t.api('GET', `/v1/hosts/${hostId}`, { auth: admin.jwt })).body.status === 'online', 30_000);
    const agentPid = agent.child.pid!;
    const rssBefore = { agent: rssOf(agentPid), cp: process.memoryUsage().rss };
    const record = (label: string, r: Round) => {
      const s = summary(r.latencies);
      rows.push({ round: label, n: r.latencies.length + r.errors.length, errors: r.errors.length, 'creates/s': (r.latencies.length / r.wallMs) * 1000, 'wall s': r.wallMs / 1000, 'p50 ms': s.p50, 'p99 ms': s.p99 });
      if (r.errors.length) console.log(`${label}: ${r.errors.length} errors, first: ${r.errors[0]}`);
    };
    const shape = { vcpus: 1, memory_mb: 256 };

    // Baseline: the quiet host.
    let r = await createRound(t, team.apiKey, LEVELS[0]!, shape);
    live.push(...r.ids);
    record(`quiet, ${LEVELS[0]} concurrent`, r);
    await destroyAll(t, team.apiKey, live);

    loops = busyLoops();
    for (const n of LEVELS) {
      r = await createRound(t, team.apiKey, n, shape);
      live.push(...r.ids);
      record(`2 busy loops, ${n} concurrent`, r);
      await destroyAll(t, team.apiKey, live);
    }
    await stop(loops);
    loops = [];
    const rssAfterLoad = { agent: rssOf(agentPid), cp: process.memoryUsage().rss };

    // Idle density: small capsules until refused, the cap, or the time bound.
    const memBefore = memAvailable();
    const deadline = Date.now() + DENSITY_SEC * 1000;
    let refused = '';
    while (live.length < DENSITY_MAX && Date.now() < deadline && !refused) {
      const batch = await createRound(t, team.apiKey, Math.min(4, DENSITY_MAX - live.length), { vcpus: 0.25, memory_mb: 128 });
      live.push(...batch.ids);
      refused = batch.errors[0] ?? '';
    }
    // Let the capsules settle to idle before reading memory.
    await new Promise((res) => setTimeout(res, 5000));
    const perCapsule = (memBefore - memAvailable()) / Math.max(1, live.length);
    const density = {
      capsules: live.length,
      stoppedBy: refused || (live.length >= DENSITY_MAX ? `--density-max ${DENSITY_MAX}` : `--density-sec ${DENSITY_SEC}`),
      perCapsuleMb: +(perCapsule / 1048576).toFixed(1),
      wouldFitHere: Math.floor(memBefore / perCapsule),
      wouldFit24GB: Math.floor((24 * 1024 * 1048576) / perCapsule),
    };
    const rssWithIdle = { agent: rssOf(agentPid), cp: process.memoryUsage().rss };
    await destroyAll(t, team.apiKey, live);
    const rssAfter = { agent: rssOf(agentPid), cp: process.memoryUsage().rss };

    console.log(`\ncreates through the REST API (template ${TEMPLATE}, 1 vCPU / 256 MB), cores: ${(await import('node:os')).availableParallelism()}`);
    console.log(table(rows));
    console.log(`\nidle density (0.25 vCPU / 128 MB): ${JSON.stringify(density)}`);
    console.log(
      `\nRSS MB  agent: before ${mb(rssBefore.agent)}, after the create rounds ${mb(rssAfterLoad.agent)}, with ${density.capsules} idle ${mb(rssWithIdle.agent)}, after ${mb(rssAfter.agent)}` +
        `\n        control plane (+ this bench, one process): before ${mb(rssBefore.cp)}, after the create rounds ${mb(rssAfterLoad.cp)}, with idle ${mb(rssWithIdle.cp)}, after ${mb(rssAfter.cp)}`,
    );
  } finally {
    await stop(loops);
    await destroyAll(t, team.apiKey, live).catch(() => {});
    await removeAgentProcess(agent, identity).catch(() => {});
    await t.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
