/**
 * The unmodified `e2b` SDK (2.51): volumes. CRUD per team (another team sees nothing);
 * the volume content API opened by the volume's token only; a sandbox mounts a volume at
 * create, writes to it, is paused and resumed with it (CRIU) and is killed, and the files
 * stay; one sandbox at a time holds a volume (a second mount, the content API and deletion
 * are refused with 409 meanwhile); a sandbox with a volume is not snapshotted.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox, SandboxError, Volume, VolumeError, VolumeNotFoundError, VolumePathNotFoundError } from 'e2b';
import { seedTeam } from './harness.js';
import { startE2bFixture, type E2bFixture } from './e2b-support.js';

describe('e2b SDK: volumes', () => {
  let f: E2bFixture;
  const volumes: string[] = [];
  before(async () => {
    f = await startE2bFixture();
    // The SDK sends volume content calls to E2B_VOLUME_API_URL (else https://api.<domain>).
    process.env.E2B_VOLUME_API_URL = f.t.url;
  });
  after(async () => {
    for (const id of volumes) await Volume.destroy(id).catch(() => {});
    await f?.close();
  });

  test('CRUD is per team; names are unique in a team', async () => {
    const vol = await Volume.create('crud-vol');
    volumes.push(vol.volumeId);
    assert.equal(vol.name, 'crud-vol');
    assert.ok(vol.token.length > 20);
    const info = await Volume.getInfo(vol.volumeId);
    assert.deepEqual({ id: info.volumeId, name: info.name, token: info.token }, { id: vol.volumeId, name: 'crud-vol', token: vol.token });
    assert.deepEqual((await Volume.list()).map((v) => v.name), ['crud-vol']);
    const dup = await f.t.api('POST', '/volumes', { auth: f.team.apiKey, body: { name: 'crud-vol' } });
    assert.equal(dup.status, 409);
    const bad = await f.t.api('POST', '/volumes', { auth: f.team.apiKey, body: { name: '../etc' } });
    assert.equal(bad.status, 400);

    const other = await seedTeam(f.t.cp);
    await assert.rejects(Volume.getInfo(vol.volumeId, { apiKey: other.apiKey }), VolumeNotFoundError);
    assert.equal((await Volume.list({ apiKey: other.apiKey })).length, 0);
    assert.equal(await Volume.destroy(vol.volumeId, { apiKey: other.apiKey }), false);
    assert.equal(await Volume.destroy(vol.volumeId), true);
    assert.equal(await Volume.destroy(vol.volumeId), false);
  });

  test('content API: write, read, list, make directories, metadata, remove; only with the volume token', async () => {
    const vol = await Volume.create('content-vol');
    volumes.push(vol.volumeId);
    const written = await vol.writeFile('/hello.txt', 'hello volume');
    assert.deepEqual([written.type, written.size, written.mode, written.uid], ['file', 12, 0o644, 0]);
    await assert.rejects(vol.writeFile('/hello.txt', 'again'), VolumeError, 'an existing file needs force');
    await vol.writeFile('/hello.txt', 'hello again', { force: true });
    assert.equal(await vol.readFile('/hello.txt'), 'hello again');
    assert.deepEqual(await vol.readFile('/hello.txt', { format: 'bytes' }), new TextEncoder().encode('hello again'));
    await assert.rejects(vol.writeFile('/missing/x.txt', 'x'), VolumePathNotFoundError);

    const dir = await vol.makeDir('/a/b', { force: true, uid: 1000, gid: 1000, mode: 0o750 });
    assert.deepEqual([dir.type, dir.uid, dir.gid, dir.mode], ['directory', 1000, 1000, 0o750]);
    await assert.rejects(vol.makeDir('/a/b'), VolumeError, 'an existing directory without force');
    await vol.writeFile('/a/b/c.bin', new Uint8Array([1, 2, 3]).buffer);
    const top = await vol.list('/');
    assert.deepEqual(top.map((e) => [e.name, e.type]).sort(), [['a', 'directory'], ['hello.txt', 'file']]);
    const deep = await vol.list('/a', { depth: 2 });
    assert.deepEqual(deep.map((e) => e.path), ['/a/b', '/a/b/c.bin']);
    const meta = await vol.updateMetadata('/a/b/c.bin', { mode: 0o600, uid: 1001 });
    assert.deepEqual([meta.mode, meta.uid], [0o600, 1001]);
    assert.equal((await vol.getInfo('/a/b/c.bin')).size, 3);
    assert.equal(await vol.exists('/nope'), false);
    await vol.remove('/a');
    assert.equal(await vol.exists('/a/b/c.bin'), false);
    await assert.rejects(vol.remove('/a'), VolumePathNotFoundError);
    const escape = await fetch(`${f.t.url}/volumecontent/${vol.volumeId}/path?path=${encodeURIComponent('/../../etc')}`, { headers: { authorization: `Bearer ${vol.token}` } });
    assert.equal(escape.status, 400);

    // Only the volume's own token opens it: not an API key, not another volume's token.
    const other = await Volume.create('other-vol');
    volumes.push(other.volumeId);
    const url = `${f.t.url}/volumecontent/${vol.volumeId}/file?path=/hello.txt`;
    for (const authorization of [`Bearer ${other.token}`, `Bearer ${f.team.apiKey}`, '']) {
      const res = await fetch(url, { headers: authorization ? { authorization } : {} });
      assert.equal(res.status, 401, authorization);
    }
    const mine = await fetch(url, { headers: { authorization: `Bearer ${vol.token}` } });
    assert.equal(await mine.text(), 'hello again');
  });

  test('a sandbox mounts a volume, holds it alone, keeps it across pause and resume; the files outlive it', async () => {
    const vol = await Volume.create('sbx-vol');
    volumes.push(vol.volumeId);
    await vol.writeFile('/seed.txt', 'from the api');
    const sbx = f.track(await Sandbox.create({ timeoutMs: 120_000, volumeMounts: { '/mnt/data': vol } }));
    assert.deepEqual((await sbx.getInfo()).volumeMounts, [{ name: 'sbx-vol', path: '/mnt/data' }]);
    assert.equal((await sbx.commands.run('cat /mnt/data/seed.txt')).stdout, 'from the api');
    await sbx.commands.run('echo from-the-sandbox > /mnt/data/made.txt', { user: 'root' });

    // One holder at a time: another sandbox, the content API and deletion wait for it.
    await assert.rejects(Sandbox.create({ timeoutMs: 60_000, volumeMounts: { '/data': 'sbx-vol' } }), (err: unknown) => err instanceof SandboxError && /mounted/.test(err.message));
    await assert.rejects(vol.readFile('/seed.txt'), (err: unknown) => err instanceof VolumeError && /mounted/.test(err.message));
    const del = await f.t.api('DELETE', `/volumes/${vol.volumeId}`, { auth: f.team.apiKey });
    assert.equal(del.status, 409);
    const snap = await f.t.api('POST', `/sandboxes/${sbx.sandboxId}/snapshots`, { auth: f.team.apiKey, body: {} });
    assert.equal(snap.status, 400);
    assert.match(snap.body.message, /volumes/);

    assert.equal(await sbx.pause(), true);
    const resumed = f.track(await Sandbox.connect(sbx.sandboxId, { timeoutMs: 120_000 }));
    assert.equal((await resumed.commands.run('cat /mnt/data/made.txt')).stdout, 'from-the-sandbox\n');
    await resumed.commands.run('echo after-resume >> /mnt/data/made.txt', { user: 'root' });
    await resumed.kill();

    assert.equal(await vol.readFile('/made.txt'), 'from-the-sandbox\nafter-resume\n');
    const again = f.track(await Sandbox.create({ timeoutMs: 60_000, volumeMounts: { '/data': 'sbx-vol' } }));
    assert.equal((await again.commands.run('cat /data/made.txt')).stdout, 'from-the-sandbox\nafter-resume\n');
    await again.kill();
    const unknown = f.t.api('POST', '/v2/sandboxes', { auth: f.team.apiKey, body: { templateID: 'base', volumeMounts: [{ name: 'no-such-volume', path: '/x' }] } });
    assert.equal((await unknown).status, 404);
  });
});
