/**
 * Delivering a report to the patient (SPEC R2): the `report_deliver` job renders the stored report
 * again encrypted (AES-256) with a password the patient knows (the delivery code they set, else
 * their date of birth as YYYYMMDD) and sends it over SMTP, or, with no SMTP_URL, puts it in the
 * outbox for the admins. Each attempt is recorded on the delivery (status, reason, attempts);
 * the job queue retries temporary failures with back-off.
 */
import { randomBytes } from 'node:crypto';
import type { AppContext } from '../context.ts';
import { withScope } from '../db/scope.ts';
import { AuditLog } from '../audit/audit-log.ts';
import type { Job } from '../jobs/queue.ts';
import { PermanentJobError } from '../jobs/worker.ts';
import { findDelivery, findReport, recordAttempt, type DeliveryRow } from '../repositories/reports.ts';
import { renderReportPdf } from '../reports/layout.ts';
import { createMailer, PermanentMailError, type Mailer } from './mailer.ts';
import { enqueueMail } from './outbox.ts';
import { storedReportInputs, systemScope } from './report-issuer.ts';

/** Dates of birth arrive as 1975-01-31 (accounts) or 19750131 (DICOM); the password is YYYYMMDD. */
export function birthDatePassword(birthDate: string | null): string | null {
  const digits = birthDate?.replace(/-/g, '') ?? '';
  return /^\d{8}$/.test(digits) ? digits : null;
}

export const DELIVERY_SUBJECT = 'Your imaging report is ready';

/** The message body: how to open the attachment, and nothing clinical. */
export function deliveryBody(organisation: string, code: string): string {
  return [
    'Hello,',
    '',
    `${organisation} has sent you a report, attached to this message as a PDF file.`,
    '',
    'The PDF is protected with a password. It is the delivery code you chose in your Scanflow account or,',
    'if you have not chosen one, your date of birth written as eight digits: year, month, day',
    '(for example 19750131 for 31 January 1975).',
    '',
    `Anyone can check that the report is genuine with its verification code, ${code}.`,
    'You can also download the report from your Scanflow dashboard.',
    '',
    'This message was sent automatically; please do not reply to it.',
  ].join('\n');
}

const mailers = new WeakMap<AppContext, Mailer | null>();

/** One SMTP transport (with its connection pool) per context. */
export function mailerFor(ctx: AppContext): Mailer | null {
  if (!mailers.has(ctx)) mailers.set(ctx, createMailer(ctx.config));
  return mailers.get(ctx)!;
}

export function closeMailer(ctx: AppContext): void {
  mailers.get(ctx)?.close();
  mailers.delete(ctx);
}

