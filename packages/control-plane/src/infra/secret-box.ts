/**
 * Encryption at rest for values the API stores but must be able to read back (E2B
 * secrets injected into sandboxes): AES-256-GCM with a random 96-bit nonce per value, the
 * key derived (HKDF-SHA256) from the control plane's secret (WRENN_JWT_SECRET), the row's
 * identity bound in as associated data so a ciphertext copied to another row fails.
 * Stored as `v1.<nonce>.<ciphertext+tag>` (base64url).
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { WrennError } from '@wrenn/shared';

export class SecretBox {
  private readonly key: Buffer;

  constructor(serverSecret: string, purpose: string) {
    this.key = Buffer.from(hkdfSync('sha256', Buffer.from(serverSecret), Buffer.alloc(0), Buffer.from(`wrenn ${purpose} v1`), 32));
  }

  seal(plaintext: string, boundTo: string): string {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
    cipher.setAAD(Buffer.from(boundTo));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `v1.${nonce.toString('base64url')}.${body.toString('base64url')}`;
  }

  open(sealed: string, boundTo: string): string {
    const [version, nonceText, bodyText] = sealed.split('.');
    if (version !== 'v1' || !nonceText || !bodyText) throw new WrennError('internal', 'a stored secret has an unknown format');
    const body = Buffer.from(bodyText, 'base64url');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(nonceText, 'base64url'));
      decipher.setAAD(Buffer.from(boundTo));
      decipher.setAuthTag(body.subarray(body.length - 16));
      return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]).toString('utf8');
    } catch (err) {
      throw new WrennError('internal', 'a stored secret cannot be decrypted (was WRENN_JWT_SECRET changed?)', undefined, { cause: err });
    }
  }
}
