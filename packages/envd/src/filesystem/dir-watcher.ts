/**
 * Watches one directory (optionally its whole tree) with fs.watch and turns what inotify
 * reports into CREATE / WRITE / REMOVE / RENAME / CHMOD events named relative to it.
 *
 * Node 20's `recursive` fs.watch option is emulated in JS on Linux and misses changes, so
 * this keeps one fs.watch handle per directory itself, adding handles for directories
 * created later and closing those of directories that go away. fs.watch only says
 * 'rename' or 'change'; the event type is derived by comparing an lstat with the one
 * cached for that name (new inode: CREATE; mode/owner changed: CHMOD; size/mtime: WRITE).
 * Handlers run synchronously (lstatSync) so each event sees the state it was caused by as
 * closely as possible and the cache never races with itself.
 */
import { watch, lstatSync, readdirSync, statSync, type FSWatcher, type Stats } from 'node:fs';
import { posix } from 'node:path';
import { EventType, type FilesystemEvent } from '@wrenn/proto/filesystem';
import { WrennError, fromSystemError } from '@wrenn/shared';
import type { EnvdContext } from '../core/context.js';
import type { UserInfo } from '../core/users.js';
import { canDescend, ensureCanList } from './access.js';
import { entryInfo } from './entry-info.js';
import { EventOutbox } from './event-outbox.js';
import { classifyChange, ensureNotNetworkMount, snapshot, type Snapshot } from './stat-changes.js';

export interface DirWatchOptions {
  readonly recursive: boolean;
  readonly includeEntry: boolean;
  readonly allowNetworkMounts: boolean;
  readonly user: UserInfo;
}

export interface DirWatchSink {
  event(event: FilesystemEvent): void;
  /** The watch ended on its own (watched directory removed, watch limit hit). */
  failed(err: WrennError): void;
}

/** fs.watch handles open in this process, across all watchers (leak checks in tests). */
let openHandles = 0;
export function openWatchHandleCount(): number {
  return openHandles;
}

const join = (rel: string, name: string): string => (rel ? `${rel}/${name}` : name);

export class DirWatcher {
  private readonly handles = new Map<string, FSWatcher>();
  private readonly known = new Map<string, Snapshot>();
  private readonly outbox: EventOutbox;
  /** Names whose next unchanged-looking 'change' was already reported (see onChange). */
  private readonly settled = new Set<string>();
  private settleTimer: NodeJS.Immediate | undefined;
  private closed = false;
  private failing = false;
  /** dev:ino of the watched directory, to notice it being replaced by another one. */
  private rootInode = '';

  private constructor(
    readonly root: string,
    private readonly opts: DirWatchOptions,
    private readonly sink: DirWatchSink,
    ctx: Pick<EnvdContext, 'users'>,
  ) {
    this.outbox = new EventOutbox({
      deliver: (event) => sink.event(event),
      ...(opts.includeEntry ? { entryOf: (name: string) => entryInfo(posix.join(root, name), ctx) } : {}),
    });
  }

  /**
   * Starts watching absolute `root`; resolves once every handle is open, so any change
   * made after that is reported. Throws `file_not_found` / `not_a_directory` /
   * `permission_denied` naming the path.
   */
  static async start(root: string, opts: DirWatchOptions, sink: DirWatchSink, ctx: Pick<EnvdContext, 'users'>): Promise<DirWatcher> {
    await ensureCanList(root, opts.user);
    if (!opts.allowNetworkMounts) await ensureNotNetworkMount(root);
    const watcher = new DirWatcher(root, opts, sink, ctx);
    try {
      watcher.rootInode = snapshot(statSync(root)).inode;
      watcher.watchDir('', false);
    } catch (err) {
      watcher.close();
      throw err;
    }
    return watcher;
  }

  /** Number of fs.watch handles this watcher holds (one per watched directory). */
  get handleCount(): number {
    return this.handles.size;
  }

  /** Closes every handle and drops undelivered events. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.outbox.close();
    if (this.settleTimer) clearImmediate(this.settleTimer);
    this.settleTimer = undefined;
    for (const rel of [...this.handles.keys()]) this.unwatch(rel);
    this.known.clear();
  }

  private abs(rel: string): string {
    return rel ? posix.join(this.root, rel) : this.root;
  }

  /** Opens a handle on directory `rel` (throws for the root), then records its children. */
  private watchDir(rel: string, announce: boolean): void {
    if (this.handles.has(rel)) return;
    let handle: FSWatcher;
    try {
      handle = watch(this.abs(rel), { encoding: 'utf8' }, (kind, name) => this.onChange(rel, kind, name));
    } catch (err) {
      const mapped = this.watchError(err, rel);
      if (rel === '') throw mapped;
      // A subdirectory that vanished before its handle opened is reported by its parent.
      if (mapped.code === 'file_not_found' || mapped.code === 'not_a_directory') return;
      this.fail(mapped);
      return;
    }
    openHandles++;
    this.handles.set(rel, handle);
    handle.on('error', (err) => {
      if (rel === '') this.fail(this.watchError(err, rel));
      else this.unwatch(rel);
    });
    // Handle first, then scan: an entry created in between is seen by both, and the
    // cache makes the second sighting a no-op.
    this.scan(rel, announce);
  }