/** The job: one attempt at one delivery. */
export async function deliverReport(ctx: AppContext, job: Pick<Job, 'orgId' | 'payload' | 'attempts' | 'maxAttempts'>) {
  const deliveryId = String(job.payload.deliveryId);
  const scope = systemScope(job.orgId);
  const prepared = await withScope(ctx.db, scope, async (tx) => {
    const delivery = await findDelivery(tx, deliveryId);
    if (!delivery) throw new PermanentJobError('The delivery no longer exists');
    if (delivery.status !== 'queued') return null; // already sent or given up: nothing to do
    const report = (await findReport(tx, delivery.report_id))!;
    const patient = (
      await tx.query<{ birth_date_enc: Uint8Array | null; delivery_code_enc: Uint8Array | null }>(
        'SELECT birth_date_enc, delivery_code_enc FROM patients WHERE user_id = $1',
        [delivery.patient_user_id],
      )
    ).rows[0];
    const password =
      ctx.cipher.maybeDecrypt(patient?.delivery_code_enc) ??
      birthDatePassword(ctx.cipher.maybeDecrypt(patient?.birth_date_enc));
    const scan = await tx.query<{ integrity: string }>('SELECT integrity FROM scans WHERE id = $1', [delivery.scan_id]);
    const withheld = scan.rows[0]?.integrity !== 'ok';
    return { delivery, report, password, withheld, to: ctx.cipher.decrypt(delivery.recipient_enc) };
  });
  if (!prepared) return;
  const { delivery, report, password, to } = prepared;
  // A report of a scan flagged since it was issued is withheld, as its download is.
  if (prepared.withheld) {
    await finish(ctx, delivery, { status: 'failed', reason: 'Withheld: the scan failed its integrity check' });
    throw new PermanentJobError('the scan failed its integrity check');
  }
  if (!password) {
    await finish(ctx, delivery, {
      status: 'failed',
      reason: 'No password to protect the PDF: the patient has neither a date of birth nor a delivery code on record',
    });
    throw new PermanentJobError('no password for the attachment');
  }

  const { model, images } = await storedReportInputs(ctx, report);
  // A random owner password: the patient's password opens the file but does not lift its
  // permissions.
  const pdf = await renderReportPdf(model, images, {
    userPassword: password,
    ownerPassword: randomBytes(24).toString('base64url'),
  });
  const filename = `report-${report.verification_code}.pdf`;
  const body = deliveryBody(model.organisation.name, report.verification_code);

  if (delivery.channel === 'outbox') {
    const attachment = await ctx.blobs.put(pdf);
    await withScope(ctx.db, scope, async (tx) => {
      const outboxId = await enqueueMail(tx, ctx.cipher, {
        orgId: delivery.org_id,
        kind: 'report',
        to,
        subject: DELIVERY_SUBJECT,
        body,
        attachment: { sha256: attachment.sha256, name: filename, type: 'application/pdf' },
      });
      await recordAttempt(tx, delivery.id, { status: 'sent', reason: null, outboxId });
      await auditDelivery(tx, delivery, 'sent', 'outbox');
    });
    return;
  }

  const mailer = mailerFor(ctx);
  if (!mailer) {
    await finish(ctx, delivery, { status: 'failed', reason: 'SMTP_URL is no longer configured' });
    throw new PermanentJobError('no SMTP server');
  }
  try {
    const sent = await mailer.send({
      to,
      subject: DELIVERY_SUBJECT,
      text: body,
      attachments: [{ filename, content: pdf, contentType: 'application/pdf' }],
    });
    await finish(ctx, delivery, { status: 'sent', reason: null, messageId: sent.messageId.slice(0, 300) });
  } catch (error) {
    const reason = (error as Error).message;
    const final = error instanceof PermanentMailError || job.attempts >= job.maxAttempts;
    await finish(ctx, delivery, { status: final ? 'failed' : 'queued', reason });
    throw final ? new PermanentJobError(reason) : error;
  }
}

async function finish(
  ctx: AppContext,
  delivery: DeliveryRow,
  outcome: { status: 'queued' | 'sent' | 'failed'; reason: string | null; messageId?: string },
): Promise<void> {
  await withScope(ctx.db, systemScope(delivery.org_id), async (tx) => {
    await recordAttempt(tx, delivery.id, outcome);
    if (outcome.status !== 'queued')
      await auditDelivery(tx, delivery, outcome.status, delivery.channel, outcome.reason);
  });
}

function auditDelivery(
  tx: Parameters<typeof AuditLog.recordIn>[0],
  delivery: DeliveryRow,
  status: 'sent' | 'failed',
  channel: string,
  reason: string | null = null,
): Promise<void> {
  return AuditLog.recordIn(tx, {
    orgId: delivery.org_id,
    actorUserId: null,
    actorRole: 'system',
    action: status === 'sent' ? 'report.delivered' : 'report.delivery_failed',
    resourceType: 'delivery',
    resourceId: delivery.id,
    outcome: status === 'sent' ? 'success' : 'failure',
    reason,
    details: { reportId: delivery.report_id, channel, attempts: delivery.attempts + 1 },
  });
}
