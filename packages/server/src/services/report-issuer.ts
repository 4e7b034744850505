/**
 * Issuing a report (SPEC R1): the `report_generate` job, queued in the same transaction as the
 * approval (REPORT_READY), assembles the report model from the case, renders the PDF, stores it
 * and everything needed to render it again, and in one transaction records the report, the
 * `report.issued` audit event carrying the PDF's SHA-256 and the verification code (the ledger
 * makes it a leaf), and the patient's e-mail delivery with its job.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { decodeImage, ImagingError, renderDisplayPng } from '@scanflow/imaging';
import type { Prescription } from '@scanflow/domain';
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/database.ts';
import { withScope, type Scope } from '../db/scope.ts';
import { AuditLog } from '../audit/audit-log.ts';
import { enqueueJob, type Job } from '../jobs/queue.ts';
import { PermanentJobError } from '../jobs/worker.ts';
import { findAnalysis, type AnalysisRow } from '../repositories/analyses.ts';
import { findScan, type ScanRow } from '../repositories/scans.ts';
import { insertDelivery, insertReport, latestReport, type ReportRow } from '../repositories/reports.ts';
import { IntegrityError } from '../storage/blob-store.ts';
import { renderReportPdf, RENDERER } from '../reports/layout.ts';
import { contentFingerprint, type ReportImages, type ReportModel, type SignOff } from '../reports/model.ts';
import { heatmapPicture } from './heatmap-pictures.ts';
import { flagIntegrityFailure } from './scan-service.ts';

export const REPORT_GENERATE_JOB = 'report_generate';
export const REPORT_DELIVER_JOB = 'report_deliver';

/** The longest side of the scan's picture in the report (points are 1/72 in; this is ~250 dpi). */
const IMAGE_MAX_SIZE = 1024;

export const systemScope = (orgId: string): Scope => ({ orgId, userId: null, dbRole: 'system' });

/** Crockford's base32 without I, L, O, U: nothing to misread when typed from paper. */
const CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A short verification code, XXXXX-XXXXX (50 random bits). */
export function newVerificationCode(): string {
  const bytes = randomBytes(10);
  const chars = [...bytes].map((b) => CODE_ALPHABET[b & 31]!);
  return `${chars.slice(0, 5).join('')}-${chars.slice(5).join('')}`;
}

/** A typed code, normalised: case, spaces and hyphens ignored; O read as 0, I and L as 1. */
export function normaliseVerificationCode(text: string): string | null {
  const compact = text.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  if (!/^[0-9A-HJKMNP-TV-Z]{10}$/.test(compact)) return null;
  return `${compact.slice(0, 5)}-${compact.slice(5)}`;
}

export const sha256Hex = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

interface PatientRecord {
  id: string;
  user_id: string | null;
  mrn_enc: Uint8Array | null;
  name_enc: Uint8Array | null;
  birth_date_enc: Uint8Array | null;
  sex_enc: Uint8Array | null;
}

async function readSignOffs(tx: Queryable, ctx: AppContext, scanId: string): Promise<SignOff[]> {
  const { rows } = await tx.query<{ action: string; actor_role: string | null; at: Date; name_enc: Uint8Array | null }>(
    `SELECT e.action, e.actor_role, e.at, u.name_enc
       FROM scan_events e LEFT JOIN users u ON u.id = e.actor_user_id
      WHERE e.scan_id = $1 ORDER BY e.at, e.id`,
    [scanId],
  );
  return rows.map((r) => ({
    action: r.action,
    role: r.actor_role ?? 'system',
    name: ctx.cipher.maybeDecrypt(r.name_enc),
    at: r.at.toISOString(),
  }));
}

