/**
 * The `process.Process` Connect service: thin handlers that translate between the wire
 * messages and the ProcessManager. Streams (Start, Connect) relay one subscription to a
 * process's output; cancelling a stream detaches the client, it never stops the process.
 */
import type { ConnectRouter, HandlerContext, ServiceImpl } from '@connectrpc/connect';
import { Process, Signal } from '@wrenn/proto/process';
import { WrennError } from '@wrenn/shared';
import { actingUser } from '../core/auth.js';
import type { EnvdContext } from '../core/context.js';
import type { ProcessManager } from './manager.js';
import type { ManagedProcess } from './managed-process.js';
import type { OutputEvent, Subscription } from './output-hub.js';

/** Request header carrying the keep-alive period in seconds (the e2b SDK sends 50). */
export const KEEPALIVE_HEADER = 'keepalive-ping-interval';

/** A ProcessEvent as handlers may return it (a plain object, no $typeName needed). */
type StartResponseInit = ReturnType<ServiceImpl<typeof Process>['start']> extends AsyncIterable<infer M> ? M : never;
type ProcessEventInit = NonNullable<StartResponseInit['event']>;

export function registerProcessService(router: ConnectRouter, ctx: EnvdContext, processes: ProcessManager): void {
  router.service(Process, {
    list() {
      return {
        processes: processes.list().map((proc) => ({
          pid: proc.pid,
          ...(proc.tag !== undefined ? { tag: proc.tag } : {}),
          config: { ...proc.description, args: [...proc.description.args] },
        })),
      };
    },

    async *start(req, hctx) {
      const user = actingUser(ctx.users, ctx.state, { authorization: hctx.requestHeader.get('authorization') });
      const config = req.process;
      if (!config) throw new WrennError('invalid_argument', 'StartRequest.process is required');
      const size = req.pty?.size;
      if (req.pty && !size) throw new WrennError('invalid_argument', 'StartRequest.pty.size is required for a PTY');
      const { proc, subscription } = await processes.start(
        {
          cmd: config.cmd,
          args: config.args,
          envs: config.envs,
          cwd: config.cwd,
          stdin: req.stdin,
          pty: size ? { cols: size.cols, rows: size.rows } : undefined,
          tag: req.tag,
        },
        user,
      );
      for await (const event of relay(proc, subscription, hctx)) yield { event };
    },

    async *connect(req, hctx) {
      const proc = processes.find(req.process?.selector);
      const subscription = proc.output.subscribe();
      for await (const event of relay(proc, subscription, hctx)) yield { event };
    },

    update(req) {
      const size = req.pty?.size;
      if (!size) throw new WrennError('invalid_argument', 'UpdateRequest.pty.size is required (the new PTY size)');
      processes.find(req.process?.selector).resize(size.cols, size.rows);
      return {};
    },

    async sendInput(req, hctx) {
      const proc = processes.find(req.process?.selector);
      const input = req.input?.input;
      if (!input?.case) throw new WrennError('invalid_argument', 'SendInputRequest.input must carry stdin or pty bytes');
      await proc.sendInput(input, hctx.signal);
      return {};
    },

    async streamInput(requests, hctx) {
      let proc: ManagedProcess | undefined;
      for await (const req of requests) {
        const event = req.event;
        switch (event.case) {
          case 'start':
            if (proc) throw new WrennError('invalid_argument', 'StreamInput: only the first message may select the process');
            proc = processes.find(event.value.process?.selector);
            break;
          case 'data': {
            if (!proc) throw new WrennError('invalid_argument', 'StreamInput: the first message must be a start event selecting the process');
            const input = event.value.input?.input;
            if (input?.case) await proc.sendInput(input, hctx.signal);
            break;
          }
          default:
            // Keep-alives (and unknown events) only keep the stream open.
            break;
        }
      }
      return {};
    },

    sendSignal(req) {
      const proc = processes.find(req.process?.selector);
      proc.signal(signalOf(req.signal));
      return {};
    },

    closeStdin(req) {
      processes.find(req.process?.selector).closeStdin();
      return {};
    },
  });
}

function signalOf(signal: Signal): NodeJS.Signals {
  switch (signal) {
    case Signal.SIGTERM:
      return 'SIGTERM';
    case Signal.SIGKILL:
      return 'SIGKILL';
    default:
      throw new WrennError('invalid_argument', `unsupported signal ${signal}; use SIGTERM (15) or SIGKILL (9)`);
  }
}

/** Keep-alive period from the request header, in ms; undefined when absent or invalid. */
export function keepaliveIntervalMs(headers: Headers): number | undefined {
  const text = headers.get(KEEPALIVE_HEADER);
  if (!text) return undefined;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0) return undefined;
  // At least one second: a client cannot make envd flood its own stream.
  return Math.max(1, seconds) * 1000;
}

/**
 * start{pid}, then the process's events until its end (or until the client goes away),
 * with keep-alives as the client asked. Always detaches the subscription.
 */
async function* relay(proc: ManagedProcess, subscription: Subscription, hctx: HandlerContext): AsyncGenerator<ProcessEventInit> {
  const intervalMs = keepaliveIntervalMs(hctx.requestHeader);
  const timer = intervalMs ? setInterval(() => subscription.keepalive(), intervalMs) : undefined;
  // Also detach if the stream is abandoned while suspended (cancel, deadline, disconnect).
  const detach = () => subscription.close();
  hctx.signal.addEventListener('abort', detach, { once: true });
  try {
    yield { event: { case: 'start', value: { pid: proc.pid } } };
    while (true) {
      const event = await subscription.next(hctx.signal);
      if (!event) return;
      yield toWire(event);
    }
  } finally {
    clearInterval(timer);
    hctx.signal.removeEventListener('abort', detach);
    subscription.close();
  }
}

function toWire(event: OutputEvent): ProcessEventInit {
  switch (event.type) {
    case 'data':
      return { event: { case: 'data', value: { output: { case: event.stream, value: event.data } } } };
    case 'end': {
      const { exitCode, exited, status, error } = event.end;
      return { event: { case: 'end', value: { exitCode, exited, status, ...(error !== undefined ? { error } : {}) } } };
    }
    case 'keepalive':
      return { event: { case: 'keepalive', value: {} } };
  }
}
