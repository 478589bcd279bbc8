/** Programs and helpers of the snapshot template tests. */
import { connect, type Socket } from 'node:net';
import type { TestAgent } from './agent-harness.js';
import { text } from './agent-harness.js';
import { readLine } from './pause-fixtures.js';

export const STATE_PORT = 7072;

/**
 * A counter held in memory behind a line protocol: `inc` adds one (and appends the new
 * value to /tmp/state.log, a file it keeps open), anything else reads it. Every reply is
 * the current value.
 */
export const STATE_SERVER_PY = [
  'import socket, sys, threading',
  'n = 0',
  'log = open("/tmp/state.log", "a")',
  'lock = threading.Lock()',
  's = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
  's.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(8)',
  'def serve(c):',
  '    global n',
  '    for line in c.makefile("r"):',
  '        with lock:',
  '            if line.strip() == "inc":',
  '                n += 1',
  '                log.write(f"{n}\\n"); log.flush()',
  '            c.sendall(f"{n}\\n".encode())',
  'while True:',
  '    c, _ = s.accept()',
  '    threading.Thread(target=serve, args=(c,), daemon=True).start()',
].join('\n');

/** Connects to a server that may still be starting (or a capsule whose network just came up). */
export async function connectWithRetry(address: string, port: number, timeoutMs = 10_000): Promise<Socket> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const socket = await new Promise<Socket | undefined>((resolve) => {
      const s = connect(port, address, () => resolve(s));
      s.once('error', () => {
        s.destroy();
        resolve(undefined);
      });
    });
    if (socket) return socket;
    if (Date.now() > deadline) throw new Error(`${address}:${port} not reachable within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function ask(socket: Socket, command: string): Promise<string> {
  const reply = readLine(socket);
  socket.write(`${command}\n`);
  return reply;
}

/** TCP connections in state ESTABLISHED whose local port is `port`, inside the capsule. */
export async function establishedOnPort(t: TestAgent, capsuleId: string, port: number): Promise<number> {
  const r = await t.client.exec({ capsuleId, cmd: 'cat', args: ['/proc/net/tcp'] });
  return text(r.stdout)
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols.length > 3 && Number.parseInt(cols[1]!.split(':')[1] ?? '', 16) === port && cols[3] === '01').length;
}
