/**
 * Password reset and activation by email, against a real SMTP server on 127.0.0.1
 * (smtp-server) in each of the modes WRENN_SMTP_SECURITY offers: the test reads the mail
 * the server received, follows its link, and checks what the token then allows.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '@wrenn/shared';
import { sha256Hex } from '../src/infra/secrets.js';
import { startControlPlane, seedTeam, type SeededTeam, type TestControlPlane } from './harness.js';
import { linkIn, selfSignedCert, startSmtp, type TestCert, type TestSmtp } from './mail-support.js';

const APP_URL = 'http://app.wrenn.test:5173';

async function signup(t: TestControlPlane, email: string, password: string): Promise<string> {
  const res = await t.api('POST', '/v1/auth/signup', { body: { email, password } });
  assert.equal(res.status, 201);
  return res.body.token as string;
}

describe('password reset by email over STARTTLS', () => {
  let cert: TestCert;
  let smtp: TestSmtp;
  let t: TestControlPlane;
  const auth = { user: 'wrenn-mailer', password: 'smtp-secret-1' };

  before(async () => {
    cert = await selfSignedCert();
    smtp = await startSmtp({ mode: 'starttls', cert, auth });
    t = await startControlPlane({
      env: {
        WRENN_APP_URL: APP_URL,
        WRENN_SMTP_HOST: '127.0.0.1',
        WRENN_SMTP_PORT: String(smtp.port),
        WRENN_SMTP_SECURITY: 'starttls',
        WRENN_SMTP_USER: auth.user,
        WRENN_SMTP_PASSWORD: auth.password,
        WRENN_SMTP_FROM: 'Wrenn <noreply@wrenn.test>',
        WRENN_SMTP_CA_FILE: cert.certFile,
      },
    });
  });
  after(async () => {
    await t?.close();
    await smtp?.close();
    cert?.dispose();
  });

  test('the same 204 whether or not the email has an account; the mail upgrades to TLS, logs in, and its link resets the password and ends every session', async () => {
    const email = 'reset-starttls@example.test';
    const oldToken = await signup(t, email, 'old-password-1');
    assert.equal((await t.api('GET', '/v1/me', { auth: oldToken })).status, 200);

    const unknown = await t.api('POST', '/v1/me/password/reset', { body: { email: 'nobody-here@example.test' } });
    const known = await t.api('POST', '/v1/me/password/reset', { body: { email: email.toUpperCase() } });
    assert.equal(unknown.status, 204);
    assert.equal(known.status, 204);
    assert.deepEqual([unknown.body, known.headers.get('content-length')], [known.body, unknown.headers.get('content-length')]);

    const [mail] = await smtp.waitForMails(1);
    assert.deepEqual(mail!.to, [email]);
    assert.equal(mail!.from, 'noreply@wrenn.test');
    assert.equal(mail!.secure, true, 'STARTTLS upgraded the session before the mail');
    assert.equal(mail!.user, auth.user);
    const link = linkIn(mail!, APP_URL);
    assert.equal(link.pathname, '/reset-password');
    const token = link.searchParams.get('token')!;
    const stored = await t.cp.ctx.db.selectFrom('user_tokens').select(['token_hash']).where('kind', '=', 'password_reset').execute();
    assert.deepEqual(stored, [{ token_hash: sha256Hex(token) }], 'only the hash is stored');

    assert.equal((await t.api('POST', '/v1/me/password/reset/confirm', { body: { token, new_password: 'new-password-2' } })).status, 204);
    assert.equal((await t.api('GET', '/v1/me', { auth: oldToken })).status, 401, 'the session from before the reset ended');
    assert.equal((await t.api('POST', '/v1/auth/login', { body: { email, password: 'old-password-1' } })).status, 401);
    assert.equal((await t.api('POST', '/v1/auth/login', { body: { email, password: 'new-password-2' } })).status, 200);

    const again = await t.api('POST', '/v1/me/password/reset/confirm', { body: { token, new_password: 'third-password-3' } });
    assert.equal(again.status, 400, 'a token works once');
    assert.equal(again.body.error.code, 'invalid_request');
    assert.equal(smtp.mails.length, 1, 'nothing was mailed for the unknown email');
  });

  test('an expired token is refused, and a new request voids the previous token', async () => {
    const email = 'reset-expiry@example.test';
    await signup(t, email, 'old-password-1');
    const before = smtp.mails.length;
    await t.api('POST', '/v1/me/password/reset', { body: { email } });
    const first = linkIn((await smtp.waitForMails(before + 1))[before]!, APP_URL).searchParams.get('token')!;
    await t.api('POST', '/v1/me/password/reset', { body: { email } });
    const second = linkIn((await smtp.waitForMails(before + 2))[before + 1]!, APP_URL).searchParams.get('token')!;
    assert.equal((await t.api('POST', '/v1/me/password/reset/confirm', { body: { token: first, new_password: 'new-password-2' } })).status, 400, 'the earlier token is void');

    // Fifteen minutes cannot pass in a test: the token's expiry is moved into the past.
    await t.cp.ctx.db.updateTable('user_tokens').set({ expires_at: new Date(Date.now() - 1000) }).where('token_hash', '=', sha256Hex(second)).execute();
    const expired = await t.api('POST', '/v1/me/password/reset/confirm', { body: { token: second, new_password: 'new-password-2' } });
    assert.equal(expired.status, 400);
    assert.match(expired.body.error.message, /expired/);
    assert.equal((await t.api('POST', '/v1/auth/login', { body: { email, password: 'old-password-1' } })).status, 200, 'the password is unchanged');
  });

  test('a short new password is refused by schema and leaves the token usable', async () => {
    const email = 'reset-short@example.test';
    await signup(t, email, 'old-password-1');
    const before = smtp.mails.length;
    await t.api('POST', '/v1/me/password/reset', { body: { email } });
    const token = linkIn((await smtp.waitForMails(before + 1))[before]!, APP_URL).searchParams.get('token')!;
    assert.equal((await t.api('POST', '/v1/me/password/reset/confirm', { body: { token, new_password: 'short' } })).status, 400);
    assert.equal((await t.api('POST', '/v1/me/password/reset/confirm', { body: { token, new_password: 'long-enough-2' } })).status, 204);
  });
});

describe('activation mail over implicit TLS', () => {
  let cert: TestCert;
  let smtp: TestSmtp;
  let t: TestControlPlane;
  let admin: SeededTeam;

  before(async () => {
    cert = await selfSignedCert();
    smtp = await startSmtp({ mode: 'tls', cert });
    t = await startControlPlane({
      env: { WRENN_APP_URL: APP_URL, WRENN_SMTP_HOST: '127.0.0.1', WRENN_SMTP_PORT: String(smtp.port), WRENN_SMTP_SECURITY: 'tls', WRENN_SMTP_FROM: 'noreply@wrenn.test', WRENN_SMTP_CA_FILE: cert.certFile },
    });
    admin = await seedTeam(t.cp, { isAdmin: true });
  });
  after(async () => {
    await t?.close();
    await smtp?.close();
    cert?.dispose();
  });

  test('an account an administrator creates gets its activation link by mail, and the link activates it', async () => {
    const created = await t.api('POST', '/v1/admin/users', { auth: admin.jwt, body: { email: 'invited@example.test' } });
    assert.equal(created.status, 201);
    const [mail] = await smtp.waitForMails(1);
    assert.equal(mail!.secure, true, 'implicit TLS');
    assert.deepEqual(mail!.to, ['invited@example.test']);
    const link = linkIn(mail!, APP_URL);
    assert.equal(link.pathname, '/activate');
    assert.equal(link.searchParams.get('token'), created.body.activation_token);
    const session = await t.api('POST', '/v1/auth/activate', { body: { token: link.searchParams.get('token'), password: 'chosen-password-1' } });
    assert.equal(session.status, 200);
    assert.equal(session.body.email, 'invited@example.test');
  });
});

describe('mail without SMTP, or with an SMTP server that refuses what was configured', () => {
  test('with no WRENN_SMTP_HOST the reset link is logged for the administrator, and it works', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({ write: (chunk, _enc, cb) => (lines.push(JSON.parse(String(chunk))), cb()) });
    const t = await startControlPlane({ env: { WRENN_APP_URL: APP_URL }, logger: createLogger({ name: 'cp-test', level: 'info' }, sink) });
    try {
      const email = 'reset-logged@example.test';
      await signup(t, email, 'old-password-1');
      assert.equal((await t.api('POST', '/v1/me/password/reset', { body: { email } })).status, 204);
      const deadline = Date.now() + 5000;
      let logged: Record<string, unknown> | undefined;
      while (!(logged = lines.find((l) => typeof l.link === 'string')) && Date.now() < deadline) await new Promise((r) => setImmediate(r));
      assert.ok(logged, 'a log line carries the link');
      assert.equal(logged.mailTo, email);
      const token = new URL(logged.link as string).searchParams.get('token')!;
      assert.equal((await t.api('POST', '/v1/me/password/reset/confirm', { body: { token, new_password: 'new-password-2' } })).status, 204);
    } finally {
      await t.close();
    }
  });

  test('WRENN_SMTP_SECURITY=starttls sends nothing to a server that offers no STARTTLS', async () => {
    const smtp = await startSmtp({ mode: 'plain' });
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({ write: (chunk, _enc, cb) => (lines.push(JSON.parse(String(chunk))), cb()) });
    const t = await startControlPlane({
      env: { WRENN_SMTP_HOST: '127.0.0.1', WRENN_SMTP_PORT: String(smtp.port), WRENN_SMTP_SECURITY: 'starttls', WRENN_SMTP_FROM: 'noreply@wrenn.test' },
      logger: createLogger({ name: 'cp-test', level: 'info' }, sink),
    });
    try {
      await signup(t, 'reset-plain@example.test', 'old-password-1');
      assert.equal((await t.api('POST', '/v1/me/password/reset', { body: { email: 'reset-plain@example.test' } })).status, 204);
      const deadline = Date.now() + 15_000;
      let failed: Record<string, unknown> | undefined;
      while (!(failed = lines.find((l) => l.msg === 'mail not sent: check WRENN_SMTP_*')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(failed, 'the refusal is logged');
      assert.equal(smtp.mails.length, 0, 'no mail in plain text');
    } finally {
      await t.close();
      await smtp.close();
    }
  });
});
