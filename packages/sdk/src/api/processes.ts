/** `wrenn.processes`: background processes of a capsule (start, list, kill by pid or tag). */
import type { CallOptions, Transport } from '../http.js';
import type { BackgroundProcess, BackgroundProcessOptions, ProcessInfo } from '../types.js';
import { execBody } from './capsules.js';

const enc = encodeURIComponent;

export class ProcessesApi {
  constructor(private readonly http: Transport) {}

  /**
   * Starts a command in the background; follow its output with `wrenn.processStream`.
   * @example const { pid, tag } = await wrenn.processes.start(id, { cmd: 'python3', args: ['-m', 'http.server'], tag: 'web' });
   */
  start(capsuleId: string, opts: BackgroundProcessOptions, call: CallOptions = {}): Promise<BackgroundProcess> {
    return this.http.json<BackgroundProcess>('POST', `/capsules/${enc(capsuleId)}/exec`, { ...call, json: execBody({ ...opts, background: true }) });
  }

  async list(capsuleId: string, call: CallOptions = {}): Promise<ProcessInfo[]> {
    const res = await this.http.json<{ processes: ProcessInfo[] } | ProcessInfo[]>('GET', `/capsules/${enc(capsuleId)}/processes`, call);
    return Array.isArray(res) ? res : (res?.processes ?? []);
  }

  /** Signals a process by pid (number) or tag (string); SIGTERM unless told otherwise. */
  async kill(capsuleId: string, selector: number | string, opts: CallOptions & { killSignal?: 'SIGTERM' | 'SIGKILL' } = {}): Promise<void> {
    const { killSignal, ...call } = opts;
    await this.http.json<void>('DELETE', `/capsules/${enc(capsuleId)}/processes/${enc(String(selector))}`, {
      ...call,
      ...(killSignal ? { query: { signal: killSignal } } : {}),
    });
  }
}
