/** `wrenn.capsules`: create, list, get, destroy, exec, ping, pause, resume, metrics. */
import type { CallOptions, Transport } from '../http.js';
import { compact } from '../case.js';
import type { Capsule, CapsuleStatus, CreateCapsuleOptions, ExecOptions, ExecResult, MetricPoint, MetricsRange, StatsRange, TeamStats, TeamUsage } from '../types.js';

const enc = encodeURIComponent;

interface WireExecResult {
  stdout?: string;
  stderr?: string;
  exitCode: number;
  durationMs: number;
  encoding?: 'utf-8' | 'base64';
  timedOut?: boolean;
}

function decode(text: string | undefined, encoding: string | undefined): Uint8Array {
  if (!text) return new Uint8Array(0);
  return encoding === 'base64' ? Buffer.from(text, 'base64') : Buffer.from(text, 'utf8');
}

/** The JSON body of an exec (foreground or background). */
export function execBody(o: ExecOptions & { background?: boolean; tag?: string }): Record<string, unknown> {
  return compact({ cmd: o.cmd, args: o.args ?? [], timeout_sec: o.timeoutSec, envs: o.envs, cwd: o.cwd, background: o.background, tag: o.tag });
}

export class CapsulesApi {
  constructor(private readonly http: Transport) {}

  /**
   * Creates a capsule and returns it once it is running.
   * @example const c = await wrenn.capsules.create({ template: 'minimal', memoryMb: 1024 });
   */
  create(opts: CreateCapsuleOptions = {}, call: CallOptions = {}): Promise<Capsule> {
    const body = compact({
      template: opts.template,
      vcpus: opts.vcpus,
      memory_mb: opts.memoryMb,
      timeout_sec: opts.timeoutSec,
      disk_size_mb: opts.diskSizeMb,
      metadata: opts.metadata,
      envs: opts.envs,
      auto_resume: opts.autoResume,
    });
    return this.http.json<Capsule>('POST', '/capsules', { ...call, json: body });
  }

  /** The team's capsules, newest first (stopped ones only for a while); `status` filters. */
  async list(opts: CallOptions & { status?: CapsuleStatus[] } = {}): Promise<Capsule[]> {
    const { status, ...call } = opts;
    const res = await this.http.json<Capsule[] | { capsules: Capsule[] }>('GET', '/capsules', { ...call, ...(status?.length ? { query: { status: status.join(',') } } : {}) });
    return Array.isArray(res) ? res : (res?.capsules ?? []);
  }

  get(id: string, call: CallOptions = {}): Promise<Capsule> {
    return this.http.json<Capsule>('GET', `/capsules/${enc(id)}`, call);
  }

  /** Stops the capsule and frees its resources; a later `get` shows it `stopped`. */
  async destroy(id: string, call: CallOptions = {}): Promise<void> {
    await this.http.json<void>('DELETE', `/capsules/${enc(id)}`, call);
  }

  /**
   * Runs a command to completion and returns its output and exit code (a non-zero exit is
   * a result, not an error).
   * @example const r = await wrenn.capsules.exec(id, { cmd: 'python3', args: ['-c', 'print(1)'] });
   */
  async exec(id: string, opts: ExecOptions, call: CallOptions = {}): Promise<ExecResult> {
    const r = await this.http.json<WireExecResult>('POST', `/capsules/${enc(id)}/exec`, { ...call, json: execBody(opts) });
    const stdoutBytes = decode(r.stdout, r.encoding);
    const stderrBytes = decode(r.stderr, r.encoding);
    return {
      stdout: Buffer.from(stdoutBytes).toString('utf8'),
      stderr: Buffer.from(stderrBytes).toString('utf8'),
      stdoutBytes,
      stderrBytes,
      exitCode: r.exitCode,
      durationMs: r.durationMs,
      timedOut: r.timedOut ?? false,
    };
  }

  /** Marks the capsule active (resets its auto-pause timer). */
  ping(id: string, call: CallOptions = {}): Promise<{ status: CapsuleStatus; healthy: boolean }> {
    return this.http.json('POST', `/capsules/${enc(id)}/ping`, call);
  }

  /** Snapshots the capsule (memory where the host supports it) and frees its memory. */
  pause(id: string, call: CallOptions = {}): Promise<Capsule> {
    return this.http.json<Capsule>('POST', `/capsules/${enc(id)}/pause`, call);
  }

  resume(id: string, call: CallOptions = {}): Promise<Capsule> {
    return this.http.json<Capsule>('POST', `/capsules/${enc(id)}/resume`, call);
  }

  /** Resource usage samples of one capsule over `range` (default 5m). */
  async metrics(id: string, range: MetricsRange = '5m', call: CallOptions = {}): Promise<MetricPoint[]> {
    const res = await this.http.json<MetricPoint[] | { points: MetricPoint[] }>('GET', `/capsules/${enc(id)}/metrics`, { ...call, query: { range } });
    return Array.isArray(res) ? res : (res?.points ?? []);
  }

  /** Team-wide counts by state and a time series over `range` (default 1h). */
  stats(range: StatsRange = '1h', call: CallOptions = {}): Promise<TeamStats> {
    return this.http.json<TeamStats>('GET', '/capsules/stats', { ...call, query: { range } });
  }

  /** Daily CPU-minutes and RAM MB-minutes of the team (`from`/`to` as YYYY-MM-DD, UTC). */
  usage(opts: CallOptions & { from?: string; to?: string } = {}): Promise<TeamUsage> {
    const { from, to, ...call } = opts;
    return this.http.json<TeamUsage>('GET', '/capsules/usage', { ...call, query: { from, to } });
  }
}
