/**
 * The mails accounts send: an activation link (an account an administrator created, or
 * reset) and a password-reset link. Links point under WRENN_APP_URL (the dashboard), never
 * anywhere a request names.
 */
import type { ControlPlaneContext } from '../../context.js';
import type { MailMessage } from '../../infra/mailer.js';

function link(ctx: ControlPlaneContext, path: string, token: string): string {
  const url = new URL(`${ctx.config.appUrl}${path}`);
  url.searchParams.set('token', token);
  return url.toString();
}

export function activationMail(ctx: ControlPlaneContext, to: string, token: string, expiresAt: Date): MailMessage {
  const url = link(ctx, '/activate', token);
  return {
    to,
    subject: 'Activate your Wrenn account',
    link: url,
    text: `An account on Wrenn is waiting for you.\n\nChoose your password here (the link works once, until ${expiresAt.toISOString()}):\n\n${url}\n\nIf you did not expect this, ignore this mail.\n`,
  };
}

export function passwordResetMail(ctx: ControlPlaneContext, to: string, token: string, ttlMinutes: number): MailMessage {
  const url = link(ctx, '/reset-password', token);
  return {
    to,
    subject: 'Reset your Wrenn password',
    link: url,
    text: `Someone (hopefully you) asked to reset the password of your Wrenn account.\n\nSet a new password here (the link works once, for ${ttlMinutes} minutes):\n\n${url}\n\nSetting it signs you out everywhere. If you did not ask, ignore this mail: your password stays as it is.\n`,
  };
}
