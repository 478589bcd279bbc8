/**
 * `secure` against Wrenn, as the `e2b` SDK 2.51 and E2B's API define it today: every
 * sandbox secures envd access (the SDK marks `secure` deprecated and no longer sends it;
 * E2B's API says all system communication is secured). So a sandbox created with
 * `secure: false` (what older SDKs send) or `secure: true` gets an envd access token, the
 * SDK uses it and works, and envd refuses a request that lacks it, through the port proxy.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox } from 'e2b';
import { startE2bFixture, type E2bFixture } from './e2b-support.js';

describe('e2b API: secure', () => {
  let f: E2bFixture;
  before(async () => {
    f = await startE2bFixture();
  });
  after(async () => {
    await f?.close();
  });

  const envdGet = (sandboxId: string, token?: string) =>
    fetch(`${f.t.url}/files?path=${encodeURIComponent('/etc/hostname')}`, {
      headers: { 'E2b-Sandbox-Id': sandboxId, 'E2b-Sandbox-Port': '49983', ...(token ? { 'X-Access-Token': token } : {}) },
    }).then(async (r) => ({ status: r.status, body: await r.text() }));

  for (const secure of [false, true]) {
    test(`secure: ${secure} (an older SDK's create): a token is returned, the SDK works with it, envd refuses a request without it`, async () => {
      const res = await f.t.api('POST', '/sandboxes', { auth: f.team.apiKey, body: { templateID: 'base', timeout: 60, secure } });
      assert.equal(res.status, 201);
      const body = res.body as { sandboxID: string; envdAccessToken?: string };
      f.track({ sandboxId: body.sandboxID } as Sandbox);
      assert.match(body.envdAccessToken ?? '', /.{16,}/);
      const sbx = await Sandbox.connect(body.sandboxID);
      assert.equal((await sbx.commands.run('echo ok')).stdout, 'ok\n');
      assert.match(await sbx.downloadUrl('/etc/hostname'), /signature=v1_/, 'the SDK signs file URLs: it holds the token');
      assert.equal((await envdGet(body.sandboxID)).status, 401);
      assert.equal((await envdGet(body.sandboxID, 'not-the-token')).status, 401);
      const ok = await envdGet(body.sandboxID, body.envdAccessToken);
      assert.equal(ok.status, 200);
      assert.equal(ok.body.trim().length > 0, true);
      await sbx.kill();
    });
  }

  test('Sandbox.create({ secure: false }) on SDK 2.51: the option is ignored, the sandbox is secured', async () => {
    const sbx = f.track(await Sandbox.create({ timeoutMs: 60_000, secure: false }));
    assert.match(await sbx.downloadUrl('/etc/hostname'), /signature=v1_/, 'the SDK got a token: it signs file URLs');
    assert.equal((await envdGet(sbx.sandboxId)).status, 401);
    assert.equal((await sbx.commands.run('true')).exitCode, 0);
    await sbx.kill();
  });
});
