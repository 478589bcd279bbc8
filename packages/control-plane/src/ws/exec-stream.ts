/**
 * One WebSocket on `GET /capsules/{id}/exec/stream`: `{type:"start",cmd,args,envs?,cwd?}`
 * runs a command (agent ExecStream) and streams its output; `{type:"stop"}` kills it
 * (KillProcess by pid, SIGKILL). The command belongs to the socket: when the client goes
 * away before it exits, it is killed (a background process is what outlives a client).
 */
import { WrennError, wireError, type Logger } from '@wrenn/shared';
import { asWrennError } from '@wrenn/shared/connect';
import { nextCommand, type OpenedCapsule } from './ws-auth.js';
import { ExecStartMessage, expectMessage, isType } from './messages.js';
import { relayProcessEvents } from './process-events.js';
import type { WsChannel } from './ws-channel.js';

/** If the client leaves before the pid is known, how long to wait for it (to kill the process). */
const PID_WAIT_AFTER_CLOSE_MS = 10_000;

export async function serveExecStream(channel: WsChannel, opened: OpenedCapsule, log: Logger): Promise<void> {
  const { capsule, agent } = opened;
  const first = await nextCommand(channel);
  if (!first) return;
  if (!isType(first, 'start')) throw new WrennError('invalid_argument', 'the first message must be {"type":"start","cmd":"...","args":[...]}');
  const start = expectMessage(first, ExecStartMessage);

  const abort = new AbortController();
  let pid: number | undefined;
  let exited = false;
  let stopRequested = false;
  const kill = async (): Promise<void> => {
    stopRequested = true;
    if (pid === undefined || exited) return; // killed as soon as the pid arrives
    await agent.killProcess({ capsuleId: capsule.id, process: { selector: { case: 'pid', value: pid } }, signal: 'SIGKILL' });
  };
  channel.onClose(() => {
    if (exited) return;
    stopRequested = true;
    const stopAndAbort = () => void kill().catch((err: unknown) => log.debug({ err, pid }, 'kill after the client left failed')).finally(() => abort.abort());
    if (pid !== undefined) stopAndAbort();
    else setTimeout(() => abort.abort(), PID_WAIT_AFTER_CLOSE_MS).unref();
  });

  const events = agent.execStream(
    { capsuleId: capsule.id, cmd: start.cmd, args: start.args ?? [], envs: start.envs ?? {}, ...(start.cwd ? { cwd: start.cwd } : {}) },
    { signal: abort.signal, timeoutMs: 0 },
  );
  const pump = (async () => {
    try {
      const exitCode = await relayProcessEvents(events, channel, async (p) => {
        pid = p;
        log.info({ pid, cmd: start.cmd }, 'exec stream started');
        if (stopRequested) {
          await kill();
          if (channel.closed) abort.abort();
        }
      });
      exited = exitCode !== undefined;
      if (exited) channel.close(1000, 'process exited');
      else if (!abort.signal.aborted) await channel.fail(new WrennError('unavailable', 'the command stream ended without an exit code'));
    } catch (err) {
      if (abort.signal.aborted) return;
      await channel.fail(asWrennError(err));
    } finally {
      abort.abort();
    }
  })();

  for (;;) {
    const m = await nextCommand(channel);
    if (!m) break;
    try {
      if (isType(m, 'stop')) await kill();
      else if (isType(m, 'start')) throw new WrennError('invalid_argument', 'a command is already running on this WebSocket; open another one for another command');
      else throw new WrennError('invalid_argument', 'invalid' in m ? m.invalid : `unknown message type ${JSON.stringify(m.value.type)}: send {"type":"stop"}`);
    } catch (err) {
      const e = asWrennError(err);
      await channel.send({ type: 'error', ...wireError(e) });
    }
  }
  await pump;
}
