/**
 * DICOMweb (PS3.18): search (QIDO-RS), retrieve (WADO-RS) and store (STOW-RS), so viewers and
 * archives can talk to Scanflow. It is another door to the same actions as the rest of the API:
 * searching is listing scans, retrieving is reading one (every byte re-verified against its hash by
 * ScanService.openImage), storing is ingesting through the one ingest path.
 */
import { AppError, decide, notFound } from '@scanflow/domain';
import {
  dicomJson,
  ImagingError,
  readNativeFrames,
  renditionAsJpeg,
  sniffFormat,
  type DicomJson,
  type NativeFrames,
} from '@scanflow/imaging';
import type { AppContext } from '../context.ts';
import { withScope } from '../db/scope.ts';
import {
  searchInstances,
  searchSeries,
  searchStudies,
  type DicomFilter,
  type InstanceRow,
} from '../repositories/dicomweb.ts';
import { enforce, scopeOf } from './access.ts';
import type { AuthenticatedSession } from './auth-service.ts';
import {
  instanceJson,
  instanceUrl,
  MAX_QIDO_LIMIT,
  seriesJson,
  studyJson,
  type QidoLevel,
  type QidoQuery,
} from './dicomweb-query.ts';
import { imagingErrorCode, ingestInstances, probeFiles, type UploadedFile } from './ingest.ts';
import type { RenditionService } from './rendition-service.ts';
import type { ScanService } from './scan-service.ts';

/** Which instances a WADO-RS request names: a study, a series of it, or one instance. */
export interface InstanceTarget {
  study: string;
  series?: string | undefined;
  instance?: string | undefined;
}

export interface RetrievedInstance {
  row: InstanceRow;
  bytes: Buffer;
}

export interface RenderedRequest {
  frame: number;
  maxSize?: number | undefined;
  windowCenter?: number | undefined;
  windowWidth?: number | undefined;
  format: 'png' | 'jpeg';
}

/** Failure Reason (0008,1197) codes of a STOW-RS response (PS3.18 I.2.2, PS3.4 annex B). */
export const STOW_FAILURE = {
  processingFailure: 0x0110,
  outOfResources: 0xa700,
  cannotUnderstand: 0xc000,
  transferSyntaxNotSupported: 0xc122,
  studyUidMismatch: 0xc409,
} as const;

export interface StowResult {
  /** 200 all stored, 202 some stored, 409 none stored (PS3.18 10.5.3). */
  status: 200 | 202 | 409;
  body: DicomJson;
  stored: number;
  failed: number;
}

/** A whole-study retrieval is answered from memory; larger studies are retrieved by series. */
const MAX_RETRIEVE_BYTES = 512 * 1024 * 1024;

export class DicomWebService {
  constructor(
    private readonly ctx: AppContext,
    private readonly scans: ScanService,
    private readonly renditions: RenditionService,
  ) {}

  /** QIDO-RS: results in the DICOM JSON Model, `base` being the service's /dicom-web URL. */
  async search(session: AuthenticatedSession, level: QidoLevel, query: QidoQuery, base: string): Promise<DicomJson[]> {
    const filter = this.filterFor(session, query.filter);
    return withScope(this.ctx.db, scopeOf(session), async (tx) => {
      const cipher = this.ctx.cipher;
      if (level === 'study')
        return (await searchStudies(tx, filter, query.page)).map((r) => studyJson(r, cipher, base));
      if (level === 'series')
        return (await searchSeries(tx, filter, query.page)).map((r) => seriesJson(r, cipher, base));
      return (await searchInstances(tx, filter, query.page)).map((r) => instanceJson(r, cipher, base));
    });
  }

  /** Asks the policy, and narrows a search to what the session may see. */
  private filterFor(session: AuthenticatedSession, f: QidoQuery['filter']): DicomFilter {
    const { actor } = session;
    enforce(decide(actor, 'scan.list', { kind: 'organisation', orgId: actor.orgId }), 'Study');
    const { patientId, ...rest } = f;
    return {
      ...rest,
      orgId: actor.orgId,
      patientUserId: actor.role === 'patient' ? actor.userId : undefined,
      patientLookup: patientId === undefined ? undefined : this.ctx.cipher.lookup('mrn', patientId),
    };
  }

