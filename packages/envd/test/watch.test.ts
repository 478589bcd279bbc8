import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  appendFileSync,
  chmodSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Code, ConnectError, type Client } from '@connectrpc/connect';
import { EventType, FileType, type Filesystem, type FilesystemEvent } from '@wrenn/proto/filesystem';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { WatchDirRequestSchema } from '@wrenn/proto/filesystem';
import { startEnvd, asUser, type TestEnvd, TEST_USER } from './harness.js';
import { openWatchHandleCount } from '../src/filesystem/index.js';

const tester = asUser(TEST_USER);

/** inotify watches held by this process, read from the kernel (what fs.watch leaks would leave). */
function inotifyWatchCount(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    let link: string;
    try {
      link = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (link !== 'anon_inode:inotify') continue;
    n += readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('inotify wd:')).length;
  }
  return n;
}

const describeEvent = (e: FilesystemEvent): string => `${EventType[e.type]} ${e.name}`;

/** One open WatchDir stream: collects its events until closed. */
class WatchSession {
  readonly events: FilesystemEvent[] = [];
  keepalives = 0;
  error: unknown;
  private readonly controller = new AbortController();
  private done!: Promise<void>;
  private changed: () => void = () => {};

  static async open(
    client: Client<typeof Filesystem>,
    req: MessageInitShape<typeof WatchDirRequestSchema>,
    headers: Record<string, string> = {},
  ): Promise<WatchSession> {
    const s = new WatchSession();
    const stream = client.watchDir(req, { headers, signal: s.controller.signal });
    const it = stream[Symbol.asyncIterator]();
    try {
      const first = await it.next();
      assert.equal(first.done, false);
      assert.equal(first.value.event.case, 'start', 'the first message is the StartEvent');
    } catch (err) {
      s.controller.abort();
      throw err;
    }
    s.done = (async () => {
      try {
        while (true) {
          const r = await it.next();
          if (r.done) break;
          if (r.value.event.case === 'filesystem') s.events.push(r.value.event.value);
          if (r.value.event.case === 'keepalive') s.keepalives++;
          s.changed();
        }
      } catch (err) {
        s.error = err;
      }
      s.changed();
    })();
    return s;
  }

  /** Position after the events seen so far, for `waitFor(..., { after })`. */
  mark(): number {
    return this.events.length;
  }

