/**
 * A command's output as it happens, over `GET /v1/capsules/{id}/exec/stream` (a new
 * command) or `GET /v1/capsules/{id}/processes/{selector}/stream` (a background process,
 * from the moment of connecting).
 *
 * @example
 * const run = await wrenn.execStream(id, { cmd: 'make', onStdout: (d) => process.stdout.write(d) });
 * const { exitCode } = await run.wait();
 */
import type { CallOptions, Transport } from '../http.js';
import { compact } from '../case.js';
import { WrennApiError } from '../errors.js';
import { JsonSocket, streamError, type Message } from './socket.js';

export interface StreamListeners {
  onStdout?: (data: Uint8Array) => void;
  onStderr?: (data: Uint8Array) => void;
}

export interface ExecStreamOptions extends CallOptions, StreamListeners {
  cmd: string;
  args?: string[];
  envs?: Record<string, string>;
  cwd?: string;
}

export interface StreamEnd {
  /** Undefined when the stream ended without the process's exit (stopped or disconnected). */
  exitCode: number | undefined;
}

/** Output `data` is text unless the server marks it base64. */
function payload(m: Message): Uint8Array {
  const data = typeof m.data === 'string' ? m.data : '';
  return Buffer.from(data, m.encoding === 'base64' ? 'base64' : 'utf8');
}

export class OutputStream {
  pid = 0;
  private end!: Promise<StreamEnd>;

  private failure: WrennApiError | undefined;

  private constructor(
    private readonly socket: JsonSocket,
    private readonly what: string,
  ) {}

  /** Use `wrenn.execStream(...)`. */
  static async exec(http: Transport, capsuleId: string, opts: ExecStreamOptions): Promise<OutputStream> {
    const socket = await JsonSocket.open(http, `/capsules/${encodeURIComponent(capsuleId)}/exec/stream`, opts);
    const s = new OutputStream(socket, `exec stream of capsule ${capsuleId}`);
    const started = s.listen(opts, true);
    // The server may already have refused (an error, then the close): `started` says why.
    if (socket.open) socket.send({ type: 'start', cmd: opts.cmd, args: opts.args ?? [], ...compact({ envs: opts.envs, cwd: opts.cwd }) });
    await started;
    return s;
  }

  /** Use `wrenn.processes.stream(...)`. */
  static async attach(http: Transport, capsuleId: string, selector: number | string, opts: CallOptions & StreamListeners): Promise<OutputStream> {
    const path = `/capsules/${encodeURIComponent(capsuleId)}/processes/${encodeURIComponent(String(selector))}/stream`;
    const socket = await JsonSocket.open(http, path, opts);
    const s = new OutputStream(socket, `output of process ${selector} in capsule ${capsuleId}`);
    void s.listen(opts, false).catch(() => {});
    return s;
  }

  /** Wires the messages; resolves at `start` (when awaited) or rejects on an early error. */
  private listen(l: StreamListeners, waitForStart: boolean): Promise<void> {
    let settleEnd!: (e: StreamEnd) => void;
    this.end = new Promise((resolve) => (settleEnd = resolve));
    let exitCode: number | undefined;
    let failure: WrennApiError | undefined;
    return new Promise((resolve, reject) => {
      let started = !waitForStart;
      if (started) resolve();
      this.socket.onMessage((m) => {
        switch (m.type) {
          case 'start':
            this.pid = Number(m.pid ?? 0);
            started = true;
            resolve();
            break;
          case 'stdout':
            l.onStdout?.(payload(m));
            break;
          case 'stderr':
            l.onStderr?.(payload(m));
            break;
          case 'exit':
            exitCode = Number(m.exit_code);
            this.socket.close();
            break;
          case 'error':
            failure = streamError(m, this.what);
            if (!started) reject(failure);
            this.socket.close();
            break;
          default:
            break;
        }
      });
      void this.socket.closed.then((c) => {
        if (!started) reject(failure ?? new WrennApiError(0, 'unavailable', `${this.what}: the WebSocket closed before the command started (${c.code})`));
        this.failure = failure;
        settleEnd({ exitCode });
      });
    });
  }

  /** Settles when the stream ends; rejects if the server reported an error. */
  async wait(): Promise<StreamEnd> {
    const end = await this.end;
    if (this.failure) throw this.failure;
    return end;
  }

  /** Asks the server to stop the command (exec stream); `wait()` then gives its exit. */
  stop(): void {
    if (this.socket.open) this.socket.send({ type: 'stop' });
  }

  /** Closes the WebSocket (a background process keeps running). */
  close(): void {
    this.socket.close();
  }
}
