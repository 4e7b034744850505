/**
 * Reports as the API serves them: the issued PDF for the patient and the clinicians with access
 * (SPEC R1, R2), delivery status, the patient's own delivery code, the FHIR Bundle and the DICOM
 * SR (R3), the outbox's attachments for admins, and the public verification of a report by its
 * code or its bytes. Every decision goes through the policy; the HTTP layer only translates.
 */
import { AppError, decide, notFound, type Resource } from '@scanflow/domain';
import type { AppContext } from '../context.ts';
import { withScope, withSystem } from '../db/scope.ts';
import {
  findIssuedReport,
  latestReport,
  listDeliveries,
  type IssuedReport,
  type ReportRow,
} from '../repositories/reports.ts';
import { findScan, type ScanRow } from '../repositories/scans.ts';
import { buildFhirBundle } from '../reports/fhir.ts';
import { buildAiStructuredReport } from '../reports/dicom-sr.ts';
import type { ReportModel } from '../reports/model.ts';
import { enforce, inOrganisation, scopeOf } from './access.ts';
import type { AuthenticatedSession } from './auth-service.ts';
import { ledgerFor } from './ledger-service.ts';
import { findOutboxAttachment } from './outbox.ts';
import { normaliseVerificationCode, sha256Hex } from './report-issuer.ts';

export interface DeliveryView {
  id: string;
  channel: 'email' | 'outbox';
  status: 'queued' | 'sent' | 'failed';
  reason: string | null;
  attempts: number;
  queuedAt: string;
  lastAttemptAt: string | null;
  sentAt: string | null;
}

export interface Verification {
  match: boolean;
  report: {
    verificationCode: string;
    sha256: string;
    version: number;
    issuedAt: string;
    organisation: string;
  } | null;
  /** Where the tamper-evident log holds the report.issued entry; null until it is sequenced. */
  ledger: {
    origin: string;
    index: number;
    leafHash: string;
    /** The entry's canonical bytes (base64): the leaf the proof is for. */
    entry: string;
    checkpoint: { size: number; rootHash: string; note: string; createdAt: string } | null;
    inclusionProof: string[] | null;
  } | null;
}

const scanResource = (row: ScanRow): Resource => ({
  kind: 'scan',
  orgId: row.org_id,
  patientUserId: row.patient_user_id,
  status: row.status,
});

export class ReportService {
  constructor(private readonly ctx: AppContext) {}

  /** Unverified clinicians and admins without a second factor are told so plainly, before
   * row-level security would simply show them nothing. */
  private assertClinicalAccess(session: AuthenticatedSession): void {
    enforce(decide(session.actor, 'scan.list', { kind: 'organisation', orgId: session.actor.orgId }), 'Scan');
  }

  /** The scan and its latest report, if the policy lets the session have it. */
  private async released(
    session: AuthenticatedSession,
    scanId: string,
    action: 'report.read' | 'report.delivery_status',
  ): Promise<{ scan: ScanRow; report: ReportRow }> {
    this.assertClinicalAccess(session);
    return withScope(this.ctx.db, scopeOf(session), async (tx) => {
      const scan = await findScan(tx, scanId);
      if (!scan) throw notFound('Scan');
      enforce(decide(session.actor, action, scanResource(scan)), 'Scan');
      if (scan.integrity !== 'ok') {
        throw new AppError('integrity_failure', 'The scan failed its integrity check; its report is withheld');
      }
      const report = await latestReport(tx, scanId);
      if (!report) throw new AppError('conflict', 'The report is still being generated; try again in a moment');
      return { scan, report };
    });
  }

  /** The issued PDF, re-verified against its recorded SHA-256 on the way out. */
  async download(
    session: AuthenticatedSession,
    scanId: string,
  ): Promise<{ pdf: Buffer; filename: string; sha256: string; reportId: string }> {
    const { report } = await this.released(session, scanId, 'report.read');
    const pdf = await this.ctx.blobs.get(report.pdf_sha256);
    return {
      pdf,
      filename: `report-${report.verification_code}.pdf`,
      sha256: report.pdf_sha256,
      reportId: report.id,
    };
  }

