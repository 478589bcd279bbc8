/**
 * API benchmark: the REST API (through @wrenn/sdk, as users call it) against the host
 * agent's RPC called directly (the control plane's own path to the capsule), in the same
 * run, on the same capsules:
 *  - create → first `echo hi` result;
 *  - exec `echo hi` round trip (interleaved, same capsule) p50/p99;
 *  - 100 concurrent execs across 10 capsules (wall time, errors);
 *  - file write and read throughput (streamed, 100 MB by default): one warm-up round, then
 *    --file-rounds rounds alternating the two paths, median rate.
 * The control plane's own share of a create and of an exec (its request time minus its
 * agent call, both from its /metrics) is printed too: it tells server time from HTTP client
 * time, and unlike a difference of two ~300 ms p50s it is not buried in create's noise.
 * The control plane runs on embedded PGlite with its reconciler off (the agent-side
 * capsules created here directly are not in its database).
 *
 *   sudo npx tsx bench/api.ts [--runs 20] [--execs 300] [--concurrent 100] [--file-mb 100] [--file-rounds 3]
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { hr, summary, table } from './lib/stats.js';
import { startControlPlane, seedTeam } from '../packages/control-plane/test/harness.js';
import { newCapsuleId } from '../packages/host-agent/test/agent-harness.js';
import { Wrenn } from '../packages/sdk/src/index.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    execs: { type: 'string', default: '300' },
    concurrent: { type: 'string', default: '100' },
    'file-mb': { type: 'string', default: '100' },
    'file-rounds': { type: 'string', default: '3' },
    template: { type: 'string', default: 'minimal' },
  },
});
const RUNS = Number(values.runs);
const EXECS = Number(values.execs);
const CONCURRENT = Number(values.concurrent);
const FILE_MB = Number(values['file-mb']);
const FILE_ROUNDS = Math.max(1, Number(values['file-rounds']));
const TEMPLATE = values.template!;
const CAPSULES = 10;

async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return hr(process.hrtime.bigint() - t0);
}

function mbPerSec(bytes: number, ms: number): number {
  return bytes / 1024 / 1024 / (ms / 1000);
}

type Series = { sum: number; count: number };

/** Mean request time minus mean agent RPC time between two readings of /metrics, in ms. */
function ownTimeMs(serverBefore: Series, serverAfter: Series, rpcBefore: Series, rpcAfter: Series): number {
  const mean = (a: Series, b: Series) => (b.sum - a.sum) / Math.max(1, b.count - a.count);
  return (mean(serverBefore, serverAfter) - mean(rpcBefore, rpcAfter)) * 1000;
}

/** Sum and count of a Prometheus histogram series on the control plane's /metrics. */
async function histogram(baseUrl: string, name: string, labels: string): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const value = (suffix: string) => Number(text.split('\n').find((l) => l.startsWith(`${name}_${suffix}{${labels}}`))?.split(' ').pop() ?? 0);
  return { sum: value('sum'), count: value('count') };
}

