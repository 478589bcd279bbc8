/**
 * The PTY sessions this control plane process knows, by capsule and tag. One registry per
 * control plane (`ctx.ptys`), so the routes under /v1 and /api/v1 share it (a session
 * started on one can be re-attached on the other) and tests can read its counters.
 *
 * @example cp.ctx.ptys.get(capsuleId, tag)?.inputCalls
 */
import type { ControlPlaneConfig } from '../start/config.js';
import type { Logger } from '@wrenn/shared';
import type { AgentClient } from '../infra/agent-pool.js';
import type { CapsuleActivity } from '../domain/capsules/activity.js';
import { PtySession } from './pty-session.js';

export class PtySessionRegistry {
  private readonly sessions = new Map<string, PtySession>();

  constructor(private readonly ctx: { config: ControlPlaneConfig; logger: Logger; activity: CapsuleActivity }) {}

  get(capsuleId: string, tag: string): PtySession | undefined {
    return this.sessions.get(key(capsuleId, tag));
  }

  get size(): number {
    return this.sessions.size;
  }

  /** The known session of this tag, or a new one (started here, or adopted after a restart). */
  getOrCreate(capsuleId: string, tag: string, pid: number, agent: AgentClient): PtySession {
    const existing = this.get(capsuleId, tag);
    if (existing && !existing.ended) return existing;
    const activity = this.ctx.activity;
    const session = new PtySession(capsuleId, tag, pid, agent, {
      idleTimeoutMs: this.ctx.config.ptyIdleTimeoutSec * 1000,
      logger: this.ctx.logger,
      // Input and output are activity; the recorder coalesces them (one write per second at most).
      recordActivity: (id) => activity.touch(id),
      onEnd: (s) => {
        if (this.sessions.get(key(s.capsuleId, s.tag)) === s) this.sessions.delete(key(s.capsuleId, s.tag));
      },
    });
    this.sessions.set(key(capsuleId, tag), session);
    return session;
  }

  /** Stops every idle timer (the terminals keep running in their capsules). */
  close(): void {
    for (const s of this.sessions.values()) s.dispose();
    this.sessions.clear();
  }
}

function key(capsuleId: string, tag: string): string {
  return `${capsuleId}\u0000${tag}`;
}
