import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, readFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { Code, ConnectError, type Client } from '@connectrpc/connect';
import { Process, Signal, type ProcessEvent, type ProcessEvent_EndEvent } from '@wrenn/proto/process';
import { WrennError } from '@wrenn/shared';
import { ProcessManager } from '../src/process/index.js';
import { startEnvd, asUser, type TestEnvd, TEST_USER, TEST_UID } from './harness.js';

type ProcessClient = Client<typeof Process>;
type Output = 'stdout' | 'stderr' | 'pty';
type Selector = { case: 'pid'; value: number } | { case: 'tag'; value: string };
type StreamInputMessage = Parameters<ProcessClient['streamInput']>[0] extends AsyncIterable<infer M> ? M : never;

/** Reads a Start/Connect stream event by event, recording what arrived. */
class EventStream {
  readonly kinds: string[] = [];
  readonly chunks: Record<Output, Buffer[]> = { stdout: [], stderr: [], pty: [] };
  pid = 0;
  end: ProcessEvent_EndEvent | undefined;
  keepalives = 0;
  private readonly it: AsyncIterator<{ event?: ProcessEvent }>;

  constructor(
    stream: AsyncIterable<{ event?: ProcessEvent }>,
    private readonly controller: AbortController,
  ) {
    this.it = stream[Symbol.asyncIterator]();
  }

  /** Reads one event; false when the stream is over. */
  async next(): Promise<boolean> {
    const r = await this.it.next();
    if (r.done) return false;
    const event = r.value.event?.event;
    this.kinds.push(event?.case ?? 'none');
    if (event?.case === 'start') this.pid = event.value.pid;
    if (event?.case === 'data' && event.value.output.case) {
      this.chunks[event.value.output.case].push(Buffer.from(event.value.output.value));
    }
    if (event?.case === 'end') this.end = event.value;
    if (event?.case === 'keepalive') this.keepalives++;
    return true;
  }

  async started(): Promise<number> {
    assert.ok(await this.next(), 'stream ended before the start event');
    assert.equal(this.kinds[0], 'start');
    assert.ok(this.pid > 0);
    return this.pid;
  }

  async until(done: () => boolean, what: string): Promise<void> {
    while (!done()) if (!(await this.next())) throw new Error(`stream ended before ${what}`);
  }

  async untilText(out: Output, text: string): Promise<void> {
    await this.until(() => this.text(out).includes(text), `${out} contained ${JSON.stringify(text)} (got ${JSON.stringify(this.text(out))})`);
  }

  /** Reads to the end of the stream and returns the end event. */
  async finish(): Promise<ProcessEvent_EndEvent> {
    while (await this.next());
    assert.ok(this.end, `stream ended without an end event (got ${this.kinds.join(',')})`);
    assert.equal(this.kinds.at(-1), 'end', 'the end event is the last event');
    return this.end;
  }

  bytes(out: Output): Buffer {
    return Buffer.concat(this.chunks[out]);
  }

  text(out: Output): string {
    return this.bytes(out).toString('utf8');
  }

  /** Cancels the call, as a client that goes away does. */
  cancel(): void {
    this.controller.abort();
    void this.it.return?.().catch(() => {});
  }
}

interface CallOptions {
  headers?: Record<string, string>;
  timeoutMs?: number;
}

function callSignal(opts: CallOptions): { controller: AbortController; signal: AbortSignal } {
  const controller = new AbortController();
  return { controller, signal: AbortSignal.any([controller.signal, AbortSignal.timeout(opts.timeoutMs ?? 15_000)]) };
}

function startStream(client: ProcessClient, req: Parameters<ProcessClient['start']>[0], opts: CallOptions = {}): EventStream {
  const { controller, signal } = callSignal(opts);
  return new EventStream(client.start(req, { headers: opts.headers ?? {}, signal }), controller);
}

function connectStream(client: ProcessClient, selector: Selector, opts: CallOptions = {}): EventStream {
  const { controller, signal } = callSignal(opts);
  return new EventStream(client.connect({ process: { selector } }, { headers: opts.headers ?? {}, signal }), controller);
}

interface RunExtra {
  process?: { envs?: Record<string, string>; cwd?: string };
  tag?: string;
}

