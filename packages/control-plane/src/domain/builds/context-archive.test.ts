import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, readFileSync, symlinkSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tarStream from 'tar-stream';
import { WrennError } from '@wrenn/shared';
import { readContextArchive } from './context-archive.js';
import { checkCopySources, planCopy } from './context-copy.js';

type Entry = { name: string; type?: 'file' | 'directory' | 'symlink' | 'link' | 'fifo'; data?: string; linkname?: string; mode?: number };

/** A tar with exactly these headers (the system tar would normalise hostile names). */
async function tarOf(entries: Entry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (d: unknown) => chunks.push(d as Buffer));
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  for (const e of entries) {
    const type = e.type ?? 'file';
    if (type === 'file') await new Promise<void>((r, j) => pack.entry({ name: e.name, mode: e.mode ?? 0o644, size: Buffer.byteLength(e.data ?? '') }, e.data ?? '', (err) => (err ? j(err) : r())));
    else pack.entry({ name: e.name, type, ...(e.linkname ? { linkname: e.linkname } : {}), mode: e.mode ?? 0o755 });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function refused(buf: Buffer, what: RegExp): Promise<void> {
  await assert.rejects(readContextArchive(buf), (err: unknown) => {
    assert.ok(err instanceof WrennError);
    assert.equal(err.code, 'invalid_argument');
    assert.match(err.message, what);
    return true;
  });
}

test('tar, tar.gz and zip contexts are read with modes and symlinks', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wrenn-ctx-'));
  try {
    mkdirSync(join(dir, 'src/sub'), { recursive: true });
    writeFileSync(join(dir, 'src/app.py'), 'print(1)\n');
    writeFileSync(join(dir, 'src/sub/run.sh'), '#!/bin/sh\n');
    chmodSync(join(dir, 'src/sub/run.sh'), 0o755);
    symlinkSync('sub/run.sh', join(dir, 'src/link'));
    const tar = execFileSync('tar', ['-c', '-C', dir, 'src']);
    const zipPath = join(dir, 'ctx.zip');
    execFileSync('python3', ['-c', `import zipfile,os,sys
z=zipfile.ZipFile(sys.argv[1],'w')
for root,dirs,files in os.walk('src'):
  for f in files:
    p=os.path.join(root,f)
    if os.path.islink(p):
      i=zipfile.ZipInfo(p); i.external_attr=(0o120777<<16); z.writestr(i, os.readlink(p))
    else: z.write(p)
z.close()`, zipPath], { cwd: dir });
    for (const buf of [tar, gzipSync(tar), readFileSync(zipPath)]) {
      const ctx = await readContextArchive(buf);
      const run = ctx.entries.get('src/sub/run.sh');
      assert.equal(run?.type, 'file');
      assert.equal(run?.type === 'file' && run.mode & 0o777, 0o755);
      assert.equal(ctx.entries.get('src/app.py')?.type === 'file' && ctx.entries.get('src/app.py')!.type, 'file');
      const link = ctx.entries.get('src/link');
      assert.deepEqual(link, { type: 'symlink', path: 'src/link', target: 'sub/run.sh' });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('archives escaping the context are refused', async () => {
  await refused(await tarOf([{ name: '../evil', data: 'x' }]), /leaves the archive through '\.\.'/);
  await refused(await tarOf([{ name: 'a/../../evil', data: 'x' }]), /leaves the archive/);
  await refused(await tarOf([{ name: '/etc/passwd', data: 'x' }]), /absolute path/);
  await refused(await tarOf([{ name: 'link', type: 'symlink', linkname: '/etc/shadow' }]), /points at the absolute path/);
  await refused(await tarOf([{ name: 'd/link', type: 'symlink', linkname: '../../outside' }]), /points outside the context/);
  await refused(await tarOf([{ name: 'dir', type: 'symlink', linkname: '.' }, { name: 'dir/x', data: 'y' }]), /lies under the symlink/);
  await refused(await tarOf([{ name: 'hard', type: 'link', linkname: 'x' }]), /only files, directories and symlinks/);
  await refused(await tarOf([{ name: 'pipe', type: 'fifo' }]), /only files, directories and symlinks/);
  await refused(Buffer.from('not an archive at all, just text that is long enough'.repeat(20)), /not a tar, tar.gz or zip/);
  await refused(gzipSync(Buffer.alloc(1024 * 1024)), /not a tar/);
  // A zip whose entry climbs out (written by hand: zip tools refuse to).
  const zip = execFileSync('python3', ['-c', `import zipfile,io,sys
b=io.BytesIO(); z=zipfile.ZipFile(b,'w'); z.writestr('../../escape.txt','x'); z.close(); sys.stdout.buffer.write(b.getvalue())`]);
  await refused(zip, /leaves the archive|not a valid zip/);
});

test('the expanded size is capped', async () => {
  const big = await tarOf([{ name: 'a', data: 'x'.repeat(4096) }, { name: 'b', data: 'y'.repeat(4096) }]);
  await assert.rejects(readContextArchive(big, { maxExpandedBytes: 6000, maxEntries: 10 }), /expands to more than 6000 bytes/);
  await assert.rejects(readContextArchive(big, { maxExpandedBytes: 1e6, maxEntries: 1 }), /more than 1 entries/);
});

test('COPY plans: directory contents, several sources into a directory, a file to a new name', async () => {
  const ctx = await readContextArchive(
    await tarOf([
      { name: 'src/', type: 'directory' },
      { name: 'src/a.txt', data: 'a', mode: 0o640 },
      { name: 'src/lib/b.txt', data: 'b' },
      { name: 'run.sh', data: '#!/bin/sh', mode: 0o755 },
      { name: 'data.json', data: '{}' },
    ]),
  );
  const dir = await planCopy(ctx, ['src'], '/srv/app');
  assert.equal(dir.root, '/srv/app');
  assert.deepEqual(dir.names.sort(), ['a.txt', 'lib']);
  const several = await planCopy(ctx, ['run.sh', 'data.json'], '/opt/bin/');
  assert.equal(several.root, '/opt/bin');
  assert.deepEqual(several.names.sort(), ['data.json', 'run.sh']);
  const renamed = await planCopy(ctx, ['run.sh'], '/usr/local/bin/tool');
  assert.equal(renamed.root, '/usr/local/bin');
  assert.deepEqual(renamed.names, ['tool']);
  const unpacked = await readContextArchive(renamed.tar);
  assert.equal(unpacked.entries.get('tool')?.type === 'file' && (unpacked.entries.get('tool') as { mode: number }).mode, 0o755);

  assert.throws(() => checkCopySources(ctx, 4, ['missing.txt']), /line 4: COPY source "missing.txt" is not in the build context/);
  assert.throws(() => checkCopySources(undefined, 2, ['run.sh']), /line 2: COPY run.sh needs a build context/);
  checkCopySources(ctx, 1, ['src/lib', '.', 'run.sh']);
});
