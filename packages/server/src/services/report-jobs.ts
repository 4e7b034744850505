/** The background jobs of reports: issuing one on approval, and each delivery attempt. */
import type { AppContext } from '../context.ts';
import type { JobHandler } from '../jobs/worker.ts';
import { deliverReport } from './report-delivery.ts';
import { issueReport, REPORT_DELIVER_JOB, REPORT_GENERATE_JOB } from './report-issuer.ts';

export function reportJobHandlers(ctx: AppContext): Record<string, JobHandler> {
  return {
    [REPORT_GENERATE_JOB]: async (job) => {
      await issueReport(ctx, job);
    },
    [REPORT_DELIVER_JOB]: (job) => deliverReport(ctx, job),
  };
}
