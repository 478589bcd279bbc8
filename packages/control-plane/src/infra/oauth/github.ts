/**
 * GitHub (github.com, or GitHub Enterprise Server through WRENN_OAUTH_GITHUB_*_URL): OAuth
 * 2.0 without OpenID Connect, so openid-client runs the code flow (state, PKCE) against
 * GitHub's endpoints as plain OAuth server metadata, and the identity comes from GitHub's
 * REST API: the account id from GET /user, the primary verified address from
 * GET /user/emails.
 */
import * as client from 'openid-client';
import type { GithubOAuthConfig } from '../../start/config-auth.js';
import { isLoopbackUrl, type OAuthAttempt, type OAuthIdentity, type OAuthProvider } from './provider.js';

interface GithubUser {
  id: number;
  login: string;
  name: string | null;
}

interface GithubEmail {
  email: string;
  primary: boolean;
  verified: boolean;
}

export class GithubProvider implements OAuthProvider {
  readonly name = 'github';
  private readonly configuration: client.Configuration;

  constructor(private readonly config: GithubOAuthConfig) {
    this.configuration = new client.Configuration(
      { issuer: new URL(config.authorizeUrl).origin, authorization_endpoint: config.authorizeUrl, token_endpoint: config.tokenUrl },
      config.clientId,
      undefined,
      client.ClientSecretPost(config.clientSecret),
    );
    if ([config.authorizeUrl, config.tokenUrl, config.apiUrl].every((u) => isLoopbackUrl(u))) client.allowInsecureRequests(this.configuration);
  }

  async authorizationUrl(attempt: OAuthAttempt): Promise<URL> {
    return client.buildAuthorizationUrl(this.configuration, {
      redirect_uri: attempt.redirectUri,
      scope: 'read:user user:email',
      state: attempt.state,
      code_challenge: await client.calculatePKCECodeChallenge(attempt.codeVerifier),
      code_challenge_method: 'S256',
    });
  }

  private async api<T>(accessToken: string, path: string): Promise<T> {
    const headers = new Headers({ accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' });
    const res = await client.fetchProtectedResource(this.configuration, accessToken, new URL(`${this.config.apiUrl}${path}`), 'GET', undefined, headers);
    if (!res.ok) throw new Error(`GitHub API ${path} answered ${res.status}`);
    return (await res.json()) as T;
  }

  async identity(callbackUrl: URL, attempt: OAuthAttempt): Promise<OAuthIdentity> {
    const tokens = await client.authorizationCodeGrant(this.configuration, callbackUrl, { pkceCodeVerifier: attempt.codeVerifier, expectedState: attempt.state });
    const [user, emails] = await Promise.all([this.api<GithubUser>(tokens.access_token, '/user'), this.api<GithubEmail[]>(tokens.access_token, '/user/emails')]);
    if (typeof user.id !== 'number') throw new Error('GitHub API /user answered no account id');
    const primary = emails.find((e) => e.primary && e.verified) ?? emails.find((e) => e.verified);
    return { subject: String(user.id), email: primary?.email ?? '', emailVerified: primary !== undefined, name: user.name || user.login };
  }
}
