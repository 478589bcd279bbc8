/**
 * VolumeFiles on a plain directory (no mount, no root needed: the id mapping is this
 * process's own uid): the content calls' semantics, and that no path leaves the volume or
 * goes through a symlink a capsule could have left there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { VolumeFiles, normalizeVolumePath } from './volume-files.js';

async function withVolume(fn: (files: VolumeFiles, root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'wrenn-volume-'));
  try {
    await fn(new VolumeFiles(root, { hostBase: process.getuid?.() ?? 0, size: 1 }), root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

const text = async (r: Readable) => {
  let s = '';
  for await (const c of r) s += c;
  return s;
};

test('paths are normalised inside the volume; .. and NUL are refused', () => {
  assert.equal(normalizeVolumePath('a//b/'), '/a/b');
  assert.equal(normalizeVolumePath('/'), '/');
  assert.throws(() => normalizeVolumePath('/../etc'), /'\.\.'/);
  assert.throws(() => normalizeVolumePath('a/../../b'), /'\.\.'/);
  assert.throws(() => normalizeVolumePath('a\0b'), /NUL/);
});

test('write, read, list with depth, make directories, remove', async () => {
  await withVolume(async (files) => {
    const w = await files.write('/f.txt', Readable.from([Buffer.from('hello')]), {}, false);
    assert.deepEqual([w.type, w.size, w.mode, w.uid], ['file', 5, 0o644, 0]);
    await assert.rejects(files.write('/f.txt', Readable.from([]), {}, false), /already exists/);
    await files.write('/f.txt', Readable.from([Buffer.from('again')]), {}, true);
    assert.equal(await text(await files.read('/f.txt')), 'again');
    await assert.rejects(files.write('/no/f.txt', Readable.from([]), {}, false), /not found/);
    await assert.rejects(files.makeDir('/x/y', false, {}), /not found/);
    const d = await files.makeDir('/x/y', true, { mode: 0o700 });
    assert.deepEqual([d.type, d.mode], ['directory', 0o700]);
    assert.equal((await files.makeDir('/x/y', true, {})).path, '/x/y');
    await assert.rejects(files.makeDir('/x/y', false, {}), /already exists/);
    await files.write('/x/y/z', Readable.from([Buffer.from('z')]), {}, false);
    assert.deepEqual((await files.list('/', 1)).map((e) => e.path), ['/f.txt', '/x']);
    assert.deepEqual((await files.list('/', 3)).map((e) => e.path), ['/f.txt', '/x', '/x/y', '/x/y/z']);
    assert.equal((await files.setMetadata('/x/y/z', { mode: 0o600 })).mode, 0o600);
    await files.remove('/x');
    await assert.rejects(files.stat('/x/y/z'), /not found/);
    await assert.rejects(files.remove('/'), /cannot be removed/);
  });
});

test('symlinks are reported and removed, never followed', async () => {
  await withVolume(async (files, root) => {
    const outside = await mkdtemp(join(tmpdir(), 'wrenn-outside-'));
    try {
      await writeFile(join(outside, 'secret'), 'host data');
      await symlink(outside, join(root, 'dir-link'));
      await symlink(join(outside, 'secret'), join(root, 'file-link'));
      const st = await files.stat('/file-link');
      assert.deepEqual([st.type, st.target], ['symlink', join(outside, 'secret')]);
      await assert.rejects(files.read('/file-link'), /symlink/);
      await assert.rejects(files.read('/dir-link/secret'), /symlink/);
      await assert.rejects(files.write('/dir-link/new', Readable.from([Buffer.from('x')]), {}, true), /symlink/);
      await assert.rejects(files.write('/file-link', Readable.from([Buffer.from('x')]), {}, true), /not a file/);
      await assert.rejects(files.makeDir('/dir-link/sub', true, {}), /symlink/);
      await assert.rejects(files.setMetadata('/file-link', { mode: 0o777 }), /symlink/);
      await assert.rejects(files.list('/dir-link', 1), /not a directory/);
      await files.remove('/dir-link');
      assert.equal(await readFile(join(outside, 'secret'), 'utf8'), 'host data', 'the link target is untouched');
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });
});