  async deliveries(session: AuthenticatedSession, scanId: string): Promise<DeliveryView[]> {
    this.assertClinicalAccess(session);
    // Asking before the report exists is normal (a page polls right after approval): the answer
    // is "nothing yet", not an error that would count as a refused access in the security signals.
    const rows = await withScope(this.ctx.db, scopeOf(session), async (tx) => {
      const scan = await findScan(tx, scanId);
      if (!scan) throw notFound('Scan');
      enforce(decide(session.actor, 'report.delivery_status', scanResource(scan)), 'Scan');
      if (scan.integrity !== 'ok') {
        throw new AppError('integrity_failure', 'The scan failed its integrity check; its report is withheld');
      }
      return listDeliveries(tx, scanId);
    });
    return rows.map((d) => ({
      id: d.id,
      channel: d.channel,
      status: d.status,
      reason: d.reason,
      attempts: d.attempts,
      queuedAt: d.queued_at.toISOString(),
      lastAttemptAt: d.last_attempt_at?.toISOString() ?? null,
      sentAt: d.sent_at?.toISOString() ?? null,
    }));
  }

  /** The report as a FHIR R4 Bundle with the issued PDF as the DiagnosticReport's presentedForm. */
  async fhir(
    session: AuthenticatedSession,
    scanId: string,
  ): Promise<{ bundle: Record<string, unknown>; reportId: string }> {
    const { report } = await this.released(session, scanId, 'report.read');
    const model = this.ctx.cipher.decryptJson<ReportModel>(report.model_enc);
    const pdf = await this.ctx.blobs.get(report.pdf_sha256);
    return { bundle: buildFhirBundle(model, pdf), reportId: report.id };
  }

  /** The scan's AI result as a DICOM Comprehensive SR referencing the source instance. */
  async structuredReport(session: AuthenticatedSession, scanId: string): Promise<{ bytes: Buffer; filename: string }> {
    const c = this.ctx.cipher;
    const { scan, patient, organisation, recordedAt } = await withScope(this.ctx.db, scopeOf(session), async (tx) => {
      const scan = await findScan(tx, scanId);
      if (!scan) throw notFound('Scan');
      enforce(decide(session.actor, 'scan.read', scanResource(scan)), 'Scan');
      const patient = (
        await tx.query<{
          id: string;
          mrn_enc: Uint8Array | null;
          name_enc: Uint8Array | null;
          birth_date_enc: Uint8Array | null;
          sex_enc: Uint8Array | null;
        }>('SELECT id, mrn_enc, name_enc, birth_date_enc, sex_enc FROM patients WHERE id = $1', [scan.patient_id])
      ).rows[0]!;
      const organisation = (
        await tx.query<{ name: string }>('SELECT name FROM organisations WHERE id = $1', [scan.org_id])
      ).rows[0]!.name;
      const recorded = await tx.query<{ at: Date | null }>('SELECT ai_recorded_at AS at FROM scans WHERE id = $1', [
        scan.id,
      ]);
      return { scan, patient, organisation, recordedAt: (recorded.rows[0]?.at ?? new Date(0)).toISOString() };
    });
    const ai = scan.ai_result;
    if (!ai) throw new AppError('conflict', 'The scan has no AI result yet');
    const d = scan.dicom;
    if (!d?.studyInstanceUid || !d.seriesInstanceUid || !d.sopInstanceUid || !d.sopClassUid) {
      throw new AppError(
        'conflict',
        'The scan did not come as DICOM, so there is no source instance for a structured report to reference',
      );
    }
    const bytes = buildAiStructuredReport({
      // A new analysis (a re-run, another model) is a new SR; the same one is the same SR.
      analysisKey: `${scan.id}:${ai.model.name}:${ai.model.version}:${recordedAt}`,
      ai: {
        model: ai.model,
        labels: ai.labels.map((l) => ({ id: l.id, display: l.display, probability: l.probability })),
        topFinding: ai.topFinding,
        uncertain: ai.uncertain,
        priority: ai.priority,
        priorityScore: ai.priorityScore,
        disclaimer: ai.disclaimer,
        heatmapLabel: ai.heatmap?.label ?? null,
      },
      patient: {
        name: c.maybeDecrypt(patient.name_enc),
        identifier: c.maybeDecrypt(patient.mrn_enc) ?? patient.id,
        birthDate: c.maybeDecrypt(patient.birth_date_enc),
        sex: c.maybeDecrypt(patient.sex_enc),
      },
      source: {
        studyInstanceUid: d.studyInstanceUid,
        seriesInstanceUid: d.seriesInstanceUid,
        sopInstanceUid: d.sopInstanceUid,
        sopClassUid: d.sopClassUid,
        studyDate: d.studyDate ?? null,
        modality: scan.modality,
      },
      recordedAt,
      organisation,
    });
    return { bytes, filename: `ai-sr-${scan.id}.dcm` };
  }

