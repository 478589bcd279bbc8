/**
 * An interactive terminal in a capsule over `GET /v1/capsules/{id}/pty`. The session
 * outlives its WebSocket: `close()` detaches (the shell keeps running for 120 s without a
 * client) and `reconnect()` — or `wrenn.pty(id, { tag })` — attaches again.
 *
 * @example
 * const term = await wrenn.pty(id, { cols: 80, rows: 24, onOutput: (d) => process.stdout.write(d) });
 * term.write('echo hi\n');
 * const end = await term.wait();   // { reason: 'exit', exitCode: 0 } after `exit`
 */
import type { CallOptions, Transport } from '../http.js';
import { compact } from '../case.js';
import { WrennApiError } from '../errors.js';
import { JsonSocket, streamError, type Message } from './socket.js';

export interface PtyOptions extends CallOptions {
  /** Default: the template's login shell. */
  cmd?: string;
  args?: string[];
  cols?: number;
  rows?: number;
  envs?: Record<string, string>;
  cwd?: string;
  user?: string;
  /** Attach to an existing session (from `session.tag`) instead of starting one. */
  tag?: string;
  /** Receives terminal output from the first byte (no output is missed). */
  onOutput?: (data: Uint8Array) => void;
}

export type PtyEnd =
  | { reason: 'exit'; exitCode: number }
  /** The WebSocket closed (by `close()` or the network); the session may still be attachable. */
  | { reason: 'detached'; byClient: boolean }
  | { reason: 'error'; error: WrennApiError };

const MAX_UNREAD = 1024;

export class PtySession {
  tag = '';
  pid = 0;
  exitCode: number | undefined;
  private socket!: JsonSocket;
  private readonly outputListeners = new Set<(d: Uint8Array) => void>();
  private readonly errorListeners = new Set<(e: WrennApiError) => void>();
  /** Output that arrived before anyone listened (bounded). */
  private unread: Uint8Array[] = [];
  private end!: Promise<PtyEnd>;
  private settle!: (e: PtyEnd) => void;
  private closing = false;

  private constructor(
    private readonly http: Transport,
    readonly capsuleId: string,
  ) {}

  /** Use `wrenn.pty(...)`. */
  static async open(http: Transport, capsuleId: string, opts: PtyOptions): Promise<PtySession> {
    const s = new PtySession(http, capsuleId);
    if (opts.onOutput) s.outputListeners.add(opts.onOutput);
    await s.attach(opts);
    return s;
  }

  private async attach(opts: PtyOptions): Promise<void> {
    const socket = await JsonSocket.open(this.http, `/capsules/${encodeURIComponent(this.capsuleId)}/pty`, opts);
    this.socket = socket;
    this.closing = false;
    this.end = new Promise((resolve) => (this.settle = resolve));
    let ended = false;
    const finish = (e: PtyEnd) => {
      if (ended) return;
      ended = true;
      this.settle(e);
    };
    const ready = new Promise<void>((resolve, reject) => {
      let started = false;
      socket.onMessage((m: Message) => {
        switch (m.type) {
          case 'started':
            this.tag = String(m.tag ?? this.tag);
            this.pid = Number(m.pid ?? this.pid);
            started = true;
            resolve();
            break;
          case 'output':
            this.emitOutput(Buffer.from(String(m.data ?? ''), 'base64'));
            break;
          case 'exit':
            this.exitCode = Number(m.exit_code);
            finish({ reason: 'exit', exitCode: this.exitCode });
            socket.close();
            break;
          case 'error': {
            const error = streamError(m, `pty of capsule ${this.capsuleId}`);
            if (!started) {
              socket.close();
              reject(error);
            } else if (m.fatal) {
              finish({ reason: 'error', error });
              socket.close();
            } else {
              for (const l of this.errorListeners) l(error);
            }
            break;
          }
          default:
            break; // ping and future message types
        }
      });
      void socket.closed.then((c) => {
        if (!started) reject(new WrennApiError(0, 'unavailable', `the pty WebSocket of capsule ${this.capsuleId} closed before the session started (${c.code}${c.reason ? ` ${c.reason}` : ''})`));
        finish({ reason: 'detached', byClient: this.closing });
      });
    });
    // The server may already have refused (an error, then the close): `ready` says why.
    const first: Message = opts.tag
      ? { type: 'connect', tag: opts.tag }
      : { type: 'start', ...compact({ cmd: opts.cmd, args: opts.args, envs: opts.envs, cwd: opts.cwd, user: opts.user }), cols: opts.cols ?? 80, rows: opts.rows ?? 24 };
    if (socket.open) socket.send(first);
    await ready;
  }

  private emitOutput(d: Uint8Array): void {
    if (this.outputListeners.size === 0) {
      if (this.unread.length < MAX_UNREAD) this.unread.push(d);
      return;
    }
    for (const l of this.outputListeners) l(d);
  }

  /** Subscribes to output (first gets anything that arrived unheard); returns the unsubscribe. */
  onOutput(listener: (data: Uint8Array) => void): () => void {
    this.outputListeners.add(listener);
    const unread = this.unread;
    this.unread = [];
    for (const d of unread) listener(d);
    return () => this.outputListeners.delete(listener);
  }

  /** Non-fatal errors the server reports (a dropped resize, ...). */
  onError(listener: (error: WrennApiError) => void): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  /** Types into the terminal. */
  write(data: string | Uint8Array): void {
    this.socket.send({ type: 'input', data: Buffer.from(data).toString('base64') });
  }

  resize(cols: number, rows: number): void {
    if (!(cols > 0 && rows > 0)) throw new RangeError(`resize: cols and rows must be positive, got ${cols}x${rows}`);
    this.socket.send({ type: 'resize', cols, rows });
  }

  /** Ends the terminal's process (the session is gone after this). */
  kill(): void {
    this.socket.send({ type: 'kill' });
  }

  /** Settles when the process exits, the connection closes, or the server ends the session. */
  wait(): Promise<PtyEnd> {
    return this.end;
  }

  get connected(): boolean {
    return this.socket.open;
  }

  /** Detaches: closes the WebSocket, leaves the process running (reattach by `tag`). */
  async close(): Promise<void> {
    this.closing = true;
    this.socket.close();
    await this.socket.closed;
  }

  /** Attaches again to the same session over a new WebSocket (listeners are kept). */
  async reconnect(opts: CallOptions = {}): Promise<void> {
    if (!this.tag) throw new WrennApiError(0, 'failed_precondition', 'this session never started: nothing to reconnect to');
    if (this.socket.open) await this.close();
    await this.attach({ ...opts, tag: this.tag });
  }
}
