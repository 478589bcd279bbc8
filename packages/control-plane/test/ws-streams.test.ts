import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startControlPlane, seedTeam, type SeededTeam, type TestControlPlane } from './harness.js';
import { WsClient, createRunningCapsule } from './ws-support.js';

describe('WebSocket exec and process streams (real capsule)', () => {
  let t: TestControlPlane;
  let team: SeededTeam;
  let capsuleId: string;
  const open: WsClient[] = [];
  const connect = async (path: string, auth: string | undefined = team.apiKey): Promise<WsClient> => {
    const c = await WsClient.open(t, `/v1/capsules/${capsuleId}${path}`, auth);
    open.push(c);
    return c;
  };
  const running = async (pid: number) => (await t.agent!.client.listProcesses({ capsuleId })).processes.some((p) => p.pid === pid);
  const waitGone = async (pid: number) => {
    const deadline = Date.now() + 5000;
    while ((await running(pid)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    return !(await running(pid));
  };

  before(async () => {
    t = await startControlPlane({ withAgent: true });
    team = await seedTeam(t.cp);
    capsuleId = await createRunningCapsule(t, team.teamId);
  });
  after(async () => {
    for (const c of open) c.close();
    await t?.close();
  });

  test('exec stream (authenticated by first message): start, stdout, stderr, exit code', async () => {
    const ws = await connect('/exec/stream', undefined);
    ws.send({ type: 'auth', api_key: team.apiKey });
    ws.send({ type: 'start', cmd: '/bin/sh', args: ['-c', 'echo out-1; echo err-1 >&2; echo "é ünï"; exit 3'] });
    const exit = await ws.waitFor((m) => m.type === 'exit');
    assert.equal(exit.exit_code, 3);
    const start = ws.messages.find((m) => m.type === 'start');
    assert.ok(start && start.pid > 0);
    assert.ok(ws.messages.indexOf(start) < ws.messages.indexOf(exit));
    assert.equal(ws.streamText('stdout'), 'out-1\né ünï\n');
    assert.equal(ws.streamText('stderr'), 'err-1\n');
    assert.ok(ws.messages.filter((m) => m.type === 'stdout').every((m) => m.encoding === 'utf-8'));
    assert.equal((await ws.closed).code, 1000);
  });

  test('binary output is sent base64 with encoding "base64"', async () => {
    const ws = await connect('/exec/stream');
    ws.send({ type: 'start', cmd: '/bin/sh', args: ['-c', "printf '\\377\\376\\000A'"] });
    await ws.waitFor((m) => m.type === 'exit');
    const out = ws.messages.filter((m) => m.type === 'stdout');
    assert.ok(out.some((m) => m.encoding === 'base64'));
    const bytes = Buffer.concat(out.map((m) => Buffer.from(m.data, m.encoding === 'base64' ? 'base64' : 'utf8')));
    assert.deepEqual([...bytes], [0xff, 0xfe, 0x00, 0x41]);
  });

  test('stop kills the command: exit follows at once', async () => {
    const ws = await connect('/exec/stream');
    ws.send({ type: 'start', cmd: '/bin/sleep', args: ['60'] });
    const { pid } = await ws.waitFor((m) => m.type === 'start');
    const stoppedAt = Date.now();
    ws.send({ type: 'stop' });
    const exit = await ws.waitFor((m) => m.type === 'exit', 10_000);
    assert.notEqual(exit.exit_code, 0);
    assert.ok(Date.now() - stoppedAt < 5000);
    assert.equal(await waitGone(pid), true);
  });

  test('a command whose client goes away is killed', async () => {
    const ws = await connect('/exec/stream');
    ws.send({ type: 'start', cmd: '/bin/sleep', args: ['60'] });
    const { pid } = await ws.waitFor((m) => m.type === 'start');
    assert.equal(await running(pid), true);
    ws.close();
    await ws.closed;
    assert.equal(await waitGone(pid), true, 'process gone after the client left');
  });

  test('a client that stops reading slows a large output down instead of losing any of it (C3)', async () => {
    const line = '0123456789abcdefghijklmnopqrstuvwxyz\n';
    const lines = 300_000; // ~11 MB, far more than the socket and stream buffers hold
    const ws = await connect('/exec/stream');
    ws.send({ type: 'start', cmd: '/bin/sh', args: ['-c', `yes ${line.trim()} | head -n ${lines}`] });
    await ws.waitFor((m) => m.type === 'stdout');
    ws.socket.pause();
    await new Promise((r) => setTimeout(r, 1500));
    ws.socket.resume();
    const exit = await ws.waitFor((m) => m.type === 'exit', 60_000);
    assert.equal(exit.exit_code, 0);
    const out = ws.streamText('stdout');
    assert.equal(out.length, line.length * lines);
    assert.equal(out, line.repeat(lines));
  });

  test('exec stream: a first message other than start closes with 4400', async () => {
    const ws = await connect('/exec/stream');
    ws.send({ type: 'start', args: [] });
    const err = await ws.waitFor((m) => m.type === 'error');
    assert.match(err.message, /cmd/);
    assert.equal((await ws.closed).code, 4400);
  });

  test('process stream by tag: output of a background process from now on, then its exit', async () => {
    const bg = await t.agent!.client.startBackground({
      capsuleId,
      cmd: '/bin/sh',
      args: ['-c', 'sleep 0.5; for i in 1 2 3; do echo tick$i; sleep 0.2; done; echo oops >&2; exit 5'],
      tag: 'ticker',
    });
    const ws = await connect('/processes/ticker/stream');
    const exit = await ws.waitFor((m) => m.type === 'exit');
    assert.equal(exit.exit_code, 5);
    assert.equal(ws.messages.find((m) => m.type === 'start')?.pid, bg.pid);
    assert.match(ws.streamText('stdout'), /tick1\ntick2\ntick3\n$/);
    assert.equal(ws.streamText('stderr'), 'oops\n');
    assert.equal((await ws.closed).code, 1000);
  });

  test('process stream by pid; closing it leaves the process running', async () => {
    const bg = await t.agent!.client.startBackground({ capsuleId, cmd: '/bin/sh', args: ['-c', 'while true; do echo beat; sleep 0.2; done'] });
    const ws = await connect(`/processes/${bg.pid}/stream`);
    await ws.waitFor((m) => m.type === 'stdout' && m.data.includes('beat'));
    ws.close();
    await ws.closed;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await running(bg.pid), true);
    await t.agent!.client.killProcess({ capsuleId, process: { selector: { case: 'pid', value: bg.pid } }, signal: 'SIGKILL' });
  });

  test('process stream of an unknown process closes with 4404', async () => {
    const ws = await connect('/processes/no-such-tag/stream');
    const err = await ws.waitFor((m) => m.type === 'error');
    assert.equal(err.fatal, true);
    assert.equal((await ws.closed).code, 4404);
  });
});
