import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startControlPlane, seedTeam, registerHostDirectly, type SeededTeam, type TestControlPlane } from './harness.js';
import { WsClient, b64, createRunningCapsule, insertCapsuleRow } from './ws-support.js';

const BASH = { type: 'start', cmd: '/bin/bash', args: ['--norc', '-i'], cols: 80, rows: 24 };

describe('WebSocket PTY (real capsule)', () => {
  let t: TestControlPlane;
  let team: SeededTeam;
  let capsuleId: string;
  const open: WsClient[] = [];
  const connect = async (auth = team.apiKey): Promise<WsClient> => {
    const c = await WsClient.open(t, `/v1/capsules/${capsuleId}/pty`, auth);
    open.push(c);
    return c;
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

  test('start a terminal, type echo, and see the command output', async () => {
    const ws = await connect();
    ws.send({ type: 'start', cols: 80, rows: 24 });
    const started = await ws.waitFor((m) => m.type === 'started');
    assert.match(started.tag, /^pty-/);
    assert.ok(started.pid > 0);
    ws.send({ type: 'input', data: b64('echo hi-$((6*7))\n') });
    await ws.waitForOutput('hi-42');
    ws.send({ type: 'kill' });
    const exit = await ws.waitFor((m) => m.type === 'exit');
    assert.equal(typeof exit.exit_code, 'number');
  });

  test('2,000 single-character inputs interleaved with resizes arrive in order, coalesced; the last resize wins; kill ends the session with an exit', async () => {
    const ws = await connect();
    ws.send(BASH);
    const { tag } = await ws.waitFor((m) => m.type === 'started');
    const session = t.cp.ctx.ptys.get(capsuleId, tag);
    assert.ok(session, 'session registered');
    // The command's output (not the typed echo) has $((6*7)) expanded.
    const body = Array.from({ length: 1980 }, (_, i) => 'abcdefghijklmnopqrstuvwxyz0123456789'[i % 36]).join('');
    const line = `echo =$((6*7))=${body}=end\n`;
    const typed = `${line}stty size\n`;
    let resizes = 0;
    for (let i = 0; i < typed.length; i++) {
      ws.send({ type: 'input', data: b64(typed[i]!) });
      if (i % 100 === 50) ws.send({ type: 'resize', cols: 100 + (resizes % 50), rows: 30 + (resizes++ % 20) });
    }
    ws.send({ type: 'resize', cols: 133, rows: 41 });
    ws.send({ type: 'input', data: b64('stty size\n') });
    // Wait for bash to have run what was typed before killing it: the kill is sent after
    // the input either way (the queue guarantees it), but bash reads and runs its input
    // in its own time, and a loaded machine could kill it before it got there.
    await ws.waitForOutput('41 133', 30_000);
    ws.send({ type: 'kill' });
    const exit = await ws.waitFor((m) => m.type === 'exit', 30_000);
    assert.equal(typeof exit.exit_code, 'number');
    const out = ws.ptyOutput();
    assert.ok(out.includes(`=42=${body}=end`), 'every character arrived, in order');
    assert.match(out, /\b41 133\r?\n/, 'the size after the last resize');
    assert.equal(session.inputMessages, typed.length + 1);
    assert.ok(session.inputCalls < 200, `PtySendInput calls: ${session.inputCalls} for ${session.inputMessages} input messages`);
    assert.equal((await ws.closed).code, 1000);
    assert.equal(t.cp.ctx.ptys.get(capsuleId, tag), undefined, 'an exited session is forgotten');
  });

  test('a session outlives its WebSocket: re-attach by tag gets the output produced meanwhile', async () => {
    const first = await connect();
    first.send(BASH);
    const started = await first.waitFor((m) => m.type === 'started');
    await first.waitForOutput('$');
    // Typed just before closing: still delivered, and its output comes while nobody is attached.
    first.send({ type: 'input', data: b64('sleep 1; echo later-$((40+2))\n') });
    first.close();
    await first.closed;
    await new Promise((r) => setTimeout(r, 2000));
    const session = t.cp.ctx.ptys.get(capsuleId, started.tag);
    assert.ok(session && !session.attached && !session.ended, 'session kept, detached');
    const second = await connect();
    second.send({ type: 'connect', tag: started.tag });
    const again = await second.waitFor((m) => m.type === 'started');
    assert.equal(again.tag, started.tag);
    assert.equal(again.pid, started.pid);
    await second.waitForOutput('later-42');
    second.send({ type: 'kill' });
    await second.waitFor((m) => m.type === 'exit');
  });

  test('a second connection to the same tag takes the session over; the first is closed with an error', async () => {
    const first = await connect();
    first.send(BASH);
    const { tag } = await first.waitFor((m) => m.type === 'started');
    const second = await connect(team.jwt);
    second.send({ type: 'connect', tag });
    await second.waitFor((m) => m.type === 'started');
    const err = await first.waitFor((m) => m.type === 'error');
    assert.equal(err.fatal, true);
    assert.match(err.message, /another connection/);
    assert.equal((await first.closed).code, 4409);
    second.send({ type: 'input', data: b64('echo still-$((1+1))\n') });
    await second.waitForOutput('still-2');
    second.send({ type: 'kill' });
    await second.waitFor((m) => m.type === 'exit');
  });

  test('bad messages get a non-fatal error and the terminal keeps working', async () => {
    const ws = await connect();
    ws.send(BASH);
    await ws.waitFor((m) => m.type === 'started');
    ws.socket.send('not json');
    ws.send({ type: 'resize', cols: 0, rows: 10 });
    ws.send({ type: 'dance' });
    await ws.waitFor((m) => m.type === 'error' && /unknown message type/.test(m.message));
    const errors = ws.messages.filter((m) => m.type === 'error');
    assert.equal(errors.length, 3);
    assert.ok(errors.every((e) => e.fatal === false));
    ws.send({ type: 'input', data: b64('echo ok-$((2+3))\n') });
    await ws.waitForOutput('ok-5');
    ws.send({ type: 'kill' });
    await ws.waitFor((m) => m.type === 'exit');
  });

  test('a first message other than start/connect closes with 4400', async () => {
    const ws = await connect();
    ws.send({ type: 'input', data: b64('x') });
    const err = await ws.waitFor((m) => m.type === 'error');
    assert.equal(err.fatal, true);
    assert.equal((await ws.closed).code, 4400);
  });

  test('re-attaching to an unknown tag closes with 4404', async () => {
    const ws = await connect();
    ws.send({ type: 'connect', tag: 'pty-doesnotexist' });
    const err = await ws.waitFor((m) => m.type === 'error');
    assert.equal(err.fatal, true);
    assert.equal((await ws.closed).code, 4404);
  });

  describe('with a 1 s idle timeout and a 1 s ping (second control plane, same agent)', () => {
    let t2: TestControlPlane;
    let team2: SeededTeam;
    before(async () => {
      t2 = await startControlPlane({ env: { WRENN_PTY_IDLE_TIMEOUT_SEC: '1', WRENN_WS_PING_INTERVAL_SEC: '1' } });
      const hostId = await registerHostDirectly(t2.cp, t.agent!);
      team2 = await seedTeam(t2.cp);
      await insertCapsuleRow(t2, team2.teamId, { id: capsuleId, hostId });
    });
    after(async () => {
      await t2?.close();
    });

    test('a session without a client for the idle timeout is killed', async () => {
      const ws = await WsClient.open(t2, `/v1/capsules/${capsuleId}/pty`, team2.apiKey);
      ws.send(BASH);
      const { tag } = await ws.waitFor((m) => m.type === 'started');
      const listed = async () => (await t.agent!.client.listProcesses({ capsuleId })).processes.some((p) => p.tag === tag);
      assert.equal(await listed(), true);
      ws.close();
      await ws.closed;
      const deadline = Date.now() + 8000;
      while ((await listed()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      assert.equal(await listed(), false, 'terminal process killed after the idle timeout');
      assert.equal(t2.cp.ctx.ptys.get(capsuleId, tag), undefined);
    });

    test('a terminal whose client left before it started still ends after the idle timeout', async () => {
      const ptys = async () => (await t.agent!.client.listProcesses({ capsuleId })).processes.filter((p) => p.tag.startsWith('pty-')).map((p) => p.tag);
      const before = new Set(await ptys());
      const ws = await WsClient.open(t2, `/v1/capsules/${capsuleId}/pty`, team2.apiKey);
      ws.send(BASH);
      ws.close();
      await ws.closed;
      const fresh = async () => (await ptys()).filter((tag) => !before.has(tag));
      // The terminal starts after the client left, lives for the 1 s idle timeout, then goes.
      let seen = false;
      const deadline = Date.now() + 8000;
      while (Date.now() < deadline) {
        const now = await fresh();
        if (now.length > 0) seen = true;
        else if (seen) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(seen, true, 'the terminal was started');
      assert.deepEqual(await fresh(), []);
      assert.equal(t2.cp.ctx.ptys.size, 0);
    });

    test('the server sends {type:"ping"} periodically', async () => {
      const ws = await WsClient.open(t2, `/v1/capsules/${capsuleId}/pty`, team2.apiKey);
      await ws.waitFor((m) => m.type === 'ping', 5000);
      ws.close();
    });
  });
});