  /** The patient's own password for e-mailed reports (instead of their date of birth). */
  async setDeliveryCode(session: AuthenticatedSession, code: string | null): Promise<void> {
    enforce(
      decide(session.actor, 'report.delivery_code', { kind: 'organisation', orgId: session.actor.orgId }),
      'Patient',
    );
    if (code !== null && !/^[\x21-\x7e]{8,64}$/.test(code)) {
      throw new AppError('validation_failed', 'A delivery code is 8 to 64 printable characters without spaces');
    }
    await withScope(this.ctx.db, scopeOf(session), async (tx) => {
      const updated = await tx.query('UPDATE patients SET delivery_code_enc = $2 WHERE user_id = $1', [
        session.actor.userId,
        code === null ? null : this.ctx.cipher.encrypt(code),
      ]);
      if (updated.rowCount !== 1) throw notFound('Patient record');
    });
  }

  /** An outbox message's attachment (a protected report PDF), for the organisation's admins. */
  async outboxAttachment(
    session: AuthenticatedSession,
    outboxId: string,
  ): Promise<{ bytes: Buffer; name: string; type: string }> {
    const found = await inOrganisation(this.ctx.db, session, 'outbox.read', (tx) => findOutboxAttachment(tx, outboxId));
    if (!found) throw notFound('Attachment');
    return { bytes: await this.ctx.blobs.get(found.sha256), name: found.name, type: found.type };
  }

  /**
   * Public: whether a code or a file is a report this server issued, when, by which organisation,
   * and where the tamper-evident log holds it. Never patient data. Runs as the system because
   * the caller is anonymous; it reads only the columns above.
   */
  async verify(by: { code: string } | { pdf: Buffer }): Promise<{ result: Verification; orgId: string | null }> {
    let issued: IssuedReport | null = null;
    let sha256: string | null = null;
    if ('code' in by) {
      const code = normaliseVerificationCode(by.code);
      if (!code) throw new AppError('validation_failed', 'A verification code has ten letters and digits, XXXXX-XXXXX');
      issued = await withSystem(this.ctx.db, (tx) => findIssuedReport(tx, { code }));
    } else {
      if (by.pdf.length === 0) throw new AppError('validation_failed', 'Send the PDF file as the request body');
      sha256 = sha256Hex(by.pdf);
      issued = await withSystem(this.ctx.db, (tx) => findIssuedReport(tx, { sha256: sha256! }));
    }
    if (!issued) return { result: { match: false, report: null, ledger: null }, orgId: null };
    const logged = await ledgerFor(this.ctx).findReportByHash(issued.pdf_sha256);
    return {
      orgId: issued.org_id,
      result: {
        match: true,
        report: {
          verificationCode: issued.verification_code,
          sha256: issued.pdf_sha256,
          version: issued.version,
          issuedAt: issued.issued_at.toISOString(),
          organisation: issued.organisation,
        },
        ledger: logged
          ? {
              origin: logged.origin,
              index: logged.index,
              leafHash: logged.leafHash,
              entry: logged.data,
              checkpoint: logged.checkpoint
                ? {
                    size: logged.checkpoint.size,
                    rootHash: logged.checkpoint.rootHash,
                    note: logged.checkpoint.note,
                    createdAt: logged.checkpoint.createdAt,
                  }
                : null,
              inclusionProof: logged.inclusionProof,
            }
          : null,
      },
    };
  }
}
