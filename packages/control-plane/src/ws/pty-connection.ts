/**
 * One WebSocket on `GET /capsules/{id}/pty`: starts a terminal (`start`) or re-attaches to
 * one by tag (`connect`), relays its output, and feeds it the client's input, resizes and
 * kill (docs/decisions.md#c2):
 * - the socket is read into a queue (WsChannel) and one consumer loop dispatches the
 *   RPCs, so reading never waits on an RPC;
 * - input messages queued back to back are coalesced into one PtySendInput;
 * - resize and kill go through the same queue, so they are never dropped, and are sent
 *   after every input queued before them and before every input queued after them;
 * - messages received before the client closed are still dispatched after the close (a
 *   `kill` sent just before closing still kills).
 */
import { WrennError, wireError, type Logger } from '@wrenn/shared';
import type { PtyEvent } from '@wrenn/proto/hostagent';
import type { AgentClient } from '../infra/agent-pool.js';
import { asWrennError } from '@wrenn/shared/connect';
import { nextCommand, type OpenedCapsule } from './ws-auth.js';
import type { PtySession, PtyClient } from './pty-session.js';
import type { PtySessionRegistry } from './pty-registry.js';
import { expectMessage, isType, PtyConnectMessage, PtyInputMessage, PtyResizeMessage, PtyStartMessage } from './messages.js';
import type { Inbound, WsChannel } from './ws-channel.js';

type AttachRequest = Parameters<AgentClient['ptyAttach']>[0];

/** Coalesced input per PtySendInput call at most (a paste larger than this takes several). */
export const MAX_INPUT_BATCH_BYTES = 64 * 1024;

function attachRequestOf(m: Inbound, capsuleId: string): AttachRequest {
  if (isType(m, 'connect')) return { capsuleId, tag: expectMessage(m, PtyConnectMessage).tag };
  if (isType(m, 'start')) {
    const s = expectMessage(m, PtyStartMessage);
    return {
      capsuleId,
      cmd: s.cmd ?? '',
      args: s.args ?? [],
      cols: s.cols,
      rows: s.rows,
      envs: s.envs ?? {},
      ...(s.cwd ? { cwd: s.cwd } : {}),
      ...(s.user ? { user: s.user } : {}),
    };
  }
  throw new WrennError('invalid_argument', 'the first message must be {"type":"start","cols":80,"rows":24,...} or {"type":"connect","tag":"pty-..."}');
}

export interface PtyDeps {
  sessions: PtySessionRegistry;
  /** How long the agent may take to start (or find) the terminal. */
  startTimeoutMs: number;
}

export async function servePty(channel: WsChannel, opened: OpenedCapsule, deps: PtyDeps, log: Logger): Promise<void> {
  const { capsule, agent } = opened;
  const first = await nextCommand(channel);
  if (!first) return;
  const request = attachRequestOf(first, capsule.id);
  const abort = new AbortController();
  // timeoutMs 0: a terminal lives as long as it likes, not the agent call deadline; only
  // the wait for it to start is bounded. The stream is not cancelled before the terminal
  // started even if the client leaves: its tag is needed to give it an idle timeout.
  let late = false;
  const startDeadline = setTimeout(() => {
    late = true;
    abort.abort();
  }, deps.startTimeoutMs);
  const events = agent.ptyAttach(request, { signal: abort.signal, timeoutMs: 0 })[Symbol.asyncIterator]();
  const head = await events
    .next()
    .catch((err: unknown) => {
      throw late ? new WrennError('deadline_exceeded', `the host agent did not start the terminal within ${deps.startTimeoutMs} ms; try again`) : err;
    })
    .finally(() => clearTimeout(startDeadline));
  if (head.done || head.value.event.case !== 'started') throw new WrennError('unavailable', 'the agent ended the terminal stream before the terminal started; try again');
  const { pid, tag } = head.value.event.value;
  const session = deps.sessions.getOrCreate(capsule.id, tag, pid, agent);
  const client: PtyClient = {
    displace: () => {
      abort.abort();
      void channel.fail(new WrennError('conflict', `another connection attached to terminal ${tag}: this one is closed`), { tag });
    },
  };
  session.attach(client, agent, pid);
  channel.onClose(() => {
    abort.abort();
    session.detach(client);
  });
  log.info({ tag, pid, reattach: isType(first, 'connect') }, 'PTY attached');
  await channel.send({ type: 'started', tag, pid });
  const pump = pumpOutput(events, channel, session, abort.signal, log);
  await consume(channel, session);
  await pump;
}