/** Starts a process with stdin closed and reads its stream to the end. */
async function run(client: ProcessClient, cmd: string, args: string[], extra: RunExtra = {}, opts: CallOptions = {}) {
  const s = startStream(client, { stdin: false, ...(extra.tag ? { tag: extra.tag } : {}), process: { cmd, args, ...extra.process } }, opts);
  await s.started();
  const end = await s.finish();
  return { s, end };
}

async function expectCode(promise: Promise<unknown>, code: Code, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof ConnectError, `expected a ConnectError, got ${String(err)}`);
    assert.equal(Code[err.code], Code[code], err.message);
    assert.match(err.message, pattern);
    return true;
  });
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** True when `pid` no longer runs (gone, or a zombie nobody reaped yet). */
function isDead(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? true;
  } catch {
    return true;
  }
}

const byPid = (pid: number): Selector => ({ case: 'pid', value: pid });
const byTag = (tag: string): Selector => ({ case: 'tag', value: tag });

describe('process service', () => {
  let t: TestEnvd;
  let work: string;
  before(async () => {
    t = await startEnvd();
    work = join(t.root, 'work');
    mkdirSync(work, { mode: 0o755 });
  });
  after(async () => {
    await t.close();
  });

  /** The envd-side process, to observe attachment and exit without racing the wire. */
  const internal = (pid: number) => t.envd.processes.find(byPid(pid));

  test('Start streams start{pid}, stdout, stderr, then end with the exit code (binary codec)', async () => {
    const { s, end } = await run(t.process, 'bash', ['-c', 'echo out; echo err >&2; exit 3']);
    assert.equal(s.text('stdout'), 'out\n');
    assert.equal(s.text('stderr'), 'err\n');
    assert.equal(end.exitCode, 3);
    assert.equal(end.exited, true);
    assert.equal(end.status, 'exit status 3');
    assert.equal(end.error, 'exit status 3');
  });

  test('Start works over the JSON codec; a zero exit has no error', async () => {
    const { s, end } = await run(t.processJson, 'echo', ['json', 'works']);
    assert.equal(s.text('stdout'), 'json works\n');
    assert.equal(end.exitCode, 0);
    assert.equal(end.exited, true);
    assert.equal(end.status, 'exit status 0');
    assert.equal(end.error, undefined);
  });

  test('request envs, capsule env vars and cwd reach the process', async () => {
    const init = await t.fetch('/init', { method: 'POST', body: JSON.stringify({ envVars: { CAPSULE_VAR: 'from-init' } }) });
    assert.equal(init.status, 204);
    const { s } = await run(t.process, 'bash', ['-c', 'echo "$FOO|$CAPSULE_VAR|$PWD|$(pwd)"'], {
      process: { envs: { FOO: 'bar' }, cwd: work },
    });
    assert.equal(s.text('stdout'), `bar|from-init|${work}|${work}\n`);
  });

  test('runs as the acting user: tester gets its uid, gid, HOME and its home as default cwd', async () => {
    const { s, end } = await run(t.process, 'bash', ['-c', 'id -u; id -g; echo "$HOME"; pwd; echo "$USER"'], {}, asUser(TEST_USER));
    assert.equal(end.exitCode, 0);
    assert.equal(s.text('stdout'), `${TEST_UID}\n${TEST_UID}\n${t.testHome}\n${t.testHome}\n${TEST_USER}\n`);
  });

  test('SendInput writes to stdin and CloseStdin ends it (cat echoes, then exits 0)', async () => {
    const s = startStream(t.process, { process: { cmd: 'cat', args: [] } });
    const pid = await s.started();
    await t.process.sendInput({ process: { selector: byPid(pid) }, input: { input: { case: 'stdin', value: Buffer.from('hello ') } } });
    await t.process.sendInput({ process: { selector: byPid(pid) }, input: { input: { case: 'stdin', value: Buffer.from('world') } } });
    await s.untilText('stdout', 'hello world');
    await t.process.closeStdin({ process: { selector: byPid(pid) } });
    const end = await s.finish();
    assert.equal(s.text('stdout'), 'hello world');
    assert.equal(end.exitCode, 0);
  });

  test('StreamInput: the first message selects the process, data follows, keep-alives are ignored', async () => {
    const s = startStream(t.processJson, { process: { cmd: 'cat', args: [] }, tag: 'stream-input', stdin: true });
    await s.started();
    async function* input(): AsyncGenerator<StreamInputMessage> {
      yield { event: { case: 'start' as const, value: { process: { selector: byTag('stream-input') } } } };
      yield { event: { case: 'data' as const, value: { input: { input: { case: 'stdin' as const, value: Buffer.from('one,') } } } } };
      yield { event: { case: 'keepalive' as const, value: {} } };
      yield { event: { case: 'data' as const, value: { input: { input: { case: 'stdin' as const, value: Buffer.from('two') } } } } };
    }
    await t.process.streamInput(input());
    await t.process.closeStdin({ process: { selector: byTag('stream-input') } });
    assert.equal((await s.finish()).exitCode, 0);
    assert.equal(s.text('stdout'), 'one,two');
  });

  test('StreamInput refuses data before a start event', async () => {
    async function* input(): AsyncGenerator<StreamInputMessage> {
      yield { event: { case: 'data' as const, value: { input: { input: { case: 'stdin' as const, value: Buffer.from('x') } } } } };
    }
    await expectCode(t.process.streamInput(input()), Code.InvalidArgument, /first message must be a start/);
  });

  test('stdin: false closes stdin at once: cat sees EOF and SendInput is refused', async () => {
    const s = startStream(t.process, { process: { cmd: 'bash', args: ['-c', 'cat; echo cat-done; sleep 30'] }, stdin: false });
    const pid = await s.started();
    await s.untilText('stdout', 'cat-done');
    await expectCode(
      t.process.sendInput({ process: { selector: byPid(pid) }, input: { input: { case: 'stdin', value: Buffer.from('x') } } }),
      Code.FailedPrecondition,
      /stdin/,
    );
    await t.process.sendSignal({ process: { selector: byPid(pid) }, signal: Signal.SIGKILL });
    await s.finish();
  });

  test('SendSignal SIGTERM ends the process with "signal: terminated" and exit code -1', async () => {
    const s = startStream(t.process, { process: { cmd: 'sleep', args: ['1000'] }, stdin: false });
    const pid = await s.started();
    await t.process.sendSignal({ process: { selector: byPid(pid) }, signal: Signal.SIGTERM });
    const end = await s.finish();
    assert.equal(end.status, 'signal: terminated');
    assert.equal(end.exitCode, -1);
    assert.equal(end.exited, false);
    assert.equal(end.error, 'signal: terminated');
  });

  test("SendSignal SIGKILL kills the whole process group, including a shell's children", async () => {
    const s = startStream(t.process, { process: { cmd: 'bash', args: ['-c', 'sleep 1000 & echo $!; wait'] }, stdin: false });
    const pid = await s.started();
    await s.untilText('stdout', '\n');
    const childPid = Number(s.text('stdout').trim());
    assert.ok(childPid > 0 && !isDead(childPid), 'the background sleep is running');
    await t.process.sendSignal({ process: { selector: byPid(pid) }, signal: Signal.SIGKILL });
    const end = await s.finish();
    assert.equal(end.status, 'signal: killed');
    assert.equal(end.exitCode, -1);
    assert.equal(end.exited, false);
    await waitFor(() => isDead(childPid), `background child ${childPid} to die`);
  });

  test('SendSignal refuses signals other than SIGTERM and SIGKILL', async () => {
    const s = startStream(t.process, { process: { cmd: 'sleep', args: ['1000'] }, stdin: false });
    const pid = await s.started();
    await expectCode(t.process.sendSignal({ process: { selector: byPid(pid) }, signal: Signal.UNSPECIFIED }), Code.InvalidArgument, /SIGTERM/);
    await t.process.sendSignal({ process: { selector: byPid(pid) }, signal: Signal.SIGKILL });
    await s.finish();
  });

  test('List returns live processes with config, pid and tag; exited ones drop out', async () => {
    const s = startStream(t.process, {
      process: { cmd: 'sleep', args: ['1000'], envs: { LISTED: 'yes' }, cwd: work },
      tag: 'listed',
      stdin: false,
    });
    const pid = await s.started();
    const untagged = startStream(t.process, { process: { cmd: 'sleep', args: ['1000'] }, stdin: false });
    const untaggedPid = await untagged.started();
    const { processes } = await t.process.list({});
    const info = processes.find((p) => p.pid === pid);
    assert.ok(info, 'the tagged process is listed');
    assert.equal(info.tag, 'listed');
    assert.equal(info.config?.cmd, 'sleep');
    assert.deepEqual(info.config?.args, ['1000']);
    assert.deepEqual(info.config?.envs, { LISTED: 'yes' });
    assert.equal(info.config?.cwd, work);
    assert.equal(processes.find((p) => p.pid === untaggedPid)?.tag, undefined);
    await t.process.sendSignal({ process: { selector: byTag('listed') }, signal: Signal.SIGKILL });
    await t.process.sendSignal({ process: { selector: byPid(untaggedPid) }, signal: Signal.SIGKILL });
    await s.finish();
    await untagged.finish();
    const after = await t.processJson.list({});
    assert.equal(after.processes.some((p) => p.pid === pid || p.pid === untaggedPid), false);
  });

  test('Connect by pid and by tag to a running process gets the live output, alongside the Start stream', async () => {
    const s = startStream(t.process, { process: { cmd: 'cat', args: [] }, tag: 'live-cat' });
    const pid = await s.started();
    const viaPid = connectStream(t.process, byPid(pid));
    const viaTag = connectStream(t.processJson, byTag('live-cat'));
    assert.equal(await viaPid.started(), pid);
    assert.equal(await viaTag.started(), pid);
    await t.process.sendInput({ process: { selector: byPid(pid) }, input: { input: { case: 'stdin', value: Buffer.from('ping\n') } } });
    await Promise.all([s.untilText('stdout', 'ping\n'), viaPid.untilText('stdout', 'ping\n'), viaTag.untilText('stdout', 'ping\n')]);
    await t.process.closeStdin({ process: { selector: byPid(pid) } });
    for (const stream of [s, viaPid, viaTag]) assert.equal((await stream.finish()).exitCode, 0);
  });

  test('cancelling the Start stream leaves the process running; a late Connect gets what it missed, then live output', async () => {
    const s = startStream(t.process, { process: { cmd: 'cat', args: [] }, tag: 'late-cat' });
    const pid = await s.started();
    s.cancel();
    await waitFor(() => internal(pid).output.subscriberCount === 0, 'the cancelled client to detach');
    assert.ok(internal(pid).running, 'the process survives its client');
    assert.ok((await t.process.list({})).processes.some((p) => p.pid === pid));
    await t.process.sendInput({ process: { selector: byPid(pid) }, input: { input: { case: 'stdin', value: Buffer.from('while-away\n') } } });
    // Wait until cat has written it (into the backlog: nobody is attached).
    await new Promise((r) => setTimeout(r, 100));
    const late = connectStream(t.process, byTag('late-cat'));
    await late.started();
    await late.untilText('stdout', 'while-away\n');
    await t.process.sendInput({ process: { selector: byPid(pid) }, input: { input: { case: 'stdin', value: Buffer.from('live\n') } } });
    await late.untilText('stdout', 'live\n');
    assert.equal(late.text('stdout'), 'while-away\nlive\n');
    await t.process.closeStdin({ process: { selector: byPid(pid) } });
    assert.equal((await late.finish()).exitCode, 0);
  });

  test('E1: Connect to an exited process returns its buffered output and end event at once', async () => {
    const s = startStream(t.process, { process: { cmd: 'bash', args: ['-c', 'read; echo bye; exit 7'] }, tag: 'gone' });
    const pid = await s.started();
    s.cancel();
    await waitFor(() => internal(pid).output.subscriberCount === 0, 'the cancelled client to detach');
    await t.process.sendInput({ process: { selector: byPid(pid) }, input: { input: { case: 'stdin', value: Buffer.from('\n') } } });
    await waitFor(() => !internal(pid).running, 'the process to exit');
    assert.equal((await t.process.list({})).processes.some((p) => p.pid === pid), false);

    // A short deadline: a Connect that hangs on an exited process fails the test.
    const first = connectStream(t.process, byPid(pid), { timeoutMs: 3_000 });
    assert.equal(await first.started(), pid);
    const end = await first.finish();
    assert.equal(first.text('stdout'), 'bye\n');
    assert.equal(end.exitCode, 7);
    assert.equal(end.status, 'exit status 7');

    const second = connectStream(t.processJson, byTag('gone'), { timeoutMs: 3_000 });
    await second.started();
    assert.equal((await second.finish()).exitCode, 7);
    assert.equal(second.text('stdout'), '', 'output is delivered once');

    await expectCode(
      t.process.sendSignal({ process: { selector: byPid(pid) }, signal: Signal.SIGKILL }),
      Code.NotFound,
      /already exited/,
    );
  });

  test('unknown pid or tag gives NotFound naming the selector', async () => {
    const unknownPid = connectStream(t.process, byPid(999_999_9));
    await expectCode(unknownPid.next(), Code.NotFound, /9999999/);
    await expectCode(t.process.sendSignal({ process: { selector: byTag('no-such-tag') }, signal: Signal.SIGKILL }), Code.NotFound, /no-such-tag/);
    await expectCode(
      t.processJson.sendInput({ process: { selector: byTag('no-such-tag') }, input: { input: { case: 'stdin', value: Buffer.from('x') } } }),
      Code.NotFound,
      /no-such-tag/,
    );
    await expectCode(t.process.closeStdin({ process: { selector: byPid(999_999_8) } }), Code.NotFound, /9999998/);
  });

  test('a tag already used by a running process gives AlreadyExists', async () => {
    const s = startStream(t.process, { process: { cmd: 'sleep', args: ['1000'] }, tag: 'dup', stdin: false });
    const pid = await s.started();
    const dup = startStream(t.process, { process: { cmd: 'sleep', args: ['1'] }, tag: 'dup', stdin: false });
    await expectCode(dup.next(), Code.AlreadyExists, /dup/);
    await t.process.sendSignal({ process: { selector: byPid(pid) }, signal: Signal.SIGKILL });
    await s.finish();
    // Once the holder has exited the tag is free again.
    const { end } = await run(t.process, 'true', [], { tag: 'dup' });
    assert.equal(end.exitCode, 0);
  });

  test('a working directory that does not exist, or that the user cannot enter, is refused by name', async () => {
    const missing = join(work, 'no-such-dir');
    await expectCode(startStream(t.process, { process: { cmd: 'true', args: [], cwd: missing } }).next(), Code.NotFound, new RegExp(missing));
    const locked = join(work, 'locked');
    mkdirSync(locked, { mode: 0o700 });
    await expectCode(
      startStream(t.process, { process: { cmd: 'true', args: [], cwd: locked } }, asUser(TEST_USER)).next(),
      Code.PermissionDenied,
      new RegExp(`${locked}.*cannot be entered`),
    );
    // root may enter it.
    assert.equal((await run(t.process, 'pwd', [], { process: { cwd: locked } })).s.text('stdout'), `${locked}\n`);
  });

  test('a command that cannot be executed gives NotFound or PermissionDenied naming it, not a hang', async () => {
    await expectCode(startStream(t.process, { process: { cmd: 'no-such-command-xyz', args: [] } }).next(), Code.NotFound, /no-such-command-xyz/);
    await expectCode(startStream(t.process, { process: { cmd: './missing.sh', args: [], cwd: work } }).next(), Code.NotFound, /missing\.sh/);
    const script = join(work, 'not-executable.sh');
    writeFileSync(script, '#!/bin/sh\necho hi\n', { mode: 0o644 });
    await expectCode(startStream(t.process, { process: { cmd: script, args: [] } }).next(), Code.PermissionDenied, /not-executable\.sh/);
    const rootOnly = join(work, 'root-only.sh');
    writeFileSync(rootOnly, '#!/bin/sh\necho hi\n');
    chmodSync(rootOnly, 0o700);
    await expectCode(
      startStream(t.process, { process: { cmd: rootOnly, args: [] } }, asUser(TEST_USER)).next(),
      Code.PermissionDenied,
      /root-only\.sh/,
    );
    assert.equal((await run(t.process, rootOnly, [])).s.text('stdout'), 'hi\n');
  });

  test('invalid UTF-8 output arrives as the exact bytes (binary and JSON codecs)', async () => {
    for (const client of [t.process, t.processJson]) {
      const { s } = await run(client, 'printf', ['\\xff\\xfe']);
      assert.deepEqual([...s.bytes('stdout')], [0xff, 0xfe]);
    }
  });

  test('keep-alive events arrive at the Keepalive-Ping-Interval (seconds) and not without the header', async () => {
    const [withHeader, without] = await Promise.all([
      run(t.process, 'sleep', ['2.5'], {}, { headers: { 'Keepalive-Ping-Interval': '1' } }),
      run(t.process, 'sleep', ['2.5'], {}),
    ]);
    assert.ok(withHeader.s.keepalives >= 2, `expected >= 2 keep-alives, got ${withHeader.s.keepalives}`);
    assert.equal(without.s.keepalives, 0);
  });

  test('200 MB of output streams through with bounded memory while the client is slow', async () => {
    const total = 200_000_000;
    const held = () => {
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const baseline = held();
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, held() - baseline)), 10);
    try {
      const s = startStream(t.process, { process: { cmd: 'head', args: ['-c', String(total), '/dev/zero'] }, stdin: false }, { timeoutMs: 40_000 });
      await s.started();
      let received = 0;
      let stalled = false;
      while (await s.next()) {
        const chunk = s.chunks.stdout.pop();
        if (chunk) received += chunk.length;
        if (!stalled && received > 20_000_000) {
          // A client that stops reading for a while: the process must wait, not envd's memory grow.
          stalled = true;
          await new Promise((r) => setTimeout(r, 1_000));
        }
      }
      assert.equal(s.end?.exitCode, 0);
      assert.equal(received, total);
    } finally {
      clearInterval(sampler);
    }
    assert.ok(peak < 100 * 1024 * 1024, `heap + buffers grew by ${Math.round(peak / 1024 / 1024)} MB`);
  });
});

