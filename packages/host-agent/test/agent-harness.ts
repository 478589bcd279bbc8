/**
 * Fixture for agent integration tests: a real host agent (in this process) with its own
 * data dir, address pool, interface prefix, nftables table and cgroup parent, so it never
 * touches another agent's capsules; templates come from one shared cache under
 * `<repo>/.wrenn-test/data` (built once, reused by every test file and CI step).
 * `close()` destroys every capsule, removes the nftables table, the cgroup parent and the data dir.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ConnectError, createClient, type Client } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { HostAgentService } from '@wrenn/proto/hostagent';
import { createLogger, silentLogger, type Logger } from '@wrenn/shared';
import { loadAgentConfig, type AgentConfig } from '../src/start/config.js';
import { startHostAgent, type HostAgent } from '../src/start/agent.js';
import { TemplateStore } from '../src/infra/template/index.js';
import { run } from '../src/infra/exec.js';
import { detectCgroupLayout } from '../src/infra/cgroup/layout.js';
import { removeCgroup } from '../src/infra/cgroup/remove.js';

export const REPO = resolve(import.meta.dirname, '../../..');
export const TEST_CACHE = join(REPO, '.wrenn-test');
export const SHARED_DATA = join(TEST_CACHE, 'data');

export function testLogger(): Logger {
  return process.env.WRENN_TEST_LOGS ? createLogger({ name: 'agent-test', level: 'debug' }) : silentLogger();
}

/** Builds (once, cached on disk) the templates agent tests use. */
export async function sharedTemplates(): Promise<void> {
  mkdirSync(SHARED_DATA, { recursive: true });
  const store = new TemplateStore({ dataDir: SHARED_DATA, idMapping: { hostBase: 100000, size: 65536 }, logger: testLogger() });
  await store.ensureBusybox();
  await store.ensureMinimal();
}

function letters(n: number): string {
  return [...randomBytes(n)].map((b) => String.fromCharCode(97 + (b % 26))).join('');
}

export interface TestAgent {
  agent: HostAgent;
  client: Client<typeof HostAgentService>;
  config: AgentConfig;
  dataDir: string;
  ifPrefix: string;
  nftTable: string;
  cgroupParent: string;
  /** Restarts the agent on the same data dir (capsules keep running); `between` runs while no agent is up. */
  restart(between?: () => Promise<void> | void): Promise<void>;
  close(): Promise<void>;
}

export interface TestAgentOptions {
  env?: Record<string, string>;
  /** Reuse a data dir (e.g. after a killed agent process). */
  dataDir?: string;
  ifPrefix?: string;
  nftTable?: string;
  cgroupParent?: string;
  cidrOctet?: number;
  /** The agent's logger (default: silent, or debug with WRENN_TEST_LOGS); benchmarks read its records. */
  logger?: Logger;
}

/**
 * A /24 (10.<octet>.0.0) no other live test agent on this machine uses: test files of
 * parallel runs (or helpers' runs beside CI's) must not give two capsules one address.
 * Claimed by a file holding this process's pid; a claim whose process is gone is taken over.
 */
function claimTestNetwork(): number {
  const dir = join(TEST_CACHE, 'networks');
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < 1000; i++) {
    const octet = 100 + (randomBytes(1)[0]! % 100);
    const file = join(dir, String(octet));
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return octet;
    } catch {
      const owner = Number(readFileSync(file, 'utf8').trim());
      if (owner !== process.pid && !existsSync(`/proc/${owner}`)) rmSync(file, { force: true });
    }
  }
  throw new Error(`no free test network under ${dir}: 100 claimed by live processes`);
}

/** Gives up this process's claim on a test /24 (see claimTestNetwork). */
function releaseTestNetwork(octet: number): void {
  const file = join(TEST_CACHE, 'networks', String(octet));
  try {
    if (readFileSync(file, 'utf8').trim() === String(process.pid)) rmSync(file, { force: true });
  } catch {
    // not claimed (an explicit cidrOctet) or already released
  }
}

