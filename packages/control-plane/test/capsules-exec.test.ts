/**
 * Commands, background processes and metrics of a real capsule through the REST API:
 * foreground exec (output, exit code, envs/cwd, binary output as base64, timeout),
 * background exec (202 pid+tag), listing and killing processes by PID or tag, metrics,
 * and the agent RPC latency histogram on /metrics.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startControlPlane, seedTeam, type SeededTeam, type TestControlPlane } from './harness.js';

describe('capsules API: exec, processes, metrics', () => {
  let t: TestControlPlane;
  let team: SeededTeam;
  let id: string;
  const exec = (body: Record<string, unknown>) => t.api('POST', `/v1/capsules/${id}/exec`, { auth: team.apiKey, body });
  const processes = async () => (await t.api('GET', `/v1/capsules/${id}/processes`, { auth: team.apiKey })).body.processes as Array<{ pid: number; tag: string | null; cmd: string; args: string[] }>;

  /** Polls until `check` holds (processes end asynchronously after a signal). */
  async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (await check()) return;
      await sleep(100);
    }
    assert.fail(`${what} did not happen within ${timeoutMs} ms`);
  }

  before(async () => {
    t = await startControlPlane({ withAgent: true });
    team = await seedTeam(t.cp);
    const r = await t.api('POST', '/v1/capsules', { auth: team.apiKey, body: {} });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    id = r.body.id;
  });

  after(async () => {
    if (id) await t?.api('DELETE', `/v1/capsules/${id}`, { auth: team.apiKey });
    await t?.close();
  });

  test('exec returns stdout, stderr, exit code, duration and utf-8 encoding', async () => {
    const r = await exec({ cmd: '/bin/sh', args: ['-c', 'echo out; echo err >&2; exit 3'] });
    assert.equal(r.status, 200);
    assert.equal(r.body.stdout, 'out\n');
    assert.equal(r.body.stderr, 'err\n');
    assert.equal(r.body.exit_code, 3);
    assert.equal(r.body.encoding, 'utf-8');
    assert.equal(r.body.sandbox_id, id);
    assert.equal(r.body.cmd, '/bin/sh');
    assert.equal(typeof r.body.duration_ms, 'number');
    assert.equal(r.body.timed_out, undefined);
  });

  test('a minimal capsule of the native API runs commands as root in /root; a repository initialised at . lands there', async () => {
    const who = await exec({ cmd: '/bin/sh', args: ['-c', 'id -un; pwd; echo $HOME'] });
    assert.equal(who.status, 200, JSON.stringify(who.body));
    assert.equal(who.body.stdout, 'root\n/root\n/root\n');
    const git = await exec({ cmd: 'git', args: ['init', '-q', '.'] });
    assert.equal(git.body.exit_code, 0, JSON.stringify(git.body));
    const listed = await t.api('POST', `/v1/capsules/${id}/files/list`, { auth: team.apiKey, body: { path: '/root' } });
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    assert.ok(listed.body.entries.some((e: { path: string; type: string }) => e.path === '/root/.git' && e.type === 'directory'), JSON.stringify(listed.body));
  });

  test('exec passes args verbatim (no shell), and honours envs and cwd', async () => {
    const r = await exec({ cmd: '/bin/sh', args: ['-c', 'printf "%s|%s|%s" "$1" "$FOO" "$(pwd)"', 'sh', 'a b; $(x)'], envs: { FOO: 'bar' }, cwd: '/tmp' });
    assert.equal(r.status, 200);
    assert.equal(r.body.stdout, 'a b; $(x)|bar|/tmp');
  });

  test('non-UTF-8 output comes back base64 (both streams), bytes intact', async () => {
    const r = await exec({ cmd: '/bin/sh', args: ['-c', "printf '\\377\\376\\000A'; printf 'ok' >&2"] });
    assert.equal(r.status, 200);
    assert.equal(r.body.encoding, 'base64');
    assert.deepEqual(Buffer.from(r.body.stdout, 'base64'), Buffer.from([0xff, 0xfe, 0x00, 0x41]));
    assert.equal(Buffer.from(r.body.stderr, 'base64').toString(), 'ok');
  });

  test('a command past its timeout is killed: 200 with exit_code -1 and timed_out true', async () => {
    const started = Date.now();
    const r = await exec({ cmd: 'sleep', args: ['30'], timeout_sec: 1 });
    assert.equal(r.status, 200);
    assert.equal(r.body.exit_code, -1);
    assert.equal(r.body.timed_out, true);
    assert.ok(Date.now() - started < 10_000, `answered after ${Date.now() - started} ms`);
  });

  test('exec refuses bad bodies with 400', async () => {
    const cases: Array<Record<string, unknown>> = [
      {},
      { cmd: '' },
      { cmd: 'true', args: [{ not: 'a string' }] },
      { cmd: 'true', timeout_sec: 0 },
      { cmd: 'true', unknown: 1 },
      { cmd: 'sleep', background: true, tag: '12345' },
      { cmd: 'sleep', background: true, tag: 'has space' },
    ];
    for (const body of cases) {
      const r = await exec(body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.body.error.reason, 'invalid_argument');
      assert.equal(r.body.error.code, 'invalid_request');
    }
  });

  test('background exec answers 202 {pid, tag} at once, with a default proc- tag', async () => {
    const started = Date.now();
    const r = await exec({ cmd: 'sleep', args: ['60'], background: true });
    assert.equal(r.status, 202);
    assert.ok(Date.now() - started < 5000);
    assert.ok(r.body.pid > 0);
    assert.match(r.body.tag, /^proc-[0-9a-f]{8}$/);
    const list = await processes();
    const p = list.find((x) => x.pid === r.body.pid);
    assert.ok(p, JSON.stringify(list));
    assert.equal(p.tag, r.body.tag);
    assert.equal(p.cmd, 'sleep');
    assert.deepEqual(p.args, ['60']);
    const kill = await t.api('DELETE', `/v1/capsules/${id}/processes/${r.body.pid}?signal=SIGKILL`, { auth: team.apiKey });
    assert.equal(kill.status, 204);
    await eventually(async () => !(await processes()).some((x) => x.pid === r.body.pid), 'process gone after SIGKILL by PID');
  });

  test('a background process with a tag is killed by tag (SIGTERM by default)', async () => {
    const r = await exec({ cmd: 'sleep', args: ['60'], background: true, tag: 'sleeper-1' });
    assert.equal(r.status, 202);
    assert.equal(r.body.tag, 'sleeper-1');
    assert.ok((await processes()).some((x) => x.tag === 'sleeper-1'));
    const kill = await t.api('DELETE', `/v1/capsules/${id}/processes/sleeper-1`, { auth: team.apiKey });
    assert.equal(kill.status, 204);
    await eventually(async () => !(await processes()).some((x) => x.tag === 'sleeper-1'), 'process gone after SIGTERM by tag');
  });

  test('killing an unknown PID or tag is 404 process_not_found naming it; a bad signal is 400', async () => {
    const pid = await t.api('DELETE', `/v1/capsules/${id}/processes/999999`, { auth: team.apiKey });
    assert.equal(pid.status, 404);
    assert.equal(pid.body.error.reason, 'process_not_found');
    assert.equal(pid.body.error.code, 'not_found');
    assert.match(pid.body.error.message, /999999/);
    const tag = await t.api('DELETE', `/v1/capsules/${id}/processes/nobody-here`, { auth: team.apiKey });
    assert.equal(tag.status, 404);
    assert.match(tag.body.error.message, /nobody-here/);
    const sig = await t.api('DELETE', `/v1/capsules/${id}/processes/1?signal=SIGHUP`, { auth: team.apiKey });
    assert.equal(sig.status, 400);
  });

  test('metrics return samples with cpu, memory and disk for the asked range; bad ranges are 400', async () => {
    let points: Array<Record<string, unknown>> = [];
    const until = Date.now() + 10_000;
    while (Date.now() < until && points.length === 0) {
      const r = await t.api('GET', `/v1/capsules/${id}/metrics?range=5m`, { auth: team.apiKey });
      assert.equal(r.status, 200);
      points = r.body.points;
      if (points.length === 0) await sleep(500);
    }
    assert.ok(points.length > 0, 'the sampler produced points');
    const p = points.at(-1)!;
    assert.deepEqual(Object.keys(p).sort(), ['cpu_pct', 'disk_bytes', 'disk_total_bytes', 'disk_used_bytes', 'mem_bytes', 'mem_total_bytes', 'mem_used_bytes', 'timestamp_unix', 'ts']);
    assert.equal(p.timestamp_unix, Math.floor(Date.parse(p.ts as string) / 1000));
    assert.equal(p.mem_bytes, p.mem_used_bytes);
    assert.match(p.ts as string, /Z$/);
    assert.ok((p.mem_used_bytes as number) > 0);
    assert.ok((p.mem_total_bytes as number) >= 512 * 1024 * 1024 * 0.9, 'memory total is the capsule limit');
    for (const range of ['10m', '1h', '2h', '6h', '12h', '24h']) {
      const r = await t.api('GET', `/v1/capsules/${id}/metrics?range=${range}`, { auth: team.apiKey });
      assert.equal(r.status, 200, range);
      assert.equal(r.body.sandbox_id, id);
      assert.equal(r.body.range, range);
      assert.ok(Array.isArray(r.body.points));
    }
    const bad = await t.api('GET', `/v1/capsules/${id}/metrics?range=3h`, { auth: team.apiKey });
    assert.equal(bad.status, 400);
  });

  test('/metrics times agent RPCs by method and outcome (wrenn_agent_rpc_duration_seconds)', async () => {
    const sample = async (labels: string): Promise<number> => {
      const text = await (await fetch(`${t.url}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(`wrenn_agent_rpc_duration_seconds_count{${labels}}`));
      return line ? Number(line.split(' ').pop()) : 0;
    };
    const okBefore = await sample('method="Exec",code="ok"');
    assert.equal((await exec({ cmd: 'true' })).status, 200);
    assert.equal((await exec({ cmd: 'true' })).status, 200);
    assert.equal(await sample('method="Exec",code="ok"'), okBefore + 2);
    const notFoundBefore = await sample('method="KillProcess",code="not_found"');
    assert.equal((await t.api('DELETE', `/v1/capsules/${id}/processes/999998`, { auth: team.apiKey })).status, 404);
    assert.equal(await sample('method="KillProcess",code="not_found"'), notFoundBefore + 1);
    const text = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(text, /wrenn_agent_rpc_duration_seconds_bucket\{le="0\.005",method="Exec",code="ok"\} \d+/);
  });
});
