/**
 * The dashboard's notification channels in a real Chromium: a webhook channel created with
 * a test message first, its signing secret shown once, a saved channel tested (the signed
 * request checked with that secret by a receiver on 127.0.0.1), then deleted.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startControlPlane, seedTeam, type TestControlPlane } from '@wrenn/control-plane/testing';
import { launchBrowser, type TestBrowser } from './browser.js';

const WAIT = { timeout: 30_000 };

interface Received {
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

describe('dashboard channels in Chromium', () => {
  let t: TestControlPlane;
  let b: TestBrowser;
  let receiver: Server;
  let url = '';
  const received: Received[] = [];

  before(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    // The receiver is on loopback, which channels refuse unless the operator allows it.
    t = await startControlPlane({ env: { WRENN_CHANNEL_ALLOW_PRIVATE: 'true' } });
    b = await launchBrowser();
  });

  after(async () => {
    await b?.close();
    await t?.close();
    await new Promise((r) => receiver?.close(r));
  });

  test('create a webhook channel (tested first), see its secret once, test it, delete it', async () => {
    const user = await seedTeam(t.cp);
    const { page } = b;
    await page.goto(t.url);
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    await page.getByRole('link', { name: 'Channels', exact: true }).click();
    await page.getByRole('button', { name: 'New channel' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name').fill('ops hook');
    await dialog.getByLabel('URL', { exact: true }).fill(url);
    await dialog.getByRole('button', { name: 'Send a test' }).click();
    await dialog.getByRole('status').filter({ hasText: 'Test message sent' }).waitFor(WAIT);
    assert.equal(received.length, 1, 'the test message arrived');
    await b.screenshot('34-new-channel');
    await dialog.getByRole('button', { name: 'Create channel' }).click();
    const secretDialog = page.getByRole('dialog', { name: 'Signing secret of ops hook' });
    await secretDialog.waitFor(WAIT);
    const secret = ((await secretDialog.locator('pre').textContent()) ?? '').trim();
    assert.ok(secret.length >= 16, 'a generated secret is shown');
    await secretDialog.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('cell', { name: 'ops hook', exact: true }).waitFor(WAIT);

    await page.getByRole('button', { name: 'Test ops hook' }).click();
    await page.getByRole('status').filter({ hasText: 'Test message sent' }).waitFor(WAIT);
    const last = received[received.length - 1]!;
    const stamp = String(last.headers['x-wrenn-timestamp']);
    const expected = `sha256=${createHmac('sha256', secret).update(`${stamp}.${last.body}`).digest('hex')}`;
    assert.equal(last.headers['x-wrenn-signature'], expected, 'signed with the secret the page showed');
    await b.screenshot('35-channels');

    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Delete ops hook' }).click();
    await page.getByText('No channels yet.').waitFor(WAIT);
    assert.deepEqual((await t.api('GET', '/v1/channels', { auth: user.jwt })).body, []);
  });

  test('no console errors or uncaught exceptions on any page', () => {
    assert.deepEqual(b.errors, []);
  });
});
