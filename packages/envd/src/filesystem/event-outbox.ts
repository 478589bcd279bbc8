/**
 * Ordered delivery of a watcher's events. Node's fs.watch reports both deletion and
 * "moved away" as 'rename', so a disappearance is held as pending for a short window:
 * if the same inode shows up elsewhere in the watched tree it was a RENAME, otherwise a
 * REMOVE. Events behind a pending one wait, so clients see them in the order they happened.
 */
import { create } from '@bufbuild/protobuf';
import { EventType, FilesystemEventSchema, type EntryInfo, type FilesystemEvent } from '@wrenn/proto/filesystem';

interface Queued {
  readonly name: string;
  type: EventType | 'pending';
  /** dev:ino of a pending disappearance. */
  readonly inode?: string;
  readonly deadline?: number;
}

export interface OutboxOptions {
  /** Delivers one event; called in order, never concurrently. */
  readonly deliver: (event: FilesystemEvent) => void;
  /** Builds the entry of a relative name (undefined when gone); only set with include_entry. */
  readonly entryOf?: (name: string) => Promise<EntryInfo | undefined>;
  /** How long a disappearance waits for its inode to reappear. */
  readonly renameWindowMs?: number;
}

export class EventOutbox {
  private readonly queue: Queued[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Serialises entry building so deliveries keep their order. */
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly windowMs: number;

  constructor(private readonly opts: OutboxOptions) {
    this.windowMs = opts.renameWindowMs ?? 25;
  }

  push(name: string, type: EventType): void {
    if (this.closed) return;
    this.queue.push({ name, type });
    this.flush();
  }

  /** `name` disappeared; it becomes RENAME if `inode` reappears in time, else REMOVE. */
  pushGone(name: string, inode: string): void {
    if (this.closed) return;
    this.queue.push({ name, type: 'pending', inode, deadline: Date.now() + this.windowMs });
    this.arm();
  }

  /** An inode appeared: if it was pending as gone, that disappearance was a rename. */
  claimRename(inode: string): boolean {
    const pending = this.queue.find((q) => q.type === 'pending' && q.inode === inode);
    if (!pending) return false;
    pending.type = EventType.RENAME;
    this.flush();
    return true;
  }

  /** Settles every pending disappearance as REMOVE and resolves once all is delivered. */
  drain(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const q of this.queue) if (q.type === 'pending') q.type = EventType.REMOVE;
    this.flush();
    return this.chain;
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    if (this.timer || this.closed) return;
    const next = this.queue.find((q) => q.type === 'pending');
    if (!next?.deadline) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const now = Date.now();
      for (const q of this.queue) if (q.type === 'pending' && (q.deadline ?? 0) <= now) q.type = EventType.REMOVE;
      this.flush();
      this.arm();
    }, Math.max(0, next.deadline - Date.now()));
  }

  private flush(): void {
    while (this.queue.length > 0 && this.queue[0]!.type !== 'pending') {
      const q = this.queue.shift()!;
      this.send(q.name, q.type as EventType);
    }
  }

  private send(name: string, type: EventType): void {
    const entryOf = this.opts.entryOf;
    if (!entryOf) {
      this.opts.deliver(create(FilesystemEventSchema, { name, type }));
      return;
    }
    this.chain = this.chain.then(async () => {
      const entry = type === EventType.REMOVE || type === EventType.RENAME ? undefined : await entryOf(name).catch(() => undefined);
      if (this.closed) return;
      this.opts.deliver(create(FilesystemEventSchema, { name, type, ...(entry ? { entry } : {}) }));
    });
  }
}
