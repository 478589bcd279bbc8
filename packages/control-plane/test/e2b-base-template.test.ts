/**
 * The unmodified `e2b` SDK (2.51): a sandbox of E2B's default template `base` behaves like
 * E2B's: commands run as `user` (passwordless sudo) in /home/user through `/bin/bash -l -c`;
 * python3, git, curl and tput are there; files and directories the SDK makes are 0644 and
 * 0755, owned by the acting user, as are files a command makes; user xattrs work. Wrenn's
 * native `minimal` keeps root in /root.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox, Template } from 'e2b';
import { startE2bFixture, type E2bFixture } from './e2b-support.js';

describe('e2b SDK: the base template', () => {
  let f: E2bFixture;
  let sbx: Sandbox;
  before(async () => {
    f = await startE2bFixture();
    sbx = f.track(await Sandbox.create('base', { timeoutMs: 180_000 }));
  });
  after(async () => {
    await sbx?.kill().catch(() => {});
    await f?.close();
  });

  test('base exists as a template name', async () => {
    assert.equal(await Template.exists('base'), true);
  });

  test('commands run as user in /home/user through a login bash; sudo needs no password', async () => {
    const res = await sbx.commands.run('echo "$(whoami) $(id -u) $HOME $(pwd) $0"; shopt -q login_shell && echo login');
    assert.equal(res.stdout, 'user 1001 /home/user /home/user /bin/bash\nlogin\n');
    assert.equal((await sbx.commands.run('sudo -n whoami')).stdout, 'root\n');
    assert.equal((await sbx.commands.run('whoami', { user: 'root' })).stdout, 'root\n');
  });

  test('python3, git, curl and tput are installed', async () => {
    const res = await sbx.commands.run('python3 -c "print(6*7)" && git --version >/dev/null && curl --version >/dev/null && TERM=xterm tput cols >/dev/null && echo tools');
    assert.equal(res.stdout, '42\ntools\n');
  });

  test('new files are 0644 and directories 0755, owned by the acting user', async () => {
    const file = await sbx.files.write('made-by-sdk.txt', 'x');
    assert.equal(file.path, '/home/user/made-by-sdk.txt');
    const info = await sbx.files.getInfo('/home/user/made-by-sdk.txt');
    assert.deepEqual([info.owner, info.group, info.mode & 0o777], ['user', 'user', 0o644]);
    await sbx.files.makeDir('/home/user/sdk-dir');
    const dir = await sbx.files.getInfo('/home/user/sdk-dir');
    assert.deepEqual([dir.owner, dir.mode & 0o777], ['user', 0o755]);
    const asRoot = await sbx.files.write('/tmp/by-root.txt', 'y', { user: 'root' });
    assert.equal((await sbx.files.getInfo(asRoot.path)).owner, 'root');
    const cmd = await sbx.commands.run('touch by-cmd && mkdir cmd-dir && stat -c "%a %U" by-cmd cmd-dir');
    assert.equal(cmd.stdout, '644 user\n755 user\n');
  });

  test('user xattrs can be set and read', async () => {
    const res = await sbx.commands.run(
      'touch xa && python3 -c "import os; os.setxattr(\'xa\', \'user.wrenn\', b\'yes\'); print(os.getxattr(\'xa\', \'user.wrenn\').decode())"',
    );
    assert.equal(res.stdout, 'yes\n');
  });

  test("Wrenn's minimal keeps root in /root through the native API", async () => {
    const created = await f.t.api('POST', '/v1/capsules', { auth: f.team.apiKey, body: { template: 'minimal' } });
    assert.equal(created.status, 201);
    const id = created.body.id as string;
    try {
      const res = await f.t.api('POST', `/v1/capsules/${id}/exec`, { auth: f.team.apiKey, body: { cmd: '/bin/sh', args: ['-c', 'whoami; pwd'] } });
      assert.equal(Buffer.from(res.body.stdout, res.body.encoding === 'base64' ? 'base64' : 'utf8').toString(), 'root\n/root\n');
    } finally {
      await f.t.api('DELETE', `/v1/capsules/${id}`, { auth: f.team.apiKey });
    }
  });
});
