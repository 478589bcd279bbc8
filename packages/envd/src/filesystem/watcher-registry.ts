/**
 * Owner of every directory watcher of an envd: the ones behind WatchDir streams and the
 * polling ones (CreateWatcher / GetWatcherEvents / RemoveWatcher), whose events wait in
 * a bounded buffer until drained. `closeAll()` releases every fs.watch handle at shutdown.
 */
import { randomUUID } from 'node:crypto';
import type { FilesystemEvent } from '@wrenn/proto/filesystem';
import { WrennError } from '@wrenn/shared';
import type { EnvdContext } from '../core/context.js';
import { DirWatcher, type DirWatchOptions, type DirWatchSink } from './dir-watcher.js';
import { BoundedQueue } from './event-buffer.js';

interface PollingWatcher {
  readonly watcher: DirWatcher;
  readonly events: BoundedQueue<FilesystemEvent>;
  failure?: WrennError;
}

export class WatcherRegistry {
  /** Stream watchers, with the sink that ends their stream when envd shuts down. */
  private readonly streaming = new Map<DirWatcher, DirWatchSink>();
  private readonly polling = new Map<string, PollingWatcher>();

  constructor(readonly ctx: EnvdContext) {}

  /** Starts a watcher for a stream; the caller must `release` it when the stream ends. */
  async openStreaming(root: string, opts: DirWatchOptions, sink: DirWatchSink): Promise<DirWatcher> {
    const watcher = await DirWatcher.start(root, opts, sink, this.ctx);
    this.streaming.set(watcher, sink);
    return watcher;
  }

  release(watcher: DirWatcher): void {
    watcher.close();
    this.streaming.delete(watcher);
  }

  /** Starts a polling watcher and returns its id. */
  async create(root: string, opts: DirWatchOptions): Promise<string> {
    const id = randomUUID();
    const events = new BoundedQueue<FilesystemEvent>();
    const logger = this.ctx.logger.child({ watcherId: id });
    const watcher = await DirWatcher.start(
      root,
      opts,
      {
        event: (event) => events.push(event),
        failed: (err) => {
          const w = this.polling.get(id);
          if (w) w.failure = err;
          logger.info({ path: root, err: err.message }, 'watcher stopped');
        },
      },
      this.ctx,
    );
    this.polling.set(id, { watcher, events });
    logger.debug({ path: root, recursive: opts.recursive }, 'watcher created');
    return id;
  }

  /**
   * Returns and forgets the events buffered for watcher `id`. Once a watcher that stopped
   * on its own (its directory was removed) has been drained, the next call reports why.
   */
  takeEvents(id: string): FilesystemEvent[] {
    const w = this.get(id);
    const dropped = w.events.takeDropped();
    if (dropped > 0) this.ctx.logger.warn({ watcherId: id, dropped }, 'watcher events dropped: buffer full, drain more often');
    const events = w.events.takeAll();
    if (events.length === 0 && w.failure) {
      this.polling.delete(id);
      throw w.failure;
    }
    return events;
  }

  remove(id: string): void {
    const w = this.get(id);
    w.watcher.close();
    this.polling.delete(id);
  }

  /** Open fs.watch handles of all watchers in this registry. */
  get handleCount(): number {
    let n = 0;
    for (const w of this.streaming.keys()) n += w.handleCount;
    for (const w of this.polling.values()) n += w.watcher.handleCount;
    return n;
  }

  async closeAll(): Promise<void> {
    const shutdown = new WrennError('unavailable', 'envd is shutting down; watch again once it is back');
    for (const [w, sink] of this.streaming) {
      w.close();
      sink.failed(shutdown);
    }
    this.streaming.clear();
    for (const w of this.polling.values()) w.watcher.close();
    this.polling.clear();
  }

  private get(id: string): PollingWatcher {
    const w = this.polling.get(id);
    if (!w) {
      throw new WrennError('watcher_not_found', `watcher ${JSON.stringify(id)} does not exist; it was removed or never created`, {
        watcherId: id,
      });
    }
    return w;
  }
}
