/**
 * De-identified export of a DICOM scan (DICOM PS3.15 Basic Application Level Confidentiality
 * Profile, via @scanflow/imaging's deidentifyDicom): for research, teaching and outside opinions.
 *
 * UIDs are remapped with a key derived per organisation from the master key, so the same study
 * exported twice (or its instances one by one) stays one study for the recipient, while nobody
 * without the key can map a UID back. The patient becomes a pseudonym derived the same way from
 * the patient record, never from the hospital's Patient ID.
 */
import { createHash, createHmac } from 'node:crypto';
import { AppError, decide, notFound, type Resource } from '@scanflow/domain';
import { deidentifyDicom, ImagingError } from '@scanflow/imaging';
import type { AppContext } from '../context.ts';
import { withScope } from '../db/scope.ts';
import { findScan, type ScanRow } from '../repositories/scans.ts';
import { enforce, scopeOf } from './access.ts';
import type { AuthenticatedSession } from './auth-service.ts';
import { imagingErrorCode } from './ingest.ts';
import type { ScanService } from './scan-service.ts';

export interface ExportOptions {
  /** Shift every date by this many days (PS3.15 E.3.6) instead of removing dates. */
  shiftDays?: number | undefined;
  /** Export even when Burned In Annotation is YES (text in the pixels stays), with a warning. */
  allowBurnedIn: boolean;
}

export interface DeidentifiedExport {
  bytes: Uint8Array;
  filename: string;
  /** SHA-256 of the exported bytes, recorded in the audit event. */
  sha256: string;
  sourceSha256: string;
  warnings: string[];
}

const scanResource = (row: ScanRow): Resource => ({
  kind: 'scan',
  orgId: row.org_id,
  patientUserId: row.patient_user_id,
  status: row.status,
});

export class DeidentifiedExportService {
  constructor(
    private readonly ctx: AppContext,
    private readonly scans: ScanService,
  ) {}

  async export(session: AuthenticatedSession, scanId: string, options: ExportOptions): Promise<DeidentifiedExport> {
    const { actor } = session;
    const row = await withScope(this.ctx.db, scopeOf(session), (tx) => findScan(tx, scanId));
    if (!row) throw notFound('Scan');
    enforce(decide(actor, 'scan.read', scanResource(row)), 'Scan');
    enforce(decide(actor, 'scan.export_deidentified', scanResource(row)), 'Scan');
    if (row.integrity === 'mismatch') {
      throw new AppError('integrity_failure', 'The stored image failed its integrity check; it cannot be exported');
    }
    if (row.format !== 'dicom') {
      throw new AppError('unprocessable', `De-identified export is for DICOM scans; this scan is ${row.format}`);
    }
    // Re-verifies the hash (and flags the scan) on the way, like every read of the bytes.
    const source = await (await this.scans.openImage(session, scanId)).load();
    const pseudonym = `ANON-${this.keyed(`patient:${row.patient_id}`).slice(0, 12).toUpperCase()}`;
    try {
      const result = deidentifyDicom(source, {
        uidSecret: this.keyed(`uid:${row.org_id}`),
        patientName: pseudonym,
        patientId: pseudonym,
        ...(options.shiftDays === undefined ? {} : { dateShiftDays: options.shiftDays }),
        burnedInAnnotation: options.allowBurnedIn ? 'warn' : 'refuse',
      });
      return {
        bytes: result.bytes,
        filename: `deidentified-${result.sopInstanceUid ?? 'scan'}.dcm`,
        sha256: createHash('sha256').update(result.bytes).digest('hex'),
        sourceSha256: row.blob_sha256,
        warnings: result.warnings,
      };
    } catch (error) {
      if (!(error instanceof ImagingError)) throw error;
      const hint = error.code === 'burned_in_annotation' ? ' Export with allowBurnedIn=true to accept that.' : '';
      throw new AppError(imagingErrorCode(error.status), error.message + hint);
    }
  }

  /** A keyed value for one purpose, from the master key's lookup key (never stored). */
  private keyed(purpose: string): string {
    return createHmac('sha256', this.ctx.keys.lookupKey).update(`deidentify/v1:${purpose}`).digest('hex');
  }
}
