/**
 * The capsules this agent holds, in memory: the live map, the per-capsule queue (docs/decisions.md#h2: every
 * operation on one capsule runs after the previous one; different capsules never wait on
 * each other) and the one place a capsule's status changes, `transition`, which refuses a
 * move the status machine (STATUS_MOVES) does not have or a capsule not in the state the
 * caller expected.
 *
 * @example
 * await registry.run(id, async () => {
 *   const live = registry.get(id);
 *   registry.transition(live, 'running', 'pausing');
 *   await registry.save(live.record);
 * });
 */
import { KeyedQueue, WrennError } from '@wrenn/shared';
import type { EnvdClient } from '../ports.js';
import { STATUS_MOVES, type CapsuleRecord, type CapsuleStatus } from '../capsule-record.js';
import type { CapsuleStore } from '../capsule-store.js';
import type { WatchedCapsule } from '../capsule-watchers.js';

/** A capsule as the agent holds it: its record, its envd connection, its watchers. */
export interface LiveCapsule extends WatchedCapsule {
  envd?: EnvdClient;
}

export class CapsuleRegistry {
  private readonly capsules = new Map<string, LiveCapsule>();
  private readonly queue = new KeyedQueue();

  constructor(readonly store: CapsuleStore) {}

  /** Runs `fn` after every earlier operation on capsule `id` has settled. */
  run<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.queue.run(id, fn);
  }

  /** The capsule under `id`, warm ones included. */
  find(id: string): LiveCapsule | undefined {
    return this.capsules.get(id);
  }

  /** A capsule callers may see (not warm); capsule_not_found otherwise. */
  get(id: string): LiveCapsule {
    const live = this.capsules.get(id);
    if (!live || live.record.warm) {
      throw new WrennError('capsule_not_found', `capsule ${id} does not exist on this host`, { capsuleId: id });
    }
    return live;
  }

  /** Every capsule, warm ones included. */
  all(): LiveCapsule[] {
    return [...this.capsules.values()];
  }

  /** The records callers may see (not warm). */
  records(): CapsuleRecord[] {
    return this.all()
      .map((c) => c.record)
      .filter((r) => !r.warm);
  }

  add(live: LiveCapsule): void {
    this.capsules.set(live.record.id, live);
  }

  remove(id: string): void {
    this.capsules.delete(id);
  }

  /**
   * Moves the capsule from `from` (one status, or any of several) to `to`. Refused, naming
   * the status found, when the capsule is elsewhere or the machine has no such move: a bug
   * or a race, never a state to write down.
   */
  transition(capsule: { record: CapsuleRecord }, from: CapsuleStatus | readonly CapsuleStatus[], to: CapsuleStatus): void {
    const { record } = capsule;
    const expected = typeof from === 'string' ? [from] : from;
    if (!expected.includes(record.status) || !STATUS_MOVES[record.status].includes(to)) {
      throw new WrennError(
        'capsule_busy',
        `capsule ${record.id} cannot go from ${expected.join(' or ')} to ${to}: it is ${record.status}${record.error ? ` (${record.error})` : ''}`,
        { capsuleId: record.id, status: record.status, to },
      );
    }
    (record as { status: CapsuleStatus }).status = to;
  }

  /** Writes the record to disk (the next agent start reads it). */
  save(record: CapsuleRecord): Promise<void> {
    return this.store.save(record);
  }
}
