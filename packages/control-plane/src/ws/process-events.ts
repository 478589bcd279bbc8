/**
 * Relays a process's event stream from the agent (ExecStream, ConnectProcess) to a
 * WebSocket: `{type:"start",pid}`, `{type:"stdout"|"stderr",data,encoding}`,
 * `{type:"exit",exit_code}`. Each send waits while the client is behind (docs/decisions.md#c3), so a slow
 * client slows the stream down instead of growing a buffer here.
 */
import type { ExecStreamEvent } from '@wrenn/proto/hostagent';
import { Utf8Chunker } from './utf8-chunker.js';
import type { WsChannel } from './ws-channel.js';

/** The selector of a process in a URL: all digits is a PID, anything else a tag. */
export function processSelectorOf(selector: string): { case: 'pid'; value: number } | { case: 'tag'; value: string } {
  return /^\d{1,10}$/.test(selector) && Number(selector) <= 0xffffffff ? { case: 'pid', value: Number(selector) } : { case: 'tag', value: selector };
}

/** Returns the exit code, or undefined if the stream ended without one. */
export async function relayProcessEvents(
  events: AsyncIterable<ExecStreamEvent>,
  channel: WsChannel,
  onStarted?: (pid: number) => Promise<void> | void,
): Promise<number | undefined> {
  const chunkers = { stdout: new Utf8Chunker(), stderr: new Utf8Chunker() };
  for await (const { event } of events) {
    switch (event.case) {
      case 'startedPid':
        await channel.send({ type: 'start', pid: event.value });
        await onStarted?.(event.value);
        break;
      case 'stdout':
      case 'stderr': {
        const payload = chunkers[event.case].push(event.value);
        if (payload) await channel.send({ type: event.case, ...payload });
        break;
      }
      case 'exitCode':
        for (const name of ['stdout', 'stderr'] as const) {
          const rest = chunkers[name].flush();
          if (rest) await channel.send({ type: name, ...rest });
        }
        await channel.send({ type: 'exit', exit_code: event.value });
        return event.value;
      default:
        break;
    }
  }
  return undefined;
}
