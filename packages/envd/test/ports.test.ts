import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { startEnvd, type TestEnvd } from './harness.js';
import { PortSubsystem } from '../src/ports/index.js';
import { parseProcNetTcp } from '../src/ports/proc-net.js';

/** The test's stand-in for the capsule's external interface address. */
const EXTERNAL = '127.0.0.2';

/** A service in another process (as in a capsule): echoes every line back with a prefix. */
interface Service {
  readonly port: number;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

async function startService(host: string): Promise<Service> {
  const script = `
    const net = require('node:net');
    const server = net.createServer((s) => { s.on('data', (d) => s.write('echo:' + d)); s.on('error', () => {}); });
    server.listen(0, ${JSON.stringify(host)}, () => process.stdout.write(server.address().port + '\\n'));
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [first] = (await once(child.stdout!, 'data')) as [Buffer];
  const port = Number(first.toString().trim());
  assert.ok(port > 0, `service did not report its port: ${first.toString()}`);
  return {
    port,
    child,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Connects to host:port, sends `text` and resolves with the reply (rejects when refused). */
function roundTrip(host: string, port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    socket.setTimeout(3000, () => socket.destroy(new Error('timed out')));
    socket.once('error', reject);
    socket.once('connect', () => socket.write(text));
    socket.once('data', (d) => {
      socket.end();
      resolve(d.toString());
    });
  });
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function refused(host: string, port: number): Promise<boolean> {
  try {
    await roundTrip(host, port, 'x');
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ECONNREFUSED';
  }
}

function activeHandles(): number {
  return (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length;
}

describe('envd port forwarding', () => {
  let t: TestEnvd;
  const services: Service[] = [];
  const subsystems: PortSubsystem[] = [];
  before(async () => {
    t = await startEnvd({ env: { WRENN_ENVD_PORT_SCAN_MS: '50' } });
  });
  after(async () => {
    await Promise.all(subsystems.map((s) => s.stop()));
    await Promise.all(services.map((s) => s.stop()));
    await t.close();
  });

  /** A port subsystem that only looks at the given services' ports. */
  function subsystemFor(...ports: number[]): PortSubsystem {
    const s = new PortSubsystem(t.envd.ctx, { externalAddress: EXTERNAL, acceptPort: (p) => ports.includes(p) });
    subsystems.push(s);
    return s;
  }

  async function service(host: string): Promise<Service> {
    const s = await startService(host);
    services.push(s);
    return s;
  }

  test('/proc/net/tcp shows a loopback listener as 127.0.0.1 with its port', async () => {
    const svc = await service('127.0.0.1');
    const listeners = parseProcNetTcp(readFileSync('/proc/net/tcp', 'utf8'), false);
    assert.ok(listeners.some((l) => l.address === '127.0.0.1' && l.port === svc.port && l.inode > 0));
    await svc.stop();
  });

  test('a port bound to 127.0.0.1 becomes reachable on the external address, and the forwarder goes when the port closes', async () => {
    const svc = await service('127.0.0.1');
    assert.equal(await refused(EXTERNAL, svc.port), true);
    const ports = subsystemFor(svc.port);
    ports.start();
    try {
      await waitFor('the forwarder', () => ports.stats().forwarders === 1);
      assert.equal(await roundTrip(EXTERNAL, svc.port, 'hello'), 'echo:hello');
      await svc.stop();
      await waitFor('the forwarder to stop', () => ports.stats().forwarders === 0);
      assert.equal(await refused(EXTERNAL, svc.port), true);
    } finally {
      await ports.stop();
    }
  });

  test('a port bound to ::1 only is forwarded too', async () => {
    const svc = await service('::1');
    const ports = subsystemFor(svc.port);
    ports.start();
    try {
      await waitFor('the forwarder', () => ports.stats().forwarders === 1);
      assert.equal(await roundTrip(EXTERNAL, svc.port, 'v6'), 'echo:v6');
    } finally {
      await ports.stop();
      await svc.stop();
    }
  });

  test('a port bound to 0.0.0.0 gets no forwarder', async () => {
    const wildcard = await service('0.0.0.0');
    const loopback = await service('127.0.0.1');
    const ports = subsystemFor(wildcard.port, loopback.port);
    ports.start();
    try {
      // Once the loopback port is forwarded, the wildcard one has been looked at too.
      await waitFor('the loopback forwarder', () => ports.stats().forwarders === 1);
      await new Promise((r) => setTimeout(r, 200)); // a few more scans
      assert.equal(ports.stats().forwarders, 1);
      assert.equal(await roundTrip(EXTERNAL, loopback.port, 'only me'), 'echo:only me');
    } finally {
      await ports.stop();
      await wildcard.stop();
      await loopback.stop();
    }
  });

  test('envd never forwards its own listening port', async () => {
    const ports = subsystemFor(t.port);
    ports.start();
    try {
      await new Promise((r) => setTimeout(r, 300)); // several scans
      assert.equal(ports.stats().forwarders, 0);
      assert.equal(await refused(EXTERNAL, t.port), true);
    } finally {
      await ports.stop();
    }
  });

  test('stop closes forwarded client connections and clears the timer', async () => {
    const svc = await service('127.0.0.1');
    const ports = subsystemFor(svc.port);
    ports.start();
    try {
      await waitFor('the forwarder', () => ports.stats().forwarders === 1);
      const client = connect({ host: EXTERNAL, port: svc.port });
      client.on('error', () => {});
      await once(client, 'connect');
      client.write('ping');
      await once(client, 'data');
      assert.equal(ports.stats().connections, 1);
      const clientClosed = once(client, 'close');
      await ports.stop();
      await clientClosed;
      assert.deepEqual(ports.stats(), { forwarders: 0, connections: 0, timers: 0 });
      assert.equal(ports.running, false);
    } finally {
      await ports.stop();
      await svc.stop();
    }
  });

  test('50 stop/start cycles with a forwarded port and an open connection leak no handles; forwarding works after', async () => {
    const svc = await service('127.0.0.1');
    const ports = subsystemFor(svc.port);
    const handlesBefore = activeHandles();
    const resourcesBefore = process.getActiveResourcesInfo().length;
    for (let i = 0; i < 50; i++) {
      ports.start();
      await waitFor(`the forwarder in cycle ${i}`, () => ports.stats().forwarders === 1);
      const client = connect({ host: EXTERNAL, port: svc.port });
      client.on('error', () => {});
      await once(client, 'connect');
      client.write(`cycle ${i}`);
      await once(client, 'data');
      const clientClosed = once(client, 'close');
      await ports.stop();
      await clientClosed;
      assert.deepEqual(ports.stats(), { forwarders: 0, connections: 0, timers: 0 }, `cycle ${i}`);
    }
    await new Promise((r) => setImmediate(r));
    assert.ok(activeHandles() <= handlesBefore, `handles grew from ${handlesBefore} to ${activeHandles()}`);
    assert.ok(
      process.getActiveResourcesInfo().length <= resourcesBefore,
      `resources grew: ${process.getActiveResourcesInfo().join(',')}`,
    );

    ports.start();
    try {
      await waitFor('the forwarder after 50 cycles', () => ports.stats().forwarders === 1);
      assert.equal(await roundTrip(EXTERNAL, svc.port, 'after'), 'echo:after');
    } finally {
      await ports.stop();
      await svc.stop();
    }
  });

  test('POST /snapshot/prepare stops the subsystems and POST /init starts them again', async () => {
    const svc = await service('127.0.0.1');
    const ports = subsystemFor(svc.port);
    t.envd.ctx.subsystems.push(ports);
    try {
      ports.start();
      await waitFor('the forwarder', () => ports.stats().forwarders === 1);
      assert.equal((await t.fetch('/snapshot/prepare', { method: 'POST' })).status, 204);
      assert.deepEqual(ports.stats(), { forwarders: 0, connections: 0, timers: 0 });
      assert.equal(await refused(EXTERNAL, svc.port), true);
      assert.equal((await t.fetch('/init', { method: 'POST', body: '{}' })).status, 204);
      await waitFor('the forwarder after /init', () => ports.stats().forwarders === 1);
      assert.equal(await roundTrip(EXTERNAL, svc.port, 'restored'), 'echo:restored');
    } finally {
      t.envd.ctx.subsystems.splice(t.envd.ctx.subsystems.indexOf(ports), 1);
      await ports.stop();
      await svc.stop();
    }
  });
});