/** Reads what the report shows about the case (everything but the images). */
async function readCase(
  tx: Queryable,
  ctx: AppContext,
  scan: ScanRow,
): Promise<{ model: Omit<ReportModel, 'reportId' | 'verification' | 'version'>; patient: PatientRecord }> {
  const c = ctx.cipher;
  const patient = (
    await tx.query<PatientRecord>(
      'SELECT id, user_id, mrn_enc, name_enc, birth_date_enc, sex_enc FROM patients WHERE id = $1',
      [scan.patient_id],
    )
  ).rows[0]!;
  const organisation = (await tx.query<{ name: string }>('SELECT name FROM organisations WHERE id = $1', [scan.org_id]))
    .rows[0]!;
  const signOffs = await readSignOffs(tx, ctx, scan.id);
  const approval = signOffs.filter((s) => s.action === 'approve').at(-1);
  const ai = scan.ai_result;
  const dicom = scan.dicom ?? null;
  return {
    patient,
    model: {
      pageSize: ctx.config.reportPageSize,
      issuedAt: approval?.at ?? new Date().toISOString(),
      organisation: { name: organisation.name },
      patient: {
        name: c.maybeDecrypt(patient.name_enc),
        identifier: c.maybeDecrypt(patient.mrn_enc) ?? patient.id,
        birthDate: c.maybeDecrypt(patient.birth_date_enc),
        sex: c.maybeDecrypt(patient.sex_enc),
      },
      scan: {
        id: scan.id,
        modality: scan.modality,
        bodyPart: scan.body_part,
        acquiredOn: dicom?.studyDate ?? null,
        receivedAt: new Date(scan.received_at).toISOString(),
        source: scan.source,
        sha256: scan.blob_sha256,
        dicom: dicom
          ? {
              ...(dicom.studyInstanceUid ? { studyInstanceUid: dicom.studyInstanceUid } : {}),
              ...(dicom.seriesInstanceUid ? { seriesInstanceUid: dicom.seriesInstanceUid } : {}),
              ...(dicom.sopInstanceUid ? { sopInstanceUid: dicom.sopInstanceUid } : {}),
              ...(dicom.sopClassUid ? { sopClassUid: dicom.sopClassUid } : {}),
            }
          : null,
      },
      ai: ai
        ? {
            model: { name: ai.model.name, version: ai.model.version },
            labels: ai.labels.map((l) => ({ id: l.id, display: l.display, probability: l.probability })),
            topFinding: ai.topFinding
              ? { id: ai.topFinding.id, display: ai.topFinding.display, probability: ai.topFinding.probability }
              : null,
            uncertain: ai.uncertain,
            priority: ai.priority,
            priorityScore: ai.priorityScore,
            disclaimer: ai.disclaimer,
            heatmapLabel: ai.heatmap
              ? (ai.labels.find((l) => l.id === ai.heatmap!.label)?.display ?? ai.heatmap.label)
              : null,
          }
        : null,
      findings: scan.findings_enc
        ? c.decryptJson<{ findings: string; impression: string | null }>(scan.findings_enc)
        : null,
      prescription: scan.prescription_enc ? c.decryptJson<Prescription>(scan.prescription_enc) : null,
      signOffs,
    },
  };
}

/** Reads a blob, flagging the scan (and giving up on the job) if its bytes fail their hash. */
async function verifiedBlob(ctx: AppContext, scan: ScanRow, sha256: string): Promise<Buffer> {
  try {
    return await ctx.blobs.get(sha256);
  } catch (error) {
    if (!(error instanceof IntegrityError)) throw error;
    await flagIntegrityFailure(ctx, scan, error.message);
    throw new PermanentJobError('The scan failed its integrity check; no report is released');
  }
}

/**
 * The pictures for the report: a display rendition of the scan and the AI's heatmap overlay (the
 * stored one, or drawn now from the current analysis's grid; the report then stores it).
 */
async function readImages(ctx: AppContext, scan: ScanRow, run: AnalysisRow | null): Promise<ReportImages> {
  const original = await verifiedBlob(ctx, scan, scan.blob_sha256);
  let image: Buffer | null = null;
  try {
    const decoded = await decodeImage(original, {
      maxPixels: ctx.config.maxImagePixels,
      maxDimension: ctx.config.maxImageDimension,
    });
    image = Buffer.from((await renderDisplayPng(decoded, { frame: 0, maxSize: IMAGE_MAX_SIZE })).png);
  } catch (error) {
    // An image the server cannot decode still gets its report, without the picture.
    if (!(error instanceof ImagingError)) throw error;
  }
  if (!image) return { image, heatmap: null };
  const heatmap = scan.heatmap_sha256
    ? await verifiedBlob(ctx, scan, scan.heatmap_sha256)
    : run && (await heatmapPicture(ctx, run, 'overlay', scan));
  return { image, heatmap };
}

