/**
 * The `outbox_send` job: hands one outbox message (an e-mailed sign-in code, say) to the SMTP
 * server when SMTP_URL is set, and records whether it went. Without SMTP the message stays in the
 * outbox for the admins, as before. Temporary refusals are retried by the job queue with back-off.
 */
import type { AppContext } from '../context.ts';
import { withScope } from '../db/scope.ts';
import type { Job } from '../jobs/queue.ts';
import { PermanentJobError } from '../jobs/worker.ts';
import { PermanentMailError } from './mailer.ts';
import { findOutboxMessage, setOutboxStatus } from './outbox.ts';
import { mailerFor } from './report-delivery.ts';
import { systemScope } from './report-issuer.ts';

export async function dispatchOutboxMessage(
  ctx: AppContext,
  job: Pick<Job, 'orgId' | 'payload' | 'attempts' | 'maxAttempts'>,
): Promise<void> {
  const mailer = mailerFor(ctx);
  if (!mailer) return; // no SMTP server: the outbox is where the message stays
  const id = String(job.payload.outboxId);
  const scope = systemScope(job.orgId);
  const message = await withScope(ctx.db, scope, (tx) => findOutboxMessage(tx, ctx.cipher, id));
  if (!message || message.status !== 'queued') return;
  const attachments = message.attachment
    ? [
        {
          filename: message.attachment.name,
          content: await ctx.blobs.get(message.attachment.sha256),
          contentType: message.attachment.type,
        },
      ]
    : [];
  try {
    await mailer.send({ to: message.to, subject: message.subject, text: message.body, attachments });
    await withScope(ctx.db, scope, (tx) => setOutboxStatus(tx, id, 'sent'));
  } catch (error) {
    const final = error instanceof PermanentMailError || job.attempts >= job.maxAttempts;
    if (!final) throw error;
    await withScope(ctx.db, scope, (tx) => setOutboxStatus(tx, id, 'failed'));
    throw new PermanentJobError((error as Error).message);
  }
}
