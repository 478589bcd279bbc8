// The host agent's spawn helper: a small node process (plain JavaScript, no loader, no
// state) that starts the agent's tools on its behalf (see spawner.ts for why). It speaks
// over its IPC channel, messages in node's "advanced" serialization (Buffers travel as is):
//   in:  { t: 'run', id, cmd, args, env?, cwd?, input?, group, quiet, stream, max }
//        { t: 'kill', id }                      SIGKILL the tool (its process group with `group`)
//   out: { t: 'out', id, fd: 1 | 2, data }       only with `stream`
//        { t: 'error', id, code, message }       the tool could not be started
//        { t: 'close', id, code, signal, stdout, stderr }
// It exits when the agent goes (IPC disconnect); tools it started are not its to end then.
import { spawn } from 'node:child_process';

/** id → { child, group } of tools still running. */
const running = new Map();

function send(message) {
  if (process.connected) process.send(message);
}

function start(m) {
  let child;
  try {
    child = spawn(m.cmd, m.args, {
      stdio: m.quiet ? 'ignore' : ['pipe', 'pipe', 'pipe'],
      env: m.env ?? process.env,
      cwd: m.cwd,
      detached: m.group,
    });
  } catch (err) {
    send({ t: 'error', id: m.id, code: err.code ?? 'ERR', message: err.message });
    return;
  }
  running.set(m.id, { child, group: m.group });
  const captured = { 1: [], 2: [] };
  const sizes = { 1: 0, 2: 0 };
  const collect = (fd) => (b) => {
    if (m.stream) send({ t: 'out', id: m.id, fd, data: b });
    if (sizes[fd] < m.max) captured[fd].push(b);
    sizes[fd] += b.length;
  };
  if (!m.quiet) {
    child.stdout.on('data', collect(1));
    child.stderr.on('data', collect(2));
    child.stdin.on('error', () => {}); // the tool exited before reading its input
    child.stdin.end(m.input);
  }
  child.on('error', (err) => {
    running.delete(m.id);
    send({ t: 'error', id: m.id, code: err.code ?? 'ERR', message: err.message });
  });
  child.on('close', (code, signal) => {
    running.delete(m.id);
    send({ t: 'close', id: m.id, code, signal, stdout: Buffer.concat(captured[1]), stderr: Buffer.concat(captured[2]) });
  });
}

function kill(id) {
  const r = running.get(id);
  if (!r) return;
  if (r.group && r.child.pid !== undefined) {
    try {
      process.kill(-r.child.pid, 'SIGKILL');
      return;
    } catch {
      // ESRCH: the group is empty; the leader itself below.
    }
  }
  r.child.kill('SIGKILL');
}

process.on('message', (m) => {
  if (m.t === 'run') start(m);
  else if (m.t === 'kill') kill(m.id);
});
process.on('disconnect', () => process.exit(0));
send({ t: 'ready' });