describe('process service limits and shutdown', () => {
  test('the backlog for a detached process keeps only the newest outputBufferBytes', async () => {
    const t = await startEnvd({ env: { WRENN_ENVD_OUTPUT_BUFFER_BYTES: '1000' } });
    try {
      const s = startStream(t.process, { process: { cmd: 'bash', args: ['-c', 'read; seq 100000 101999'] } });
      const pid = await s.started();
      s.cancel();
      const proc = t.envd.processes.find(byPid(pid));
      await waitFor(() => proc.output.subscriberCount === 0, 'the cancelled client to detach');
      await t.process.sendInput({ process: { selector: byPid(pid) }, input: { input: { case: 'stdin', value: Buffer.from('\n') } } });
      await waitFor(() => !proc.running, 'the process to exit');
      const late = connectStream(t.process, byPid(pid), { timeoutMs: 3_000 });
      await late.started();
      await late.finish();
      const all = Array.from({ length: 2000 }, (_, i) => `${100000 + i}\n`).join('');
      assert.equal(late.text('stdout').length, 1000);
      assert.equal(late.text('stdout'), all.slice(-1000));
    } finally {
      await t.close();
    }
  });

  test('exited processes stay addressable, at most the newest 64 of them', async () => {
    const t = await startEnvd();
    try {
      const pids: number[] = [];
      for (let i = 0; i < 66; i++) pids.push((await run(t.process, 'true', [])).s.pid);
      for (const forgotten of pids.slice(0, 2)) {
        await expectCode(connectStream(t.process, byPid(forgotten)).next(), Code.NotFound, new RegExp(String(forgotten)));
      }
      for (const kept of [pids[2]!, pids[65]!]) {
        const late = connectStream(t.process, byPid(kept), { timeoutMs: 3_000 });
        assert.equal(await late.started(), kept);
        assert.equal((await late.finish()).exitCode, 0);
      }
    } finally {
      await t.close();
    }
  });

  test('an exited process is forgotten once its retention period has passed', async () => {
    const t = await startEnvd();
    const manager = new ProcessManager(t.envd.ctx, { exitedRetentionMs: 200 });
    try {
      const { proc, subscription } = await manager.start({ cmd: 'true', args: [], envs: {}, stdin: false }, t.envd.ctx.users.lookup('root'));
      while (await subscription.next());
      assert.equal(manager.find(byPid(proc.pid)), proc);
      await new Promise((r) => setTimeout(r, 300));
      assert.throws(
        () => manager.find(byPid(proc.pid)),
        (err: unknown) => err instanceof WrennError && err.code === 'process_not_found',
      );
    } finally {
      await manager.killAll();
      await t.close();
    }
  });

  test('closing envd SIGKILLs every process group and waits for the exits', async () => {
    const t = await startEnvd();
    let childPid = 0;
    let pid = 0;
    try {
      const s = startStream(t.process, { process: { cmd: 'bash', args: ['-c', 'sleep 1000 & echo $!; wait'] }, stdin: false });
      pid = await s.started();
      await s.untilText('stdout', '\n');
      childPid = Number(s.text('stdout').trim());
      s.cancel();
    } finally {
      await t.close();
    }
    assert.ok(isDead(pid), 'the shell is dead');
    await waitFor(() => isDead(childPid), `background child ${childPid} to die`);
  });
});
