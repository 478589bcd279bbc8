/**
 * The PTY sessions this control plane process knows, by capsule and tag. One registry per
 * ControlPlaneContext, so the routes under /v1 and /api/v1 share it (a session started
 * on one can be re-attached on the other) and tests can read its counters.
 *
 * @example ptySessions(cp.ctx).get(capsuleId, tag)?.inputCalls
 */
import { sql } from 'kysely';
import type { ControlPlaneContext } from '../context.js';
import type { AgentClient } from '../infra/agent-pool.js';
import { PtySession } from './pty-session.js';

/** Input is recorded as capsule activity at most this often per capsule (one DB write). */
const ACTIVITY_WRITE_INTERVAL_MS = 5_000;

export class PtySessionRegistry {
  private readonly sessions = new Map<string, PtySession>();
  private readonly lastActivityWrite = new Map<string, number>();

  constructor(private readonly ctx: ControlPlaneContext) {}

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
    const session = new PtySession(capsuleId, tag, pid, agent, {
      idleTimeoutMs: this.ctx.config.ptyIdleTimeoutSec * 1000,
      logger: this.ctx.logger,
      recordActivity: (id) => this.recordActivity(id),
      onEnd: (s) => {
        if (this.sessions.get(key(s.capsuleId, s.tag)) === s) this.sessions.delete(key(s.capsuleId, s.tag));
        if (![...this.sessions.values()].some((o) => o.capsuleId === s.capsuleId)) this.lastActivityWrite.delete(s.capsuleId);
      },
    });
    this.sessions.set(key(capsuleId, tag), session);
    return session;
  }

  /** Stops every idle timer (the terminals keep running in their capsules). */
  dispose(): void {
    for (const s of this.sessions.values()) s.dispose();
    this.sessions.clear();
    this.lastActivityWrite.clear();
  }

  private recordActivity(capsuleId: string): void {
    const now = Date.now();
    if (now - (this.lastActivityWrite.get(capsuleId) ?? 0) < ACTIVITY_WRITE_INTERVAL_MS) return;
    this.lastActivityWrite.set(capsuleId, now);
    void this.ctx.db
      .updateTable('capsules')
      .set({ last_activity_at: sql`now()` as never })
      .where('id', '=', capsuleId)
      .execute()
      .catch((err: unknown) => this.ctx.logger.warn({ capsuleId, err }, 'could not record PTY input as capsule activity'));
  }
}

function key(capsuleId: string, tag: string): string {
  return `${capsuleId}\u0000${tag}`;
}

const registries = new WeakMap<ControlPlaneContext, PtySessionRegistry>();

export function ptySessions(ctx: ControlPlaneContext): PtySessionRegistry {
  let r = registries.get(ctx);
  if (!r) {
    r = new PtySessionRegistry(ctx);
    registries.set(ctx, r);
  }
  return r;
}
