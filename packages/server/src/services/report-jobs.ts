/** The background jobs of reports and mail: issuing a report on approval, each delivery attempt,
 * and sending outbox messages (e-mailed codes) when SMTP is configured. */
import type { AppContext } from '../context.ts';
import type { JobHandler } from '../jobs/worker.ts';
import { OUTBOX_SEND_JOB } from './outbox.ts';
import { dispatchOutboxMessage } from './outbox-dispatch.ts';
import { deliverReport } from './report-delivery.ts';
import { issueReport, REPORT_DELIVER_JOB, REPORT_GENERATE_JOB } from './report-issuer.ts';

export function reportJobHandlers(ctx: AppContext): Record<string, JobHandler> {
  return {
    [REPORT_GENERATE_JOB]: async (job) => {
      await issueReport(ctx, job);
    },
    [REPORT_DELIVER_JOB]: (job) => deliverReport(ctx, job),
    [OUTBOX_SEND_JOB]: (job) => dispatchOutboxMessage(ctx, job),
  };
}
