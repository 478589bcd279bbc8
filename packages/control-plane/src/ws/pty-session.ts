/**
 * A PTY session: a terminal process in a capsule, known by its tag, that outlives the
 * WebSockets attached to it. At most one WebSocket is attached at a time (a newer one
 * takes over); while none is, envd keeps the terminal's output for the next attach, and
 * after the idle timeout the session is killed. The registry is per control plane
 * process, shared by the /v1 and /api/v1 routes.
 */
import type { Logger } from '@wrenn/shared';
import type { AgentClient } from '../infra/agent-pool.js';

/** The WebSocket side of an attachment, as the session sees it. */
export interface PtyClient {
  /** Another connection attached to the session: this one must stop using it. */
  displace(): void;
}

export interface PtySessionOptions {
  idleTimeoutMs: number;
  logger: Logger;
  /** Records activity on the capsule (auto-pause timer): input and output. */
  recordActivity(capsuleId: string): void;
  /** Removes the session from its registry. */
  onEnd(session: PtySession): void;
}

export class PtySession {
  /** PtySendInput calls made for this session (docs/decisions.md#c2: far fewer than input messages). */
  inputCalls = 0;
  /** Input messages received from clients. */
  inputMessages = 0;
  private client: PtyClient | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private isEnded = false;
  private disposed = false;

  constructor(
    readonly capsuleId: string,
    readonly tag: string,
    public pid: number,
    private agent: AgentClient,
    private readonly opts: PtySessionOptions,
  ) {}

  get ended(): boolean {
    return this.isEnded;
  }

  get attached(): boolean {
    return this.client !== undefined;
  }

  /** Makes `client` the session's connection (displacing any other); stops the idle timer. */
  attach(client: PtyClient, agent: AgentClient, pid: number): void {
    const previous = this.client;
    this.client = client;
    this.agent = agent;
    this.pid = pid;
    this.clearIdle();
    if (previous && previous !== client) previous.displace();
  }

  /** The connection went away: the session waits for another one, up to the idle timeout. */
  detach(client: PtyClient): void {
    if (this.client !== client) return;
    this.client = undefined;
    if (this.isEnded || this.disposed) return;
    this.idleTimer = setTimeout(() => void this.expire(), this.opts.idleTimeoutMs);
    this.idleTimer.unref();
  }

  /**
   * Writes `data` (one or several coalesced input messages) to the terminal.
   * @param messages how many client messages `data` carries
   */
  async sendInput(data: Uint8Array, messages: number): Promise<void> {
    this.inputMessages += messages;
    this.inputCalls++;
    this.opts.recordActivity(this.capsuleId);
    await this.agent.ptySendInput({ capsuleId: this.capsuleId, tag: this.tag, data });
  }

  /** The terminal wrote something: a session in use keeps its capsule awake. */
  noteOutput(): void {
    this.opts.recordActivity(this.capsuleId);
  }

  async resize(cols: number, rows: number): Promise<void> {
    await this.agent.ptyResize({ capsuleId: this.capsuleId, tag: this.tag, cols, rows });
  }

  async kill(): Promise<void> {
    await this.agent.ptyKill({ capsuleId: this.capsuleId, tag: this.tag });
  }

  /** The terminal exited (or is gone): forget the session. */
  end(): void {
    if (this.isEnded) return;
    this.isEnded = true;
    this.clearIdle();
    this.opts.onEnd(this);
  }

  /** Stops the idle timer, for good, without ending the terminal (control plane shutdown). */
  dispose(): void {
    this.disposed = true;
    this.clearIdle();
  }

  private async expire(): Promise<void> {
    this.idleTimer = undefined;
    if (this.client || this.isEnded) return;
    this.opts.logger.info({ capsuleId: this.capsuleId, tag: this.tag, idleTimeoutMs: this.opts.idleTimeoutMs }, 'PTY session idle without a client: killing it');
    try {
      await this.kill();
    } catch (err) {
      // Already gone (exited, capsule stopped): nothing left to kill.
      this.opts.logger.debug({ capsuleId: this.capsuleId, tag: this.tag, err }, 'idle PTY kill failed');
    }
    if (!this.client) this.end();
  }

  private clearIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }
}
