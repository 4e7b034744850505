/**
 * Sending mail over SMTP (SMTP_URL). STARTTLS is required unless SMTP_REQUIRE_TLS=false (for a
 * local relay on the same host); smtps:// uses TLS from the first byte. A private CA can be named
 * with SMTP_CA_FILE. Without SMTP_URL there is no mailer and mail stays in the outbox.
 */
import { readFileSync } from 'node:fs';
import nodemailer, { type Transporter } from 'nodemailer';
import type { Config } from '../config.ts';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  attachments?: { filename: string; content: Buffer; contentType: string }[];
}

export interface Mailer {
  send(message: MailMessage): Promise<{ messageId: string }>;
  close(): void;
}

/** A refusal the next attempt cannot cure (the server answered 5xx: no such mailbox, policy). */
export class PermanentMailError extends Error {}

type SmtpConfig = Pick<Config, 'smtpUrl' | 'smtpRequireTls' | 'smtpFrom' | 'smtpCaFile'>;

export function createMailer(config: SmtpConfig): Mailer | null {
  if (!config.smtpUrl) return null;
  const url = new URL(config.smtpUrl);
  const implicitTls = url.protocol === 'smtps:';
  const transport: Transporter = nodemailer.createTransport({
    host: url.hostname,
    port: url.port ? Number(url.port) : implicitTls ? 465 : 587,
    secure: implicitTls,
    // requireTLS: refuse to send unless the server upgrades the connection with STARTTLS.
    requireTLS: !implicitTls && config.smtpRequireTls,
    ...(url.username
      ? { auth: { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } }
      : {}),
    tls: {
      minVersion: 'TLSv1.2',
      ...(config.smtpCaFile ? { ca: readFileSync(config.smtpCaFile) } : {}),
    },
    pool: true,
    maxConnections: 3,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  });
  return {
    async send(message) {
      try {
        const info = await transport.sendMail({ from: config.smtpFrom, ...message });
        return { messageId: String(info.messageId ?? '') };
      } catch (error) {
        const e = error as Error & { responseCode?: number; code?: string };
        const reason = describeFailure(e);
        if (e.responseCode !== undefined && e.responseCode >= 500) throw new PermanentMailError(reason);
        throw new Error(reason);
      }
    },
    close: () => transport.close(),
  };
}

/** A failure in words for the delivery record, without the recipient's address. */
export function describeFailure(error: Error & { responseCode?: number; code?: string }): string {
  const scrubbed = error.message.replace(/[^\s<>@]+@[^\s<>@]+/g, '<recipient>').slice(0, 300);
  const parts = [error.code, error.responseCode ? `SMTP ${error.responseCode}` : undefined].filter(Boolean);
  return parts.length ? `${parts.join(', ')}: ${scrubbed}` : scrubbed;
}
