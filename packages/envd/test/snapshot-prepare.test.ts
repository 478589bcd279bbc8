/**
 * docs/decisions.md#e3: /snapshot/prepare quiesces envd (port forwarding stopped, keep-alive off, idle
 * connections closed) and the /init that follows a restore restarts it, closing the
 * connections opened before the snapshot while keeping the one it arrives on.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { startEnvd, type TestEnvd } from './harness.js';
import { PortSubsystem } from '../src/ports/index.js';

function get(port: number, path: string, agent: Agent, method = 'GET', body?: string): Promise<{ status: number; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, socket: req.socket as Socket }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

async function until(cond: () => Promise<boolean> | boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('snapshot prepare and post-restore init (E3)', () => {
  let t: TestEnvd;
  let service: ChildProcess;
  let servicePort = 0;
  let ports: PortSubsystem;

  before(async () => {
    t = await startEnvd();
    // A program listening on 127.0.0.1 only, in its own process as in a capsule (envd
    // never forwards its own sockets).
    service = spawn(process.execPath, ['-e', "require('net').createServer((s) => s.end('inside')).listen(0, '127.0.0.1', function () { console.log(this.address().port) })"], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    servicePort = await new Promise<number>((resolve) => service.stdout!.once('data', (b: Buffer) => resolve(Number(b.toString().trim()))));
    // The real port subsystem, limited to this test's listener and forwarding to 127.0.0.2.
    ports = new PortSubsystem(t.envd.ctx, { externalAddress: '127.0.0.2', acceptPort: (p) => p === servicePort });
    t.envd.ctx.subsystems.push(ports);
    ports.start();
    await until(() => reachable('127.0.0.2', servicePort), 'the forwarder');
  });

  after(async () => {
    await ports?.stop();
    service?.kill('SIGKILL');
    await t?.close();
  });

  test('prepare stops forwarding and closes idle keep-alive connections; post-restore init restarts and closes pre-snapshot ones', async () => {
    const before = new Agent({ keepAlive: true, maxSockets: 1 });
    const first = await get(t.port, '/health', before);
    assert.equal(first.status, 200);
    const preSnapshotSocket = first.socket;
    let preClosed = false;
    preSnapshotSocket.once('close', () => (preClosed = true));

    // A second keep-alive connection that stays busy-idle across the snapshot.
    const other = new Agent({ keepAlive: true, maxSockets: 1 });
    const kept = await get(t.port, '/health', other);
    let otherClosed = false;
    kept.socket.once('close', () => (otherClosed = true));

    const prep = await get(t.port, '/snapshot/prepare', new Agent({ keepAlive: false }), 'POST', '{}');
    assert.equal(prep.status, 204);
    assert.equal(ports.running, false, 'port subsystem stopped');
    assert.equal(ports.stats().forwarders, 0);
    assert.equal(await reachable('127.0.0.2', servicePort), false, 'no forwarding while prepared');

    // "Restore": a fresh connection brings the post-restore /init.
    const after = new Agent({ keepAlive: true, maxSockets: 1 });
    const init = await get(t.port, '/init', after, 'POST', JSON.stringify({ envVars: { RESTORED: '1' } }));
    assert.equal(init.status, 204);
    await until(() => preClosed && otherClosed, 'pre-snapshot connections to close');
    assert.equal(init.socket.destroyed, false, 'the connection that carried /init is kept');
    assert.equal(t.envd.ctx.state.preparedForSnapshot, false);
    assert.equal(ports.running, true, 'port subsystem restarted');
    await until(() => reachable('127.0.0.2', servicePort), 'forwarding again after init');
    before.destroy();
    other.destroy();
    after.destroy();
  });

  test('an /init that does not follow a prepare keeps every connection', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const first = await get(t.port, '/health', agent);
    let closed = false;
    first.socket.once('close', () => (closed = true));
    const init = await get(t.port, '/init', new Agent({ keepAlive: false }), 'POST', '{}');
    assert.equal(init.status, 204);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(closed, false);
    agent.destroy();
  });
});
