import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { Code, ConnectError } from '@connectrpc/connect';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { FileType, type EntryInfo } from '@wrenn/proto/filesystem';
import { startEnvd, asUser, type TestEnvd, TEST_USER, TEST_UID, TEST_GID } from './harness.js';
import { readUserXattrs, writeUserXattrs, xattrsAvailable } from '../src/filesystem/index.js';

const tester = asUser(TEST_USER);

/** Asserts that `call` fails with Connect `code` and a message matching `message`. */
async function rejectsWith(call: Promise<unknown>, code: Code, message: RegExp | string): Promise<void> {
  await assert.rejects(call, (err: unknown) => {
    assert.ok(err instanceof ConnectError, `expected a ConnectError, got ${String(err)}`);
    assert.equal(err.code, code, `code ${Code[err.code]}: ${err.rawMessage}`);
    if (typeof message === 'string') assert.ok(err.rawMessage.includes(message), `message ${JSON.stringify(err.rawMessage)} lacks ${message}`);
    else assert.match(err.rawMessage, message);
    return true;
  });
}

function ownedByTester(path: string): void {
  chownSync(path, TEST_UID, TEST_GID);
}

describe('filesystem service', () => {
  let t: TestEnvd;
  let home: string;
  let n = 0;
  /** A fresh directory in the tester's home for one test, owned by tester. */
  const scratch = (): string => {
    const dir = join(home, `case-${++n}`);
    mkdirSync(dir, { mode: 0o755 });
    ownedByTester(dir);
    return dir;
  };

  before(async () => {
    t = await startEnvd();
    // The fixture root is a 0700 mkdtemp dir: let the unprivileged user reach its home inside.
    chmodSync(t.root, 0o755);
    chmodSync(join(t.root, 'home'), 0o755);
    home = t.testHome;
  });
  after(async () => {
    await t.close();
  });

  describe('Stat', () => {
    test('describes a file: type, absolute path, size, mode, ls-style permissions, owner/group names, mtime', async () => {
      const dir = scratch();
      const file = join(dir, 'hello.txt');
      writeFileSync(file, 'hello world');
      chmodSync(file, 0o640);
      ownedByTester(file);
      const { entry } = await t.fs.stat({ path: file });
      assert.ok(entry);
      assert.equal(entry.name, 'hello.txt');
      assert.equal(entry.type, FileType.FILE);
      assert.equal(entry.path, file);
      assert.equal(entry.size, 11n);
      assert.equal(entry.mode, 0o640);
      assert.equal(entry.permissions, '-rw-r-----');
      assert.equal(entry.owner, TEST_USER);
      assert.equal(entry.group, TEST_USER);
      assert.equal(entry.symlinkTarget, undefined);
      assert.ok(entry.modifiedTime);
      assert.equal(timestampMs(entry.modifiedTime), Math.floor(statSync(file).mtimeMs));
    });

    test('reports setuid and sticky bits in mode and permissions', async () => {
      const dir = scratch();
      const file = join(dir, 'suid');
      writeFileSync(file, '');
      chmodSync(file, 0o4755);
      const sticky = join(dir, 'shared');
      mkdirSync(sticky);
      chmodSync(sticky, 0o1777);
      const f = (await t.fs.stat({ path: file })).entry!;
      assert.equal(f.mode, 0o4755);
      assert.equal(f.permissions, '-rwsr-xr-x');
      const d = (await t.fs.stat({ path: sticky })).entry!;
      assert.equal(d.type, FileType.DIRECTORY);
      assert.equal(d.mode, 0o1777);
      assert.equal(d.permissions, 'drwxrwxrwt');
    });

    test('describes a symlink itself: type SYMLINK, link mode and size, resolved target', async () => {
      const dir = scratch();
      writeFileSync(join(dir, 'target.txt'), 'a much longer content than the link text');
      const link = join(dir, 'link');
      symlinkSync('target.txt', link);
      const { entry } = await t.fs.stat({ path: link });
      assert.ok(entry);
      assert.equal(entry.type, FileType.SYMLINK);
      assert.equal(entry.symlinkTarget, join(dir, 'target.txt'));
      assert.equal(entry.size, BigInt('target.txt'.length));
      assert.equal(entry.mode, 0o777);
      assert.equal(entry.permissions, 'lrwxrwxrwx');
    });

    test('resolves "~" and relative paths from the acting user\'s home', async () => {
      const dir = scratch();
      const name = dir.slice(home.length + 1);
      writeFileSync(join(dir, 'x.txt'), 'x');
      const viaTilde = (await t.fs.stat({ path: `~/${name}/x.txt` }, tester)).entry!;
      const viaRelative = (await t.fs.stat({ path: `${name}/x.txt` }, tester)).entry!;
      assert.equal(viaTilde.path, join(dir, 'x.txt'));
      assert.equal(viaRelative.path, join(dir, 'x.txt'));
      assert.equal((await t.fs.stat({ path: '~' }, tester)).entry!.path, home);
    });

    test('works over the JSON codec too', async () => {
      const dir = scratch();
      writeFileSync(join(dir, 'j.txt'), '12345');
      const { entry } = await t.fsJson.stat({ path: join(dir, 'j.txt') });
      assert.equal(entry?.size, 5n);
      assert.equal(entry?.type, FileType.FILE);
      assert.equal(entry?.owner, 'root');
    });

    test('a missing path is NotFound and the message names it', async () => {
      const missing = join(scratch(), 'nope.txt');
      await rejectsWith(t.fs.stat({ path: missing }), Code.NotFound, missing);
    });

    test('returns user.* extended attributes as metadata, without the prefix', async () => {
      assert.ok(await xattrsAvailable(), 'the fs-xattr addon must load in tests');
      const file = join(scratch(), 'meta.txt');
      writeFileSync(file, 'm');
      await writeUserXattrs(file, { owner: 'team-a', 'e2b.kind': 'report' });
      const { entry } = await t.fs.stat({ path: file });
      assert.deepEqual({ ...entry?.metadata }, { owner: 'team-a', 'e2b.kind': 'report' });
      const { entry: viaJson } = await t.fsJson.stat({ path: file });
      assert.deepEqual({ ...viaJson?.metadata }, { owner: 'team-a', 'e2b.kind': 'report' });
    });
  });

  describe('MakeDir', () => {
    test('creates missing parents, each mode 0755 and owned by the acting user', async () => {
      const dir = scratch();
      const { entry } = await t.fs.makeDir({ path: `${dir}/a/b/c` }, tester);
      assert.equal(entry?.type, FileType.DIRECTORY);
      assert.equal(entry?.path, `${dir}/a/b/c`);
      assert.equal(entry?.owner, TEST_USER);
      for (const p of ['a', 'a/b', 'a/b/c']) {
        const st = statSync(join(dir, p));
        assert.equal(st.uid, TEST_UID, p);
        assert.equal(st.gid, TEST_GID, p);
        assert.equal(st.mode & 0o7777, 0o755, p);
      }
    });

    test('an existing path is AlreadyExists', async () => {
      const dir = scratch();
      mkdirSync(join(dir, 'there'));
      await rejectsWith(t.fs.makeDir({ path: join(dir, 'there') }), Code.AlreadyExists, join(dir, 'there'));
      writeFileSync(join(dir, 'file'), '');
      await rejectsWith(t.fsJson.makeDir({ path: join(dir, 'file') }), Code.AlreadyExists, join(dir, 'file'));
    });

    test('resolves a relative path from the acting user\'s home', async () => {
      const dir = scratch();
      const name = dir.slice(home.length + 1);
      const { entry } = await t.fs.makeDir({ path: `${name}/rel` }, tester);
      assert.equal(entry?.path, join(dir, 'rel'));
      assert.equal(statSync(join(dir, 'rel')).uid, TEST_UID);
    });
  });

  describe('ListDir', () => {
    let tree: string;
    before(() => {
      tree = scratch();
      // tree/a/b/c/d/e.txt, tree/top.txt, tree/a/a.txt
      mkdirSync(join(tree, 'a/b/c/d'), { recursive: true });
      writeFileSync(join(tree, 'a/b/c/d/e.txt'), 'e');
      writeFileSync(join(tree, 'top.txt'), 't');
      writeFileSync(join(tree, 'a/a.txt'), 'a');
    });

    const rel = (entries: EntryInfo[]): string[] => entries.map((e) => e.path.slice(tree.length + 1));

    test('depth 1 lists only the direct children, sorted by path', async () => {
      const { entries } = await t.fs.listDir({ path: tree, depth: 1 });
      assert.deepEqual(rel(entries), ['a', 'top.txt']);
      assert.equal(entries[0]?.type, FileType.DIRECTORY);
      assert.equal(entries[1]?.type, FileType.FILE);
    });

    test('depth 0 means the same as depth 1', async () => {
      const { entries } = await t.fsJson.listDir({ path: tree, depth: 0 });
      assert.deepEqual(rel(entries), ['a', 'top.txt']);
    });

    test('depth 3 descends three levels and no further', async () => {
      const { entries } = await t.fs.listDir({ path: tree, depth: 3 });
      assert.deepEqual(rel(entries), ['a', 'a/a.txt', 'a/b', 'a/b/c', 'top.txt']);
    });

    test('symlinked directories are listed as symlinks and never entered, so loops end', async () => {
      const dir = scratch();
      mkdirSync(join(dir, 'real'));
      writeFileSync(join(dir, 'real/f.txt'), 'f');
      symlinkSync('..', join(dir, 'real/up')); // loops back to dir
      symlinkSync('.', join(dir, 'self')); // loops onto itself
      const { entries } = await t.fs.listDir({ path: dir, depth: 10 });
      assert.deepEqual(
        entries.map((e) => [e.path.slice(dir.length + 1), FileType[e.type]]),
        [
          ['real', 'DIRECTORY'],
          ['real/f.txt', 'FILE'],
          ['real/up', 'SYMLINK'],
          ['self', 'SYMLINK'],
        ],
      );
    });

    test('a symlink to a directory given as the path is listed through, with paths under the given path', async () => {
      const dir = scratch();
      symlinkSync(join(tree, 'a'), join(dir, 'to-a'));
      const { entries } = await t.fs.listDir({ path: join(dir, 'to-a'), depth: 1 });
      assert.deepEqual(
        entries.map((e) => e.path),
        [join(dir, 'to-a/a.txt'), join(dir, 'to-a/b')],
      );
    });

    test('a path that is not a directory is InvalidArgument', async () => {
      await rejectsWith(t.fs.listDir({ path: join(tree, 'top.txt'), depth: 1 }), Code.InvalidArgument, join(tree, 'top.txt'));
    });

    test('a missing path is NotFound', async () => {
      await rejectsWith(t.fs.listDir({ path: join(tree, 'nope'), depth: 1 }), Code.NotFound, join(tree, 'nope'));
    });
  });

  describe('Move', () => {
    test('moves a file into another directory and returns the new entry', async () => {
      const dir = scratch();
      mkdirSync(join(dir, 'from'));
      mkdirSync(join(dir, 'to'));
      writeFileSync(join(dir, 'from/f.txt'), 'payload');
      const { entry } = await t.fs.move({ source: join(dir, 'from/f.txt'), destination: join(dir, 'to/g.txt') });
      assert.equal(entry?.path, join(dir, 'to/g.txt'));
      assert.equal(entry?.name, 'g.txt');
      assert.equal(entry?.size, 7n);
      assert.equal(readFileSync(join(dir, 'to/g.txt'), 'utf8'), 'payload');
      assert.equal(existsSync(join(dir, 'from/f.txt')), false);
    });

    test('moves a directory with its contents, relative paths from the user\'s home', async () => {
      const dir = scratch();
      const name = dir.slice(home.length + 1);
      mkdirSync(join(dir, 'src/inner'), { recursive: true });
      writeFileSync(join(dir, 'src/inner/f'), 'f');
      const { entry } = await t.fsJson.move({ source: `${name}/src`, destination: `~/${name}/dst` }, tester);
      assert.equal(entry?.type, FileType.DIRECTORY);
      assert.equal(entry?.path, join(dir, 'dst'));
      assert.equal(readFileSync(join(dir, 'dst/inner/f'), 'utf8'), 'f');
      assert.equal(existsSync(join(dir, 'src')), false);
    });

    test('a missing destination parent is NotFound and nothing moves', async () => {
      const dir = scratch();
      writeFileSync(join(dir, 'f'), 'f');
      await rejectsWith(t.fs.move({ source: join(dir, 'f'), destination: join(dir, 'no/such/f') }), Code.NotFound, join(dir, 'no/such'));
      assert.equal(existsSync(join(dir, 'f')), true);
    });

    test('a missing source is NotFound', async () => {
      const dir = scratch();
      await rejectsWith(t.fs.move({ source: join(dir, 'ghost'), destination: join(dir, 'x') }), Code.NotFound, join(dir, 'ghost'));
    });

    test('moves across filesystems (EXDEV) keeping content, owner, mode, symlinks and metadata', async () => {
      const other = mkdtempSync('/dev/shm/wrenn-fs-test-');
      try {
        const dir = scratch();
        assert.notEqual(statSync(other).dev, statSync(dir).dev, '/dev/shm must be another filesystem for this test');
        chmodSync(other, 0o755);
        const src = join(dir, 'tree');
        mkdirSync(join(src, 'sub'), { recursive: true });
        writeFileSync(join(src, 'sub/run.sh'), '#!/bin/sh\n');
        ownedByTester(join(src, 'sub/run.sh'));
        chmodSync(join(src, 'sub/run.sh'), 0o4750); // after chown, which clears setuid
        ownedByTester(src);
        symlinkSync('sub/run.sh', join(src, 'link'));
        await writeUserXattrs(join(src, 'sub/run.sh'), { tag: 'moved' });
        const { entry } = await t.fs.move({ source: src, destination: join(other, 'tree') });
        assert.equal(entry?.path, join(other, 'tree'));
        assert.equal(existsSync(src), false);
        const moved = join(other, 'tree/sub/run.sh');
        assert.equal(readFileSync(moved, 'utf8'), '#!/bin/sh\n');
        const st = statSync(moved);
        assert.equal(st.uid, TEST_UID);
        assert.equal(st.mode & 0o7777, 0o4750);
        assert.equal(statSync(join(other, 'tree')).uid, TEST_UID);
        assert.equal(readlinkSync(join(other, 'tree/link')), 'sub/run.sh');
        assert.deepEqual(await readUserXattrs(moved), { tag: 'moved' });
      } finally {
        rmSync(other, { recursive: true, force: true });
      }
    });
  });

  describe('Remove', () => {
    test('removes a file', async () => {
      const dir = scratch();
      writeFileSync(join(dir, 'f'), 'f');
      await t.fs.remove({ path: join(dir, 'f') });
      assert.equal(existsSync(join(dir, 'f')), false);
    });

    test('removes a directory tree recursively', async () => {
      const dir = scratch();
      mkdirSync(join(dir, 'd/e/f'), { recursive: true });
      writeFileSync(join(dir, 'd/e/f/g.txt'), 'g');
      await t.fsJson.remove({ path: join(dir, 'd') });
      assert.equal(existsSync(join(dir, 'd')), false);
    });

    test('removes a symlink, not what it points to', async () => {
      const dir = scratch();
      mkdirSync(join(dir, 'keep'));
      writeFileSync(join(dir, 'keep/f'), 'f');
      symlinkSync(join(dir, 'keep'), join(dir, 'link'));
      await t.fs.remove({ path: join(dir, 'link') });
      assert.equal(existsSync(join(dir, 'link')), false);
      assert.equal(readFileSync(join(dir, 'keep/f'), 'utf8'), 'f');
    });

    test('a missing path is NotFound', async () => {
      const missing = join(scratch(), 'gone');
      await rejectsWith(t.fs.remove({ path: missing }), Code.NotFound, missing);
    });
  });

  describe('permissions of an unprivileged user', () => {
    let dir: string;
    let secret: string;
    before(() => {
      dir = scratch();
      secret = join(dir, 'secret');
      mkdirSync(join(secret, 'sub'), { recursive: true });
      writeFileSync(join(secret, 'inner.txt'), 'classified');
      chmodSync(secret, 0o700); // root-owned
    });

    test('Stat inside a root-only 0700 directory is PermissionDenied naming the path', async () => {
      const path = join(secret, 'inner.txt');
      await rejectsWith(t.fs.stat({ path }, tester), Code.PermissionDenied, path);
    });

    test('ListDir of a root-only 0700 directory is PermissionDenied naming the path', async () => {
      await rejectsWith(t.fs.listDir({ path: secret, depth: 1 }, tester), Code.PermissionDenied, secret);
    });

    test('MakeDir inside a root-only 0700 directory is PermissionDenied naming the path', async () => {
      const path = join(secret, 'new/deeper');
      await rejectsWith(t.fs.makeDir({ path }, tester), Code.PermissionDenied, path);
      assert.equal(existsSync(join(secret, 'new')), false);
    });

    test('Remove inside a root-only 0700 directory is PermissionDenied naming the path', async () => {
      const path = join(secret, 'inner.txt');
      await rejectsWith(t.fsJson.remove({ path }, tester), Code.PermissionDenied, path);
      assert.equal(existsSync(path), true);
    });

    test('Move out of or into a root-only 0700 directory is PermissionDenied naming the path', async () => {
      const out = join(secret, 'inner.txt');
      await rejectsWith(t.fs.move({ source: out, destination: join(dir, 'stolen.txt') }, tester), Code.PermissionDenied, out);
      const mine = join(dir, 'mine.txt');
      writeFileSync(mine, 'm');
      ownedByTester(mine);
      const into = join(secret, 'mine.txt');
      await rejectsWith(t.fs.move({ source: mine, destination: into }, tester), Code.PermissionDenied, into);
      assert.equal(existsSync(out), true);
      assert.equal(existsSync(mine), true);
    });

    test('Remove of a tree holding a root-only directory is refused and deletes nothing', async () => {
      const own = join(dir, 'own');
      mkdirSync(join(own, 'locked'), { recursive: true });
      writeFileSync(join(own, 'locked/x'), 'x');
      writeFileSync(join(own, 'free.txt'), 'f');
      ownedByTester(own);
      ownedByTester(join(own, 'free.txt'));
      chmodSync(join(own, 'locked'), 0o700); // stays root's
      await rejectsWith(t.fs.remove({ path: own }, tester), Code.PermissionDenied, join(own, 'locked'));
      assert.equal(existsSync(join(own, 'free.txt')), true);
      assert.equal(existsSync(join(own, 'locked/x')), true);
    });

    test('in a sticky world-writable directory a user cannot remove another user\'s file', async () => {
      const shared = join(dir, 'tmp');
      mkdirSync(shared);
      chmodSync(shared, 0o1777);
      writeFileSync(join(shared, 'roots.txt'), 'r');
      await rejectsWith(t.fs.remove({ path: join(shared, 'roots.txt') }, tester), Code.PermissionDenied, join(shared, 'roots.txt'));
      assert.equal(existsSync(join(shared, 'roots.txt')), true);
    });

    test('root may do all of it', async () => {
      assert.equal((await t.fs.stat({ path: join(secret, 'inner.txt') })).entry?.size, 10n);
      const { entries } = await t.fs.listDir({ path: secret, depth: 1 });
      assert.deepEqual(
        entries.map((e) => e.name),
        ['inner.txt', 'sub'],
      );
      assert.equal(lstatSync(secret).mode & 0o777, 0o700);
    });
  });
});
