/** Programs and helpers shared by the pause tests and the pause benchmark. */
import type { Socket } from 'node:net';
import type { TestAgent } from './agent-harness.js';
import { text } from './agent-harness.js';

/** Counts in memory and appends each value to a file it keeps open (fd 3), every 20 ms. */
export const COUNTER_PY = [
  'import time',
  'f = open("/tmp/counter.log", "w")',
  'i = 0',
  'while True:',
  '    i += 1',
  '    f.write(f"{i}\\n"); f.flush()',
  '    time.sleep(0.02)',
].join('\n');

/** Line echo server; each reply is prefixed with the connection's own message count (memory). */
export const ECHO_SERVER_PY = [
  'import socket, sys, threading',
  's = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
  's.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(8)',
  'def serve(c):',
  '    n = 0',
  '    for line in c.makefile("r"):',
  '        n += 1',
  '        c.sendall(f"{n} {line}".encode())',
  'while True:',
  '    c, _ = s.accept()',
  '    threading.Thread(target=serve, args=(c,), daemon=True).start()',
].join('\n');

/** The integers in a file inside the capsule. */
export async function readInts(t: TestAgent, id: string, path: string): Promise<number[]> {
  const r = await t.client.exec({ capsuleId: id, cmd: 'cat', args: [path] });
  return text(r.stdout)
    .split('\n')
    .filter(Boolean)
    .map(Number);
}

/** Waits until the file has at least `min` values and `growBy` more than at the first look. */
export async function waitForLine(t: TestAgent, id: string, path: string, min: number, growBy = 0): Promise<number[]> {
  const deadline = Date.now() + 10_000;
  let values = await readInts(t, id, path).catch(() => [] as number[]);
  const target = Math.max(min, values.length + growBy);
  while (values.length < target && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    values = await readInts(t, id, path).catch(() => [] as number[]);
  }
  return values;
}

export function readLine(socket: Socket, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => done(new Error(`no line within ${timeoutMs} ms (got ${JSON.stringify(buf)})`)), timeoutMs);
    const onData = (b: Buffer) => {
      buf += b.toString();
      const i = buf.indexOf('\n');
      if (i >= 0) done(undefined, buf.slice(0, i));
    };
    const onEnd = () => done(new Error(`connection closed (got ${JSON.stringify(buf)})`));
    const done = (err?: Error, line?: string) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onEnd);
      socket.off('close', onEnd);
      if (err) reject(err);
      else resolve(line!);
    };
    socket.on('data', onData);
    socket.on('error', onEnd);
    socket.on('close', onEnd);
  });
}
