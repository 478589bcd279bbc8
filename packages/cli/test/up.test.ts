/**
 * `wrenn up` smoke test: the real command as a child process (root), on a temporary data
 * dir with the shared test templates and a test identity (nftables table, interface
 * prefix, cgroup parent) so it never touches another agent's capsules. It must print the
 * URL and an API key, serve `wrenn exec` with that config, stop cleanly on SIGINT (exit
 * 0, no capsule resources left), and on a second start reuse its host and key.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { hostResources, removeTestIdentity, sharedTemplates, testAgentIdentity } from '@wrenn/host-agent/testing';
import { Wrenn } from '@wrenn/sdk';
import { cleanEnv, spawnWrenn, wrenn } from './cli-helpers.js';

let identity: ReturnType<typeof testAgentIdentity>;
let xdg: string;
let upEnv: NodeJS.ProcessEnv;
let cliEnv: NodeJS.ProcessEnv;
let port: number;
let firstHostId: string | undefined;
const running: ChildProcess[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

interface Up {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Starts `wrenn up` and waits until it says it is up (or fails with its output). */
async function startUp(apiPort = port): Promise<Up> {
  const child = spawnWrenn(['up', '--port', String(apiPort), '--agent-port', '0', '--no-setup'], upEnv);
  running.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b));
  child.stderr!.on('data', (b: Buffer) => (err += b));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 90_000;
  while (!out.includes('Ctrl-C stops Wrenn')) {
    if (child.exitCode !== null || Date.now() > deadline) assert.fail(`wrenn up did not come up; stdout:\n${out}\nstderr:\n${err.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** SIGINT, then the exit code (fails if it takes longer than 30 s). */
async function stop(up: Up): Promise<number | null> {
  up.child.kill('SIGINT');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`wrenn up did not stop after SIGINT; stderr:\n${up.stderr().slice(-2000)}`)), 30_000);
  });
  try {
    return await Promise.race([up.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

before(async () => {
  await sharedTemplates();
  identity = testAgentIdentity();
  xdg = join(identity.dataDir, 'xdg');
  port = await freePort();
  // The agent's port and address are wrenn up's to choose (--agent-port 0).
  upEnv = cleanEnv({ ...identity.env, WRENN_AGENT_PORT: undefined, WRENN_AGENT_HOST: undefined, XDG_CONFIG_HOME: xdg, WRENN_LOG_LEVEL: 'warn' });
  cliEnv = cleanEnv({ XDG_CONFIG_HOME: xdg });
});

after(async () => {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (!identity) return;
  // What the agent keeps across restarts on purpose (its nftables table, the cgroup parents) goes too.
  try {
    execFileSync('nft', ['delete', 'table', 'inet', identity.nftTable], { stdio: 'ignore' });
  } catch {
    // not created, or already gone
  }
  for (const ctrl of ['memory', 'pids', 'cpu', 'cpuacct', 'blkio', 'cpuset', 'devices', 'freezer', 'unified', '']) {
    const dir = join('/sys/fs/cgroup', ctrl, identity.cgroupParent);
    if (existsSync(dir)) {
      try {
        rmdirSync(dir);
      } catch {
        // not empty: the resource check below reports it
      }
    }
  }
  await removeTestIdentity(identity);
  rmSync(xdg, { recursive: true, force: true });
});

test('wrenn up prints the URL, admin and API key, serves wrenn exec, and stops on SIGINT leaving no capsule resources', async () => {
  const up = await startUp();
  const out = up.stdout();
  const url = /API\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
  const key = /API key\s+(wrn_[0-9a-f]{32})/.exec(out)?.[1];
  assert.equal(url, `http://127.0.0.1:${port}`, out);
  assert.ok(key, `no API key printed:\n${out}`);
  assert.match(out, /admin\s+admin@wrenn\.local \/ \S+/);
  firstHostId = /host\s+(host-\S+)/.exec(out)?.[1];
  assert.ok(firstHostId, out);

  const configFile = join(xdg, 'wrenn', 'config.json');
  assert.equal(statSync(configFile).mode & 0o777, 0o600, 'the config holds a key: only its owner may read it');
  assert.deepEqual(JSON.parse(readFileSync(configFile, 'utf8')), { api_url: url, api_key: key });

  // The CLI finds the server through the config file alone.
  const created = await wrenn(['capsules', 'create', '--memory', '256'], cliEnv);
  assert.equal(created.code, 0, created.stderr);
  const id = created.stdout.trim();
  try {
    const r = await wrenn(['exec', id, '--', 'sh', '-c', 'echo hello from $(hostname); exit 3'], cliEnv);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, /^hello from /);
  } finally {
    const rm = await wrenn(['capsules', 'rm', id], cliEnv);
    assert.equal(rm.code, 0, rm.stderr);
  }

  assert.equal(await stop(up), 0, up.stderr().slice(-2000));
  assert.match(up.stdout(), /\[up\] stopped/);
  assert.deepEqual(await hostResources(identity), { mounts: [], loops: [], links: [], runcState: [], cgroups: [] });
});

test('a second wrenn up on the same data dir reuses its host and API key and prints no new secrets', async () => {
  const up = await startUp();
  try {
    const out = up.stdout();
    assert.doesNotMatch(out, /API key|admin\s+admin@/, 'secrets are printed on the first start only');
    assert.match(out, new RegExp(`config\\s+${join(xdg, 'wrenn', 'config.json').replace(/[.]/g, '\\.')}`));
    const { api_key: key } = JSON.parse(readFileSync(join(xdg, 'wrenn', 'config.json'), 'utf8')) as { api_key: string };
    const list = await wrenn(['capsules', 'list'], cliEnv);
    assert.equal(list.code, 0, list.stderr);
    // The same host: the restart re-used the registration saved under the data dir.
    assert.ok(firstHostId, 'needs the first start');
    assert.equal(/host\s+(host-\S+)/.exec(out)?.[1], firstHostId);
    assert.ok(Array.isArray(await new Wrenn({ baseUrl: `http://127.0.0.1:${port}`, apiKey: key }).capsules.list()));
  } finally {
    assert.equal(await stop(up), 0, up.stderr().slice(-2000));
  }
});

test('wrenn up back on another API port keeps its host record (none left behind with a dead address): creates work at once', async () => {
  const other = await freePort();
  const up = await startUp(other);
  try {
    assert.ok(firstHostId, 'needs the first start');
    assert.equal(/host\s+(host-\S+)/.exec(up.stdout())?.[1], firstHostId, 'the same host record, now at the new addresses');
    const { api_key: key } = JSON.parse(readFileSync(join(xdg, 'wrenn', 'config.json'), 'utf8')) as { api_key: string };
    const client = new Wrenn({ baseUrl: `http://127.0.0.1:${other}`, apiKey: key });
    const capsule = await client.capsules.create({ template: 'busybox', memoryMb: 128 });
    await client.capsules.destroy(capsule.id);
  } finally {
    assert.equal(await stop(up), 0, up.stderr().slice(-2000));
  }
});