  /** The instances a WADO-RS path names (404 when it names nothing the session can see). */
  async instancesOf(session: AuthenticatedSession, target: InstanceTarget): Promise<InstanceRow[]> {
    const filter = this.filterFor(session, {
      studyUids: [target.study],
      ...(target.series ? { seriesUids: [target.series] } : {}),
      ...(target.instance ? { sopInstanceUids: [target.instance] } : {}),
    });
    const rows = await withScope(this.ctx.db, scopeOf(session), (tx) =>
      searchInstances(tx, filter, { limit: MAX_QIDO_LIMIT * 10, offset: 0 }),
    );
    if (rows.length === 0) throw notFound(target.instance ? 'Instance' : target.series ? 'Series' : 'Study');
    return rows;
  }

  /**
   * The stored Part 10 bytes of each instance, exactly as received. Every read asks the policy for
   * that scan and re-verifies the hash (a mismatch flags the scan and answers 409).
   */
  async retrieve(session: AuthenticatedSession, target: InstanceTarget): Promise<RetrievedInstance[]> {
    const rows = await this.instancesOf(session, target);
    const total = rows.reduce((sum, r) => sum + Number(r.byte_size), 0);
    if (total > MAX_RETRIEVE_BYTES) {
      throw new AppError(
        'payload_too_large',
        `The request names ${rows.length} instances (${total} bytes); retrieve them by series or instance`,
      );
    }
    const out: RetrievedInstance[] = [];
    for (const row of rows) out.push({ row, bytes: await (await this.scans.openImage(session, row.id)).load() });
    return out;
  }

  /** WADO-RS metadata: each instance's data set in the DICOM JSON Model, pixel data by reference. */
  async metadata(
    session: AuthenticatedSession,
    target: InstanceTarget,
    base: string,
  ): Promise<{ rows: InstanceRow[]; json: DicomJson[] }> {
    const instances = await this.retrieve(session, target);
    const json = instances.map(({ row, bytes }) => {
      const frames = Array.from({ length: row.frames }, (_, i) => i + 1).join(',');
      try {
        return dicomJson(bytes, { pixelDataUri: `${instanceUrl(base, row)}/frames/${frames}` });
      } catch (error) {
        return rethrowImaging(error);
      }
    });
    return { rows: instances.map((i) => i.row), json };
  }

  /** WADO-RS frames: uncompressed little-endian bytes of the frames asked for (1-based). */
  async frames(
    session: AuthenticatedSession,
    target: Required<InstanceTarget>,
    numbers: number[],
  ): Promise<{ row: InstanceRow; frames: NativeFrames }> {
    const [instance] = await this.retrieve(session, target);
    const limits = { maxPixels: this.ctx.config.maxImagePixels, maxDimension: this.ctx.config.maxImageDimension };
    const frames = await readNativeFrames(instance!.bytes, limits, numbers).catch(rethrowImaging);
    return { row: instance!.row, frames };
  }

  /** WADO-RS rendered: the display rendition (cached, windowed) as PNG or JPEG. */
  async rendered(
    session: AuthenticatedSession,
    target: Required<InstanceTarget>,
    request: RenderedRequest,
  ): Promise<{ row: InstanceRow; image: Uint8Array }> {
    const [row] = await this.instancesOf(session, target);
    const rendition = await this.renditions.render(session, row!.id, request);
    return { row: row!, image: request.format === 'jpeg' ? await renditionAsJpeg(rendition.png) : rendition.png };
  }

