/**
 * Outgoing mail (password-reset and activation links) over SMTP with nodemailer, as
 * WRENN_SMTP_* says: STARTTLS required, implicit TLS, or plain for a local relay. Without
 * SMTP the link is logged (warn) for the administrator to hand over, so a server with no
 * mail set up still lets users in.
 */
import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger } from '@wrenn/shared';
import type { SmtpConfig } from '../start/config-auth.js';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  /** The one link the mail is about: logged in its place when there is no SMTP. */
  link: string;
}

export class Mailer {
  private transport: Transporter | undefined;
  /** Sends under way: callers do not wait for them (an answer must not take longer when a mail goes out), close() does. */
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly smtp: SmtpConfig | undefined) {}

  get configured(): boolean {
    return this.smtp !== undefined;
  }

  private transporter(smtp: SmtpConfig): Transporter {
    this.transport ??= nodemailer.createTransport({
      host: smtp.host,
      port: smtp.port,
      secure: smtp.security === 'tls',
      requireTLS: smtp.security === 'starttls',
      ignoreTLS: smtp.security === 'none',
      ...(smtp.user ? { auth: { user: smtp.user, pass: smtp.password ?? '' } } : {}),
      tls: { ...(smtp.ca ? { ca: smtp.ca } : {}), servername: smtp.host, minVersion: 'TLSv1.2' },
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 30_000,
    });
    return this.transport;
  }

  /** Sends the message in the background (close() waits for it); a failure is logged. */
  sendLater(message: MailMessage, logger: Logger): void {
    const p = this.send(message, logger).finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  /** Sends (or logs) the message; never throws: a failure is logged with the recipient. */
  async send(message: MailMessage, logger: Logger): Promise<void> {
    const log = logger.child({ mailTo: message.to, subject: message.subject });
    if (!this.smtp) {
      log.warn({ link: message.link }, 'no SMTP configured (WRENN_SMTP_HOST): hand this link to the user');
      return;
    }
    const started = Date.now();
    try {
      const info = await this.transporter(this.smtp).sendMail({ from: this.smtp.from, to: message.to, subject: message.subject, text: message.text });
      log.info({ messageId: info.messageId, durationMs: Date.now() - started }, 'mail sent');
    } catch (err) {
      log.error({ err, durationMs: Date.now() - started }, 'mail not sent: check WRENN_SMTP_*');
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.inFlight]);
    this.transport?.close();
    this.transport = undefined;
  }
}