export function testAgentIdentity(opts: TestAgentOptions = {}) {
  const tag = letters(4);
  mkdirSync(TEST_CACHE, { recursive: true });
  const dataDir = opts.dataDir ?? mkdtempSync(join(TEST_CACHE, `agent-${process.pid}-`));
  // mkdtemp makes 0700; capsule roots (mapped uids) must traverse to their rootfs.
  chmodSync(dataDir, 0o711);
  const templates = join(dataDir, 'templates');
  if (!existsSync(templates)) symlinkSync(join(SHARED_DATA, 'templates'), templates);
  const octet = opts.cidrOctet ?? claimTestNetwork();
  const ifPrefix = opts.ifPrefix ?? `wt${tag}`.slice(0, 6);
  const nftTable = opts.nftTable ?? `wrenntest${tag}`;
  const cgroupParent = opts.cgroupParent ?? `wrenn-test-${tag}`;
  return {
    dataDir,
    ifPrefix,
    nftTable,
    cgroupParent,
    octet,
    env: {
      WRENN_DATA_DIR: dataDir,
      WRENN_AGENT_PORT: '0',
      WRENN_AGENT_PROXY_PORT: '0',
      WRENN_AGENT_HOST: '127.0.0.1',
      WRENN_NETWORK_CIDR: `10.${octet}.0.0/24`,
      WRENN_DEFAULT_ROOTFS_SIZE: '1G',
      WRENN_AGENT_TOKEN: `test-token-${tag}`,
      WRENN_IP_FORWARD: 'false',
      WRENN_NFT_TABLE: nftTable,
      WRENN_IF_PREFIX: ifPrefix,
      WRENN_CGROUP_PARENT: cgroupParent,
      ...opts.env,
    } as Record<string, string>,
  };
}

export async function startTestAgent(opts: TestAgentOptions = {}): Promise<TestAgent> {
  const id = testAgentIdentity(opts);
  const config = loadAgentConfig(id.env);
  const logger = opts.logger ?? testLogger();
  const start = () => startHostAgent(config, logger);
  let agent = await start();
  const makeClient = (port: number) =>
    createClient(
      HostAgentService,
      createConnectTransport({
        baseUrl: `http://127.0.0.1:${port}`,
        httpVersion: '2',
        interceptors: [
          (next) => async (req) => {
            req.header.set('authorization', `Bearer ${config.token}`);
            return next(req);
          },
        ],
      }),
    );
  const t: TestAgent = {
    agent,
    client: makeClient(agent.port),
    config,
    dataDir: id.dataDir,
    ifPrefix: id.ifPrefix,
    nftTable: id.nftTable,
    cgroupParent: id.cgroupParent,
    async restart(between) {
      await agent.close();
      await between?.();
      agent = await start();
      t.agent = agent;
      t.client = makeClient(agent.port);
    },
    async close() {
      await agent.manager.destroyAll();
      await agent.close();
      await agent.network.close();
      await removeTestIdentity(id);
    },
  };
  return t;
}

/**
 * Removes what a test agent identity leaves once its agents are gone: its cgroup parent
 * (an agent keeps it across restarts, since capsules outlive the agent; a test agent's is
 * its own and goes with it, in every hierarchy), its data dir and its network claim.
 */
export async function removeTestIdentity(id: { cgroupParent: string; dataDir: string; octet?: number }): Promise<void> {
  await removeCgroup(await detectCgroupLayout(), `/${id.cgroupParent}`);
  await removeDataDir(id.dataDir);
  if (id.octet !== undefined) releaseTestNetwork(id.octet);
}

/** Removes a test data dir without following the shared templates symlink. */
export async function removeDataDir(dataDir: string): Promise<void> {
  const templates = join(dataDir, 'templates');
  rmSync(templates, { force: true });
  rmSync(dataDir, { recursive: true, force: true });
}

/** Everything on the host that could belong to capsules of a test agent. */
export async function hostResources(t: { dataDir: string; ifPrefix: string; cgroupParent: string }): Promise<{
  mounts: string[];
  loops: string[];
  links: string[];
  runcState: string[];
  cgroups: string[];
}> {
  const mountinfo = (await import('node:fs')).readFileSync('/proc/self/mountinfo', 'utf8');
  const mounts = mountinfo
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(t.dataDir));
  const { stdout: losetup } = await run('losetup', ['-J', '-l'], { allowFailure: true });
  const loops = losetup.includes(t.dataDir)
    ? (JSON.parse(losetup).loopdevices as Array<{ name: string; 'back-file': string }>).filter((l) => l['back-file']?.startsWith(t.dataDir)).map((l) => l.name)
    : [];
  const links = readdirSync('/sys/class/net').filter((n) => n.startsWith(t.ifPrefix));
  const runcDir = join(t.dataDir, 'runc');
  const runcState = existsSync(runcDir) ? readdirSync(runcDir) : [];
  const cgroups: string[] = [];
  for (const ctrl of ['memory', 'pids', 'cpu', 'freezer', 'unified']) {
    const dir = join('/sys/fs/cgroup', ctrl, t.cgroupParent);
    if (existsSync(dir)) cgroups.push(...readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => `${ctrl}/${d.name}`));
  }
  return { mounts, loops, links, runcState, cgroups };
}

export function newCapsuleId(prefix = 'cl-t'): string {
  return `${prefix}${randomBytes(4).toString('hex')}`;
}

export function text(b: Uint8Array): string {
  return Buffer.from(b).toString('utf8');
}

/** The ConnectError a call fails with; fails the test if the call succeeds. */
export async function rpcError(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error('expected the call to fail, but it succeeded');
}

export * from './proxy-fixtures.js';
export * from './agent-process.js';
