/**
 * The dashboard in a real Chromium against a real control plane with a real host agent and
 * real capsules: accounts, a capsule's terminal, files, pause/resume and metrics, API keys,
 * and an administrator draining a host. Each page is saved as a screenshot under
 * .wrenn-test/screenshots/ (look at them: a page that renders but is unusable fails).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { startControlPlane, seedTeam, type TestControlPlane } from '@wrenn/control-plane/testing';
import { DASHBOARD_DIR } from '../../control-plane/src/http/dashboard.js';
import { launchBrowser, type TestBrowser } from './browser.js';

const WAIT = { timeout: 60_000 };

describe('dashboard in Chromium', () => {
  let t: TestControlPlane;
  let b: TestBrowser;
  const email = `web-${randomBytes(4).toString('hex')}@example.test`;
  const password = `pw-${randomBytes(8).toString('hex')}`;
  let capsuleId = '';

  before(async () => {
    assert.ok(existsSync(`${DASHBOARD_DIR}/index.html`), 'the dashboard is built (npm run build)');
    t = await startControlPlane({ withAgent: true });
    b = await launchBrowser();
  });

  after(async () => {
    await b?.close();
    await t?.close();
  });

  test('the control plane serves the dashboard at / and its assets, and the API stays where it is', async () => {
    const res = await fetch(`${t.url}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    const html = await res.text();
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(asset, 'index.html names its script');
    const js = await fetch(`${t.url}${asset}`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    // Nothing outside the assets directory can be named.
    for (const bad of ['/assets/..%2Findex.html', '/assets/%2E%2E%2F%2E%2E%2Fpackage.json', '/assets/nope.js']) {
      assert.equal((await fetch(`${t.url}${bad}`)).status, 404, bad);
    }
    assert.equal((await t.api('GET', '/v1/capsules')).status, 401);
  });

  test('sign up, log out, log in', async () => {
    const { page } = b;
    await page.goto(t.url);
    await page.getByRole('heading', { name: 'Log in to Wrenn' }).waitFor();
    await b.screenshot('01-login');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Name').fill('Web Tester');
    await page.getByLabel('Password').fill(password);
    await b.screenshot('02-signup');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByRole('heading', { name: 'Capsules' }).waitFor(WAIT);
    await page.getByText('No capsules here yet').waitFor();
    await b.screenshot('03-capsules-empty');
    await page.getByRole('button', { name: 'Log out', exact: true }).click();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('wrong-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    // The API's message, in words, next to the form.
    await page.getByRole('alert').waitFor();
    assert.match(await page.getByRole('alert').innerText(), /\w+ \w+/);
    b.errors.splice(0); // the refused login's 401 is logged by Chromium as a failed resource
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Capsules' }).waitFor(WAIT);
  });

  test('create a capsule and run `echo hi` in its terminal', async () => {
    const { page } = b;
    await page.getByRole('button', { name: 'New capsule' }).click();
    await page.getByRole('dialog').waitFor();
    await page.getByLabel('Memory (MB)').fill('256');
    await page.getByRole('button', { name: 'Add label' }).click();
    await page.getByLabel('Metadata key 1').fill('owner');
    await page.getByLabel('Metadata value 1').fill('web-test');
    await b.screenshot('04-create-dialog');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.waitForURL(/#\/capsules\/cl-/, WAIT);
    capsuleId = decodeURIComponent(/#\/capsules\/([^/]+)/.exec(page.url())![1]!);
    const c = await t.api('GET', `/v1/capsules/${capsuleId}`, { auth: (await seedTeam(t.cp)).jwt });
    assert.equal(c.status, 404, "another team does not see the capsule");
    await page.getByText('Connected', { exact: true }).waitFor(WAIT);
    await page.locator('.xterm').click();
    await page.keyboard.type('echo hi\n');
    // "hi" on a line of its own: the command's output, not the echoed command line.
    await page.waitForFunction(() => Array.from(document.querySelectorAll('.xterm-rows > div')).some((r) => r.textContent?.trim() === 'hi'), null, WAIT);
    await b.screenshot('05-capsule-terminal');
  });

  test('the terminal re-attaches to the same shell after a network blip', async () => {
    const { page } = b;
    await page.keyboard.type('BLIP=$((6*7))\n');
    // Every terminal socket from now on goes through a route we can cut, as a network would.
    const sockets: Array<{ close(): Promise<void> }> = [];
    await page.routeWebSocket(/\/pty$/, (ws) => {
      ws.connectToServer();
      sockets.push(ws);
    });
    await page.getByRole('link', { name: 'Files' }).click();
    await page.getByRole('link', { name: 'Terminal' }).click();
    await page.getByText('Connected', { exact: true }).waitFor(WAIT);
    assert.equal(sockets.length, 1);
    await sockets[0]!.close();
    await page.getByText('Reconnecting').waitFor(WAIT);
    await page.getByText('Connected', { exact: true }).waitFor(WAIT);
    assert.equal(sockets.length, 2, 'a new socket after the blip');
    await page.locator('.xterm').click();
    await page.keyboard.type('echo "blip=$BLIP"\n');
    // The shell's variable survived: it is the same session, re-attached by its tag.
    await page.waitForFunction(() => Array.from(document.querySelectorAll('.xterm-rows > div')).some((r) => r.textContent?.trim() === 'blip=42'), null, WAIT);
    await page.unrouteAll();
  });

  test('upload a file, see it listed and preview it', async () => {
    const { page } = b;
    await page.getByRole('link', { name: 'Files' }).click();
    await page.getByRole('region', { name: 'Files' }).waitFor();
    const content = `hello from the dashboard ${randomBytes(4).toString('hex')}\n`;
    await page.getByTestId('upload-input').setInputFiles({ name: 'hello-web.txt', mimeType: 'text/plain', buffer: Buffer.from(content) });
    await page.getByRole('button', { name: 'hello-web.txt', exact: true }).waitFor(WAIT);
    await page.getByRole('button', { name: 'hello-web.txt', exact: true }).click();
    await page.getByRole('dialog').getByText(content.trim()).waitFor(WAIT);
    await b.screenshot('06-capsule-files-preview');
    await page.getByRole('button', { name: 'Close' }).click();
    await page.getByLabel('New folder').fill('made-in-browser');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByRole('button', { name: 'made-in-browser/' }).waitFor(WAIT);
    await b.screenshot('07-capsule-files');
  });

  test('metrics render with data, processes list the terminal', async () => {
    const { page } = b;
    await page.getByRole('link', { name: 'Metrics' }).click();
    await page.waitForFunction(() => Number(document.querySelector('.chart-box')?.getAttribute('data-points') ?? 0) >= 2, null, WAIT);
    assert.ok((await page.locator('.chart canvas').count()) >= 3);
    await b.screenshot('08-capsule-metrics');
    const owner = (await t.api('POST', '/v1/auth/login', { body: { email, password } })).body.token as string;
    const started = await t.api('POST', `/v1/capsules/${capsuleId}/exec`, {
      auth: owner,
      body: { cmd: 'bash', args: ['-c', 'for i in $(seq 1 3000); do echo tick-$i; sleep 0.2; done'], background: true, tag: 'ticker' },
    });
    assert.equal(started.status, 202);
    await page.getByRole('link', { name: 'Processes' }).click();
    await page.getByRole('button', { name: 'Attach to ticker' }).click();
    await page.waitForFunction(() => /tick-\d+/.test(document.querySelector('.output')?.textContent ?? ''), null, WAIT);
    await b.screenshot('09-capsule-processes');
    await page.getByRole('button', { name: 'Kill ticker' }).click();
    await page.getByRole('button', { name: 'Kill ticker' }).waitFor({ state: 'detached', ...WAIT });
    const left = await t.api('GET', `/v1/capsules/${capsuleId}/processes`, { auth: owner });
    assert.ok(!(left.body.processes as Array<{ tag: string | null }>).some((p) => p.tag === 'ticker'), 'the killed process is gone');
  });

  test('pause and resume show their in-between state', async () => {
    const { page } = b;
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.getByLabel('status pausing').waitFor(WAIT);
    await page.getByLabel('status paused').waitFor({ timeout: 120_000 });
    await b.screenshot('10-capsule-paused');
    const owner = (await t.api('POST', '/v1/auth/login', { body: { email, password } })).body.token as string;
    assert.equal((await t.api('GET', `/v1/capsules/${capsuleId}`, { auth: owner })).body.status, 'paused');
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.getByLabel('status resuming').waitFor(WAIT);
    await page.getByLabel('status running').waitFor({ timeout: 120_000 });
    assert.equal((await t.api('GET', `/v1/capsules/${capsuleId}`, { auth: owner })).body.status, 'running');
    // The terminal works again after the resume.
    await page.getByRole('link', { name: 'Terminal' }).click();
    await page.getByText('Connected', { exact: true }).waitFor(WAIT);
    await page.locator('.xterm').click();
    await page.keyboard.type('echo back-$((40+2))\n');
    await page.waitForFunction(() => Array.from(document.querySelectorAll('.xterm-rows > div')).some((r) => r.textContent?.trim() === 'back-42'), null, WAIT);
    await b.screenshot('11-capsule-resumed');
  });

  test('create an API key (shown once) and revoke it', async () => {
    const { page } = b;
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByLabel('Key name').fill('from-the-browser');
    await page.getByRole('button', { name: 'Create key' }).click();
    const key = await page.getByTestId('new-key').inputValue();
    assert.match(key, /^wrn_/);
    assert.equal((await t.api('GET', '/v1/capsules', { auth: key })).status, 200);
    await b.screenshot('12-api-key-created');
    await page.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('button', { name: 'Revoke from-the-browser' }).click();
    await page.getByRole('button', { name: 'Revoke from-the-browser' }).waitFor({ state: 'detached', ...WAIT });
    assert.equal((await t.api('GET', '/v1/capsules', { auth: key })).status, 401);
    await b.screenshot('13-api-keys');
    await page.getByRole('link', { name: 'Team' }).click();
    await page.getByRole('cell', { name: email, exact: true }).waitFor(WAIT);
    await b.screenshot('14-team');
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('cell', { name: 'POST /api-keys', exact: false }).first().waitFor(WAIT);
    await b.screenshot('15-audit');
    await page.getByRole('link', { name: 'Templates' }).click();
    await page.getByRole('heading', { name: 'Templates' }).waitFor();
    await b.screenshot('16-templates');
  });

  test('destroy the capsule from its page', async () => {
    const { page } = b;
    await page.goto(`${t.url}/#/capsules/${capsuleId}`);
    await page.getByRole('button', { name: 'Destroy' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Destroy' }).click();
    await page.getByRole('heading', { name: 'Capsules' }).waitFor(WAIT);
    const owner = (await t.api('POST', '/v1/auth/login', { body: { email, password } })).body.token as string;
    assert.equal((await t.api('GET', `/v1/capsules/${capsuleId}`, { auth: owner })).body.status, 'stopped');
  });

  test('the usage page charts the day the capsule ran', async () => {
    const { page } = b;
    await page.getByRole('link', { name: 'Usage', exact: true }).click();
    await page.getByRole('heading', { name: 'Usage' }).waitFor();
    const today = new Date().toISOString().slice(0, 10);
    const row = page.getByRole('row', { name: new RegExp(`^${today}`) });
    await row.waitFor(WAIT);
    const cpuMinutes = Number(await row.getByRole('cell').nth(1).textContent());
    assert.ok(cpuMinutes > 0, `vCPU-minutes for today: ${cpuMinutes}`);
    // One point per day of the range (30 by default), today's among them.
    await page.waitForFunction(() => Array.from(document.querySelectorAll('.chart-box')).filter((el) => Number(el.getAttribute('data-points')) >= 1).length === 2, null, WAIT);
    await b.screenshot('17-usage');
  });

  test('build a 2-step recipe and watch its steps complete', async () => {
    const { page } = b;
    const built = `web-built-${randomBytes(3).toString('hex')}`;
    await page.getByRole('link', { name: 'Builds', exact: true }).click();
    await page.getByRole('heading', { name: 'Builds' }).waitFor();
    await page.getByRole('button', { name: 'New build' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Template name').fill(built);
    await dialog.getByLabel(/^Recipe/).fill('RUN echo first-step-output\nRUN sleep 1 && echo second-step-output');
    await b.screenshot('18-new-build');
    await dialog.getByRole('button', { name: 'Start build' }).click();
    await page.getByRole('heading', { name: built }).waitFor(WAIT);
    await page.getByLabel(/^status (success|failed|cancelled)$/).waitFor({ timeout: 180_000 });
    const owner = (await t.api('POST', '/v1/auth/login', { body: { email, password } })).body.token as string;
    const id = /#\/builds\/([^/]+)/.exec(page.url())?.[1] ?? '';
    const build = (await t.api('GET', `/v1/builds/${id}`, { auth: owner })).body as { status: string; error?: string };
    assert.equal(build.status, 'success', `build ${id}: ${build.error ?? ''}`);
    // The recipe's own steps (the build's setup and finishing steps are listed beside them).
    const steps = page.getByRole('list', { name: 'Steps' }).getByRole('listitem', { name: /\(recipe\)/ });
    assert.equal(await steps.count(), 2);
    for (const i of [0, 1]) assert.match((await steps.nth(i).getAttribute('aria-label')) ?? '', / ok$/);
    assert.match((await steps.nth(0).textContent()) ?? '', /first-step-output/);
    await b.screenshot('19-build-done');
    const templates = (await t.api('GET', '/v1/templates', { auth: owner })).body as Array<{ name: string }>;
    assert.ok(templates.some((x) => x.name === built), 'the build saved its template');
    // Templates outlive the test on the agent's shared data dir: this one goes now.
    assert.equal((await t.api('DELETE', `/v1/templates/${built}`, { auth: owner })).status, 204);
  });

  test('an administrator drains a host', async () => {
    const admin = await seedTeam(t.cp, { isAdmin: true });
    const { page } = b;
    await page.getByRole('button', { name: 'Log out', exact: true }).click();
    await page.getByLabel('Email').fill(admin.email);
    await page.getByLabel('Password').fill(admin.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('link', { name: 'Hosts' }).click();
    await page.getByLabel('status online').waitFor(WAIT);
    await b.screenshot('20-admin-hosts');
    const host = (await t.api('GET', `/v1/hosts/${t.hostId}`, { auth: admin.jwt })).body as { name: string };
    await page.getByRole('button', { name: `Drain ${host.name}` }).click();
    await page.getByLabel('status draining').waitFor(WAIT);
    assert.equal((await t.api('GET', `/v1/hosts/${t.hostId}`, { auth: admin.jwt })).body.status, 'draining');
    await b.screenshot('20b-admin-host-drained');
    // The harness registers its agent directly, and nothing heartbeats for it: undrain puts
    // a host back `online` only with a recent heartbeat, so stamp one as the agent's would.
    await t.cp.ctx.db.updateTable('hosts').set({ last_heartbeat_at: new Date() }).where('id', '=', t.hostId!).execute();
    await page.getByRole('button', { name: `Undrain ${host.name}` }).click();
    await page.getByLabel('status online').waitFor(WAIT);
    await page.getByRole('textbox', { name: `New tag for ${host.name}` }).fill('gpu-less');
    await page.getByRole('row', { name: new RegExp(host.name) }).getByRole('button', { name: 'Add' }).click();
    await page.getByRole('button', { name: `Remove tag gpu-less from ${host.name}` }).waitFor(WAIT);
    assert.deepEqual((await t.api('GET', `/v1/hosts/${t.hostId}/tags`, { auth: admin.jwt })).body, ['gpu-less']);
    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByRole('cell', { name: email, exact: true }).waitFor(WAIT);
    await b.screenshot('21-admin-users');
    await page.getByRole('link', { name: 'Teams', exact: true }).click();
    const owner = (await t.api('POST', '/v1/auth/login', { body: { email, password } })).body as { team: { id: string; name: string } };
    const byoc = page.getByRole('checkbox', { name: `BYOC for ${owner.team.name}` });
    // The box follows the server's answer (a reload after the PUT), not the click itself.
    await byoc.click();
    await page.getByRole('row', { name: new RegExp(owner.team.id) }).getByText('own hosts allowed').waitFor(WAIT);
    const listed = (await t.api('GET', '/v1/admin/teams?page=1', { auth: admin.jwt })).body as { teams: Array<{ id: string; is_byoc: boolean }> };
    assert.equal(listed.teams.find((x) => x.id === owner.team.id)?.is_byoc, true);
    await b.screenshot('22-admin-teams');

    // The platform's capsules: one created and destroyed from the admin page.
    await page.getByRole('link', { name: 'Platform capsules', exact: true }).click();
    await page.getByRole('button', { name: 'New platform capsule' }).click();
    await page.getByLabel('Memory (MB)').fill('256');
    await page.getByRole('dialog').getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByRole('dialog').waitFor({ state: 'hidden', ...WAIT });
    const platform = (await t.api('GET', '/v1/admin/capsules', { auth: admin.jwt })).body as Array<{ id: string; status: string }>;
    assert.equal(platform.length, 1);
    const row = page.getByRole('row', { name: new RegExp(platform[0]!.id) });
    await row.getByLabel('status running').waitFor(WAIT);
    await b.screenshot('23-admin-capsules');
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: `Destroy ${platform[0]!.id}` }).click();
    await page.getByText('No platform capsules.').waitFor(WAIT);
    assert.equal((await t.api('GET', `/v1/admin/capsules/${platform[0]!.id}`, { auth: admin.jwt })).body.status, 'stopped');
  });

  test('no console errors or uncaught exceptions on any page', () => {
    // Not counted: ERR_NETWORK_CHANGED. Every capsule start or stop adds or removes a veth on
    // this machine (so do other tests running beside us); Chromium takes that for a network
    // change and aborts the requests in flight. The page shows it and retries at its next poll.
    assert.deepEqual(
      b.errors.filter((e) => !e.includes('net::ERR_NETWORK_CHANGED')),
      [],
    );
  });
});
