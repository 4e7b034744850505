/**
 * The one way a scan enters Scanflow, whatever carried it: an HTTP upload, the DICOM listener
 * (C-STORE) or DICOMweb STOW-RS all call `ingestInstances`. Each file is identified and its
 * headers checked before anything is stored; then every file is sealed into the encrypted blob
 * store (the SHA-256 of its plaintext is its address) and, in ONE scoped transaction, each gets its
 * scans row (PENDING_AI), first timeline event, AI pre-read job and audit event. Any failure leaves
 * no row and no blob that this call created.
 *
 * Callers decide who may ingest (the policy for uploads, the accepted-peer list for the listener);
 * this module only records what was decided.
 */
import { AppError, notFound } from '@scanflow/domain';
import { ImagingError, probeImage, type ImageProbe } from '@scanflow/imaging';
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/database.ts';
import { withScope, type Scope } from '../db/scope.ts';
import { AuditLog, type AuditDetails } from '../audit/audit-log.ts';
import { insertScan, insertScanEvent } from '../repositories/scans.ts';
import { findOrCreatePatientByMrn, findPatient, findPatientOfUser, type PatientRef } from '../repositories/patients.ts';
import { enqueueJob } from '../jobs/queue.ts';

/** The job kind that runs the AI pre-read of a new scan. */
export const AI_PREREAD_JOB = 'ai_preread';

export interface UploadedFile {
  /** The name the sender gave; kept (encrypted) for display only, never used as a path. */
  filename: string;
  bytes: Buffer;
}

/** What carried the instance in: an HTTP upload, a DICOM C-STORE, or DICOMweb STOW-RS. */
export type IngestSource = 'upload' | 'dimse' | 'stow';

// The scans.source column predates the network paths' names.
const SOURCE_COLUMN = { upload: 'upload', dimse: 'dicom', stow: 'dicomweb' } as const;

/**
 * Whose scan it is: a patient uploading their own, a patient record a clinician chose, or the
 * DICOM Patient ID in the file (matched within the organisation by keyed HMAC, created if new).
 */
export type PatientChoice = { of: 'user'; userId: string } | { of: 'record'; patientId: string } | { of: 'dicom' };

export interface IngestRequest {
  orgId: string;
  source: IngestSource;
  /** Who acts: a signed-in user (uploads, STOW-RS) or the system for a DICOM peer (userId null). */
  actor: { userId: string | null; role: string; scope: Scope };
  files: UploadedFile[];
  patient: PatientChoice;
  /**
   * A SOP Instance UID the organisation already holds: uploads refuse it (409); network senders
   * are told it was stored, as PACS do, and nothing is duplicated.
   */
  onDuplicate: 'refuse' | 'keep-existing';
  /** Identifiers for each file's audit event (a DICOM peer's AE title, an address). */
  auditDetails?: AuditDetails;
  clientAddress?: string | null;
}

/** What an ingest recorded; callers that show the scan read it (not every caller needs to). */
export interface IngestedScan {
  id: string;
  sha256: string;
  /** The non-personal DICOM attributes kept in clear (UIDs, modality, …); null for PNG, JPEG, TIFF. */
  dicom: Record<string, string> | null;
}

export interface IngestedInstance {
  scan: IngestedScan;
  /** The organisation already held this SOP instance; `scan` is the one it holds. */
  duplicate: boolean;
}

/** Identifies and checks every file (type, dimensions) before anything is stored. */
export async function probeFiles(ctx: AppContext, files: UploadedFile[]): Promise<ImageProbe[]> {
  const limits = { maxPixels: ctx.config.maxImagePixels, maxDimension: ctx.config.maxImageDimension };
  const probes: ImageProbe[] = [];
  for (const file of files) {
    try {
      probes.push(await probeImage(file.bytes, limits));
    } catch (error) {
      if (error instanceof ImagingError) {
        throw new AppError(imagingErrorCode(error.status), `${displayName(file.filename)}: ${error.message}`, {
          file: displayName(file.filename),
        });
      }
      throw error;
    }
  }
  return probes;
}

export async function ingestInstances(ctx: AppContext, request: IngestRequest): Promise<IngestedInstance[]> {
  if (request.files.length === 0) throw new AppError('bad_request', 'Attach at least one file');
  const probes = await probeFiles(ctx, request.files);
  try {
    return await storeAndRecord(ctx, request, probes);
  } catch (error) {
    // Two senders racing with the same SOP instance: the unique index stops the second; a sender
    // that accepts duplicates is then answered with the instance the first one stored.
    if (request.onDuplicate === 'keep-existing' && isUniqueViolation(error)) {
      return storeAndRecord(ctx, request, probes);
    }
    throw error;
  }
}

