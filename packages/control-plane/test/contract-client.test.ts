/**
 * A small client written only from Wrenn's API contract (its request and answer shapes,
 * typed below as the contract names them, no knowledge of our extensions) drives a real
 * capsule through a real control plane and host agent: lifecycle, exec, background
 * processes, files, git, pause/resume and snapshots. Every answer is also checked against
 * our OpenAPI document.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ContractChecker } from './contract.js';
import { startControlPlane, seedTeam, type TestControlPlane } from './harness.js';

// ---- The contract's shapes (components/schemas of Wrenn's document) ----
type CapsuleStatus = 'pending' | 'starting' | 'running' | 'paused' | 'hibernated' | 'stopped' | 'missing' | 'error';
interface Capsule {
  id: string;
  status: CapsuleStatus;
  template: string;
  vcpus: number;
  memory_mb: number;
  timeout_sec: number;
  guest_ip: string;
  host_ip: string;
  created_at: string;
  started_at: string | null;
  last_active_at: string | null;
  last_updated: string;
}
interface ExecResponse { sandbox_id: string; cmd: string; stdout: string; stderr: string; exit_code: number; duration_ms: number; encoding: 'utf-8' | 'base64' }
interface BackgroundExecResponse { sandbox_id: string; cmd: string; pid: number; tag: string }
interface ProcessEntry { pid: number; tag: string; cmd: string; args: string[] }
interface FileEntry { name: string; path: string; type: 'file' | 'directory' | 'symlink'; size: number; mode: number; permissions: string; owner: string; group: string; modified_at: number; symlink_target: string | null }
interface Template { name: string; type: 'base' | 'snapshot'; vcpus: number | null; memory_mb: number | null; size_bytes: number; created_at: string }

class ContractClient {
  constructor(
    private readonly base: string,
    private readonly apiKey: string,
    private readonly checker: ContractChecker,
  ) {}

  private async call<T>(method: string, path: string, body?: unknown, form?: FormData): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = { 'X-API-Key': this.apiKey };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(`${this.base}/api/v1${path}`, { method, headers, ...(form ? { body: form } : body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const type = res.headers.get('content-type');
    const text = await res.text();
    const parsed = type?.includes('application/json') && text ? (JSON.parse(text) as T) : (text as T);
    this.checker.checkAnswer(method, `/api/v1${path}`, res.status, type, parsed);
    return { status: res.status, body: parsed };
  }

  private async ok<T>(method: string, path: string, expect: number, body?: unknown, form?: FormData): Promise<T> {
    const r = await this.call<T>(method, path, body, form);
    assert.equal(r.status, expect, `${method} ${path}: ${JSON.stringify(r.body)}`);
    return r.body;
  }

  createCapsule(req: { template?: string; vcpus?: number; memory_mb?: number; timeout_sec?: number }) { return this.ok<Capsule>('POST', '/capsules', 201, req); }
  listCapsules() { return this.ok<Capsule[]>('GET', '/capsules', 200); }
  getCapsule(id: string) { return this.ok<Capsule>('GET', `/capsules/${id}`, 200); }
  destroyCapsule(id: string) { return this.ok<void>('DELETE', `/capsules/${id}`, 204); }
  exec(id: string, req: { cmd: string; args?: string[]; timeout_sec?: number; cwd?: string; envs?: Record<string, string> }) { return this.ok<ExecResponse>('POST', `/capsules/${id}/exec`, 200, req); }
  execBackground(id: string, req: { cmd: string; args?: string[]; tag?: string }) { return this.ok<BackgroundExecResponse>('POST', `/capsules/${id}/exec`, 202, { ...req, background: true }); }
  listProcesses(id: string) { return this.ok<{ processes: ProcessEntry[] }>('GET', `/capsules/${id}/processes`, 200); }
  killProcess(id: string, selector: string) { return this.ok<void>('DELETE', `/capsules/${id}/processes/${selector}?signal=SIGKILL`, 204); }
  pause(id: string) { return this.ok<Capsule>('POST', `/capsules/${id}/pause`, 200); }
  resume(id: string) { return this.ok<Capsule>('POST', `/capsules/${id}/resume`, 200); }
  uploadFile(id: string, path: string, content: string, stream = false) {
    const form = new FormData();
    form.append('path', path);
    form.append('file', new Blob([content]), 'upload');
    return this.ok<void>('POST', `/capsules/${id}/files/${stream ? 'stream/write' : 'write'}`, 204, undefined, form);
  }
  downloadFile(id: string, path: string, stream = false) { return this.ok<string>('POST', `/capsules/${id}/files/${stream ? 'stream/read' : 'read'}`, 200, { path }); }
  listDir(id: string, path: string, depth = 1) { return this.ok<{ entries: FileEntry[] }>('POST', `/capsules/${id}/files/list`, 200, { path, depth }); }
  makeDir(id: string, path: string) { return this.ok<{ entry: FileEntry }>('POST', `/capsules/${id}/files/mkdir`, 200, { path }); }
  removePath(id: string, path: string) { return this.ok<void>('POST', `/capsules/${id}/files/remove`, 204, { path }); }
  createSnapshot(req: { sandbox_id: string; name?: string }) { return this.ok<Template>('POST', '/snapshots', 201, req); }
  listSnapshots(type?: 'base' | 'snapshot') { return this.ok<Template[]>('GET', `/snapshots${type ? `?type=${type}` : ''}`, 200); }
  deleteSnapshot(name: string) { return this.ok<void>('DELETE', `/snapshots/${name}`, 204); }
}

describe('a client written from the contract alone', () => {
  let t: TestControlPlane;
  let c: ContractClient;
  let adminJwt = '';
  let userJwt = '';
  const capsules: string[] = [];
  let snapshot: string | undefined;

  before(async () => {
    t = await startControlPlane({ withAgent: true });
    const team = await seedTeam(t.cp);
    adminJwt = (await seedTeam(t.cp, { isAdmin: true })).jwt;
    userJwt = team.jwt;
    c = new ContractClient(t.url, team.apiKey, new ContractChecker(t.cp.app.swagger() as never));
  });
  after(async () => {
    if (snapshot) await c?.deleteSnapshot(snapshot).catch(() => {});
    for (const id of capsules) await c?.destroyCapsule(id).catch(() => {});
    await t?.close();
  });

  test('lifecycle, exec, processes, files, git, pause/resume and snapshots', async () => {
    const cap = await c.createCapsule({ template: 'minimal', vcpus: 1, memory_mb: 512 });
    capsules.push(cap.id);
    assert.equal(cap.status, 'running');
    assert.ok(cap.guest_ip && cap.host_ip, JSON.stringify(cap));
    assert.ok((await c.listCapsules()).some((x) => x.id === cap.id));

    // Identity and working directory of the default template.
    const who = await c.exec(cap.id, { cmd: '/bin/sh', args: ['-c', 'id -un; pwd'] });
    assert.equal(who.stdout, 'root\n/root\n');
    assert.equal(who.sandbox_id, cap.id);

    // Processes.
    const bg = await c.execBackground(cap.id, { cmd: 'sleep', args: ['300'], tag: 'sleeper' });
    assert.ok((await c.listProcesses(cap.id)).processes.some((p) => p.pid === bg.pid && p.tag === 'sleeper'));
    await c.killProcess(cap.id, 'sleeper');

    // Files.
    await c.uploadFile(cap.id, '/root/work/hello.txt', 'hello contract\n');
    assert.equal(await c.downloadFile(cap.id, '/root/work/hello.txt'), 'hello contract\n');
    await c.uploadFile(cap.id, '/root/work/streamed.txt', 'streamed\n', true);
    assert.equal(await c.downloadFile(cap.id, '/root/work/streamed.txt', true), 'streamed\n');
    const dir = await c.makeDir(cap.id, '/root/work/sub');
    assert.equal(dir.entry.type, 'directory');
    const listed = await c.listDir(cap.id, '/root/work');
    assert.deepEqual(listed.entries.map((e) => [e.name, e.type]).sort(), [['hello.txt', 'file'], ['streamed.txt', 'file'], ['sub', 'directory']]);
    assert.ok(listed.entries.every((e) => Number.isInteger(e.modified_at) && e.modified_at > 1_600_000_000));
    await c.removePath(cap.id, '/root/work/sub');

    // Git: a repository initialised at "." lands in /root.
    const git = await c.exec(cap.id, {
      cmd: '/bin/sh',
      args: ['-c', 'git init -q . && git add work && git -c user.name=t -c user.email=t@t commit -qm first && git log --format=%s'],
    });
    assert.equal(git.exit_code, 0, git.stderr);
    assert.equal(git.stdout, 'first\n');
    assert.ok((await c.listDir(cap.id, '/root')).entries.some((e) => e.path === '/root/.git' && e.type === 'directory'));

    // Pause and resume keep the files.
    assert.equal((await c.pause(cap.id)).status, 'paused');
    assert.equal((await c.getCapsule(cap.id)).status, 'paused');
    assert.equal((await c.resume(cap.id)).status, 'running');
    assert.equal(await c.downloadFile(cap.id, '/root/work/hello.txt'), 'hello contract\n');

    // Snapshots: name generated when omitted; a capsule from it has the files.
    const snap = await c.createSnapshot({ sandbox_id: cap.id });
    snapshot = snap.name;
    assert.equal(snap.type, 'snapshot');
    assert.ok((await c.listSnapshots('snapshot')).some((s) => s.name === snap.name));
    const clone = await c.createCapsule({ template: snap.name });
    capsules.push(clone.id);
    assert.equal(await c.downloadFile(clone.id, '/root/work/hello.txt'), 'hello contract\n');
    await c.destroyCapsule(clone.id);
    await c.deleteSnapshot(snap.name);
    snapshot = undefined;

    await c.destroyCapsule(cap.id);
    assert.equal((await c.getCapsule(cap.id)).status, 'stopped');
  });

  test("admin capsules: an administrator's platform capsule (create, list, get, exec, processes, files, metrics, snapshot, destroy); others get 403", async () => {
    const admin = (method: string, path: string, body?: unknown) => t.api(method, `/v1/admin${path}`, { auth: adminJwt, ...(body !== undefined ? { body } : {}) });
    assert.equal((await t.api('GET', '/v1/admin/capsules', { auth: userJwt })).status, 403);
    const created = await admin('POST', '/capsules', { template: 'minimal' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id: string = created.body.id;
    capsules.push(id);
    try {
      assert.ok((await admin('GET', '/capsules')).body.some((x: { id: string }) => x.id === id));
      assert.equal((await admin('GET', `/capsules/${id}`)).body.status, 'running');
      assert.equal((await t.api('GET', `/v1/capsules/${id}`, { auth: userJwt })).status, 404, "not the admin's own team's capsule");
      assert.equal((await admin('POST', `/capsules/${id}/exec`, { cmd: 'id', args: ['-un'] })).body.stdout, 'root\n');
      assert.ok(Array.isArray((await admin('GET', `/capsules/${id}/processes`)).body.processes));
      assert.equal((await admin('POST', `/capsules/${id}/files/mkdir`, { path: '/root/admin' })).status, 200);
      assert.ok((await admin('POST', `/capsules/${id}/files/list`, { path: '/root' })).body.entries.some((e: { path: string }) => e.path === '/root/admin'));
      assert.equal((await admin('GET', `/capsules/${id}/metrics?range=5m`)).status, 200);
      const snap = await admin('POST', `/capsules/${id}/snapshot`, { name: `platform-${process.pid}` });
      assert.equal(snap.status, 201, JSON.stringify(snap.body));
      assert.equal((await t.api('DELETE', `/v1/snapshots/platform-${process.pid}`, { auth: adminJwt })).status, 404, "the platform team's template is not the admin's team's");
      await t.cp.ctx.db.deleteFrom('templates').where('name', '=', `platform-${process.pid}`).execute();
      assert.equal((await admin('DELETE', `/capsules/${id}`)).status, 204);
    } finally {
      await admin('DELETE', `/capsules/${id}`).catch(() => {});
    }
  });
});