async function main(): Promise<void> {
  const t = await startControlPlane({ withAgent: true });
  const agent = t.agent!.client;
  const team = await seedTeam(t.cp);
  const sdk = new Wrenn({ baseUrl: t.url, apiKey: team.apiKey });
  const cleanup: Array<() => Promise<unknown>> = [];
  const result: Record<string, number> = {};
  try {
    const echoOk = (out: string) => {
      if (out !== 'hi\n') throw new Error(`unexpected echo output ${JSON.stringify(out)}`);
    };
    const viaApi = {
      async createAndEcho(): Promise<string> {
        const c = await sdk.capsules.create({ template: TEMPLATE, memoryMb: 256 });
        echoOk((await sdk.capsules.exec(c.id, { cmd: 'echo', args: ['hi'] })).stdout);
        return c.id;
      },
      destroy: (id: string) => sdk.capsules.destroy(id),
      async echo(id: string) {
        echoOk((await sdk.capsules.exec(id, { cmd: 'echo', args: ['hi'] })).stdout);
      },
    };
    const viaAgent = {
      async createAndEcho(): Promise<string> {
        const id = newCapsuleId('bench-api-');
        await agent.create({ capsuleId: id, template: TEMPLATE, vcpus: 1, memoryMb: 256, egress: true });
        echoOk(Buffer.from((await agent.exec({ capsuleId: id, cmd: 'echo', args: ['hi'] })).stdout).toString());
        return id;
      },
      destroy: (id: string) => agent.destroy({ capsuleId: id }),
      async echo(id: string) {
        echoOk(Buffer.from((await agent.exec({ capsuleId: id, cmd: 'echo', args: ['hi'] })).stdout).toString());
      },
    };

    // 1. Create → first exec, alternating so drift hits both sides alike (3 warm-ups each).
    const createApi: number[] = [];
    const createAgent: number[] = [];
    const createServerSeries = ['wrenn_http_request_duration_seconds', 'method="POST",route="/v1/capsules",status="201"'] as const;
    const createRpcSeries = ['wrenn_agent_rpc_duration_seconds', 'method="Create",code="ok"'] as const;
    let createServerBefore = { sum: 0, count: 0 };
    let createRpcBefore = { sum: 0, count: 0 };
    for (let i = 0; i < RUNS + 3; i++) {
      if (i === 3) [createServerBefore, createRpcBefore] = await Promise.all([histogram(t.url, ...createServerSeries), histogram(t.url, ...createRpcSeries)]);
      for (const [side, samples] of [
        [viaApi, createApi],
        [viaAgent, createAgent],
      ] as const) {
        let id = '';
        const ms = await timeIt(async () => (id = await side.createAndEcho()));
        await side.destroy(id);
        if (i >= 3) samples.push(ms);
      }
    }
    const createApiS = summary(createApi);
    const createAgentS = summary(createAgent);
    const [createServerAfter, createRpcAfter] = await Promise.all([histogram(t.url, ...createServerSeries), histogram(t.url, ...createRpcSeries)]);
    const createServerMs = ownTimeMs(createServerBefore, createServerAfter, createRpcBefore, createRpcAfter);

    // 2. Exec round trip on one capsule, interleaved.
    const capsules: string[] = [];
    for (let i = 0; i < CAPSULES; i++) {
      const c = await sdk.capsules.create({ template: TEMPLATE, memoryMb: 256 });
      capsules.push(c.id);
      cleanup.push(() => sdk.capsules.destroy(c.id));
    }
    const execApi: number[] = [];
    const execAgent: number[] = [];
    const serverSeries = ['wrenn_http_request_duration_seconds', 'method="POST",route="/v1/capsules/:id/exec",status="200"'] as const;
    const rpcSeries = ['wrenn_agent_rpc_duration_seconds', 'method="Exec",code="ok"'] as const;
    let serverBefore = { sum: 0, count: 0 };
    let rpcBefore = { sum: 0, count: 0 };
    for (let i = 0; i < EXECS + 20; i++) {
      if (i === 20) [serverBefore, rpcBefore] = await Promise.all([histogram(t.url, ...serverSeries), histogram(t.url, ...rpcSeries)]);
      const a = await timeIt(() => viaApi.echo(capsules[0]!));
      const b = await timeIt(() => viaAgent.echo(capsules[0]!));
      if (i >= 20) {
        execApi.push(a);
        execAgent.push(b);
      }
    }
    const execApiS = summary(execApi);
    const execAgentS = summary(execAgent);
    const [serverAfter, rpcAfter] = await Promise.all([histogram(t.url, ...serverSeries), histogram(t.url, ...rpcSeries)]);
    // Mean time inside the control plane per exec, its agent call excluded (request parsing,
    // auth, the capsule lookup, response): the rest of the overhead is the HTTP hop.
    const execServerMs = ownTimeMs(serverBefore, serverAfter, rpcBefore, rpcAfter);

    // 3. Concurrent execs spread over the capsules.
    const burst = async (echo: (id: string) => Promise<void>) => {
      const t0 = process.hrtime.bigint();
      const results = await Promise.allSettled(Array.from({ length: CONCURRENT }, (_, i) => echo(capsules[i % capsules.length]!)));
      const wall = hr(process.hrtime.bigint() - t0);
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed[0]) console.error('first concurrent exec error:', (failed[0].reason as Error).message);
      return { wall, errors: failed.length };
    };
    await burst(viaApi.echo); // warm-up: connections, pools
    await burst(viaAgent.echo);
    const burstApi = await burst(viaApi.echo);
    const burstAgent = await burst(viaAgent.echo);

    // 4. Files: the same bytes up and down each way.
    const data = randomBytes(FILE_MB * 1024 * 1024);
    const chunks = function* () {
      for (let i = 0; i < data.length; i += 1 << 20) yield data.subarray(i, Math.min(data.length, i + (1 << 20)));
    };
    const fileId = capsules[1]!;
    const transfers = {
      apiWrite: () => sdk.files.write(fileId, '/tmp/bench-api.bin', Readable.from(chunks())),
      async apiRead() {
        let n = 0;
        const { stream } = await sdk.files.readStream(fileId, '/tmp/bench-api.bin');
        for await (const c of stream) n += c.byteLength;
        if (n !== data.length) throw new Error(`REST read ${n} bytes of ${data.length}`);
      },
      agentWrite: () =>
        agent.writeFile(
          (async function* () {
            yield { part: { case: 'header' as const, value: { capsuleId: fileId, path: '/tmp/bench-agent.bin' } } };
            for (const c of chunks()) yield { part: { case: 'chunk' as const, value: c } };
          })(),
        ),
      async agentRead() {
        let n = 0;
        for await (const r of agent.readFile({ capsuleId: fileId, path: '/tmp/bench-agent.bin' })) n += r.chunk.byteLength;
        if (n !== data.length) throw new Error(`agent read ${n} bytes of ${data.length}`);
      },
    };
    // Round 0 warms both paths up (JIT, and the collector catching up with the fresh
    // FILE_MB allocation), as the other measures do; then the median of FILE_ROUNDS.
    const fileMs: Record<keyof typeof transfers, number[]> = { apiWrite: [], apiRead: [], agentWrite: [], agentRead: [] };
    for (let round = 0; round <= FILE_ROUNDS; round++) {
      for (const name of Object.keys(transfers) as Array<keyof typeof transfers>) {
        const ms = await timeIt(transfers[name]);
        if (round > 0) fileMs[name].push(ms);
      }
    }
    const fileRate = (name: keyof typeof transfers) => mbPerSec(data.length, summary(fileMs[name]).p50);
    const [writeApiMBps, readApiMBps, writeAgentMBps, readAgentMBps] = [fileRate('apiWrite'), fileRate('apiRead'), fileRate('agentWrite'), fileRate('agentRead')];

    const overhead = (a: number, b: number) => `${(a - b).toFixed(2)} ms`;
    const rows: Array<Record<string, string | number>> = [
      { measure: 'create → first `echo hi` p50', rest_api: createApiS.p50, agent_rpc: createAgentS.p50, overhead: overhead(createApiS.p50, createAgentS.p50), target: 'overhead ≤ 10 ms' },
      { measure: 'exec `echo hi` p50', rest_api: execApiS.p50, agent_rpc: execAgentS.p50, overhead: overhead(execApiS.p50, execAgentS.p50), target: 'overhead ≤ 3 ms' },
      { measure: 'exec `echo hi` p99', rest_api: execApiS.p99, agent_rpc: execAgentS.p99, overhead: overhead(execApiS.p99, execAgentS.p99), target: '' },
      {
        measure: `${CONCURRENT} concurrent execs / ${CAPSULES} capsules (wall ms)`,
        rest_api: burstApi.wall,
        agent_rpc: burstAgent.wall,
        overhead: `errors ${burstApi.errors} / ${burstAgent.errors}`,
        target: 'no error',
      },
      { measure: `file write ${FILE_MB} MB (MB/s, median of ${FILE_ROUNDS})`, rest_api: writeApiMBps, agent_rpc: writeAgentMBps, overhead: '', target: '≥ 200 MB/s' },
      { measure: `file read ${FILE_MB} MB (MB/s, median of ${FILE_ROUNDS})`, rest_api: readApiMBps, agent_rpc: readAgentMBps, overhead: '', target: '≥ 200 MB/s' },
    ];
    console.log(`\nAPI benchmark: REST API (SDK over HTTP) vs host agent RPC, template ${TEMPLATE}, node ${process.version}, database ${t.cp.ctx.dbKind}\n`);
    console.log(table(rows));
    console.log(`\ncontrol plane's own time (mean, agent call excluded, from its /metrics): create ${createServerMs.toFixed(2)} ms, exec ${execServerMs.toFixed(2)} ms`);
    Object.assign(result, {
      createApiP50Ms: createApiS.p50,
      createAgentP50Ms: createAgentS.p50,
      createOverheadP50Ms: createApiS.p50 - createAgentS.p50,
      createServerMeanMs: createServerMs,
      execApiP50Ms: execApiS.p50,
      execApiP99Ms: execApiS.p99,
      execAgentP50Ms: execAgentS.p50,
      execAgentP99Ms: execAgentS.p99,
      execOverheadP50Ms: execApiS.p50 - execAgentS.p50,
      concurrentApiWallMs: burstApi.wall,
      concurrentApiErrors: burstApi.errors,
      concurrentAgentWallMs: burstAgent.wall,
      concurrentAgentErrors: burstAgent.errors,
      execServerMeanMs: execServerMs,
      fileWriteApiMBps: writeApiMBps,
      fileReadApiMBps: readApiMBps,
      fileWriteAgentMBps: writeAgentMBps,
      fileReadAgentMBps: readAgentMBps,
    });
    console.log(`\n${JSON.stringify(result)}`);
  } finally {
    await Promise.allSettled(cleanup.map((c) => c()));
    await t.close();
  }
}

await main();
