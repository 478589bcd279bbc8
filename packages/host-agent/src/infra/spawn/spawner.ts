/**
 * Starts the agent's tools (runc, mount, ip, nft, ...) from a small helper process instead
 * of from the agent itself.
 *
 * Why: node forks a child synchronously, and a fork copies the parent's page tables, so it
 * blocks the event loop for a time that grows with the process's memory (measured on the
 * development machine: 0.8 ms at 44 MB RSS, 7 ms at 245 MB, 36 ms at 1 GB). A pause, a
 * resume or a create runs several tools; `wrenn up` (agent, control plane and PGlite in one
 * process, ~540 MB) paid ~15 ms per tool, during which no other request of any capsule was
 * served. The helper (spawn-helper.mjs: plain JavaScript, no loader, ~40 MB) forks cheaply,
 * and its forks stall only itself.
 *
 * One helper per agent process, started on first use and restarted if it dies (the runs it
 * had in flight fail with an internal error). It holds the event loop open only while runs
 * are in flight. `WRENN_SPAWN_HELPER=off` starts tools directly.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export interface ToolRequest {
  cmd: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string | Buffer;
  /** A process group of its own, killed as a group. */
  group: boolean;
  /** stdio on /dev/null (no output captured, no input). */
  quiet: boolean;
  /** Output as it arrives (besides the captured total). */
  onOutput?: (fd: 1 | 2, data: Buffer) => void;
  /** Cap on captured bytes per stream. */
  maxOutputBytes: number;
}

export interface ToolExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: Buffer;
}

export interface StartedTool {
  /** Resolves when the tool has exited and its output is closed; rejects when it could not be started (`code` ENOENT, ...). */
  exited: Promise<ToolExit>;
  /** SIGKILLs the tool (its whole group with `group`). */
  kill(): void;
}

type Inbound =
  | { t: 'ready' }
  | { t: 'out'; id: number; fd: 1 | 2; data: Uint8Array }
  | { t: 'error'; id: number; code: string; message: string }
  | { t: 'close'; id: number; code: number | null; signal: NodeJS.Signals | null; stdout: Uint8Array; stderr: Uint8Array };

interface Pending {
  resolve(exit: ToolExit): void;
  reject(err: Error): void;
  onOutput?: ToolRequest['onOutput'];
}

const HELPER = join(import.meta.dirname, 'spawn-helper.mjs');

/** Bytes from the helper (the serializer hands Buffers back as Uint8Arrays), without a copy. */
const asBuffer = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

export class Spawner {
  private static instance: Spawner | undefined;
  private helper: ChildProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  /** The process's spawner; undefined when tools are started directly (WRENN_SPAWN_HELPER=off). */
  static shared(): Spawner | undefined {
    if (process.env.WRENN_SPAWN_HELPER === 'off') return undefined;
    Spawner.instance ??= new Spawner();
    return Spawner.instance;
  }

  start(req: ToolRequest): StartedTool {
    const helper = this.ensureHelper();
    const id = this.nextId++;
    const exited = new Promise<ToolExit>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, ...(req.onOutput ? { onOutput: req.onOutput } : {}) });
    });
    if (this.pending.size === 1) this.hold(true);
    helper.send({
      t: 'run',
      id,
      cmd: req.cmd,
      args: req.args,
      // A plain copy: process.env is an exotic object the serializer does not take.
      env: { ...req.env },
      cwd: req.cwd,
      input: req.input,
      group: req.group,
      quiet: req.quiet,
      stream: req.onOutput !== undefined,
      max: req.maxOutputBytes,
    });
    return {
      exited,
      kill: () => {
        if (this.pending.has(id) && this.helper === helper) helper.send({ t: 'kill', id });
      },
    };
  }

  /** The helper's pid (tests). */
  get helperPid(): number | undefined {
    return this.helper?.pid;
  }

  private ensureHelper(): ChildProcess {
    if (this.helper) return this.helper;
    // No execArgv: the agent's loader (tsx) is not needed there and would cost its memory.
    const helper = fork(HELPER, [], { execArgv: [], serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    helper.on('message', (m: Inbound) => this.onMessage(m));
    helper.on('exit', () => this.onHelperExit(helper));
    helper.on('error', () => this.onHelperExit(helper));
    this.helper = helper;
    this.hold(this.pending.size > 0);
    return helper;
  }

  private onMessage(m: Inbound): void {
    if (m.t === 'ready') return;
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.t === 'out') return p.onOutput?.(m.fd, asBuffer(m.data));
    this.settle(m.id);
    if (m.t === 'error') return p.reject(Object.assign(new Error(m.message), { code: m.code }));
    p.resolve({ code: m.code, signal: m.signal, stdout: asBuffer(m.stdout), stderr: asBuffer(m.stderr) });
  }

  private settle(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) this.hold(false);
  }

  private onHelperExit(helper: ChildProcess): void {
    if (this.helper !== helper) return;
    this.helper = undefined;
    const lost = [...this.pending.values()];
    this.pending.clear();
    for (const p of lost) p.reject(Object.assign(new Error('the spawn helper exited while the tool ran; its outcome is unknown'), { code: 'EHELPER' }));
  }

  /** Keeps the process alive while runs are in flight, and only then. */
  private hold(on: boolean): void {
    const h = this.helper;
    if (!h) return;
    if (on) {
      h.ref();
      h.channel?.ref();
    } else {
      h.unref();
      h.channel?.unref();
    }
  }
}
