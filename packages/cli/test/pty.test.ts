/**
 * `wrenn pty` in a real terminal (node-pty), against a real control plane and capsule:
 * raw keystrokes reach the remote shell, a local window resize reaches it too (SIGWINCH),
 * Ctrl-] detaches and says how to re-attach, and re-attaching by tag finds the same shell,
 * whose exit code becomes the command's.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nodePty from 'node-pty';
import { startControlPlane, seedTeam, type TestControlPlane } from '@wrenn/control-plane/testing';
import { Wrenn } from '@wrenn/sdk';
import { tmpdir } from 'node:os';
import { cleanEnv, WRENN_BIN } from './cli-helpers.js';


let t: TestControlPlane;
let sdk: Wrenn;
let env: Record<string, string>;
let capsuleId: string | undefined;

interface Terminal {
  write(data: string): void;
  resize(cols: number, rows: number): void;
  screen(): string;
  exited: Promise<number>;
  kill(): void;
}

function openTerminal(args: string[], cols = 100, rows = 30): Terminal {
  const p = nodePty.spawn(process.execPath, [WRENN_BIN, ...args], { name: 'xterm', cols, rows, cwd: tmpdir(), env });
  let screen = '';
  p.onData((d) => (screen += d));
  const exited = new Promise<number>((res) => p.onExit(({ exitCode }) => res(exitCode)));
  return { write: (d) => p.write(d), resize: (c, r) => p.resize(c, r), screen: () => screen, exited, kill: () => p.kill() };
}

async function until(term: Terminal, pattern: RegExp, what: string): Promise<RegExpExecArray> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const m = pattern.exec(term.screen());
    if (m) return m;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; screen: ${JSON.stringify(term.screen().slice(-800))}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

before(async () => {
  t = await startControlPlane({ withAgent: true });
  const team = await seedTeam(t.cp);
  sdk = new Wrenn({ baseUrl: t.url, apiKey: team.apiKey });
  capsuleId = (await sdk.capsules.create({ memoryMb: 256 })).id;
  env = cleanEnv({ WRENN_API_URL: t.url, WRENN_API_KEY: team.apiKey, XDG_CONFIG_HOME: '/nonexistent-wrenn-test', TERM: 'xterm' }) as Record<string, string>;
});

after(async () => {
  if (capsuleId) await sdk.capsules.destroy(capsuleId).catch((err) => console.error(`capsule ${capsuleId} not destroyed:`, err));
  await t?.close();
});

test('wrenn pty: keystrokes, window resize, Ctrl-] detach, re-attach by tag, exit code', async () => {
  assert.ok(capsuleId);
  const first = openTerminal(['pty', capsuleId, '--', '/bin/bash', '--norc', '--noprofile']);
  try {
    first.write('echo typed-$((6*7))\r');
    await until(first, /typed-42/, 'the typed command to run');
    first.write('stty size\r');
    await until(first, /30 100/, 'the initial window size');
    first.resize(120, 40);
    await new Promise((r) => setTimeout(r, 300)); // SIGWINCH is asynchronous
    first.write('stty size\r');
    await until(first, /40 120/, 'the resized window');
    first.write('MARK=still-here\r');
    first.write('\x1d'); // Ctrl-]
    const [, tag] = await until(first, /detached; .*wrenn pty \S+ --tag (\S+)/, 'the detach message');
    assert.equal(await first.exited, 0);

    const second = openTerminal(['pty', capsuleId, '--tag', tag!]);
    try {
      second.write('echo "$MARK"\r');
      await until(second, /still-here/, 'the same shell after re-attaching');
      second.write('exit 3\r');
      assert.equal(await second.exited, 3);
    } finally {
      second.kill();
    }
  } finally {
    first.kill();
  }
});
