/**
 * A real SMTP server on 127.0.0.1 (the smtp-server package) for tests that follow the mail
 * the control plane sends, and a self-signed certificate (made with openssl) for its TLS
 * modes. Each mail is kept with what the session was: upgraded to TLS or not, who logged in.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SMTPServer } from 'smtp-server';

export interface TestCert {
  key: string;
  cert: string;
  certFile: string;
  dispose(): void;
}

/** A key and a self-signed certificate for 127.0.0.1 (subjectAltName IP and DNS), valid one day. */
export async function selfSignedCert(): Promise<TestCert> {
  const dir = mkdtempSync(join(tmpdir(), 'wrenn-smtp-cert-'));
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', keyFile, '-out', certFile,
  ]);
  return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), certFile, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface ReceivedMail {
  from: string;
  to: string[];
  /** The session was TLS when the mail was sent (implicit TLS, or upgraded by STARTTLS). */
  secure: boolean;
  user: string | undefined;
  /** The message as received; body() decodes its quoted-printable text. */
  raw: string;
}

export interface TestSmtp {
  port: number;
  mails: ReceivedMail[];
  /** Resolves once `count` mails have arrived (rejects after `timeoutMs`). */
  waitForMails(count: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

export async function startSmtp(opts: { mode: 'starttls' | 'tls' | 'plain'; cert?: TestCert; auth?: { user: string; password: string } }): Promise<TestSmtp> {
  const mails: ReceivedMail[] = [];
  const waiters: Array<() => void> = [];
  const server = new SMTPServer({
    secure: opts.mode === 'tls',
    ...(opts.mode === 'plain' ? { disabledCommands: ['STARTTLS'] } : { key: opts.cert!.key, cert: opts.cert!.cert }),
    ...(opts.auth ? { authMethods: ['PLAIN', 'LOGIN'] } : { authOptional: true }),
    logger: false,
    onAuth(auth, _session, cb) {
      if (opts.auth && auth.username === opts.auth.user && auth.password === opts.auth.password) return cb(null, { user: auth.username });
      return cb(new Error('invalid credentials'));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          secure: session.secure,
          user: session.user as string | undefined,
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        for (const w of waiters.splice(0)) w();
        cb();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as { port: number }).port;
  return {
    port,
    mails,
    async waitForMails(count, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (mails.length < count) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`expected ${count} mail(s) within ${timeoutMs} ms, got ${mails.length}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => (clearTimeout(timer), resolve()));
        });
      }
      return mails.slice(0, count);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The text of a mail: quoted-printable soft breaks joined and =XX escapes decoded (what nodemailer writes for long lines). */
export function body(mail: ReceivedMail): string {
  const text = mail.raw.slice(mail.raw.indexOf('\r\n\r\n') + 4);
  return text.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/** The first link under `base` in the mail. */
export function linkIn(mail: ReceivedMail, base: string): URL {
  const found = body(mail).match(/https?:\/\/\S+/g)?.find((u) => u.startsWith(base));
  if (!found) throw new Error(`no link under ${base} in the mail:\n${body(mail)}`);
  return new URL(found);
}
