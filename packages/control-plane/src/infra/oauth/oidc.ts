/**
 * Any OpenID Connect issuer (Google, Keycloak, Authentik, ...): discovered once from its
 * /.well-known/openid-configuration, authorization code flow with PKCE (S256), state and
 * nonce, ID token verified by openid-client; email, email_verified and name from the ID
 * token and the userinfo endpoint.
 */
import * as client from 'openid-client';
import type { OidcOAuthConfig } from '../../start/config-auth.js';
import { isLoopbackUrl, type OAuthAttempt, type OAuthIdentity, type OAuthProvider } from './provider.js';

export class OidcProvider implements OAuthProvider {
  readonly name: string;
  private discovered: Promise<client.Configuration> | undefined;

  constructor(private readonly config: OidcOAuthConfig) {
    this.name = config.name;
  }

  private configuration(): Promise<client.Configuration> {
    const insecure = isLoopbackUrl(this.config.issuer) && this.config.issuer.startsWith('http:');
    this.discovered ??= client
      .discovery(new URL(this.config.issuer), this.config.clientId, undefined, client.ClientSecretPost(this.config.clientSecret), insecure ? { execute: [client.allowInsecureRequests] } : undefined)
      .catch((err: unknown) => {
        this.discovered = undefined; // the next attempt discovers again
        throw err;
      });
    return this.discovered;
  }

  async authorizationUrl(attempt: OAuthAttempt): Promise<URL> {
    return client.buildAuthorizationUrl(await this.configuration(), {
      redirect_uri: attempt.redirectUri,
      scope: 'openid email profile',
      state: attempt.state,
      nonce: attempt.nonce,
      code_challenge: await client.calculatePKCECodeChallenge(attempt.codeVerifier),
      code_challenge_method: 'S256',
    });
  }

  async identity(callbackUrl: URL, attempt: OAuthAttempt): Promise<OAuthIdentity> {
    const config = await this.configuration();
    const tokens = await client.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: attempt.codeVerifier, expectedState: attempt.state, expectedNonce: attempt.nonce, idTokenExpected: true });
    const claims = tokens.claims()!;
    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    const email = typeof info.email === 'string' ? info.email : typeof claims.email === 'string' ? claims.email : '';
    const verified = info.email_verified ?? claims.email_verified;
    const name = typeof info.name === 'string' ? info.name : typeof claims.name === 'string' ? claims.name : '';
    return { subject: claims.sub, email, emailVerified: verified === true, name };
  }
}