async function pumpOutput(events: AsyncIterator<PtyEvent>, channel: WsChannel, session: PtySession, signal: AbortSignal, log: Logger): Promise<void> {
  try {
    for (;;) {
      const n = await events.next();
      if (n.done) break;
      const ev = n.value.event;
      if (ev.case === 'output') {
        session.noteOutput();
        await channel.send({ type: 'output', data: Buffer.from(ev.value).toString('base64') });
      } else if (ev.case === 'exitCode') {
        session.end();
        log.info({ tag: session.tag, exitCode: ev.value }, 'PTY exited');
        await channel.send({ type: 'exit', exit_code: ev.value });
        channel.close(1000, 'terminal exited');
        return;
      }
    }
    if (!signal.aborted) {
      await channel.fail(new WrennError('unavailable', `the terminal stream ended without an exit; reconnect with {"type":"connect","tag":"${session.tag}"}`), { tag: session.tag });
    }
  } catch (err) {
    if (signal.aborted) return; // we closed the stream: client gone or displaced
    const e = asWrennError(err);
    // The terminal itself is gone (capsule stopped, process reaped): nothing to re-attach to.
    if (e.httpStatus === 404) session.end();
    log.warn({ tag: session.tag, code: e.code, msg: e.message }, 'PTY stream failed');
    await channel.fail(e, { tag: session.tag });
  }
}

function isValidInput(m: Inbound): boolean {
  if (!isType(m, 'input')) return false;
  try {
    expectMessage(m, PtyInputMessage);
    return true;
  } catch {
    return false;
  }
}

/** The single consumer of the socket's messages: dispatches them in order until the socket is closed and drained. */
async function consume(channel: WsChannel, session: PtySession): Promise<void> {
  for (;;) {
    const m = await nextCommand(channel);
    if (!m) return;
    try {
      await dispatch(m, channel, session);
    } catch (err) {
      const e = asWrennError(err);
      await channel.send({ type: 'error', ...wireError(e), fatal: false });
    }
  }
}

async function dispatch(m: Inbound, channel: WsChannel, session: PtySession): Promise<void> {
  if (isType(m, 'input')) {
    const parts = [Buffer.from(expectMessage(m, PtyInputMessage).data, 'base64')];
    let size = parts[0]!.length;
    // Coalesce every input already queued behind this one; stop at anything else, so a
    // resize or kill keeps its place in the order.
    while (size < MAX_INPUT_BATCH_BYTES) {
      const more = channel.takeIf(isValidInput);
      if (!more) break;
      const data = Buffer.from(expectMessage(more, PtyInputMessage).data, 'base64');
      parts.push(data);
      size += data.length;
    }
    await session.sendInput(parts.length === 1 ? parts[0]! : Buffer.concat(parts, size), parts.length);
    return;
  }
  if (isType(m, 'resize')) {
    const r = expectMessage(m, PtyResizeMessage);
    await session.resize(r.cols, r.rows);
    return;
  }
  if (isType(m, 'kill')) {
    await session.kill();
    return;
  }
  if (isType(m, 'start') || isType(m, 'connect')) {
    throw new WrennError('invalid_argument', `this WebSocket is already attached to terminal ${session.tag}; open another WebSocket for another terminal`);
  }
  if ('invalid' in m) throw new WrennError('invalid_argument', m.invalid);
  throw new WrennError('invalid_argument', `unknown message type ${JSON.stringify(m.value.type)}: send input, resize or kill`);
}
