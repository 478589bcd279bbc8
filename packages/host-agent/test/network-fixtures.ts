/**
 * Fixtures for the network tests: a fake capsule (a process in its own user + network
 * namespace, which is exactly what runc gives a capsule), an "outside world" network
 * namespace routed by the host (the only egress destination tests may use), and tiny node
 * programs run inside namespaces through nsenter (server, connection probe, bulk transfer).
 * Every fixture is released by its owner in `after`/`finally`; processes are killed by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { statSync, readdirSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { randomInt } from 'node:crypto';
import { sleep } from '@wrenn/shared';
import { run } from '../src/infra/exec.js';

/** Names and addresses unique to one test file run. */
export interface TestNet {
  table: string;
  ifPrefix: string;
  /** Pool of capsule links: 10.A.B.0/25. */
  poolCidr: string;
  /** The other half of the /24 for test-made outside networks: 10.A.B.<128 + 4k>/30. */
  outsideBase: string;
}

const letter = (n: number) => String.fromCharCode(97 + (n % 26));

export function testNet(): TestNet {
  const pid = process.pid;
  const ifPrefix = 'z' + letter(pid) + letter(Math.floor(pid / 26)) + letter(Math.floor(pid / 676)) + letter(randomInt(26)) + letter(randomInt(26));
  let a = randomInt(100, 250);
  if (a === 88) a = 89; // the agent's default pool
  const b = randomInt(0, 256);
  return {
    table: `wrt_${pid}_${randomInt(1e6)}`,
    ifPrefix,
    poolCidr: `10.${a}.${b}.0/25`,
    outsideBase: `10.${a}.${b}`,
  };
}

function netnsInode(pid: number | 'self'): number | undefined {
  try {
    return statSync(`/proc/${pid}/ns/net`).ino;
  } catch {
    return undefined;
  }
}

export interface FakeCapsule {
  pid: number;
  netnsPath: string;
  kill(): Promise<void>;
}

/** `unshare -rn sleep`: a process in a new user namespace owning a new network namespace. */
export async function startFakeCapsule(): Promise<FakeCapsule> {
  const child = spawn('unshare', ['--user', '--map-root-user', '--net', 'sleep', '1000'], { stdio: 'ignore' });
  const pid = child.pid;
  if (pid === undefined) throw new Error('unshare did not start');
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(pid, 'SIGKILL');
      await once(child, 'exit');
    }
  };
  const host = netnsInode('self');
  for (let i = 0; i < 200; i++) {
    const ns = netnsInode(pid);
    if (ns !== undefined && ns !== host) return { pid, netnsPath: `/proc/${pid}/ns/net`, kill };
    await sleep(10);
  }
  await kill();
  throw new Error(`unshare ${pid} did not enter a new network namespace`);
}

export interface OutsideNetwork {
  name: string;
  netnsPath: string;
  /** The host's address on the link (what a masqueraded capsule appears as). */
  hostIp: string;
  /** The outside peer's address (the egress destination of tests). */
  peerIp: string;
  cidr: string;
  remove(): Promise<void>;
}

/**
 * A named network namespace behind a veth whose host end forwards (per interface, so the
 * host's global ip_forward is never touched); its default route points back at the host,
 * so a connection from a capsule would succeed if the host let it through.
 */
export async function startOutsideNetwork(base: string, k: number, ifName: string): Promise<OutsideNetwork> {
  const name = `wrt-out-${process.pid}-${randomInt(1e6)}`;
  const net = 128 + 4 * k;
  const hostIp = `${base}.${net + 1}`;
  const peerIp = `${base}.${net + 2}`;
  const remove = async () => {
    await run('ip', ['link', 'del', ifName], { allowFailure: true });
    await run('ip', ['netns', 'del', name], { allowFailure: true });
  };
  try {
    await run('ip', ['netns', 'add', name]);
    await run('ip', ['-batch', '-'], {
      input: [
        `link add ${ifName} type veth peer name eth0 netns ${name}`,
        `addr add ${hostIp}/30 dev ${ifName}`,
        `link set dev ${ifName} up`,
      ].join('\n'),
    });
    await run('ip', ['-n', name, '-batch', '-'], {
      input: [`addr add ${peerIp}/30 dev eth0`, `link set dev eth0 up`, `link set dev lo up`, `route add default via ${hostIp}`].join('\n'),
    });
    writeFileSync(`/proc/sys/net/ipv4/conf/${ifName}/forwarding`, '1');
  } catch (err) {
    await remove();
    throw err;
  }
  return { name, netnsPath: `/run/netns/${name}`, hostIp, peerIp, cidr: `${base}.${net}/30`, remove };
}