/** The job: issues the report of an approved case, once. */
export async function issueReport(ctx: AppContext, job: Pick<Job, 'orgId' | 'payload'>): Promise<ReportRow> {
  const scanId = String(job.payload.scanId);
  const scope = systemScope(job.orgId);
  const read = await withScope(ctx.db, scope, async (tx) => {
    const scan = await findScan(tx, scanId);
    if (!scan) throw new PermanentJobError('The scan no longer exists');
    const existing = await latestReport(tx, scanId);
    if (existing) return { existing };
    if (scan.status !== 'REPORT_READY') throw new PermanentJobError('The case is not approved');
    if (scan.integrity !== 'ok') throw new PermanentJobError('The scan failed its integrity check');
    return { scan, run: await findAnalysis(tx, scanId), ...(await readCase(tx, ctx, scan)) };
  });
  if ('existing' in read) return read.existing!;
  const { scan, run, patient } = read;
  const images = await readImages(ctx, scan, run);

  const draft: ReportModel = {
    ...read.model,
    reportId: randomUUID(),
    version: 1,
    verification: { code: newVerificationCode(), url: verificationUrl(ctx), contentSha256: '' },
  };
  const model: ReportModel = {
    ...draft,
    verification: { ...draft.verification, contentSha256: contentFingerprint(draft) },
  };
  const pdf = await renderReportPdf(model, images);
  const pdfSha256 = sha256Hex(pdf);
  const stored = [await ctx.blobs.put(pdf)];
  if (images.image) stored.push(await ctx.blobs.put(images.image));
  // A stored overlay is found already there (content-addressed); one drawn from the grid is kept.
  if (images.heatmap) stored.push(await ctx.blobs.put(images.heatmap));
  try {
    const row: ReportRow = {
      id: model.reportId,
      org_id: scan.org_id,
      scan_id: scan.id,
      patient_user_id: scan.patient_user_id,
      version: model.version,
      pdf_sha256: pdfSha256,
      pdf_bytes: pdf.length,
      verification_code: model.verification.code,
      issued_at: new Date(model.issuedAt),
      generated_at: new Date(),
      page_size: model.pageSize,
      renderer: RENDERER,
      model_enc: ctx.cipher.encryptJson(model),
      image_sha256: images.image ? sha256Hex(images.image) : null,
      heatmap_sha256: images.heatmap ? sha256Hex(images.heatmap) : null,
    };
    await withScope(ctx.db, scope, async (tx) => {
      // Release is blocked if the scan was flagged meanwhile.
      const current = await tx.query<{ integrity: string }>('SELECT integrity FROM scans WHERE id = $1 FOR UPDATE', [
        scan.id,
      ]);
      if (current.rows[0]?.integrity !== 'ok') throw new PermanentJobError('The scan failed its integrity check');
      await insertReport(tx, row);
      await AuditLog.recordIn(tx, {
        orgId: scan.org_id,
        actorUserId: null,
        actorRole: 'system',
        action: 'report.issued',
        resourceType: 'report',
        resourceId: row.id,
        outcome: 'success',
        details: {
          sha256: pdfSha256,
          verificationCode: row.verification_code,
          scanId: scan.id,
          version: row.version,
          contentSha256: model.verification.contentSha256,
        },
      });
      await queuePatientDelivery(tx, ctx, row, patient.user_id);
    });
    ctx.signals.emit('jobs');
    return row;
  } catch (error) {
    // A report that was not recorded leaves no blob it created (content that existed stays).
    await Promise.all(stored.filter((b) => b.created).map((b) => ctx.blobs.discard(b.sha256)));
    throw error;
  }
}

/** Queues the e-mail to the patient (or the outbox, without SMTP) when the patient has an account. */
async function queuePatientDelivery(
  tx: Queryable,
  ctx: AppContext,
  report: ReportRow,
  patientUserId: string | null,
): Promise<void> {
  if (!patientUserId) return;
  const user = (await tx.query<{ email_enc: Uint8Array }>('SELECT email_enc FROM users WHERE id = $1', [patientUserId]))
    .rows[0];
  if (!user) return;
  const email = ctx.cipher.decrypt(user.email_enc);
  const deliveryId = await insertDelivery(tx, {
    orgId: report.org_id,
    reportId: report.id,
    scanId: report.scan_id,
    patientUserId,
    channel: ctx.config.smtpUrl ? 'email' : 'outbox',
    recipientLookup: ctx.cipher.lookup('email', email),
    recipientEnc: ctx.cipher.encrypt(email),
  });
  await enqueueJob(tx, { orgId: report.org_id, kind: REPORT_DELIVER_JOB, payload: { deliveryId } });
}

/** Where the QR code and the report's text send a reader to check it. */
export function verificationUrl(ctx: AppContext): string {
  return `${ctx.config.publicUrl}/api/v1/reports/verify`;
}

/** The stored model and images of a report: what it takes to render its PDF again. */
export async function storedReportInputs(
  ctx: AppContext,
  report: ReportRow,
): Promise<{ model: ReportModel; images: ReportImages }> {
  return {
    model: ctx.cipher.decryptJson<ReportModel>(report.model_enc),
    images: {
      image: report.image_sha256 ? await ctx.blobs.get(report.image_sha256) : null,
      heatmap: report.heatmap_sha256 ? await ctx.blobs.get(report.heatmap_sha256) : null,
    },
  };
}

/** Renders a stored report again; the bytes equal the issued PDF's (its hash is the check). */
export async function regenerateReport(ctx: AppContext, report: ReportRow): Promise<Buffer> {
  const { model, images } = await storedReportInputs(ctx, report);
  return renderReportPdf(model, images);
}