  /**
   * STOW-RS: each part is checked on its own, so one bad instance fails alone (Failed SOP
   * Sequence); the accepted ones are ingested together through the one ingest path. An instance
   * the organisation already holds is reported as stored and not duplicated.
   */
  async store(
    session: AuthenticatedSession,
    parts: { type: string; body: Buffer }[],
    options: { study?: string | undefined; base: string; clientAddress: string | null },
  ): Promise<StowResult> {
    const { actor } = session;
    enforce(decide(actor, 'scan.upload', { kind: 'organisation', orgId: actor.orgId }), 'Organisation');
    const failed: DicomJson[] = [];
    const accepted: UploadedFile[] = [];
    for (const [index, part] of parts.entries()) {
      const file = { filename: `part-${index + 1}.dcm`, bytes: part.body };
      // Only DICOM belongs here; a part that is not (by its bytes) cannot be understood.
      if (part.type !== 'application/dicom' || sniffFormat(part.body) !== 'dicom') {
        failed.push(failure(STOW_FAILURE.cannotUnderstand));
        continue;
      }
      try {
        const [probe] = await probeFiles(this.ctx, [file]);
        const tags = probe?.dicom;
        // DICOMweb addresses instances by study, series and instance UID: all three are needed.
        if (!tags?.sopInstanceUid || !tags.studyInstanceUid || !tags.seriesInstanceUid) {
          failed.push(failure(STOW_FAILURE.cannotUnderstand, tags?.sopClassUid, tags?.sopInstanceUid));
        } else if (options.study && tags.studyInstanceUid !== options.study) {
          failed.push(failure(STOW_FAILURE.studyUidMismatch, tags.sopClassUid, tags.sopInstanceUid));
        } else if (actor.role !== 'patient' && !tags.patientId) {
          failed.push(failure(STOW_FAILURE.cannotUnderstand, tags.sopClassUid, tags.sopInstanceUid));
        } else {
          accepted.push(file);
        }
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        const reason =
          error.status === 415
            ? STOW_FAILURE.transferSyntaxNotSupported
            : error.status === 413
              ? STOW_FAILURE.outOfResources
              : STOW_FAILURE.cannotUnderstand;
        failed.push(failure(reason));
      }
    }
    const ingested =
      accepted.length === 0
        ? []
        : await ingestInstances(this.ctx, {
            orgId: actor.orgId,
            source: 'stow',
            actor: { userId: actor.userId, role: actor.role, scope: scopeOf(session) },
            files: accepted,
            patient: actor.role === 'patient' ? { of: 'user', userId: actor.userId } : { of: 'dicom' },
            onDuplicate: 'keep-existing',
            clientAddress: options.clientAddress,
          });
    const referenced = ingested.map(({ scan }) => {
      const dicom = scan.dicom ?? {};
      const row = {
        study_uid: dicom.studyInstanceUid ?? '',
        series_uid: dicom.seriesInstanceUid ?? '',
        sop_uid: dicom.sopInstanceUid ?? '',
      };
      return {
        '00081150': { vr: 'UI', Value: [dicom.sopClassUid ?? ''] },
        '00081155': { vr: 'UI', Value: [row.sop_uid] },
        '00081190': { vr: 'UR', Value: [instanceUrl(options.base, row)] },
      };
    });
    const body: DicomJson = {};
    if (options.study) body['00081190'] = { vr: 'UR', Value: [`${options.base}/studies/${options.study}`] };
    if (failed.length) body['00081198'] = { vr: 'SQ', Value: failed };
    if (referenced.length) body['00081199'] = { vr: 'SQ', Value: referenced };
    const status = failed.length === 0 ? 200 : referenced.length > 0 ? 202 : 409;
    return { status, body, stored: referenced.length, failed: failed.length };
  }
}

function failure(reason: number, sopClass?: string, sopInstance?: string): DicomJson {
  return {
    ...(sopClass ? { '00081150': { vr: 'UI', Value: [sopClass] } } : {}),
    ...(sopInstance ? { '00081155': { vr: 'UI', Value: [sopInstance] } } : {}),
    '00081197': { vr: 'US', Value: [reason] },
  };
}

/** Imaging refusals as the API's errors, with the status the imaging package chose. */
function rethrowImaging(error: unknown): never {
  if (error instanceof ImagingError) throw new AppError(imagingErrorCode(error.status), error.message);
  throw error;
}
