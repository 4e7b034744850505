/**
 * Shared annotations on a case (SPEC C2): arrows, ellipses and length measurements in image pixel
 * coordinates, saved with the case and seen by the others live (the database publishes each change).
 * Any doctor who can see the case may edit them; edits carry the version the editor saw, so of
 * two concurrent edits one wins and the other gets 409. Withdrawn ones keep their row (`deleted`).
 */
import {
  AppError,
  assertValidGeometry,
  MAX_ANNOTATION_LABEL,
  measure,
  notFound,
  parsePixelSpacing,
  type Geometry,
  type ImageExtent,
  type Measurement,
} from '@scanflow/domain';
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/database.ts';
import { withScope } from '../db/scope.ts';
import type { ScanRow } from '../repositories/scans.ts';
import type { FieldCipher } from '../storage/field-cipher.ts';
import { scopeOf } from './access.ts';
import type { AuthenticatedSession } from './auth-service.ts';
import { openCase } from './case-access.ts';

export interface Annotation {
  id: string;
  scanId: string;
  kind: Geometry['kind'];
  geometry: Geometry;
  frame: number;
  label: string | null;
  /** Lengths only: in mm where the image gives its pixel spacing, else in pixels (the unit says which). */
  measurement: Measurement | null;
  author: { id: string; name: string };
  version: number;
  deleted: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface AnnotationInput {
  geometry: Geometry;
  frame?: number | undefined;
  label?: string | undefined;
}

interface AnnotationRow {
  id: string;
  scan_id: string;
  kind: Geometry['kind'];
  geometry: Geometry;
  frame: number;
  label_enc: Uint8Array | null;
  author_user_id: string;
  author_name_enc: Uint8Array;
  version: number;
  deleted: boolean;
  created_at: string;
  updated_at: string;
  width: number;
  height: number;
  pixel_spacing: string | null;
}

const ISO = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

const SELECT = `SELECT a.id, a.scan_id, a.kind, a.geometry, a.frame, a.label_enc, a.author_user_id,
    u.name_enc AS author_name_enc, a.version, a.deleted, ${ISO('a.created_at')} AS created_at,
    ${ISO('a.updated_at')} AS updated_at, s.width, s.height, s.dicom->>'pixelSpacing' AS pixel_spacing
  FROM annotations a JOIN users u ON u.id = a.author_user_id JOIN scans s ON s.id = a.scan_id`;

const extentOf = (scan: { width: number; height: number; pixelSpacing: string | null | undefined }): ImageExtent => ({
  width: scan.width,
  height: scan.height,
  pixelSpacing: parsePixelSpacing(scan.pixelSpacing),
});

export function toAnnotation(row: AnnotationRow, cipher: FieldCipher): Annotation {
  return {
    id: row.id,
    scanId: row.scan_id,
    kind: row.kind,
    geometry: row.geometry,
    frame: row.frame,
    label: cipher.maybeDecrypt(row.label_enc),
    measurement: measure(row.geometry, extentOf({ ...row, pixelSpacing: row.pixel_spacing })),
    author: { id: row.author_user_id, name: cipher.decryptCached(row.author_name_enc) },
    version: row.version,
    deleted: row.deleted,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export async function findAnnotation(tx: Queryable, cipher: FieldCipher, id: string): Promise<Annotation | null> {
  const { rows } = await tx.query<AnnotationRow>(`${SELECT} WHERE a.id = $1`, [id]);
  return rows[0] ? toAnnotation(rows[0], cipher) : null;
}

function checkedInput(scan: ScanRow, input: AnnotationInput): { label: string | null; frame: number } {
  assertValidGeometry(input.geometry, extentOf({ ...scan, pixelSpacing: scan.dicom?.pixelSpacing }));
  const frame = input.frame ?? 0;
  if (!Number.isInteger(frame) || frame < 0 || frame >= scan.frames) {
    throw new AppError('validation_failed', `frame must be between 0 and ${scan.frames - 1} for this image`);
  }
  const label = input.label?.trim() || null;
  if (label && label.length > MAX_ANNOTATION_LABEL) {
    throw new AppError('validation_failed', `The label is limited to ${MAX_ANNOTATION_LABEL} characters`);
  }
  return { label, frame };
}

export class AnnotationService {
  constructor(private readonly ctx: AppContext) {}

  async list(session: AuthenticatedSession, scanId: string): Promise<Annotation[]> {
    return withScope(this.ctx.db, scopeOf(session), async (tx) => {
      await openCase(tx, session, scanId, 'discussion.read');
      const { rows } = await tx.query<AnnotationRow>(
        `${SELECT} WHERE a.scan_id = $1 AND NOT a.deleted ORDER BY a.created_at, a.id`,
        [scanId],
      );
      return rows.map((row) => toAnnotation(row, this.ctx.cipher));
    });
  }

  async create(session: AuthenticatedSession, scanId: string, input: AnnotationInput): Promise<Annotation> {
    const { actor } = session;
    return withScope(this.ctx.db, scopeOf(session), async (tx) => {
      const scan = await openCase(tx, session, scanId, 'annotation.write');
      const { label, frame } = checkedInput(scan, input);
      const { rows } = await tx.query<{ id: string }>(
        `INSERT INTO annotations (org_id, scan_id, author_user_id, kind, geometry, frame, label_enc, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $3) RETURNING id`,
        [
          actor.orgId,
          scanId,
          actor.userId,
          input.geometry.kind,
          input.geometry,
          frame,
          label ? this.ctx.cipher.encrypt(label) : null,
        ],
      );
      return (await findAnnotation(tx, this.ctx.cipher, rows[0]!.id))!;
    });
  }

  /** Replaces the shape (and label), or withdraws it (`deleted`), if nobody changed it since `version`. */
  async update(
    session: AuthenticatedSession,
    id: string,
    change: { version: number } & ({ delete: true } | AnnotationInput),
  ): Promise<Annotation> {
    return withScope(this.ctx.db, scopeOf(session), async (tx) => {
      const current = await findAnnotation(tx, this.ctx.cipher, id);
      if (!current || current.deleted) throw notFound('Annotation');
      const scan = await openCase(tx, session, current.scanId, 'annotation.write');
      if ('delete' in change) {
        await this.apply(tx, session, id, change.version, ['deleted = true'], []);
      } else {
        if (change.geometry.kind !== current.kind) {
          throw new AppError(
            'validation_failed',
            `This annotation is a ${current.kind}; draw a new one to change its kind`,
          );
        }
        const { label, frame } = checkedInput(scan, change);
        await this.apply(
          tx,
          session,
          id,
          change.version,
          ['geometry = $4', 'frame = $5', 'label_enc = $6'],
          [change.geometry, frame, label ? this.ctx.cipher.encrypt(label) : null],
        );
      }
      return (await findAnnotation(tx, this.ctx.cipher, id))!;
    });
  }

  private async apply(
    tx: Queryable,
    session: AuthenticatedSession,
    id: string,
    version: number,
    assignments: string[],
    values: unknown[],
  ): Promise<void> {
    const updated = await tx.query(
      `UPDATE annotations SET ${assignments.join(', ')}, version = version + 1, updated_by = $3, updated_at = now()
        WHERE id = $1 AND version = $2 AND NOT deleted`,
      [id, version, session.actor.userId, ...values],
    );
    if (updated.rowCount !== 1) {
      throw new AppError('stale_version', 'Someone changed this annotation since you loaded it; reload and try again');
    }
  }
}
