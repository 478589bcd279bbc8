/**
 * The `wrenn` command, run as a child process against a real control plane with a real
 * host agent: what it prints and the exit codes scripts rely on.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane, seedTeam, type SeededTeam, type TestControlPlane } from '@wrenn/control-plane/testing';
import { Wrenn } from '@wrenn/sdk';
import { cleanEnv, wrenn } from './cli-helpers.js';

let t: TestControlPlane;
let team: SeededTeam;
let env: NodeJS.ProcessEnv;
let work: string;
let capsuleId: string | undefined;

before(async () => {
  t = await startControlPlane({ withAgent: true });
  team = await seedTeam(t.cp);
  work = mkdtempSync(join(tmpdir(), 'wrenn-cli-test-'));
  // An empty config dir: nothing but the variables below tells the CLI where to go.
  env = cleanEnv({ WRENN_API_URL: t.url, WRENN_API_KEY: team.apiKey, XDG_CONFIG_HOME: join(work, 'config') });
});

after(async () => {
  if (capsuleId) {
    await new Wrenn({ baseUrl: t.url, apiKey: team.apiKey }).capsules.destroy(capsuleId).catch((err) => console.error(`capsule ${capsuleId} not destroyed:`, err));
  }
  await t?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('wrenn capsules', () => {
  test('create prints the new id; get and list show it running', async () => {
    const created = await wrenn(['capsules', 'create', '--memory', '256'], env);
    assert.equal(created.code, 0, created.stderr);
    capsuleId = created.stdout.trim();
    assert.match(capsuleId, /^cl-/);

    const got = await wrenn(['--json', 'capsules', 'get', capsuleId], env);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(JSON.parse(got.stdout).status, 'running');

    const list = await wrenn(['capsules', 'list'], env);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`${capsuleId}\\s+running\\s+minimal`));
  });

  test('an unknown capsule exits 1 with the error code on stderr', async () => {
    const r = await wrenn(['capsules', 'get', 'cl-doesnotexist'], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /capsule_not_found/);
    assert.equal(r.stdout, '');
  });

  test('without an API URL it says how to get one', async () => {
    const r = await wrenn(['capsules', 'list'], cleanEnv({ XDG_CONFIG_HOME: join(work, 'empty-config') }));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /wrenn up/);
  });

  test('the config file written by wrenn up is used when no variables are set', async () => {
    const dir = join(work, 'file-config');
    const { writeConfigFile } = await import('../src/config.js');
    writeConfigFile(join(dir, 'wrenn', 'config.json'), { api_url: t.url, api_key: team.apiKey });
    assert.equal(statSync(join(dir, 'wrenn', 'config.json')).mode & 0o777, 0o600);
    const r = await wrenn(['capsules', 'list'], cleanEnv({ XDG_CONFIG_HOME: dir }));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ID\s+STATUS/);
  });
});

describe('wrenn exec', () => {
  test("prints the command's stdout and stderr and exits with its exit code", async () => {
    assert.ok(capsuleId, 'needs the capsule from the create test');
    const r = await wrenn(['exec', capsuleId, '--', 'sh', '-c', 'echo to-out; echo to-err >&2; exit 7'], env);
    assert.equal(r.code, 7);
    assert.equal(r.stdout, 'to-out\n');
    assert.equal(r.stderr, 'to-err\n');
  });

  test('exit code 0 and binary output byte for byte', async () => {
    assert.ok(capsuleId);
    const r = await wrenn(['exec', capsuleId, '--', 'printf', '\\377\\000A'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([...r.stdoutBytes], [0xff, 0x00, 0x41]);
  });

  test('one argument with shell syntax runs through sh -c', async () => {
    assert.ok(capsuleId);
    const r = await wrenn(['exec', capsuleId, '--', 'echo a b | wc -w'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), '2');
  });

  test('a command past --timeout is killed and exits 124 saying so', async () => {
    assert.ok(capsuleId);
    const r = await wrenn(['exec', '--timeout', '1', capsuleId, '--', 'sleep', '10'], env);
    assert.equal(r.code, 124);
    assert.match(r.stderr, /time limit \(1 s\)/);
  });

  test('--stream prints output as it comes and keeps the exit code', async () => {
    assert.ok(capsuleId);
    const r = await wrenn(['exec', '--stream', capsuleId, '--', 'sh', '-c', 'echo streamed; exit 4'], env);
    assert.equal(r.code, 4, r.stderr);
    assert.equal(r.stdout, 'streamed\n');
  });
});

describe('wrenn files', () => {
  test('put then get returns the same bytes; ls lists the file with its size', async () => {
    assert.ok(capsuleId);
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const local = join(work, 'up.bin');
    const back = join(work, 'down.bin');
    writeFileSync(local, data);

    const put = await wrenn(['files', 'put', capsuleId, local, '/tmp/cli/up.bin'], env);
    assert.equal(put.code, 0, put.stderr);
    const get = await wrenn(['files', 'get', capsuleId, '/tmp/cli/up.bin', back], env);
    assert.equal(get.code, 0, get.stderr);
    assert.ok(readFileSync(back).equals(data), 'downloaded bytes differ');

    const ls = await wrenn(['--json', 'files', 'ls', capsuleId, '/tmp/cli'], env);
    assert.equal(ls.code, 0, ls.stderr);
    const entries = JSON.parse(ls.stdout) as Array<{ name: string; size: number }>;
    assert.deepEqual(entries.map((e) => [e.name, e.size]), [['up.bin', data.length]]);
  });

  test('put from stdin and get to stdout', async () => {
    assert.ok(capsuleId);
    const put = await wrenn(['files', 'put', capsuleId, '-', '/tmp/cli/stdin.txt'], env, { stdin: 'from stdin\n' });
    assert.equal(put.code, 0, put.stderr);
    const get = await wrenn(['files', 'get', capsuleId, '/tmp/cli/stdin.txt', '-'], env);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(get.stdout, 'from stdin\n');
  });

  test('getting a missing file exits 1 naming the path', async () => {
    assert.ok(capsuleId);
    const r = await wrenn(['files', 'get', capsuleId, '/tmp/cli/missing.txt', join(work, 'never.txt')], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /missing\.txt/);
  });
});

describe('wrenn capsules pause|resume|port and wrenn templates snapshot|rm', () => {
  test('pause and resume print the new status; the capsule keeps its memory across them', async () => {
    assert.ok(capsuleId);
    assert.equal((await wrenn(['exec', capsuleId, '--', 'sh', '-c', 'echo kept > /dev/shm/mark'], env)).code, 0);
    const paused = await wrenn(['capsules', 'pause', capsuleId], env);
    assert.equal(paused.code, 0, paused.stderr);
    assert.equal(paused.stdout, `${capsuleId} paused\n`);
    const resumed = await wrenn(['capsules', 'resume', capsuleId], env);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(resumed.stdout, `${capsuleId} running\n`);
    assert.equal((await wrenn(['exec', capsuleId, '--', 'cat', '/dev/shm/mark'], env)).stdout, 'kept\n');
    const unknown = await wrenn(['capsules', 'pause', 'cl-doesnotexist'], env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /cl-doesnotexist: .*capsule_not_found/);
  });

  test('port prints a curl command that reaches a server in the capsule through the port proxy', async () => {
    assert.ok(capsuleId);
    await wrenn(['exec', capsuleId, '--', 'sh', '-c', 'mkdir -p /tmp/site && echo served > /tmp/site/index.html && cd /tmp/site && (nohup python3 -m http.server 8000 >/dev/null 2>&1 &)'], env);
    const r = await wrenn(['--json', 'capsules', 'port', capsuleId, '8000'], env);
    assert.equal(r.code, 0, r.stderr);
    const target = JSON.parse(r.stdout) as { url: string; headers: Record<string, string> };
    assert.equal(target.headers['E2b-Sandbox-Id'], capsuleId);
    let body = '';
    for (let i = 0; i < 50 && body !== 'served\n'; i++) {
      const res = await fetch(target.url, { headers: target.headers });
      body = await res.text();
      if (body !== 'served\n') await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(body, 'served\n');
    const plain = await wrenn(['capsules', 'port', capsuleId, '8000'], env);
    assert.match(plain.stdout, new RegExp(`^curl -H 'E2b-Sandbox-Id: ${capsuleId}' -H 'E2b-Sandbox-Port: 8000' ${t.url}`));
    assert.equal((await wrenn(['capsules', 'port', capsuleId, 'http'], env)).code, 1);
  });

  test('templates snapshot names a new template capsules start from, with the memory; rm deletes it', async () => {
    assert.ok(capsuleId);
    const name = `cli-snap-${randomBytes(3).toString('hex')}`;
    const snap = await wrenn(['templates', 'snapshot', capsuleId, '--name', name], env);
    assert.equal(snap.code, 0, snap.stderr);
    assert.equal(snap.stdout, `${name}\n`);
    assert.match((await wrenn(['templates', 'ls', '--type', 'snapshot'], env)).stdout, new RegExp(`${name}\\s+snapshot`));
    const clone = (await wrenn(['capsules', 'create', '-t', name], env)).stdout.trim();
    try {
      assert.match(clone, /^cl-/);
      assert.equal((await wrenn(['exec', clone, '--', 'cat', '/dev/shm/mark'], env)).stdout, 'kept\n');
    } finally {
      await wrenn(['capsules', 'rm', clone], env);
    }
    const rm = await wrenn(['templates', 'rm', name], env);
    assert.equal(rm.code, 0, rm.stderr);
    const again = await wrenn(['templates', 'rm', name], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /template_not_found/);
  });
});

describe('wrenn capsules rm', () => {
  test('rm destroys the capsule', async () => {
    assert.ok(capsuleId);
    const r = await wrenn(['capsules', 'rm', capsuleId], env);
    assert.equal(r.code, 0, r.stderr);
    const got = await wrenn(['--json', 'capsules', 'get', capsuleId], env);
    assert.equal(JSON.parse(got.stdout).status, 'stopped');
    capsuleId = undefined;
  });
});
