import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { Code, ConnectError, type Client } from '@connectrpc/connect';
import { Process, Signal, type ProcessEvent, type ProcessEvent_EndEvent } from '@wrenn/proto/process';
import { HIGH_WATER_BYTES } from '../src/process/output-hub.js';
import { startEnvd, asUser, type TestEnvd, TEST_USER, TEST_UID, TEST_GID } from './harness.js';

type ProcessClient = Client<typeof Process>;

/** Reads a process stream, collecting PTY (or stdout) output and the end event. */
class Terminal {
  pid = 0;
  output = '';
  end: ProcessEvent_EndEvent | undefined;
  private readonly it: AsyncIterator<{ event?: ProcessEvent }>;

  constructor(stream: AsyncIterable<{ event?: ProcessEvent }>) {
    this.it = stream[Symbol.asyncIterator]();
  }

  async next(): Promise<boolean> {
    const r = await this.it.next();
    if (r.done) return false;
    const event = r.value.event?.event;
    if (event?.case === 'start') this.pid = event.value.pid;
    if (event?.case === 'data') this.output += Buffer.from(event.value.output.value ?? []).toString('utf8');
    if (event?.case === 'end') this.end = event.value;
    return true;
  }

  async started(): Promise<number> {
    assert.ok(await this.next(), 'stream ended before the start event');
    assert.ok(this.pid > 0, 'the first event is start{pid}');
    return this.pid;
  }

  async waitFor(pattern: RegExp): Promise<RegExpMatchArray> {
    while (true) {
      const m = this.output.match(pattern);
      if (m) return m;
      if (!(await this.next())) throw new Error(`stream ended before output matched ${pattern} (got ${JSON.stringify(this.output)})`);
    }
  }

  async finish(): Promise<ProcessEvent_EndEvent> {
    while (await this.next());
    assert.ok(this.end, 'stream ended with an end event');
    return this.end;
  }
}

const timeout = () => AbortSignal.timeout(15_000);

function openPty(client: ProcessClient, cmd: string, args: string[], size = { cols: 80, rows: 24 }, headers: Record<string, string> = {}) {
  return new Terminal(
    client.start(
      { process: { cmd, args, envs: { PS1: 'wrenn$ ' } }, pty: { size } },
      { headers, signal: timeout() },
    ),
  );
}

async function type(client: ProcessClient, pid: number, text: string): Promise<void> {
  await client.sendInput({ process: { selector: { case: 'pid', value: pid } }, input: { input: { case: 'pty', value: Buffer.from(text) } } });
}

async function kill(client: ProcessClient, pid: number): Promise<void> {
  await client.sendSignal({ process: { selector: { case: 'pid', value: pid } }, signal: Signal.SIGKILL });
}

/** A pipe process, run to completion. */
async function runPipe(client: ProcessClient, script: string): Promise<{ stdout: string; end: ProcessEvent_EndEvent }> {
  let stdout = '';
  let end: ProcessEvent_EndEvent | undefined;
  for await (const res of client.start({ process: { cmd: 'bash', args: ['-c', script] }, stdin: false }, { signal: timeout() })) {
    const event = res.event?.event;
    if (event?.case === 'data' && event.value.output.case === 'stdout') stdout += Buffer.from(event.value.output.value).toString();
    if (event?.case === 'data' && event.value.output.case === 'pty') assert.fail('a pipe process produced PTY output');
    if (event?.case === 'end') end = event.value;
  }
  assert.ok(end);
  return { stdout, end };
}

const INTERACTIVE_BASH = ['--norc', '--noprofile', '-i'];