  private unwatch(rel: string): void {
    const handle = this.handles.get(rel);
    if (!handle) return;
    this.handles.delete(rel);
    handle.close();
    openHandles--;
  }

  private scan(dirRel: string, announce: boolean): void {
    let names: string[];
    try {
      names = readdirSync(this.abs(dirRel));
    } catch {
      return;
    }
    for (const name of names) {
      const rel = join(dirRel, name);
      if (this.known.has(rel)) continue;
      const st = lstatOrUndefined(this.abs(rel));
      if (!st) continue;
      this.known.set(rel, snapshot(st));
      if (announce) this.outbox.push(rel, EventType.CREATE);
      this.maybeDescend(rel, st, announce);
    }
  }

  private maybeDescend(rel: string, st: Stats, announce: boolean): void {
    if (this.closed || !this.opts.recursive || !st.isDirectory()) return;
    // The user must not learn names inside directories they cannot read.
    if (canDescend(st, this.opts.user)) this.watchDir(rel, announce);
    else this.forgetBelow(rel);
  }

  private onChange(dirRel: string, kind: string, name: string | Buffer | null): void {
    if (this.closed || this.failing) return;
    if (name === null) {
      // No name (queue overflow): re-read the directory to catch what appeared.
      this.scan(dirRel, true);
      return;
    }
    const rel = join(dirRel, String(name));
    const prev = this.known.get(rel);
    const st = lstatOrUndefined(this.abs(rel));
    if (!st) {
      if (prev) this.gone(rel, prev);
      // Events about a watched directory itself carry its own base name.
      else if (dirRel === '' && String(name) === posix.basename(this.root)) this.checkRootStillThere();
      return;
    }
    const now = snapshot(st);
    if (!prev || prev.inode !== now.inode || prev.isDir !== now.isDir) {
      // Replaced by another inode (moved over): the old one is simply no longer there.
      if (prev?.isDir) this.forgetBelow(rel);
      this.appeared(rel, st, now);
      return;
    }
    this.known.set(rel, now);
    if (kind !== 'change') return;
    let types = classifyChange(prev, now);
    if (types.length === 0) {
      // Already reported: the lstat of an earlier event in this batch saw this change too.
      if (this.settled.delete(rel)) return;
      // Otherwise a write that left size and mtime as they were (same clock tick).
      types = [EventType.WRITE];
    }
    // One lstat saw a write and a chmod at once: the event for the other one is still to come.
    if (types.length > 1) this.markSettled(rel);
    for (const type of types) this.outbox.push(rel, type);
    // A chmod can open or close a directory to the user.
    if (now.isDir) this.maybeDescend(rel, st, true);
  }

  /** inotify delivers a batch in one go; `settled` only has to last until the batch ends. */
  private markSettled(rel: string): void {
    this.settled.add(rel);
    this.settleTimer ??= setImmediate(() => {
      this.settleTimer = undefined;
      this.settled.clear();
    });
  }

  private appeared(rel: string, st: Stats, now: Snapshot): void {
    this.known.set(rel, now);
    const renamed = this.outbox.claimRename(now.inode);
    this.outbox.push(rel, EventType.CREATE);
    // A directory renamed within the tree brings no new entries; one moved in or created does.
    this.maybeDescend(rel, st, !renamed);
  }

  private gone(rel: string, prev: Snapshot): void {
    this.known.delete(rel);
    if (prev.isDir) this.forgetBelow(rel);
    this.outbox.pushGone(rel, prev.inode);
  }

  /** Closes the handles of `rel` and everything below, and forgets the names below it. */
  private forgetBelow(rel: string): void {
    const prefix = `${rel}/`;
    for (const key of [...this.known.keys()]) if (key.startsWith(prefix)) this.known.delete(key);
    for (const key of [...this.handles.keys()]) if (key === rel || key.startsWith(prefix)) this.unwatch(key);
  }

  private checkRootStillThere(): void {
    const st = statOrUndefined(this.root);
    if (st && snapshot(st).inode === this.rootInode) return;
    this.fail(new WrennError('file_not_found', `watched directory ${JSON.stringify(this.root)} was removed or moved`, { path: this.root }));
  }

  private watchError(err: unknown, rel: string): WrennError {
    const path = this.abs(rel);
    if ((err as NodeJS.ErrnoException).code === 'ENOSPC') {
      return new WrennError(
        'resource_exhausted',
        `cannot watch ${JSON.stringify(path)}: the inotify watch limit is reached; watch a smaller tree or raise fs.inotify.max_user_watches`,
        { path },
      );
    }
    return fromSystemError(err, path);
  }

  /** Stops watching, delivers what is still queued (as REMOVE if pending), then reports `err`. */
  private fail(err: WrennError): void {
    if (this.closed || this.failing) return;
    this.failing = true;
    for (const rel of [...this.handles.keys()]) this.unwatch(rel);
    void this.outbox.drain().then(() => {
      if (this.closed) return;
      this.close();
      this.sink.failed(err);
    });
  }
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}