/** Runs node code inside a network namespace (as host root: only the netns is entered). */
function nodeInNetns(netnsPath: string, code: string, args: string[]): ChildProcess {
  return spawn('nsenter', [`--net=${netnsPath}`, process.execPath, '-e', code, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    process.kill(child.pid, 'SIGKILL');
    await once(child, 'exit');
  }
}

const SERVER_JS = `
const net = require('node:net');
const srv = net.createServer((s) => {
  process.stdout.write(JSON.stringify({ remote: s.remoteAddress }) + '\\n');
  s.on('error', () => {});
  s.end('hello\\n');
});
srv.listen(Number(process.argv[1]), '0.0.0.0', () => process.stdout.write('listening\\n'));
`;

export interface NsServer {
  /** Remote addresses of the connections accepted so far. */
  remotes: string[];
  close(): Promise<void>;
}

/** A TCP server in a netns that greets with "hello" and records who connected. */
export async function startServerInNetns(netnsPath: string, port: number): Promise<NsServer> {
  const child = nodeInNetns(netnsPath, SERVER_JS, [String(port)]);
  const remotes: string[] = [];
  const lines = createInterface({ input: child.stdout! });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const listening = new Promise<void>((resolve, reject) => {
    lines.on('line', (line) => {
      if (line === 'listening') return resolve();
      remotes.push((JSON.parse(line) as { remote: string }).remote);
    });
    child.once('exit', (code) => reject(new Error(`server in ${netnsPath} exited (${code}): ${stderr}`)));
  });
  try {
    await listening;
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  return { remotes, close: () => stopChild(child) };
}

const PROBE_JS = `
const net = require('node:net');
const [timeoutMs, ...targets] = process.argv.slice(1);
Promise.all(targets.map((t) => new Promise((res) => {
  const [host, port, localAddress] = t.split(',');
  const s = net.connect({ host, port: Number(port), localAddress: localAddress || undefined });
  const timer = setTimeout(() => { s.destroy(); res('timeout'); }, Number(timeoutMs));
  s.once('connect', () => { clearTimeout(timer); s.destroy(); res('connected'); });
  s.once('error', (e) => {
    clearTimeout(timer);
    res(e.code === 'ECONNREFUSED' ? 'refused' : ['EHOSTUNREACH', 'ENETUNREACH'].includes(e.code) ? 'unreachable' : 'error:' + e.code);
  });
}))).then((r) => process.stdout.write(JSON.stringify(r)));
`;

export type ProbeOutcome = 'connected' | 'refused' | 'timeout' | 'unreachable';

export interface ProbeTarget {
  host: string;
  port: number;
  /** Source address to bind (for spoofing tests). */
  localAddress?: string;
}

/**
 * Tries TCP connections from inside a netns, all at once. Anything but the four known
 * outcomes (e.g. the probe itself failing) throws, so "not connected" cannot pass by accident.
 */
export async function probeFromNetns(netnsPath: string, targets: ProbeTarget[], timeoutMs = 1000): Promise<ProbeOutcome[]> {
  const args = [String(timeoutMs), ...targets.map((t) => `${t.host},${t.port},${t.localAddress ?? ''}`)];
  const { stdout } = await run('nsenter', [`--net=${netnsPath}`, process.execPath, '-e', PROBE_JS, ...args], {
    timeoutMs: timeoutMs + 10_000,
  });
  const outcomes = JSON.parse(stdout) as string[];
  for (const o of outcomes) {
    if (!['connected', 'refused', 'timeout', 'unreachable'].includes(o)) throw new Error(`probe failed: ${o}`);
  }
  return outcomes as ProbeOutcome[];
}

const BULK_JS = `
const net = require('node:net');
const [mode, port, total] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
const srv = net.createServer((s) => {
  s.on('error', () => {});
  if (mode === 'send') {
    const chunk = Buffer.alloc(1 << 20);
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        const n = Math.min(chunk.length, total - sent);
        sent += n;
        if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return s.once('drain', pump);
      }
      s.end();
    };
    pump();
  } else {
    let got = 0; let t0;
    s.on('data', (b) => {
      t0 ??= performance.now();
      got += b.length;
      if (got >= total) { process.stdout.write(JSON.stringify({ bytes: got, ms: performance.now() - t0 }) + '\\n'); s.destroy(); }
    });
  }
});
srv.listen(port, '0.0.0.0', () => process.stdout.write('listening\\n'));
`;

export interface BulkServer {
  /** Resolves with the first receive measurement (mode "recv"). */
  received: Promise<{ bytes: number; ms: number }>;
  close(): Promise<void>;
}

/** In a netns: a server that sends `totalBytes` to each client ("send") or times receiving them ("recv"). */
export async function startBulkServer(netnsPath: string, mode: 'send' | 'recv', port: number, totalBytes: number): Promise<BulkServer> {
  const child = nodeInNetns(netnsPath, BULK_JS, [mode, String(port), String(totalBytes)]);
  const lines = createInterface({ input: child.stdout! });
  let onResult: (r: { bytes: number; ms: number }) => void = () => {};
  const received = new Promise<{ bytes: number; ms: number }>((resolve) => (onResult = resolve));
  const listening = new Promise<void>((resolve, reject) => {
    lines.on('line', (line) => (line === 'listening' ? resolve() : onResult(JSON.parse(line) as { bytes: number; ms: number })));
    child.once('exit', (code) => reject(new Error(`bulk server exited (${code})`)));
  });
  try {
    await listening;
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  return { received, close: () => stopChild(child) };
}

/** Host interfaces whose name starts with `prefix`. */
export function hostLinksWithPrefix(prefix: string): string[] {
  return readdirSync('/sys/class/net').filter((n) => n.startsWith(prefix));
}

/** Elements of a set in an inet table (empty when the table is gone). */
export async function nftSetElements(table: string, set: string): Promise<unknown[]> {
  const r = await run('nft', ['-j', 'list', 'set', 'inet', table, set], { allowFailure: true });
  if (r.code !== 0) return [];
  const items = (JSON.parse(r.stdout) as { nftables: Array<{ set?: { elem?: unknown[] } }> }).nftables;
  return items.find((i) => i.set)?.set?.elem ?? [];
}

export function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