  /** Waits until an event (from index `after` on) matches; fails with what was seen after `timeoutMs`. */
  async waitFor(type: EventType, name: string, { timeoutMs = 5000, after = 0 } = {}): Promise<FilesystemEvent> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const found = this.events.slice(after).find((e) => e.type === type && e.name === name);
      if (found) return found;
      if (this.error) throw this.error;
      const left = deadline - Date.now();
      if (left <= 0) assert.fail(`no ${EventType[type]} ${name}; saw: ${this.events.map(describeEvent).join(', ') || 'nothing'}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.changed = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Waits for the stream to end on its own (server side) and returns its error. */
  async ended(timeoutMs = 5000): Promise<unknown> {
    const timer = setTimeout(() => this.controller.abort(), timeoutMs);
    await this.done;
    clearTimeout(timer);
    return this.error;
  }

  async close(): Promise<void> {
    this.controller.abort();
    await this.done;
  }
}

describe('WatchDir', () => {
  let t: TestEnvd;
  let base: string;
  let n = 0;
  const sessions: WatchSession[] = [];
  const scratch = (): string => {
    const dir = join(base, `w-${++n}`);
    mkdirSync(dir);
    return dir;
  };
  const open = async (req: MessageInitShape<typeof WatchDirRequestSchema>, headers?: Record<string, string>) => {
    const s = await WatchSession.open(t.fs, req, headers);
    sessions.push(s);
    return s;
  };

  before(async () => {
    t = await startEnvd();
    chmodSync(t.root, 0o755);
    chmodSync(join(t.root, 'home'), 0o755);
    base = join(t.root, 'watched');
    mkdirSync(base, { mode: 0o755 });
  });
  after(async () => {
    await Promise.all(sessions.map((s) => s.close()));
    await t.close();
  });

  test('starts with a StartEvent, then reports CREATE, WRITE, CHMOD, RENAME and REMOVE by name', async () => {
    const dir = scratch();
    const s = await open({ path: dir });
    writeFileSync(join(dir, 'a.txt'), 'one');
    await s.waitFor(EventType.CREATE, 'a.txt');
    await delay(20); // a later clock tick, so the write changes mtime
    let after = s.mark();
    appendFileSync(join(dir, 'a.txt'), 'two');
    await s.waitFor(EventType.WRITE, 'a.txt', { after });
    after = s.mark();
    chmodSync(join(dir, 'a.txt'), 0o600);
    await s.waitFor(EventType.CHMOD, 'a.txt', { after });
    renameSync(join(dir, 'a.txt'), join(dir, 'b.txt'));
    await s.waitFor(EventType.RENAME, 'a.txt');
    await s.waitFor(EventType.CREATE, 'b.txt');
    unlinkSync(join(dir, 'b.txt'));
    await s.waitFor(EventType.REMOVE, 'b.txt');
    const chmods = s.events.filter((e) => e.type === EventType.CHMOD);
    assert.deepEqual(chmods.map(describeEvent), ['CHMOD a.txt'], 'a chmod is not also reported as a write and vice versa');
    assert.equal(s.events.find((e) => e.type === EventType.REMOVE && e.name === 'a.txt'), undefined, 'a rename is not a remove');
  });

  test('events keep the order in which things happened', async () => {
    const dir = scratch();
    const s = await open({ path: dir });
    writeFileSync(join(dir, 'x'), 'x');
    unlinkSync(join(dir, 'x'));
    writeFileSync(join(dir, 'y'), 'y');
    await s.waitFor(EventType.CREATE, 'y');
    const names = s.events.map(describeEvent);
    // x may come and go before its create is seen; whatever is seen of it comes before y.
    const yAt = names.indexOf('CREATE y');
    assert.ok(names.slice(yAt).every((e) => !e.endsWith(' x')), names.join(', '));
  });

  test('without recursive, changes inside subdirectories are not reported', async () => {
    const dir = scratch();
    mkdirSync(join(dir, 'sub'));
    const s = await open({ path: dir, recursive: false });
    writeFileSync(join(dir, 'sub/inner.txt'), 'i');
    writeFileSync(join(dir, 'marker'), 'm');
    await s.waitFor(EventType.CREATE, 'marker');
    await delay(50);
    assert.deepEqual(
      s.events.filter((e) => e.name.startsWith('sub/')).map(describeEvent),
      [],
    );
  });

  test('recursive watches existing subdirectories and ones created after the watch started', async () => {
    const dir = scratch();
    mkdirSync(join(dir, 'old'));
    const s = await open({ path: dir, recursive: true });
    writeFileSync(join(dir, 'old/o.txt'), 'o');
    await s.waitFor(EventType.CREATE, 'old/o.txt');
    mkdirSync(join(dir, 'new'));
    await s.waitFor(EventType.CREATE, 'new');
    writeFileSync(join(dir, 'new/n.txt'), 'n');
    await s.waitFor(EventType.CREATE, 'new/n.txt');
    // Created faster than a watch can be added: found by scanning the new directory.
    mkdirSync(join(dir, 'deep/er/est'), { recursive: true });
    writeFileSync(join(dir, 'deep/er/est/d.txt'), 'd');
    await s.waitFor(EventType.CREATE, 'deep/er/est/d.txt');
    await s.waitFor(EventType.CREATE, 'deep/er');
    rmSync(join(dir, 'new'), { recursive: true });
    await s.waitFor(EventType.REMOVE, 'new/n.txt');
    await s.waitFor(EventType.REMOVE, 'new');
  });

  test('recursive follows a directory renamed within the tree', async () => {
    const dir = scratch();
    mkdirSync(join(dir, 'before'));
    const s = await open({ path: dir, recursive: true });
    renameSync(join(dir, 'before'), join(dir, 'after'));
    await s.waitFor(EventType.RENAME, 'before');
    await s.waitFor(EventType.CREATE, 'after');
    writeFileSync(join(dir, 'after/f'), 'f');
    await s.waitFor(EventType.CREATE, 'after/f');
  });

  test('include_entry attaches the EntryInfo of the changed path', async () => {
    const dir = scratch();
    const s = await open({ path: dir, includeEntry: true });
    writeFileSync(join(dir, 'e.txt'), '12345');
    const created = await s.waitFor(EventType.CREATE, 'e.txt');
    assert.equal(created.entry?.path, join(dir, 'e.txt'));
    assert.equal(created.entry?.type, FileType.FILE);
    unlinkSync(join(dir, 'e.txt'));
    const removed = await s.waitFor(EventType.REMOVE, 'e.txt');
    assert.equal(removed.entry, undefined);
  });

  test('without include_entry events carry no entry', async () => {
    const dir = scratch();
    const s = await open({ path: dir });
    writeFileSync(join(dir, 'f'), 'f');
    assert.equal((await s.waitFor(EventType.CREATE, 'f')).entry, undefined);
  });

  test('sends keepalives at the interval of the Keepalive-Ping-Interval header', async () => {
    const dir = scratch();
    const s = await open({ path: dir }, { 'Keepalive-Ping-Interval': '0.1' });
    const quiet = await open({ path: dir });
    await delay(450);
    assert.ok(s.keepalives >= 2, `got ${s.keepalives} keepalives`);
    assert.equal(quiet.keepalives, 0);
  });

  test('resolves "~" for the acting user, over the JSON codec', async () => {
    const s = await WatchSession.open(t.fsJson, { path: '~' }, tester.headers);
    sessions.push(s);
    writeFileSync(join(t.testHome, 'home-file'), 'h');
    await s.waitFor(EventType.CREATE, 'home-file');
  });

  test('a missing path is NotFound and a file is InvalidArgument, both naming the path', async () => {
    const dir = scratch();
    writeFileSync(join(dir, 'file'), '');
    for (const [path, code] of [
      [join(dir, 'missing'), Code.NotFound],
      [join(dir, 'file'), Code.InvalidArgument],
    ] as const) {
      await assert.rejects(WatchSession.open(t.fs, { path }), (err: unknown) => {
        assert.ok(err instanceof ConnectError);
        assert.equal(err.code, code);
        assert.ok(err.rawMessage.includes(path), err.rawMessage);
        return true;
      });
    }
  });

  test('an unprivileged user cannot watch a root-only directory, nor see names inside one', async () => {
    const dir = scratch();
    const secret = join(dir, 'secret');
    mkdirSync(secret, { mode: 0o700 });
    await assert.rejects(WatchSession.open(t.fs, { path: secret }, tester.headers), (err: unknown) => {
      assert.ok(err instanceof ConnectError);
      assert.equal(err.code, Code.PermissionDenied);
      assert.ok(err.rawMessage.includes(secret), err.rawMessage);
      return true;
    });
    const s = await WatchSession.open(t.fs, { path: dir, recursive: true }, tester.headers);
    sessions.push(s);
    writeFileSync(join(secret, 'hidden.txt'), 'h');
    writeFileSync(join(dir, 'marker'), 'm');
    await s.waitFor(EventType.CREATE, 'marker');
    await delay(50);
    assert.deepEqual(s.events.filter((e) => e.name.startsWith('secret/')).map(describeEvent), []);
  });

  test('the stream ends with NotFound when the watched directory is removed', async () => {
    const dir = scratch();
    writeFileSync(join(dir, 'f'), 'f');
    const s = await open({ path: dir });
    rmSync(dir, { recursive: true });
    const err = await s.ended();
    assert.ok(err instanceof ConnectError, `stream ended with ${String(err)}`);
    assert.equal(err.code, Code.NotFound);
    assert.ok(err.rawMessage.includes(dir), err.rawMessage);
    assert.ok(s.events.some((e) => e.type === EventType.REMOVE && e.name === 'f'), 'events before the end are delivered');
  });

  test('cancelling streams closes every fs.watch handle and inotify watch, over many cycles', async () => {
    await Promise.all(sessions.splice(0).map((s) => s.close()));
    await delay(50);
    const handlesBefore = openWatchHandleCount();
    const inotifyBefore = inotifyWatchCount();
    assert.equal(handlesBefore, 0, 'no watch is open after every stream was cancelled');
    const dir = scratch();
    mkdirSync(join(dir, 'a/b'), { recursive: true });
    for (let i = 0; i < 25; i++) {
      const s = await WatchSession.open(i % 2 ? t.fs : t.fsJson, { path: dir, recursive: true });
      assert.equal(openWatchHandleCount(), 3, 'one handle per directory of the tree');
      await s.close();
    }
    // The server notices the cancel asynchronously.
    const deadline = Date.now() + 3000;
    while (openWatchHandleCount() !== 0 && Date.now() < deadline) await delay(10);
    assert.equal(openWatchHandleCount(), handlesBefore);
    assert.equal(inotifyWatchCount(), inotifyBefore);
  });
});

describe('polling watchers', () => {
  let t: TestEnvd;
  let base: string;
  before(async () => {
    t = await startEnvd();
    base = join(t.root, 'polled');
    mkdirSync(base);
  });
  after(async () => {
    await t.close();
  });

  const waitForEvents = async (id: string, want: (all: FilesystemEvent[]) => boolean, json = false): Promise<FilesystemEvent[]> => {
    const all: FilesystemEvent[] = [];
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      all.push(...(await (json ? t.fsJson : t.fs).getWatcherEvents({ watcherId: id })).events);
      if (want(all)) return all;
      await delay(20);
    }
    assert.fail(`events never matched; got ${all.map(describeEvent).join(', ')}`);
  };

  test('CreateWatcher buffers events, GetWatcherEvents drains them, RemoveWatcher ends it', async () => {
    const dir = join(base, 'p1');
    mkdirSync(dir);
    const { watcherId } = await t.fs.createWatcher({ path: dir, recursive: true, includeEntry: true });
    assert.ok(watcherId);
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub/f.txt'), 'f');
    const events = await waitForEvents(watcherId, (all) => all.some((e) => e.name === 'sub/f.txt'), true);
    assert.deepEqual(events.slice(0, 2).map(describeEvent), ['CREATE sub', 'CREATE sub/f.txt']);
    assert.equal(events[1]?.entry?.path, join(dir, 'sub/f.txt'));
    await delay(50);
    const after = (await t.fs.getWatcherEvents({ watcherId })).events;
    assert.ok(
      after.every((e) => e.name === 'sub/f.txt'),
      `only the file's own write may follow: ${after.map(describeEvent).join(', ')}`,
    );
    assert.deepEqual((await t.fs.getWatcherEvents({ watcherId })).events, [], 'a drained watcher has nothing new');
    await t.fsJson.removeWatcher({ watcherId });
    await assert.rejects(t.fs.getWatcherEvents({ watcherId }), (err: unknown) => err instanceof ConnectError && err.code === Code.NotFound);
  });

  test('keeps at most the newest 10,000 events when nobody drains, dropping the oldest', async () => {
    const dir = join(base, 'p2');
    mkdirSync(dir);
    const { watcherId } = await t.fs.createWatcher({ path: dir });
    // A stream on the same directory sees the same inotify events in the same order: once it
    // has the marker, the polling watcher has buffered everything before it too.
    const stream = await WatchSession.open(t.fs, { path: dir });
    try {
      const names = Array.from({ length: 10_300 }, (_, i) => `f-${String(i).padStart(5, '0')}`);
      for (const name of names) writeFileSync(join(dir, name), '');
      writeFileSync(join(dir, 'marker'), '');
      await stream.waitFor(EventType.CREATE, 'marker', { timeoutMs: 20_000 });
      const { events } = await t.fs.getWatcherEvents({ watcherId });
      assert.equal(events.length, 10_000);
      assert.deepEqual(events.map(describeEvent), [...names.slice(301), 'marker'].map((n) => `CREATE ${n}`));
    } finally {
      await stream.close();
      await t.fs.removeWatcher({ watcherId });
    }
  });

  test('unknown watcher ids are NotFound for GetWatcherEvents and RemoveWatcher', async () => {
    for (const call of [t.fs.getWatcherEvents({ watcherId: 'no-such-watcher' }), t.fsJson.removeWatcher({ watcherId: 'no-such-watcher' })]) {
      await assert.rejects(call, (err: unknown) => {
        assert.ok(err instanceof ConnectError);
        assert.equal(err.code, Code.NotFound);
        assert.match(err.rawMessage, /no-such-watcher/);
        return true;
      });
    }
  });

  test('CreateWatcher on a missing path is NotFound', async () => {
    await assert.rejects(t.fs.createWatcher({ path: join(base, 'missing') }), (err: unknown) => err instanceof ConnectError && err.code === Code.NotFound);
  });
});
