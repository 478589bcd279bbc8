/**
 * The start queue of each host agent as its last heartbeat reported it (capsule starts and
 * restores waiting for a turn, and running: the agent's admission control), for the
 * `wrenn_host_start_queue` gauge. In memory: a replica knows what the heartbeats it
 * received said; a report older than `staleMs` (the host stopped heartbeating) is dropped.
 */
export interface StartQueueReport {
  waiting: number;
  active: number;
}

export class HostStartQueues {
  private readonly reports = new Map<string, StartQueueReport & { atMs: number }>();

  constructor(private readonly staleMs = 60_000) {}

  record(hostId: string, report: StartQueueReport): void {
    this.reports.set(hostId, { ...report, atMs: Date.now() });
  }

  /** Fresh reports by host id. */
  current(now = Date.now()): Map<string, StartQueueReport> {
    const out = new Map<string, StartQueueReport>();
    for (const [hostId, r] of this.reports) {
      if (now - r.atMs > this.staleMs) this.reports.delete(hostId);
      else out.set(hostId, { waiting: r.waiting, active: r.active });
    }
    return out;
  }

  close(): void {
    this.reports.clear();
  }
}
