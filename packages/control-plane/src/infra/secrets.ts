/**
 * Secrets: passwords (argon2id), API keys (`wrn_` + 32 hex, stored as SHA-256 only),
 * one-time tokens (SHA-256 only), and HS256 JWTs for users and hosts (jose).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { hash as argonHash, verify as argonVerify } from '@node-rs/argon2';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { WrennError } from '@wrenn/shared';

export async function hashPassword(password: string): Promise<string> {
  return argonHash(password);
}

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argonVerify(hash, password);
  } catch {
    return false;
  }
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

export function sameHash(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

export const API_KEY_PATTERN = /^wrn_[0-9a-f]{32}$/;

export function newApiKey(): string {
  return `wrn_${randomBytes(16).toString('hex')}`;
}

export function newOpaqueToken(prefix: string): string {
  return `${prefix}${randomBytes(24).toString('base64url')}`;
}

export interface UserClaims {
  kind: 'user';
  user: string;
  team: string;
  role: 'owner' | 'admin' | 'member';
  is_admin: boolean;
  /**
   * The user's session version when the token was issued (users.session_version): a token
   * whose version is no longer the user's was revoked. Absent in tokens issued before
   * versions existed, which count as version 0.
   */
  sv?: number;
  /**
   * The membership's version when issued (membership_versions.version, bumped when the
   * member is removed): a removed and re-added member's old tokens stay refused. Absent = 0.
   */
  mv?: number;
}

export interface HostClaims {
  kind: 'host';
  host: string;
}

export type Claims = UserClaims | HostClaims;

export class JwtIssuer {
  private readonly key: Uint8Array;

  constructor(secret: string, private readonly ttlSec: number) {
    this.key = new TextEncoder().encode(secret);
  }

  async sign(claims: Claims, ttlSec = this.ttlSec): Promise<string> {
    return new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuedAt()
      .setExpirationTime(`${ttlSec}s`)
      .setIssuer('wrenn')
      .sign(this.key);
  }

  /** Verifies signature (HS256 only: `alg: none` and others are refused), expiry and issuer. */
  /** `exp` is the expiry in seconds since the epoch. */
  async verify(token: string): Promise<Claims & { exp?: number }> {
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'], issuer: 'wrenn' });
      if (payload.kind !== 'user' && payload.kind !== 'host') throw new Error('unknown token kind');
      return payload as unknown as Claims & { exp?: number };
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw new WrennError('unauthenticated', 'the token has expired: log in again');
      throw new WrennError('unauthenticated', 'invalid token');
    }
  }
}
