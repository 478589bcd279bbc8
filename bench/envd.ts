/**
 * envd benchmark: exec round trip of `true` through envd vs a local spawn of `true`;
 * file upload/download throughput vs a bare HTTP server doing the same disk I/O on the
 * same loopback; idle RSS of envd vs an idle node process. envd runs as in a capsule:
 * the bundled dist/envd.cjs in its own process with UV_USE_IO_URING=0.
 *
 *   npx tsx bench/envd.ts [--runs 200] [--mb 256]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { Process } from '@wrenn/proto/process';
import { summary, table, hr } from './lib/stats.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '200' }, mb: { type: 'string', default: '256' } } });
const RUNS = Number(values.runs);
const MB = Number(values.mb);
const repo = resolve(import.meta.dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'wrenn-bench-envd-'));

function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}

/** Private (anonymous) memory and PSS: what one more envd really costs, since the node binary's pages are shared. */
function privateKb(pid: number): { anon: number; pss: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  return { anon: Number(/RssAnon:\s+(\d+)/.exec(status)?.[1] ?? NaN), pss: Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? NaN) };
}

async function waitHealthy(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await fetch(url).then((r) => r.ok, () => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} never became healthy`);
}

function startEnvd(port: number): ChildProcess {
  return spawn(
    process.execPath,
    [...(process.env.ENVD_FLAGS ?? '--max-semi-space-size=1').split(' '), join(repo, 'packages/envd/dist/envd.cjs'), '--port', String(port), '--host', '127.0.0.1', '--run-dir', join(work, 'run')],
    { stdio: 'ignore', env: { ...process.env, UV_USE_IO_URING: '0', WRENN_LOG_LEVEL: 'warn' } },
  );
}

async function localSpawnTrue(): Promise<number> {
  const t0 = process.hrtime.bigint();
  await new Promise<void>((res, rej) => {
    const c = spawn('true', [], { stdio: ['ignore', 'pipe', 'pipe'] });
    c.on('error', rej);
    c.on('close', () => res());
  });
  return hr(process.hrtime.bigint() - t0);
}

async function envdTrue(client: ReturnType<typeof createClient<typeof Process>>): Promise<number> {
  const t0 = process.hrtime.bigint();
  for await (const ev of client.start({ process: { cmd: 'true', args: [] }, stdin: false })) {
    if (ev.event?.event.case === 'end') break;
  }
  return hr(process.hrtime.bigint() - t0);
}

/** The baseline for file transfer: a bare HTTP server that streams request bodies to disk and files to responses. */
function bareFileServer(dir: string): Promise<{ port: number; close: () => void }> {
  const server = createServer((req, res) => {
    const path = join(dir, 'bare.bin');
    if (req.method === 'POST') {
      void pipeline(req, createWriteStream(path)).then(() => res.end('{}'));
    } else {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      void pipeline(createReadStream(path), res).catch(() => {});
    }
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r({ port: (server.address() as { port: number }).port, close: () => server.close() })));
}

/** Streams `file` as the request body with node:http (1 MiB reads), as a CLI or SDK would. */
async function timeUpload(url: string, file: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  await new Promise<void>((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/octet-stream' } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode && res.statusCode < 300 ? resolve() : reject(new Error(`upload failed: ${res.statusCode}`))));
    });
    req.on('error', reject);
    createReadStream(file, { highWaterMark: 1024 * 1024 }).pipe(req);
  });
  return hr(process.hrtime.bigint() - t0);
}

async function timeDownload(url: string): Promise<{ ms: number; sha: string }> {
  const t0 = process.hrtime.bigint();
  const res = await fetch(url);
  if (!res.ok || !res.body) throw new Error(`download failed: ${res.status}`);
  const h = createHash('sha256');
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) h.update(chunk);
  return { ms: hr(process.hrtime.bigint() - t0), sha: h.digest('hex') };
}

async function main(): Promise<void> {
  const port = 40000 + Math.floor(Math.random() * 20000);
  const envd = startEnvd(port);
  const idle = spawn(process.execPath, ['--max-semi-space-size=1', '-e', 'setInterval(()=>{}, 1000)'], { stdio: 'ignore' });
  try {
    const base = `http://127.0.0.1:${port}`;
    await waitHealthy(`${base}/health`);
    const client = createClient(Process, createConnectTransport({ baseUrl: base, httpVersion: '1.1' }));

    // Idle RSS first, before any work grew the heap.
    await new Promise((r) => setTimeout(r, 2000));
    const idleEnvdKb = rssKb(envd.pid!);
    const idleNodeKb = rssKb(idle.pid!);
    const envdPrivate = privateKb(envd.pid!);
    const nodePrivate = privateKb(idle.pid!);

    // Exec round trip, interleaved so drift affects both equally.
    for (let i = 0; i < 20; i++) {
      await envdTrue(client);
      await localSpawnTrue();
    }
    const viaEnvd: number[] = [];
    const local: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      viaEnvd.push(await envdTrue(client));
      local.push(await localSpawnTrue());
    }
    const e = summary(viaEnvd);
    const l = summary(local);

    // File transfer.
    const src = join(work, 'src.bin');
    const block = randomBytes(1024 * 1024);
    const ws = createWriteStream(src);
    for (let i = 0; i < MB; i++) ws.write(block);
    await new Promise((r) => ws.end(r));
    const bare = await bareFileServer(work);
    const up: number[] = [];
    const down: number[] = [];
    const bareUp: number[] = [];
    const bareDown: number[] = [];
    for (let i = 0; i < 3; i++) {
      up.push(await timeUpload(`${base}/files?path=${encodeURIComponent(join(work, 'up.bin'))}`, src));
      down.push((await timeDownload(`${base}/files?path=${encodeURIComponent(join(work, 'up.bin'))}`)).ms);
      bareUp.push(await timeUpload(`http://127.0.0.1:${bare.port}/`, src));
      bareDown.push((await timeDownload(`http://127.0.0.1:${bare.port}/`)).ms);
    }
    bare.close();
    const mbps = (ms: number) => MB / (ms / 1000);
    const activeEnvdKb = rssKb(envd.pid!);

    console.log(`\nenvd benchmark (${RUNS} exec runs, ${MB} MB files x3, node ${process.version})\n`);
    console.log(
      table([
        { metric: 'exec `true` RTT p50 (ms)', envd: e.p50, baseline: l.p50, 'baseline is': 'local spawn', overhead: e.p50 - l.p50, target: '≤ 3 ms overhead' },
        { metric: 'exec `true` RTT p95 (ms)', envd: e.p95, baseline: l.p95, 'baseline is': 'local spawn', overhead: e.p95 - l.p95, target: '' },
        { metric: 'upload MB/s (median)', envd: mbps(summary(up).p50), baseline: mbps(summary(bareUp).p50), 'baseline is': 'bare HTTP server', overhead: '', target: '≥ 300 MB/s' },
        { metric: 'download MB/s (median)', envd: mbps(summary(down).p50), baseline: mbps(summary(bareDown).p50), 'baseline is': 'bare HTTP server', overhead: '', target: '≥ 300 MB/s' },
        { metric: 'idle RSS (MB)', envd: idleEnvdKb / 1024, baseline: idleNodeKb / 1024, 'baseline is': 'idle node', overhead: (idleEnvdKb - idleNodeKb) / 1024, target: '≤ 40 MB' },
        { metric: 'idle private/anon (MB)', envd: envdPrivate.anon / 1024, baseline: nodePrivate.anon / 1024, 'baseline is': 'idle node', overhead: (envdPrivate.anon - nodePrivate.anon) / 1024, target: '' },
        { metric: 'idle PSS (MB)', envd: envdPrivate.pss / 1024, baseline: nodePrivate.pss / 1024, 'baseline is': 'idle node', overhead: (envdPrivate.pss - nodePrivate.pss) / 1024, target: '' },
        { metric: 'RSS after bench (MB)', envd: activeEnvdKb / 1024, baseline: '', 'baseline is': '', overhead: '', target: '' },
      ]),
    );
    const result = { execP50Ms: e.p50, execP95Ms: e.p95, localP50Ms: l.p50, uploadMBps: mbps(summary(up).p50), downloadMBps: mbps(summary(down).p50), idleRssMb: idleEnvdKb / 1024, idleAnonMb: envdPrivate.anon / 1024, idlePssMb: envdPrivate.pss / 1024 };
    writeFileSync(join(work, 'result.json'), JSON.stringify(result));
    console.log(`\n${JSON.stringify(result)}`);
  } finally {
    envd.kill('SIGTERM');
    idle.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
