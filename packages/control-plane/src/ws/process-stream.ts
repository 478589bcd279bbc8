/**
 * One WebSocket on `GET /capsules/{id}/processes/{selector}/stream` (docs/decisions.md#c5): the output of a
 * background process from now on (what envd kept while nobody listened comes first),
 * ending with `{type:"exit",exit_code}`. Closing the socket detaches; the process runs on.
 */
import { WrennError, wireError, type Logger } from '@wrenn/shared';
import { asWrennError } from '@wrenn/shared/connect';
import { nextCommand, type OpenedCapsule } from './ws-auth.js';
import { processSelectorOf, relayProcessEvents } from './process-events.js';
import type { WsChannel } from './ws-channel.js';

export async function serveProcessStream(channel: WsChannel, opened: OpenedCapsule, selector: string, log: Logger): Promise<void> {
  const abort = new AbortController();
  channel.onClose(() => abort.abort());
  const events = opened.agent.connectProcess(
    { capsuleId: opened.capsule.id, process: { selector: processSelectorOf(selector) } },
    { signal: abort.signal, timeoutMs: 0 },
  );
  const pump = (async () => {
    try {
      const exitCode = await relayProcessEvents(events, channel);
      if (exitCode !== undefined) {
        log.info({ selector, exitCode }, 'streamed process exited');
        channel.close(1000, 'process exited');
      } else if (!abort.signal.aborted) await channel.fail(new WrennError('unavailable', 'the process stream ended without an exit code; reconnect to continue'));
    } catch (err) {
      if (abort.signal.aborted) return;
      await channel.fail(asWrennError(err));
    }
  })();
  // Nothing to send on this route; read (and answer) whatever comes so the socket never stalls.
  for (;;) {
    const m = await nextCommand(channel);
    if (!m) break;
    await channel.send({ type: 'error', ...wireError(new WrennError('invalid_argument', 'this stream takes no messages (kill a process with DELETE /v1/capsules/{id}/processes/{selector})')) });
  }
  await pump;
}
