/** The enabled login providers, by name, from configuration (GitHub, or any OIDC issuer). */
import type { OAuthProviderConfig } from '../../start/config-auth.js';
import { GithubProvider } from './github.js';
import { OidcProvider } from './oidc.js';
import type { OAuthProvider } from './provider.js';

export function oauthProviders(configs: OAuthProviderConfig[]): Map<string, OAuthProvider> {
  return new Map(configs.map((c) => [c.name, c.kind === 'github' ? new GithubProvider(c) : new OidcProvider(c)] as const));
}
