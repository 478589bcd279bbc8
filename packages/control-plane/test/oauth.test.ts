/**
 * OAuth/OIDC login and provider linking against a real OpenID Connect provider
 * (oidc-provider) on 127.0.0.1, the whole authorization-code flow driven over HTTP by a
 * cookie-keeping client (test/oauth-support.ts); GitHub against a local stand-in for its
 * service. The control plane is at 127.0.0.1, the provider at localhost: cookies of one
 * never reach the other, as in a browser.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startControlPlane, type TestControlPlane } from './harness.js';
import { freePort, startFakeGithub, startIdp, TestBrowser, type FakeGithub, type TestIdp } from './oauth-support.js';

const APP_URL = 'http://app.wrenn.test:5173';
const atApp = (u: URL) => u.origin === new URL(APP_URL).origin;

describe('OAuth login and provider linking', () => {
  let idp: TestIdp;
  let gh: FakeGithub;
  let t: TestControlPlane;
  let cpUrl: string;

  before(async () => {
    const port = await freePort();
    cpUrl = `http://127.0.0.1:${port}`;
    idp = await startIdp([`${cpUrl}/v1/auth/oauth/corp/callback`]);
    gh = await startFakeGithub();
    t = await startControlPlane({
      env: {
        WRENN_CP_PORT: String(port),
        WRENN_PUBLIC_URL: cpUrl,
        WRENN_APP_URL: APP_URL,
        WRENN_OIDC_PROVIDERS: 'corp',
        WRENN_OIDC_CORP_ISSUER: idp.issuer,
        WRENN_OIDC_CORP_CLIENT_ID: idp.clientId,
        WRENN_OIDC_CORP_CLIENT_SECRET: idp.clientSecret,
        WRENN_OAUTH_GITHUB_CLIENT_ID: gh.clientId,
        WRENN_OAUTH_GITHUB_CLIENT_SECRET: gh.clientSecret,
        WRENN_OAUTH_GITHUB_AUTHORIZE_URL: `${gh.url}/login/oauth/authorize`,
        WRENN_OAUTH_GITHUB_TOKEN_URL: `${gh.url}/login/oauth/access_token`,
        WRENN_OAUTH_GITHUB_API_URL: gh.url,
      },
    });
    assert.equal(t.url, cpUrl);
  });
  after(async () => {
    await t?.close();
    await idp?.close();
    await gh?.close();
  });

  /** Logs in through the provider from `path` of the control plane; the URL the browser lands on under WRENN_APP_URL. */
  async function oauthLogin(accountId: string, path = '/v1/auth/oauth/corp', browser = new TestBrowser()): Promise<URL> {
    idp.signInAs(accountId);
    return browser.follow(`${cpUrl}${path}`, atApp);
  }

  test('a first login creates the account from the verified email; the next one finds it by the provider identity', async () => {
    idp.accounts.set('alice-sub', { email: 'Alice@Example.test', email_verified: true, name: 'Alice' });
    const landed = await oauthLogin('alice-sub');
    assert.equal(landed.pathname, '/auth/corp/callback');
    const token = landed.searchParams.get('token')!;
    assert.ok(token, `a token in ${landed}`);
    assert.equal(landed.searchParams.get('email'), 'alice@example.test');
    const me = await t.api('GET', '/v1/me', { auth: token });
    assert.equal(me.status, 200);
    assert.deepEqual([me.body.email, me.body.has_password, me.body.providers], ['alice@example.test', false, ['corp']]);

    idp.accounts.set('alice-sub', { email: 'alice-renamed@example.test', email_verified: true, name: 'Alice' });
    const again = await oauthLogin('alice-sub', '/auth/oauth/corp');
    assert.equal(again.searchParams.get('user_id'), landed.searchParams.get('user_id'), 'the same user, found by its identity (through the path without /v1)');
  });

  test('a login with the verified email of a password account links to that account', async () => {
    const signup = await t.api('POST', '/v1/auth/signup', { body: { email: 'bob@example.test', password: 'bob-password-1' } });
    idp.accounts.set('bob-sub', { email: 'bob@example.test', email_verified: true, name: 'Bob' });
    const landed = await oauthLogin('bob-sub', '/api/v1/auth/oauth/corp');
    assert.equal(landed.searchParams.get('user_id'), signup.body.user_id);
    assert.deepEqual((await t.api('GET', '/v1/me', { auth: landed.searchParams.get('token')! })).body.providers, ['corp']);
  });

  test('an unverified email creates nothing and links nothing', async () => {
    idp.accounts.set('eve-sub', { email: 'bob@example.test', email_verified: false, name: 'Eve' });
    const landed = await oauthLogin('eve-sub');
    assert.equal(landed.searchParams.get('error'), 'email_unverified');
    assert.equal(landed.searchParams.get('token'), null);
    const rows = await t.cp.ctx.db.selectFrom('oauth_identities').select('subject').where('subject', '=', 'eve-sub').execute();
    assert.deepEqual(rows, []);
  });

  test('a state the control plane never issued is refused', async () => {
    const browser = new TestBrowser();
    await browser.get(`${cpUrl}/v1/auth/oauth/corp`); // a real attempt: the browser holds its cookie
    const landed = await browser.follow(`${cpUrl}/v1/auth/oauth/corp/callback?code=abc&state=forged-state`, atApp);
    assert.equal(landed.searchParams.get('error'), 'invalid_state');
  });

  test('a callback replayed after its login is refused, and so is one reaching a browser that did not start it', async () => {
    idp.accounts.set('carol-sub', { email: 'carol@example.test', email_verified: true, name: 'Carol' });
    idp.signInAs('carol-sub');
    const browser = new TestBrowser();
    const callback = await browser.follow(`${cpUrl}/v1/auth/oauth/corp`, (u) => u.pathname.endsWith('/callback') && u.origin === cpUrl);
    const cookie = browser.cookie('127.0.0.1', 'wrenn_oauth')!;
    assert.ok(cookie);
    const first = await browser.follow(callback.toString(), atApp);
    assert.ok(first.searchParams.get('token'), 'the first use logs in');
    const replay = await new TestBrowser().follow(callback.toString(), atApp, { cookie: `wrenn_oauth=${cookie}` });
    assert.equal(replay.searchParams.get('error'), 'invalid_state', 'a state works once');

    const other = new TestBrowser();
    const stolen = await browser.follow(`${cpUrl}/v1/auth/oauth/corp`, (u) => u.pathname.endsWith('/callback') && u.origin === cpUrl);
    const elsewhere = await other.follow(stolen.toString(), atApp);
    assert.equal(elsewhere.searchParams.get('error'), 'invalid_state', 'without the cookie of the browser that started it');
  });

  test('an expired attempt is refused', async () => {
    idp.accounts.set('dan-sub', { email: 'dan@example.test', email_verified: true, name: 'Dan' });
    idp.signInAs('dan-sub');
    const browser = new TestBrowser();
    const callback = await browser.follow(`${cpUrl}/v1/auth/oauth/corp`, (u) => u.pathname.endsWith('/callback') && u.origin === cpUrl);
    // Ten minutes cannot pass in a test: the attempt's expiry is moved into the past.
    await t.cp.ctx.db.updateTable('oauth_states').set({ expires_at: new Date(Date.now() - 1000) }).execute();
    assert.equal((await browser.follow(callback.toString(), atApp)).searchParams.get('error'), 'invalid_state');
  });

  test('where the browser is sent is fixed by configuration: redirect parameters of the request are ignored, a changed redirect_uri is refused by the provider', async () => {
    const browser = new TestBrowser();
    const start = await browser.get(`${cpUrl}/v1/auth/oauth/corp?redirect_uri=http://evil.test/cb&redirect=http://evil.test/x&next=http://evil.test`);
    assert.equal(start.status, 302);
    const authUrl = new URL(start.headers.get('location')!);
    assert.equal(authUrl.origin, idp.issuer);
    assert.equal(authUrl.searchParams.get('redirect_uri'), `${cpUrl}/v1/auth/oauth/corp/callback`);
    assert.equal(authUrl.searchParams.get('code_challenge_method'), 'S256');
    assert.ok(authUrl.searchParams.get('nonce'));
    const setCookie = start.headers.getSetCookie().join('\n');
    assert.match(setCookie, /wrenn_oauth=[^;]+; Path=\/; Max-Age=600; HttpOnly; SameSite=Lax/);

    idp.accounts.set('frank-sub', { email: 'frank@example.test', email_verified: true, name: 'Frank' });
    idp.signInAs('frank-sub');
    const landed = await browser.follow(authUrl.toString(), (u) => u.hostname !== 'localhost' && u.hostname !== '127.0.0.1');
    assert.equal(landed.origin, new URL(APP_URL).origin);

    const tampered = new URL(authUrl);
    tampered.searchParams.set('redirect_uri', 'http://evil.test/cb');
    const refused = await browser.get(tampered.toString());
    assert.ok(!(refused.headers.get('location') ?? '').startsWith('http://evil.test'), 'the provider does not send the code elsewhere');
    assert.equal(refused.status, 400);
  });

  test('linking: connect answers the auth URL, the callback links the identity to the signed-in user; an identity of another user is refused; unlinking keeps one way to sign in', async () => {
    const grace = await t.api('POST', '/v1/auth/signup', { body: { email: 'grace@example.test', password: 'grace-password-1' } });
    idp.accounts.set('grace-corp', { email: 'grace.corp@example.test', email_verified: true, name: 'Grace' });
    idp.signInAs('grace-corp');
    const browser = new TestBrowser();
    const connect = await browser.get(`${cpUrl}/v1/me/providers/corp/connect`, { authorization: `Bearer ${grace.body.token}` });
    assert.equal(connect.status, 200);
    const { auth_url } = (await connect.json()) as { auth_url: string };
    const linked = await browser.follow(auth_url, atApp);
    assert.equal(linked.pathname, '/dashboard/settings');
    assert.equal(linked.searchParams.get('connected'), 'corp');
    assert.deepEqual((await t.api('GET', '/v1/me', { auth: grace.body.token })).body.providers, ['corp']);
    const loginAsGrace = await oauthLogin('grace-corp');
    assert.equal(loginAsGrace.searchParams.get('user_id'), grace.body.user_id, 'the linked identity logs in to her account, whatever its email');

    const heidi = await t.api('POST', '/v1/auth/signup', { body: { email: 'heidi@example.test', password: 'heidi-password-1' } });
    const b2 = new TestBrowser();
    const c2 = await b2.get(`${cpUrl}/v1/me/providers/corp/connect`, { authorization: `Bearer ${heidi.body.token}` });
    const refused = await b2.follow(((await c2.json()) as { auth_url: string }).auth_url, atApp);
    assert.equal(refused.searchParams.get('connect_error'), 'already_linked');

    assert.equal((await t.api('DELETE', '/v1/me/providers/corp', { auth: heidi.body.token })).status, 404, 'not linked');
    assert.equal((await t.api('DELETE', '/v1/me/providers/corp', { auth: grace.body.token })).status, 204, 'she still has her password');
    assert.deepEqual((await t.api('GET', '/v1/me', { auth: grace.body.token })).body.providers, []);

    idp.accounts.set('ivan-sub', { email: 'ivan@example.test', email_verified: true, name: 'Ivan' });
    const ivan = (await oauthLogin('ivan-sub')).searchParams.get('token')!;
    const last = await t.api('DELETE', '/v1/me/providers/corp', { auth: ivan });
    assert.equal(last.status, 400, 'the last way to sign in stays');
    assert.equal(last.body.error.code, 'invalid_request');
    const added = await t.api('POST', '/v1/me/password', { auth: ivan, body: { new_password: 'ivan-password-1', confirm_password: 'ivan-password-1' } });
    assert.equal(added.status, 200, 'an OAuth-only account adds a password without a current one');
    assert.equal((await t.api('POST', '/v1/me/password', { auth: added.body.token, body: { new_password: 'ivan-password-2', confirm_password: 'ivan-password-2' } })).status, 400, 'changing it then needs the current one');
    assert.equal((await t.api('DELETE', '/v1/me/providers/corp', { auth: added.body.token })).status, 204, 'with a password, the provider can go');
  });

  test('GitHub: the account id from /user, the primary verified address from /user/emails', async () => {
    gh.user = { id: 4242, login: 'octo', name: null, emails: [{ email: 'old@example.test', primary: false, verified: true }, { email: 'Octo@Example.test', primary: true, verified: true }] };
    const landed = await new TestBrowser().follow(`${cpUrl}/v1/auth/oauth/github`, atApp);
    assert.equal(landed.pathname, '/auth/github/callback');
    assert.equal(landed.searchParams.get('email'), 'octo@example.test');
    assert.equal(landed.searchParams.get('name'), 'octo');
    const identity = await t.cp.ctx.db.selectFrom('oauth_identities').select(['subject', 'user_id']).where('provider', '=', 'github').executeTakeFirst();
    assert.deepEqual(identity, { subject: '4242', user_id: landed.searchParams.get('user_id') });
  });

  test('a provider that is not configured is 404', async () => {
    const res = await t.api('GET', '/v1/auth/oauth/gitlab');
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'not_found');
  });
});