async function storeAndRecord(
  ctx: AppContext,
  request: IngestRequest,
  probes: ImageProbe[],
): Promise<IngestedInstance[]> {
  const { files, actor, orgId } = request;
  // Sealing and writing the blobs overlaps with the transaction's first statements (scope,
  // duplicate check, patient); each scan row waits for its blob, so no row exists without one.
  const stored: ({ sha256: string; created: boolean } | undefined)[] = [];
  const writes = files.map((file, index) => ctx.blobs.put(file.bytes).then((blob) => (stored[index] = blob)));
  // Awaited below or in the clean-up; marked handled now so an early failure is not "unhandled".
  for (const write of writes) write.catch(() => undefined);
  let ingested: IngestedInstance[];
  try {
    ingested = await withScope(ctx.db, actor.scope, async (tx) => {
      const out: IngestedInstance[] = [];
      for (const [index, file] of files.entries()) {
        const probe = probes[index]!;
        const sop = probe.dicom?.sopInstanceUid ?? null;
        const existing = sop ? await findScanBySopInstance(tx, sop) : null;
        if (existing) {
          if (request.onDuplicate === 'refuse') {
            throw new AppError('conflict', `${displayName(file.filename)}: this DICOM instance was already received`, {
              scanId: existing.id,
            });
          }
          out.push({ scan: existing, duplicate: true });
          continue;
        }
        const patient = await resolvePatient(ctx, tx, request, probe);
        const blob = await writes[index]!;
        const dicom = clearDicom(probe);
        const { id } = await insertScan(tx, {
          orgId,
          patientId: patient.id,
          patientUserId: patient.userId,
          uploadedBy: actor.userId,
          source: SOURCE_COLUMN[request.source],
          sha256: blob.sha256,
          byteSize: file.bytes.length,
          mediaType: probe.mediaType,
          format: probe.format,
          width: probe.width,
          height: probe.height,
          frames: probe.frames,
          originalNameEnc: file.filename ? ctx.cipher.encrypt(displayName(file.filename)) : null,
          dicom,
          sopInstanceUid: sop,
        });
        // The AI pre-read is queued in the same transaction: no scan without its job.
        await enqueueJob(tx, { orgId, kind: AI_PREREAD_JOB, payload: { scanId: id } });
        await insertScanEvent(tx, {
          orgId,
          scanId: id,
          action: 'upload',
          from: null,
          to: 'PENDING_AI',
          actorUserId: actor.userId,
          actorRole: actor.role,
          notesEnc: null,
        });
        await AuditLog.recordIn(tx, {
          orgId,
          actorUserId: actor.userId,
          actorRole: actor.role,
          action: 'scan.ingest',
          resourceType: 'scan',
          resourceId: id,
          outcome: 'success',
          clientAddress: request.clientAddress ?? null,
          details: { source: request.source, sha256: blob.sha256, sopInstanceUid: sop, ...request.auditDetails },
        });
        out.push({ scan: { id, sha256: blob.sha256, dicom }, duplicate: false });
      }
      return out;
    });
  } catch (error) {
    // Nothing partial: remove blobs this call wrote (content that existed before stays).
    await Promise.allSettled(writes);
    await Promise.all(stored.flatMap((b) => (b?.created ? [ctx.blobs.discard(b.sha256)] : [])));
    throw error;
  }
  // Committed: nothing below may remove a blob that a row refers to.
  await Promise.allSettled(writes);
  // A duplicate's bytes are not kept: the organisation's existing instance stands.
  await Promise.allSettled(
    ingested.flatMap((item, i) => {
      const blob = stored[i];
      return item.duplicate && blob?.created ? [ctx.blobs.discard(blob.sha256)] : [];
    }),
  );
  ctx.signals.emit('scans-changed');
  if (ingested.some((item) => !item.duplicate)) ctx.signals.emit('jobs');
  return ingested;
}

async function findScanBySopInstance(tx: Queryable, sopInstanceUid: string): Promise<IngestedScan | null> {
  const { rows } = await tx.query<{ id: string; blob_sha256: string; dicom: Record<string, string> | null }>(
    'SELECT id, blob_sha256, dicom FROM scans WHERE sop_instance_uid = $1',
    [sopInstanceUid],
  );
  return rows[0] ? { id: rows[0].id, sha256: rows[0].blob_sha256, dicom: rows[0].dicom } : null;
}

async function resolvePatient(
  ctx: AppContext,
  tx: Queryable,
  request: IngestRequest,
  probe: ImageProbe,
): Promise<PatientRef> {
  const choice = request.patient;
  if (choice.of === 'user') {
    const own = await findPatientOfUser(tx, choice.userId);
    if (!own) throw new AppError('conflict', 'Your account has no patient record; contact your administrator');
    return own;
  }
  if (choice.of === 'record') {
    const patient = await findPatient(tx, choice.patientId);
    if (!patient) throw notFound('Patient');
    return patient;
  }
  const mrn = probe.dicom?.patientId;
  if (!mrn) {
    throw new AppError(
      'validation_failed',
      request.source === 'upload'
        ? 'Say which patient the scan belongs to (patientId)'
        : 'The instance has no Patient ID (0010,0020) to match it to a patient',
    );
  }
  return findOrCreatePatientByMrn(tx, ctx.cipher, request.orgId, {
    mrn,
    name: probe.dicom?.patientName ?? null,
    birthDate: probe.dicom?.patientBirthDate ?? null,
    sex: probe.dicom?.patientSex ?? null,
  });
}

// Non-personal DICOM attributes kept in clear for search and display; patient attributes go to
// the (encrypted) patient record instead.
const CLEAR_DICOM_KEYS = [
  'studyInstanceUid',
  'seriesInstanceUid',
  'sopInstanceUid',
  'sopClassUid',
  'modality',
  'bodyPartExamined',
  'viewPosition',
  'studyDate',
  'transferSyntaxUid',
  'pixelSpacing',
] as const;

function clearDicom(probe: ImageProbe): Record<string, string> | null {
  if (!probe.dicom) return null;
  const out: Record<string, string> = {};
  for (const key of CLEAR_DICOM_KEYS) {
    const value = probe.dicom[key];
    if (value) out[key] = value;
  }
  return out;
}

function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '23505';
}

/** The HTTP error code for an imaging refusal, by the status the imaging package chose. */
export function imagingErrorCode(
  status: number,
): 'unsupported_media_type' | 'payload_too_large' | 'unprocessable' | 'bad_request' {
  if (status === 415) return 'unsupported_media_type';
  if (status === 413) return 'payload_too_large';
  if (status === 422) return 'unprocessable';
  return 'bad_request';
}

/** A file name safe to show: no directories, no control characters, bounded length. */
export function displayName(filename: string): string {
  const base = filename.split(/[\\/]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  const clean = base.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  return (clean || 'file').slice(0, 200);
}
