/**
 * A login provider (OAuth 2.0 / OpenID Connect), as the accounts domain sees it: build the
 * authorization URL for one attempt, then turn the callback into a verified identity. The
 * protocol work (PKCE, state, nonce, ID token checks) is openid-client's; adapters differ
 * only in where the identity comes from (GitHub's API, or an OIDC issuer's claims).
 */

/** One login or link attempt: what the callback must match. */
export interface OAuthAttempt {
  state: string;
  nonce: string;
  codeVerifier: string;
  /** The control plane's callback URL (fixed by WRENN_PUBLIC_URL). */
  redirectUri: string;
}

export interface OAuthIdentity {
  /** The provider's stable id of the account (GitHub's numeric id, OIDC `sub`). */
  subject: string;
  email: string;
  /** The provider vouches that the person controls `email`. */
  emailVerified: boolean;
  name: string;
}

export interface OAuthProvider {
  readonly name: string;
  authorizationUrl(attempt: OAuthAttempt): Promise<URL>;
  /** Exchanges the code in `callbackUrl` (state, PKCE and nonce checked); throws on any mismatch. */
  identity(callbackUrl: URL, attempt: OAuthAttempt): Promise<OAuthIdentity>;
}

/** Plain http is allowed only to a provider on this machine (tests, a local IdP). */
export function isLoopbackUrl(raw: string): boolean {
  const host = new URL(raw).hostname;
  return host === 'localhost' || host === '[::1]' || /^127\./.test(host);
}
