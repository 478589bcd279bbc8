/**
 * Port proxy benchmark: a server in a capsule reached three ways in the same run, on the
 * same capsule, interleaved so drift hits all alike:
 *  - through the control plane (client → control plane → agent proxy → capsule), by the
 *    `{port}-{id}.{domain}` host name, as users and the e2b SDK reach it;
 *  - through the agent's proxy listener alone (what the control plane's hop adds is the
 *    difference to the line above);
 *  - directly to capsule-address:port from the host (the baseline: no proxy at all).
 * Each path has its own keep-alive connection pool. Measures: GET of a small page
 * p50/p99, and a large download (MB/s, median of --rounds). The capsule's network rate
 * limit (tc, WRENN_NET_RATE) applies to all three; it is raised here (--net-rate) so the
 * proxy, not the shaper, is what is measured. The server is python's http.server
 * (bench/../packages/host-agent/test/proxy-fixtures.ts), itself part of the baseline.
 *
 *   sudo npx tsx bench/proxy.ts [--requests 1000] [--mb 256] [--rounds 3] [--net-rate 10G]
 */
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { parseArgs } from 'node:util';
import { PROXY_HEADERS } from '../packages/shared/src/proxy-http.js';
import { hr, summary, table } from './lib/stats.js';
import { startControlPlane, seedTeam } from '../packages/control-plane/test/harness.js';
import { PROXY_TEST_SERVER_PY } from '../packages/host-agent/test/agent-harness.js';
import { Wrenn } from '../packages/sdk/src/index.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '1000' },
    mb: { type: 'string', default: '256' },
    rounds: { type: 'string', default: '3' },
    'net-rate': { type: 'string', default: '10G' },
  },
});
const REQUESTS = Number(values.requests);
const MB = Number(values.mb);
const ROUNDS = Math.max(1, Number(values.rounds));
const DOMAIN = 'wrenn.bench';
const APP_PORT = 8080;

interface Path {
  name: string;
  host: string;
  port: number;
  headers: Record<string, string>;
  pool: HttpAgent;
}

/** GET `path`, reading the whole body; resolves with its byte count. */
function get(p: Path, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: p.host, port: p.port, path, agent: p.pool, headers: p.headers }, (res) => {
      let n = 0;
      res.on('data', (c: Buffer) => (n += c.length));
      res.on('end', () => (res.statusCode === 200 ? resolve(n) : reject(new Error(`${p.name}: GET ${path} → ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return hr(process.hrtime.bigint() - t0);
}

async function main(): Promise<void> {
  const t = await startControlPlane({ withAgent: true, env: { WRENN_PROXY_DOMAIN: DOMAIN }, agentEnv: { WRENN_NET_RATE: values['net-rate']!, WRENN_NET_BURST: '1G' } });
  const team = await seedTeam(t.cp);
  const sdk = new Wrenn({ baseUrl: t.url, apiKey: team.apiKey });
  let capsuleId: string | undefined;
  const pools: HttpAgent[] = [];
  try {
    const capsule = await sdk.capsules.create({ memoryMb: 512 });
    capsuleId = capsule.id;
    await sdk.processes.start(capsule.id, { cmd: 'python3', args: ['-c', PROXY_TEST_SERVER_PY, String(APP_PORT)] });
    const pool = () => {
      const p = new HttpAgent({ keepAlive: true, maxSockets: 8 });
      pools.push(p);
      return p;
    };
    const paths: Path[] = [
      { name: 'control plane → agent → capsule', host: '127.0.0.1', port: t.port, headers: { host: `${APP_PORT}-${capsule.id}.${DOMAIN}` }, pool: pool() },
      {
        name: 'agent proxy → capsule',
        host: '127.0.0.1',
        port: t.agent!.agent.proxyPort,
        headers: { [PROXY_HEADERS.agentToken]: t.agent!.agent.token, [PROXY_HEADERS.capsuleId]: capsule.id, [PROXY_HEADERS.capsulePort]: String(APP_PORT) },
        pool: pool(),
      },
      { name: 'direct to capsule (baseline)', host: capsule.address!, port: APP_PORT, headers: {}, pool: pool() },
    ];
    for (const until = Date.now() + 15_000; ; await new Promise((r) => setTimeout(r, 100))) {
      if (await get(paths[2]!, '/hello').catch(() => 0)) break;
      if (Date.now() > until) throw new Error('the server in the capsule did not start');
    }

    // Small GETs, interleaved; 50 warm-ups each.
    const latency: number[][] = paths.map(() => []);
    for (let i = 0; i < REQUESTS + 50; i++) {
      for (const [k, p] of paths.entries()) {
        const ms = await timeIt(() => get(p, '/hello'));
        if (i >= 50) latency[k]!.push(ms);
      }
    }
    // Large downloads, one warm-up round.
    const bytes = MB * 1024 * 1024;
    const rate: number[][] = paths.map(() => []);
    for (let round = 0; round <= ROUNDS; round++) {
      for (const [k, p] of paths.entries()) {
        let n = 0;
        const ms = await timeIt(async () => (n = await get(p, `/big?bytes=${bytes}`)));
        if (n !== bytes) throw new Error(`${p.name}: got ${n} of ${bytes} bytes`);
        if (round > 0) rate[k]!.push(bytes / 1024 / 1024 / (ms / 1000));
      }
    }
    const base = summary(latency[2]!);
    const rows = paths.map((p, k) => {
      const s = summary(latency[k]!);
      return {
        path: p.name,
        'GET p50 ms': s.p50,
        'GET p99 ms': s.p99,
        'p50 over direct': `${(s.p50 - base.p50).toFixed(2)} ms`,
        [`download ${MB} MB (MB/s, median of ${ROUNDS})`]: summary(rate[k]!).p50,
      };
    });
    console.log(`\nPort proxy benchmark: ${REQUESTS} small GETs and ${MB} MB downloads per path, node ${process.version}, capsule net rate ${values['net-rate']}\n`);
    console.log(table(rows));
    console.log(
      `\n${JSON.stringify(
        Object.fromEntries(
          paths.flatMap((p, k) => {
            const key = ['cp', 'agent', 'direct'][k]!;
            const s = summary(latency[k]!);
            return [
              [`${key}P50Ms`, s.p50],
              [`${key}P99Ms`, s.p99],
              [`${key}MBps`, summary(rate[k]!).p50],
            ];
          }),
        ),
      )}`,
    );
  } finally {
    for (const p of pools) p.destroy();
    if (capsuleId) await sdk.capsules.destroy(capsuleId).catch(() => {});
    await t.close();
  }
}

await main();
