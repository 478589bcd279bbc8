/**
 * The auto-resumes this process has started and not finished, by capsule (`ctx.resumes`):
 * a burst of callers finding one capsule paused shares one resume (pause.ts).
 */
import type { Capsule } from '../../db/schema.js';

export class ResumesInFlight {
  private readonly byCapsule = new Map<string, Promise<Capsule>>();

  /** The resume of this capsule already under way here, if any. */
  get(capsuleId: string): Promise<Capsule> | undefined {
    return this.byCapsule.get(capsuleId);
  }

  /** Starts `resume` as this capsule's shared resume; it is forgotten when it settles. */
  start(capsuleId: string, resume: () => Promise<Capsule>): Promise<Capsule> {
    const p = resume().finally(() => {
      if (this.byCapsule.get(capsuleId) === p) this.byCapsule.delete(capsuleId);
    });
    this.byCapsule.set(capsuleId, p);
    return p;
  }

  /**
   * Forgets every resume (it goes on: its agent call has its own deadline, and its waiters
   * get its answer); a new caller starts its own.
   */
  close(): void {
    this.byCapsule.clear();
  }
}
