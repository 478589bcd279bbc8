/**
 * Counterparts for OAuth tests, on 127.0.0.1: a real OpenID Connect provider (the
 * oidc-provider package) whose login and consent steps the test completes for an account
 * it picks; a stand-in for GitHub; and a browser that follows redirects and keeps cookies
 * per host name, as a browser would.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

export interface TestAccount {
  email: string;
  email_verified: boolean;
  name: string;
}

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

export interface TestIdp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  accounts: Map<string, TestAccount>;
  /** The account the next login step signs in as. */
  signInAs(accountId: string): void;
  close(): Promise<void>;
}

/** An OpenID Connect provider at http://localhost:<port> with one confidential client allowed `redirectUris`. */
export async function startIdp(redirectUris: string[]): Promise<TestIdp> {
  const accounts = new Map<string, TestAccount>();
  let current = '';
  const clientId = 'wrenn-test';
  const clientSecret = randomBytes(16).toString('hex');
  const server = createServer();
  const port = await listen(server);
  const issuer = `http://localhost:${port}`;
  const provider = new Provider(issuer, {
    clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: redirectUris, grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_post' }],
    async findAccount(_ctx, id) {
      const a = accounts.get(id);
      return a ? { accountId: id, claims: async () => ({ sub: id, ...a }) } : undefined;
    },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false } },
    cookies: { keys: [randomBytes(16).toString('hex')] },
  });
  const callback = provider.callback();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (!req.url?.startsWith('/interaction/')) return void callback(req, res);
    // The login and consent pages: the person signs in as `current` and agrees to what the client asked.
    void (async () => {
      const details = await provider.interactionDetails(req, res);
      if (details.prompt.name === 'login') return provider.interactionFinished(req, res, { login: { accountId: current } }, { mergeWithLastSubmission: false });
      const grant = new provider.Grant({ accountId: details.session!.accountId, clientId: details.params.client_id as string });
      const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      return provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
    })().catch((err: unknown) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  });
  return {
    issuer,
    clientId,
    clientSecret,
    accounts,
    signInAs: (id) => void (current = id),
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

export interface FakeGithub {
  url: string;
  clientId: string;
  clientSecret: string;
  /** The GitHub user the next authorization signs in as. */
  user: { id: number; login: string; name: string | null; emails: Array<{ email: string; primary: boolean; verified: boolean }> };
  close(): Promise<void>;
}

/**
 * A stand-in for github.com and api.github.com: the one fake in these tests (GitHub's
 * service cannot run here). It plays GitHub's side of the OAuth web flow as GitHub
 * documents it (authorize redirects back with code and state; the token endpoint checks
 * the client secret, redirect_uri and PKCE verifier; GET /user and /user/emails want the
 * token), so the control plane's GitHub adapter runs unchanged against it.
 */
export async function startFakeGithub(): Promise<FakeGithub> {
  const clientId = 'gh-client';
  const clientSecret = randomBytes(16).toString('hex');
  const codes = new Map<string, { redirectUri: string; challenge: string }>();
  const tokens = new Set<string>();
  const gh: FakeGithub = { url: '', clientId, clientSecret, user: { id: 0, login: '', name: null, emails: [] }, close: async () => {} };
  const json = (res: ServerResponse, status: number, body: unknown) => (res.writeHead(status, { 'content-type': 'application/json' }), res.end(JSON.stringify(body)));
  const server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://github.test');
    if (req.method === 'GET' && url.pathname === '/login/oauth/authorize') {
      const p = url.searchParams;
      if (p.get('client_id') !== clientId || p.get('code_challenge_method') !== 'S256' || !p.get('code_challenge')) return json(res, 400, { error: 'bad request' });
      const code = randomBytes(10).toString('hex');
      codes.set(code, { redirectUri: p.get('redirect_uri')!, challenge: p.get('code_challenge')! });
      const back = new URL(p.get('redirect_uri')!);
      back.searchParams.set('code', code);
      back.searchParams.set('state', p.get('state')!);
      res.writeHead(302, { location: back.toString() });
      return res.end();
    }
    if (req.method === 'POST' && url.pathname === '/login/oauth/access_token') {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => {
        const p = new URLSearchParams(body);
        const grant = codes.get(p.get('code') ?? '');
        codes.delete(p.get('code') ?? '');
        const verifierOk = grant && createHash('sha256').update(p.get('code_verifier') ?? '').digest('base64url') === grant.challenge;
        if (!grant || !verifierOk || p.get('client_secret') !== clientSecret || p.get('redirect_uri') !== grant.redirectUri) return json(res, 200, { error: 'bad_verification_code' });
        const token = `gho_${randomBytes(12).toString('hex')}`;
        tokens.add(token);
        json(res, 200, { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' });
      });
      return;
    }
    const auth = req.headers.authorization ?? '';
    if (!tokens.has(auth.replace(/^Bearer /i, ''))) return json(res, 401, { message: 'Bad credentials' });
    if (url.pathname === '/user') return json(res, 200, { id: gh.user.id, login: gh.user.login, name: gh.user.name });
    if (url.pathname === '/user/emails') return json(res, 200, gh.user.emails);
    json(res, 404, { message: 'Not Found' });
  });
  const port = await listen(server);
  gh.url = `http://127.0.0.1:${port}`;
  gh.close = () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve())));
  return gh;
}

/** A browser: cookies per host name (as browsers keep them, whatever the port), redirects followed by hand. */
export class TestBrowser {
  private readonly jar = new Map<string, Map<string, string>>();

  private store(url: URL, res: Response): void {
    const cookies = this.jar.get(url.hostname) ?? new Map<string, string>();
    this.jar.set(url.hostname, cookies);
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const gone = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=thu, 01 jan 1970/i.test(a));
      if (gone || value === '') cookies.delete(name);
      else cookies.set(name, value);
    }
  }

  cookie(host: string, name: string): string | undefined {
    return this.jar.get(host)?.get(name);
  }

  forget(host: string): void {
    this.jar.delete(host);
  }

  async get(url: string, headers: Record<string, string> = {}): Promise<Response> {
    const u = new URL(url);
    const cookies = [...(this.jar.get(u.hostname) ?? new Map<string, string>())].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(u, { redirect: 'manual', headers: { ...headers, ...(cookies ? { cookie: cookies } : {}) } });
    this.store(u, res);
    return res;
  }

  /**
   * Follows redirects from `url` until one leaves for a URL `stop` accepts (returned, not
   * fetched: the dashboard is not running) or an answer is not a redirect (an error).
   */
  async follow(url: string, stop: (u: URL) => boolean, headers: Record<string, string> = {}): Promise<URL> {
    let next = new URL(url);
    for (let hop = 0; hop < 20; hop++) {
      if (stop(next)) return next;
      const res = await this.get(next.toString(), hop === 0 ? headers : {});
      const location = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || !location) throw new Error(`${next} answered ${res.status} without a redirect: ${await res.text()}`);
      await res.arrayBuffer();
      next = new URL(location, next);
    }
    throw new Error(`more than 20 redirects from ${url}`);
  }
}
