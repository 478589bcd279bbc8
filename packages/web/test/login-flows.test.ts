/**
 * The dashboard's ways in that go through the server's own links, in a real Chromium: a
 * password reset by email (a real SMTP server on 127.0.0.1 receives the mail; the browser
 * follows its link to /reset-password), and a login through an OpenID Connect provider (a
 * real `oidc-provider` on 127.0.0.1: the browser goes to it and comes back to
 * /auth/{provider}/callback), then linking state on the account page; an invitation's
 * activation mail followed to /activate.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startControlPlane, seedTeam, type TestControlPlane } from '@wrenn/control-plane/testing';
import { linkIn, startSmtp, type TestSmtp } from '../../control-plane/test/mail-support.js';
import { freePort, startIdp, type TestIdp } from '../../control-plane/test/oauth-support.js';
import { launchBrowser, type TestBrowser } from './browser.js';

const WAIT = { timeout: 30_000 };

describe('dashboard login flows in Chromium', () => {
  let t: TestControlPlane;
  let b: TestBrowser;
  let smtp: TestSmtp;
  let idp: TestIdp;
  let cpUrl = '';

  before(async () => {
    const port = await freePort();
    cpUrl = `http://127.0.0.1:${port}`;
    smtp = await startSmtp({ mode: 'plain' });
    idp = await startIdp([`${cpUrl}/v1/auth/oauth/corp/callback`]);
    t = await startControlPlane({
      env: {
        WRENN_CP_PORT: String(port),
        WRENN_PUBLIC_URL: cpUrl,
        WRENN_APP_URL: cpUrl,
        WRENN_SMTP_HOST: '127.0.0.1',
        WRENN_SMTP_PORT: String(smtp.port),
        WRENN_SMTP_SECURITY: 'none',
        WRENN_SMTP_FROM: 'Wrenn <noreply@wrenn.test>',
        WRENN_OIDC_PROVIDERS: 'corp',
        WRENN_OIDC_CORP_ISSUER: idp.issuer,
        WRENN_OIDC_CORP_CLIENT_ID: idp.clientId,
        WRENN_OIDC_CORP_CLIENT_SECRET: idp.clientSecret,
      },
    });
    assert.equal(t.url, cpUrl);
    b = await launchBrowser();
  });

  after(async () => {
    await b?.close();
    await t?.close();
    await idp?.close();
    await smtp?.close();
  });

  test('forgot password: the mail arrives, its link sets a new password, the new one logs in', async () => {
    const user = await seedTeam(t.cp);
    const { page } = b;
    await page.goto(cpUrl);
    await page.getByRole('button', { name: 'Forgot your password?' }).click();
    await page.getByLabel('Email').fill(user.email);
    await page.getByRole('button', { name: 'Send me a link' }).click();
    await page.getByRole('status').filter({ hasText: 'on its way' }).waitFor(WAIT);
    await b.screenshot('30-forgot-password');
    const [mail] = await smtp.waitForMails(1);
    assert.deepEqual(mail!.to, [user.email]);
    const link = linkIn(mail!, `${cpUrl}/reset-password`);
    await page.goto(link.toString());
    await page.getByRole('heading', { name: 'Choose a new password' }).waitFor(WAIT);
    const fresh = `new-${randomBytes(6).toString('hex')}`;
    await page.getByLabel('New password').fill(fresh);
    await page.getByRole('button', { name: 'Set password' }).click();
    await page.getByRole('status').filter({ hasText: 'password is changed' }).waitFor(WAIT);
    await b.screenshot('31-password-reset');
    await page.getByRole('button', { name: 'Log in' }).click();
    assert.equal(new URL(page.url()).pathname, '/', 'the token left the address bar');
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(fresh);
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    await page.getByRole('heading', { name: 'Capsules' }).waitFor(WAIT);
    await page.getByRole('button', { name: 'Log out', exact: true }).click();
    // The link worked once.
    await page.goto(link.toString());
    await page.getByLabel('New password').fill(`other-${randomBytes(6).toString('hex')}`);
    await page.getByRole('button', { name: 'Set password' }).click();
    await page.getByRole('alert').filter({ hasText: 'unknown, used or expired' }).waitFor(WAIT);
  });

  test("an administrator's invitation: the activation mail's link lets the invited person choose a password and come in", async () => {
    const admin = await seedTeam(t.cp, { isAdmin: true });
    const email = `invited-${randomBytes(4).toString('hex')}@example.test`;
    const before = smtp.mails.length;
    assert.equal((await t.api('POST', '/v1/admin/users', { auth: admin.jwt, body: { email } })).status, 201);
    const mail = (await smtp.waitForMails(before + 1))[before]!;
    assert.deepEqual(mail.to, [email]);
    const link = linkIn(mail, `${cpUrl}/activate`);
    const { page } = b;
    await page.goto(link.toString());
    await page.getByRole('heading', { name: 'Activate your account' }).waitFor(WAIT);
    await page.getByLabel('Password').fill(`chosen-${randomBytes(6).toString('hex')}`);
    await page.getByRole('button', { name: 'Activate' }).click();
    await page.getByRole('heading', { name: 'Capsules' }).waitFor(WAIT);
    assert.equal(new URL(page.url()).pathname, '/', 'the token left the address bar');
    await b.screenshot('33-activated');
    await page.getByRole('button', { name: 'Log out', exact: true }).click();
  });

  test('log in with an OpenID Connect provider, then see it linked on the account page', async () => {
    const email = `oidc-${randomBytes(4).toString('hex')}@example.test`;
    idp.accounts.set('acct-1', { email, email_verified: true, name: 'Oidc Person' });
    idp.signInAs('acct-1');
    const { page } = b;
    await page.goto(cpUrl);
    await page.getByRole('link', { name: 'Log in with corp' }).click();
    await page.getByRole('heading', { name: 'Capsules' }).waitFor(WAIT);
    assert.equal(new URL(page.url()).pathname, '/', 'the session token left the address bar');
    await page.getByRole('link', { name: 'Account', exact: true }).click();
    await page.getByText(email).waitFor(WAIT);
    await page.getByRole('button', { name: 'Unlink corp' }).waitFor(WAIT);
    await page.getByText('No password is set').waitFor(WAIT);
    await b.screenshot('32-account-oidc');
    // Its only way in: unlinking is refused, in words.
    await page.getByRole('button', { name: 'Unlink corp' }).click();
    await page.getByRole('alert').waitFor(WAIT);
    await page.getByRole('button', { name: 'Log out', exact: true }).click();
  });

  test('a refused provider login comes back to the login page saying why', async () => {
    const { page } = b;
    await page.goto(`${cpUrl}/auth/corp/callback?error=access_denied`);
    await page.getByRole('heading', { name: 'Log in to Wrenn' }).waitFor(WAIT);
    await page.getByRole('alert').filter({ hasText: 'Login with corp failed' }).waitFor(WAIT);
    assert.equal(new URL(page.url()).search, '', 'the error left the address bar');
  });

  test('no console errors or uncaught exceptions on any page', () => {
    // The refused unlink and the used reset link answer 400: the browser logs those requests.
    assert.deepEqual(
      b.errors.filter((e) => !/status of 400/.test(e)),
      [],
    );
  });
});
