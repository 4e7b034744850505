/**
 * SQL behind DICOMweb search (QIDO-RS) and retrieval by UID (WADO-RS), in a scoped transaction.
 * DICOM identifiers are read from the clear `scans.dicom` column; the patient's identifying
 * attributes come from the encrypted patient record (Patient ID found by keyed hash only).
 */
import type { Queryable } from '../db/database.ts';

/** What a search may constrain; every list is "any of" (PS3.18 8.3.4.1 UID list matching). */
export interface DicomFilter {
  orgId: string;
  /** Patients: only their own instances (row-level security enforces it too). */
  patientUserId?: string | undefined;
  studyUids?: string[] | undefined;
  seriesUids?: string[] | undefined;
  sopInstanceUids?: string[] | undefined;
  sopClassUids?: string[] | undefined;
  /** Series and instance levels: the instance's modality; study level: any instance of the study. */
  modalities?: string[] | undefined;
  /** Keyed hash of the DICOM Patient ID (exact match; names and IDs are stored encrypted). */
  patientLookup?: Buffer | undefined;
  /** Inclusive YYYYMMDD bounds. */
  studyDateFrom?: string | undefined;
  studyDateTo?: string | undefined;
}

export interface Page {
  limit: number;
  offset: number;
}

/** The patient's encrypted identifying attributes, carried with every search result. */
export interface PatientColumns {
  mrn_enc: Uint8Array | null;
  name_enc: Uint8Array | null;
  birth_date_enc: Uint8Array | null;
  sex_enc: Uint8Array | null;
}

export interface StudyRow extends PatientColumns {
  study_uid: string;
  study_date: string | null;
  modalities: string[] | null;
  series_count: number;
  instance_count: number;
}

export interface SeriesRow extends PatientColumns {
  study_uid: string;
  series_uid: string;
  study_date: string | null;
  modality: string | null;
  body_part: string | null;
  instance_count: number;
}

export interface InstanceRow extends PatientColumns {
  id: string;
  study_uid: string;
  series_uid: string;
  sop_uid: string;
  sop_class_uid: string | null;
  study_date: string | null;
  modality: string | null;
  rows: number;
  columns: number;
  frames: number;
  byte_size: number;
  sha256: string;
  transfer_syntax_uid: string | null;
}

const d = (key: string) => `s.dicom->>'${key}'`;

/** The WHERE clause for a filter; `instanceModality` false leaves modality to the study's HAVING. */
function where(f: DicomFilter, values: unknown[], instanceModality: boolean): string {
  const param = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  const clauses = [`s.org_id = ${param(f.orgId)}`, `s.format = 'dicom'`, `${d('studyInstanceUid')} IS NOT NULL`];
  const anyOf = (column: string, list: string[] | undefined) => {
    if (list?.length) clauses.push(`${column} = ANY(${param(list)}::text[])`);
  };
  if (f.patientUserId) clauses.push(`s.patient_user_id = ${param(f.patientUserId)}`);
  anyOf(d('studyInstanceUid'), f.studyUids);
  anyOf(d('seriesInstanceUid'), f.seriesUids);
  anyOf('s.sop_instance_uid', f.sopInstanceUids);
  anyOf(d('sopClassUid'), f.sopClassUids);
  if (instanceModality) anyOf(d('modality'), f.modalities);
  if (f.patientLookup) clauses.push(`p.mrn_lookup = ${param(f.patientLookup)}`);
  if (f.studyDateFrom) clauses.push(`${d('studyDate')} >= ${param(f.studyDateFrom)}`);
  if (f.studyDateTo) clauses.push(`${d('studyDate')} <= ${param(f.studyDateTo)}`);
  return clauses.join(' AND ');
}

/** The patient of a group: every instance of a study belongs to one patient record. */
const GROUP_PATIENT = `(array_agg(p.mrn_enc))[1] AS mrn_enc, (array_agg(p.name_enc))[1] AS name_enc,
  (array_agg(p.birth_date_enc))[1] AS birth_date_enc, (array_agg(p.sex_enc))[1] AS sex_enc`;

export async function searchStudies(tx: Queryable, f: DicomFilter, page: Page): Promise<StudyRow[]> {
  const values: unknown[] = [];
  const clause = where(f, values, false);
  let having = '';
  if (f.modalities?.length) {
    values.push(f.modalities);
    having = `HAVING bool_or(${d('modality')} = ANY($${values.length}::text[]))`;
  }
  values.push(page.limit, page.offset);
  const { rows } = await tx.query<StudyRow>(
    `SELECT ${d('studyInstanceUid')} AS study_uid, min(${d('studyDate')}) AS study_date,
            array_agg(DISTINCT ${d('modality')}) FILTER (WHERE ${d('modality')} IS NOT NULL) AS modalities,
            count(DISTINCT ${d('seriesInstanceUid')})::int AS series_count, count(*)::int AS instance_count,
            ${GROUP_PATIENT}
       FROM scans s JOIN patients p ON p.id = s.patient_id
      WHERE ${clause}
      GROUP BY ${d('studyInstanceUid')} ${having}
      ORDER BY max(s.received_at) DESC, study_uid
      LIMIT $${values.length - 1} OFFSET $${values.length}`,
    values,
  );
  return rows;
}

export async function searchSeries(tx: Queryable, f: DicomFilter, page: Page): Promise<SeriesRow[]> {
  const values: unknown[] = [];
  const clause = where(f, values, true);
  values.push(page.limit, page.offset);
  const { rows } = await tx.query<SeriesRow>(
    `SELECT ${d('studyInstanceUid')} AS study_uid, ${d('seriesInstanceUid')} AS series_uid,
            min(${d('studyDate')}) AS study_date, min(${d('modality')}) AS modality,
            min(${d('bodyPartExamined')}) AS body_part, count(*)::int AS instance_count, ${GROUP_PATIENT}
       FROM scans s JOIN patients p ON p.id = s.patient_id
      WHERE ${clause} AND ${d('seriesInstanceUid')} IS NOT NULL
      GROUP BY ${d('studyInstanceUid')}, ${d('seriesInstanceUid')}
      ORDER BY min(s.received_at), study_uid, series_uid
      LIMIT $${values.length - 1} OFFSET $${values.length}`,
    values,
  );
  return rows;
}

export async function searchInstances(tx: Queryable, f: DicomFilter, page: Page): Promise<InstanceRow[]> {
  const values: unknown[] = [];
  const clause = where(f, values, true);
  values.push(page.limit, page.offset);
  const { rows } = await tx.query<InstanceRow>(
    `SELECT s.id, ${d('studyInstanceUid')} AS study_uid, ${d('seriesInstanceUid')} AS series_uid,
            s.sop_instance_uid AS sop_uid, ${d('sopClassUid')} AS sop_class_uid, ${d('studyDate')} AS study_date,
            ${d('modality')} AS modality, s.height AS rows, s.width AS columns, s.frames, s.byte_size,
            s.blob_sha256 AS sha256, ${d('transferSyntaxUid')} AS transfer_syntax_uid, p.mrn_enc, p.name_enc, p.birth_date_enc, p.sex_enc
       FROM scans s JOIN patients p ON p.id = s.patient_id
      WHERE ${clause} AND s.sop_instance_uid IS NOT NULL
      ORDER BY s.received_at, s.id
      LIMIT $${values.length - 1} OFFSET $${values.length}`,
    values,
  );
  return rows;
}
