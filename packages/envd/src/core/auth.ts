/**
 * Request authentication. Before /init sets an access token everything is open (the
 * capsule's network is reachable only by its host agent); afterwards every request but
 * /health needs `X-Access-Token`, or, for /files, a valid signature made with the token.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { WrennError } from '@wrenn/shared';
import type { EnvdState } from './state.js';
import type { UserDirectory, UserInfo } from './users.js';

function sameSecret(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/** The envd signed-URL scheme: `v1_` + base64(sha256(path:operation:user:token[:exp])). */
export function fileSignature(path: string, operation: 'read' | 'write', user: string, token: string, expiration?: number): string {
  const raw = expiration === undefined ? `${path}:${operation}:${user}:${token}` : `${path}:${operation}:${user}:${token}:${expiration}`;
  return 'v1_' + createHash('sha256').update(raw).digest('base64').replace(/=+$/, '');
}

export function isAuthorized(url: URL, method: string, headers: IncomingHttpHeaders, state: EnvdState): boolean {
  const token = state.accessToken;
  if (!token) return true;
  if (url.pathname === '/health') return true;
  const given = headers['x-access-token'];
  if (typeof given === 'string' && sameSecret(given, token)) return true;
  if (url.pathname === '/files') {
    const signature = url.searchParams.get('signature');
    if (!signature) return false;
    const expText = url.searchParams.get('signature_expiration');
    const expiration = expText ? Number(expText) : undefined;
    if (expiration !== undefined && (!Number.isFinite(expiration) || expiration * 1000 < Date.now())) return false;
    const operation = method === 'GET' || method === 'HEAD' ? 'read' : 'write';
    const path = url.searchParams.get('path') ?? '';
    const named = url.searchParams.get('username');
    if (named !== null) return sameSecret(signature, fileSignature(path, operation, named, token, expiration));
    // No user named: the e2b SDK signs an empty user (the default user acts); earlier
    // clients signed the default user's name.
    return sameSecret(signature, fileSignature(path, operation, '', token, expiration)) || sameSecret(signature, fileSignature(path, operation, state.defaultUser, token, expiration));
  }
  return false;
}

/** User name from `Authorization: Basic base64(user:)`, if present. */
export function basicAuthUser(authorization: string | null | undefined): string | undefined {
  if (!authorization) return undefined;
  const m = /^Basic\s+(.+)$/i.exec(authorization.trim());
  if (!m?.[1]) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const name = decoded.split(':')[0];
  return name || undefined;
}

/** The acting user: explicit name, else Basic auth header, else the capsule's default user. */
export function actingUser(
  users: UserDirectory,
  state: EnvdState,
  opts: { explicit?: string | null | undefined; authorization?: string | null | undefined },
): UserInfo {
  const name = opts.explicit || basicAuthUser(opts.authorization) || state.defaultUser;
  try {
    return users.lookup(name);
  } catch (err) {
    if (err instanceof WrennError) throw err;
    throw new WrennError('user_not_found', `cannot resolve user ${JSON.stringify(name)}`);
  }
}
