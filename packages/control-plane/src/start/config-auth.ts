/**
 * Configuration of what reaches users outside the API: the dashboard URL that email links
 * and OAuth results point to, outgoing mail (SMTP), and the OAuth/OIDC login providers.
 * Part of loadControlPlaneConfig; every variable is in the README's table.
 */
import { readFileSync } from 'node:fs';
import { int } from '@wrenn/shared';

export type SmtpSecurity = 'starttls' | 'tls' | 'none';

export interface SmtpConfig {
  /** WRENN_SMTP_HOST: unset = no mail; the links a mail would carry are logged for the administrator. */
  host: string;
  /** WRENN_SMTP_PORT: default 587 (starttls), 465 (tls), 25 (none). */
  port: number;
  /**
   * WRENN_SMTP_SECURITY: `starttls` (default: the connection must upgrade, or nothing is
   * sent), `tls` (implicit TLS from the first byte, "SMTPS"), `none` (plain text: only for a
   * relay on the same machine).
   */
  security: SmtpSecurity;
  /** WRENN_SMTP_USER and WRENN_SMTP_PASSWORD: AUTH credentials, when the server wants them. */
  user: string | undefined;
  password: string | undefined;
  /** WRENN_SMTP_FROM: the From address (required with WRENN_SMTP_HOST). */
  from: string;
  /** WRENN_SMTP_CA_FILE: PEM certificates trusted for the server besides the system's (a private CA). */
  ca: string | undefined;
}

export interface GithubOAuthConfig {
  kind: 'github';
  name: 'github';
  clientId: string;
  clientSecret: string;
  /**
   * WRENN_OAUTH_GITHUB_AUTHORIZE_URL, _TOKEN_URL and _API_URL: github.com's by default;
   * set for GitHub Enterprise Server.
   */
  authorizeUrl: string;
  tokenUrl: string;
  apiUrl: string;
}

export interface OidcOAuthConfig {
  kind: 'oidc';
  /** The provider's name in URLs (/v1/auth/oauth/{name}), from WRENN_OIDC_PROVIDERS. */
  name: string;
  /** WRENN_OIDC_<NAME>_ISSUER: discovered from <issuer>/.well-known/openid-configuration. */
  issuer: string;
  clientId: string;
  clientSecret: string;
}

export type OAuthProviderConfig = GithubOAuthConfig | OidcOAuthConfig;

export interface AuthDeliveryConfig {
  /**
   * WRENN_APP_URL: the dashboard's base URL, default WRENN_PUBLIC_URL. Password-reset and
   * activation links, and every OAuth result, point under it and nowhere else: no request
   * can choose where a browser is sent.
   */
  appUrl: string;
  smtp: SmtpConfig | undefined;
  /** Enabled login providers (WRENN_OAUTH_GITHUB_*, WRENN_OIDC_*). */
  oauth: OAuthProviderConfig[];
}

function httpUrl(name: string, raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`${name} must be an http(s) URL, got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`${name} must be an http(s) URL, got ${JSON.stringify(raw)}`);
  return raw.replace(/\/+$/, '');
}

function smtpFrom(env: NodeJS.ProcessEnv): SmtpConfig | undefined {
  const host = env.WRENN_SMTP_HOST?.trim();
  if (!host) return undefined;
  const security = (env.WRENN_SMTP_SECURITY || 'starttls') as SmtpSecurity;
  if (!['starttls', 'tls', 'none'].includes(security)) throw new Error(`WRENN_SMTP_SECURITY must be starttls, tls or none, got ${JSON.stringify(env.WRENN_SMTP_SECURITY)}`);
  const from = env.WRENN_SMTP_FROM?.trim();
  if (!from) throw new Error('WRENN_SMTP_FROM is required with WRENN_SMTP_HOST (the From address of password-reset and activation mail)');
  if (!!env.WRENN_SMTP_USER !== !!env.WRENN_SMTP_PASSWORD) throw new Error('WRENN_SMTP_USER and WRENN_SMTP_PASSWORD go together');
  const caFile = env.WRENN_SMTP_CA_FILE;
  let ca: string | undefined;
  if (caFile) {
    try {
      ca = readFileSync(caFile, 'utf8');
    } catch (err) {
      throw new Error(`WRENN_SMTP_CA_FILE ${caFile} cannot be read: ${(err as Error).message}`);
    }
  }
  const defaultPort = security === 'tls' ? 465 : security === 'starttls' ? 587 : 25;
  return { host, port: int(env, 'WRENN_SMTP_PORT', defaultPort, 1), security, user: env.WRENN_SMTP_USER || undefined, password: env.WRENN_SMTP_PASSWORD || undefined, from, ca };
}

function required(env: NodeJS.ProcessEnv, name: string, because: string): string {
  const v = env[name]?.trim();
  if (!v) throw new Error(`${name} is required ${because}`);
  return v;
}

function oauthFrom(env: NodeJS.ProcessEnv): OAuthProviderConfig[] {
  const providers: OAuthProviderConfig[] = [];
  if (env.WRENN_OAUTH_GITHUB_CLIENT_ID) {
    providers.push({
      kind: 'github',
      name: 'github',
      clientId: env.WRENN_OAUTH_GITHUB_CLIENT_ID,
      clientSecret: required(env, 'WRENN_OAUTH_GITHUB_CLIENT_SECRET', 'with WRENN_OAUTH_GITHUB_CLIENT_ID'),
      authorizeUrl: httpUrl('WRENN_OAUTH_GITHUB_AUTHORIZE_URL', env.WRENN_OAUTH_GITHUB_AUTHORIZE_URL || 'https://github.com/login/oauth/authorize'),
      tokenUrl: httpUrl('WRENN_OAUTH_GITHUB_TOKEN_URL', env.WRENN_OAUTH_GITHUB_TOKEN_URL || 'https://github.com/login/oauth/access_token'),
      apiUrl: httpUrl('WRENN_OAUTH_GITHUB_API_URL', env.WRENN_OAUTH_GITHUB_API_URL || 'https://api.github.com'),
    });
  }
  const names = (env.WRENN_OIDC_PROVIDERS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const name of names) {
    if (!/^[a-z][a-z0-9-]{0,31}$/.test(name)) throw new Error(`WRENN_OIDC_PROVIDERS: ${JSON.stringify(name)} is not a provider name (lowercase letters, digits, '-')`);
    if (providers.some((p) => p.name === name)) throw new Error(`WRENN_OIDC_PROVIDERS names ${name} twice (or it is also the GitHub provider)`);
    const prefix = `WRENN_OIDC_${name.toUpperCase().replace(/-/g, '_')}_`;
    providers.push({
      kind: 'oidc',
      name,
      issuer: httpUrl(`${prefix}ISSUER`, required(env, `${prefix}ISSUER`, `for the OIDC provider ${name}`)),
      clientId: required(env, `${prefix}CLIENT_ID`, `for the OIDC provider ${name}`),
      clientSecret: required(env, `${prefix}CLIENT_SECRET`, `for the OIDC provider ${name}`),
    });
  }
  return providers;
}

export function loadAuthDeliveryConfig(env: NodeJS.ProcessEnv, publicUrl: string): AuthDeliveryConfig {
  return { appUrl: httpUrl('WRENN_APP_URL', env.WRENN_APP_URL || publicUrl), smtp: smtpFrom(env), oauth: oauthFrom(env) };
}