describe('PTY processes', () => {
  let t: TestEnvd;
  before(async () => {
    t = await startEnvd();
  });
  after(async () => {
    await t.close();
  });

  test('a PTY process gets xterm-256color and the requested size; output arrives as pty data', async () => {
    const term = openPty(t.process, 'bash', ['-c', 'echo "term=$TERM"; stty size; test -t 0 && echo tty-stdin'], { cols: 100, rows: 30 });
    await term.started();
    const end = await term.finish();
    assert.equal(end.exitCode, 0);
    assert.match(term.output, /term=xterm-256color/);
    assert.match(term.output, /^30 100\r?$/m);
    assert.match(term.output, /tty-stdin/);
  });

  test('input typed into the PTY is echoed and read back (cat), and Ctrl-D ends it', async () => {
    const term = openPty(t.processJson, 'cat', []);
    const pid = await term.started();
    await type(t.processJson, pid, 'hello pty\n');
    // Once echoed by the terminal, once written back by cat.
    await term.waitFor(/hello pty\r\nhello pty\r\n/);
    await type(t.process, pid, '\x04');
    assert.equal((await term.finish()).status, 'exit status 0');
  });

  test('a PTY child that closes its terminal before exiting reports its exit status, not a hangup', async () => {
    // cat closes stdin/stdout/stderr itself before exiting; if the master were closed at
    // that moment the kernel would kill it with SIGHUP. Repeat to catch the race.
    for (let i = 0; i < 60; i++) {
      const term = openPty(t.process, 'cat', []);
      const pid = await term.started();
      await type(t.process, pid, 'x\n');
      await term.waitFor(/x\r\nx\r\n/);
      await type(t.process, pid, '\x04');
      assert.equal((await term.finish()).status, 'exit status 0', `run ${i}`);
    }
  });

  test('PTY output is complete even when the client had not read it when the process exited', async () => {
    // Straight through the manager, so the client's queue is the only buffer: TCP
    // buffers of unknown size would otherwise decide whether envd pauses the PTY.
    const count = HIGH_WATER_BYTES + 1;
    const { proc, subscription } = await t.envd.processes.start(
      { cmd: 'bash', args: ['-c', `head -c ${count} /dev/zero | tr '\\0' a; sleep 0.2; echo END`], envs: {}, pty: { cols: 80, rows: 24 } },
      t.envd.ctx.users.lookup('root'),
    );
    try {
      // Not reading: the 'a's take the queue past the high-water mark, envd pauses the
      // PTY, and END is written and the process exits while it is paused.
      await new Promise((r) => setTimeout(r, 1_000));
      let output = '';
      for (let event = await subscription.next(); event; event = await subscription.next()) {
        if (event.type === 'data') output += event.data.toString('latin1');
      }
      assert.equal(proc.end?.exitCode, 0);
      assert.equal(output.split('a').length - 1, count);
      assert.ok(output.endsWith('END\r\n'), `output ends with ${JSON.stringify(output.slice(-20))}`);
    } finally {
      subscription.close();
      if (proc.running) proc.signal('SIGKILL');
    }
  });

  test('an interactive bash on a PTY runs commands typed into it', async () => {
    const term = openPty(t.process, 'bash', INTERACTIVE_BASH);
    const pid = await term.started();
    await type(t.process, pid, 'echo "answer=$((6*7))"\n');
    await term.waitFor(/answer=42/);
    await type(t.process, pid, 'exit 5\n');
    assert.equal((await term.finish()).exitCode, 5);
  });

  test('Update resizes the PTY: stty size shows the new size', async () => {
    const term = openPty(t.process, 'bash', INTERACTIVE_BASH, { cols: 80, rows: 24 });
    const pid = await term.started();
    await t.process.update({ process: { selector: { case: 'pid', value: pid } }, pty: { size: { cols: 132, rows: 43 } } });
    await type(t.process, pid, 'stty size\n');
    await term.waitFor(/^43 132\r?$/m);
    await kill(t.process, pid);
    await term.finish();
  });

  test('Update refuses a process without a PTY and a zero size', async () => {
    const term = openPty(t.process, 'cat', []);
    const pid = await term.started();
    await assert.rejects(
      t.process.update({ process: { selector: { case: 'pid', value: pid } }, pty: { size: { cols: 0, rows: 10 } } }),
      (err: unknown) => err instanceof ConnectError && err.code === Code.InvalidArgument,
    );
    const pipe = t.process.start({ process: { cmd: 'sleep', args: ['1000'] }, stdin: false }, { signal: timeout() });
    const pipeTerm = new Terminal(pipe);
    const pipePid = await pipeTerm.started();
    await assert.rejects(
      t.process.update({ process: { selector: { case: 'pid', value: pipePid } }, pty: { size: { cols: 80, rows: 24 } } }),
      (err: unknown) => err instanceof ConnectError && err.code === Code.FailedPrecondition && /no PTY/.test(err.message),
    );
    await kill(t.process, pipePid);
    await kill(t.process, pid);
    await Promise.all([pipeTerm.finish(), term.finish()]);
  });

  test('SendSignal SIGKILL ends a PTY process with "signal: killed"', async () => {
    const term = openPty(t.process, 'bash', INTERACTIVE_BASH);
    const pid = await term.started();
    await kill(t.process, pid);
    const end = await term.finish();
    assert.equal(end.status, 'signal: killed');
    assert.equal(end.exitCode, -1);
    assert.equal(end.exited, false);
  });

  test('a PTY process runs as the acting user with its supplementary groups', async () => {
    // Give tester an extra group in the fixture's /etc/group (re-read on change).
    appendFileSync(join(t.root, 'etc', 'group'), `extra:x:34567:${TEST_USER}\n`);
    const term = openPty(t.process, 'bash', ['-c', 'echo "uid=$(id -u) groups=$(id -G) home=$HOME"'], undefined, asUser(TEST_USER).headers);
    await term.started();
    await term.finish();
    const groups = term.output.match(/groups=([\d ]+)/)?.[1]?.trim().split(' ').map(Number).sort();
    assert.match(term.output, new RegExp(`uid=${TEST_UID} `));
    assert.deepEqual(groups, [TEST_GID, 34567].sort());
    assert.match(term.output, new RegExp(`home=${t.testHome}`));
  });

  test('Connect by pid to a PTY process gets its live output', async () => {
    const term = openPty(t.process, 'cat', []);
    const pid = await term.started();
    const viewer = new Terminal(t.process.connect({ process: { selector: { case: 'pid', value: pid } } }, { signal: timeout() }));
    assert.equal(await viewer.started(), pid);
    await type(t.process, pid, 'shared\n');
    await Promise.all([term.waitFor(/shared\r\nshared\r\n/), viewer.waitFor(/shared\r\nshared\r\n/)]);
    await kill(t.process, pid);
    await Promise.all([term.finish(), viewer.finish()]);
  });

  test('CloseStdin on a PTY process is refused with advice, stdin input is refused too', async () => {
    const term = openPty(t.process, 'cat', []);
    const pid = await term.started();
    await assert.rejects(
      t.process.closeStdin({ process: { selector: { case: 'pid', value: pid } } }),
      (err: unknown) => err instanceof ConnectError && err.code === Code.FailedPrecondition && /Ctrl-D/.test(err.message),
    );
    await assert.rejects(
      t.process.sendInput({ process: { selector: { case: 'pid', value: pid } }, input: { input: { case: 'stdin', value: Buffer.from('x') } } }),
      (err: unknown) => err instanceof ConnectError && err.code === Code.FailedPrecondition,
    );
    await kill(t.process, pid);
    await term.finish();
  });

  test('E2: pipe processes that start and exit while a PTY is open, and after it ended, all work', async () => {
    const term = openPty(t.process, 'cat', []);
    const pid = await term.started();
    for (let i = 0; i < 5; i++) {
      const { stdout, end } = await runPipe(t.process, `echo pipe-${i}; exit ${i}`);
      assert.equal(stdout, `pipe-${i}\n`);
      assert.equal(end.exitCode, i);
    }
    // The PTY is untouched by those exits.
    await type(t.process, pid, 'still here\n');
    await term.waitFor(/still here\r\nstill here\r\n/);
    await kill(t.process, pid);
    assert.equal((await term.finish()).status, 'signal: killed');
    const afterPty = await runPipe(t.process, 'echo after-pty');
    assert.equal(afterPty.stdout, 'after-pty\n');
    assert.equal(afterPty.end.exitCode, 0);
    // And a new PTY still works after pipe processes came and went.
    const again = openPty(t.process, 'bash', ['-c', 'echo again']);
    await again.started();
    assert.equal((await again.finish()).exitCode, 0);
    assert.match(again.output, /again/);
  });
});
