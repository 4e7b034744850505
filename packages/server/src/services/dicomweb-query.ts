/**
 * QIDO-RS query parameters (PS3.18 8.3.4) and the DICOM JSON attributes of search results
 * (PS3.18 10.6.3.3). What is searchable follows from how Scanflow stores data: UIDs, modality and
 * study date are kept in clear; the Patient ID only as a keyed hash (so exact match only, no
 * wildcards); Patient's Name is encrypted and cannot be searched. Matching keys Scanflow cannot
 * honour are ignored with a Warning header, as PS3.18 8.3.4.1 asks.
 */
import { AppError } from '@scanflow/domain';
import type { DicomJson, DicomJsonAttribute } from '@scanflow/imaging';
import type { DicomFilter, InstanceRow, Page, PatientColumns, SeriesRow, StudyRow } from '../repositories/dicomweb.ts';
import type { FieldCipher } from '../storage/field-cipher.ts';

export type QidoLevel = 'study' | 'series' | 'instance';

/** Matching keys Scanflow honours, by keyword, with their tags (either may be used in a query). */
const MATCHING_KEYS: Record<string, string> = {
  StudyInstanceUID: '0020000D',
  SeriesInstanceUID: '0020000E',
  SOPInstanceUID: '00080018',
  SOPClassUID: '00080016',
  PatientID: '00100020',
  StudyDate: '00080020',
  ModalitiesInStudy: '00080061',
  Modality: '00080060',
};
const KEYWORD_BY_TAG = new Map(Object.entries(MATCHING_KEYS).map(([k, t]) => [t, k]));
const CONTROL_KEYS = new Set(['limit', 'offset', 'includefield', 'fuzzymatching']);
const UID = /^[0-9]+(\.[0-9]+)*$/;
const DATE = /^\d{8}$/;
export const MAX_QIDO_LIMIT = 1000;

export interface QidoQuery {
  filter: Omit<DicomFilter, 'orgId' | 'patientUserId' | 'patientLookup'> & { patientId?: string };
  page: Page;
  /** What was ignored, for the Warning header (PS3.18 8.3.4.1). */
  warnings: string[];
}

/** Parses a QIDO-RS query string; `fixed` are the UIDs the path already names. */
export function parseQidoQuery(
  query: Record<string, string | string[] | undefined>,
  fixed: { study?: string; series?: string } = {},
): QidoQuery {
  const filter: QidoQuery['filter'] = {};
  const warnings: string[] = [];
  let limit = 100;
  let offset = 0;
  for (const [rawKey, rawValue] of Object.entries(query)) {
    const value = Array.isArray(rawValue) ? rawValue.join(',') : (rawValue ?? '');
    if (CONTROL_KEYS.has(rawKey)) {
      if (rawKey === 'limit') limit = integer(rawKey, value, 1, MAX_QIDO_LIMIT);
      if (rawKey === 'offset') offset = integer(rawKey, value, 0, 1_000_000);
      continue; // includefield: every attribute Scanflow has is always returned; fuzzymatching: not offered
    }
    const key = KEYWORD_BY_TAG.get(rawKey.toUpperCase()) ?? rawKey;
    if (value === '') continue; // universal matching (PS3.4 C.2.2.2.3)
    switch (key) {
      case 'StudyInstanceUID':
      case 'SeriesInstanceUID':
      case 'SOPInstanceUID':
      case 'SOPClassUID': {
        const list = uidList(key, value);
        if (key === 'StudyInstanceUID') filter.studyUids = list;
        else if (key === 'SeriesInstanceUID') filter.seriesUids = list;
        else if (key === 'SOPInstanceUID') filter.sopInstanceUids = list;
        else filter.sopClassUids = list;
        break;
      }
      case 'Modality':
      case 'ModalitiesInStudy':
        filter.modalities = value.split(',').map((m) => m.trim().toUpperCase());
        break;
      case 'PatientID':
        if (/[*?]/.test(value)) {
          throw new AppError(
            'validation_failed',
            'PatientID matches exactly only: Patient IDs are stored as keyed hashes, so wildcards cannot be matched',
          );
        }
        filter.patientId = value;
        break;
      case 'StudyDate':
        Object.assign(filter, dateRange(value));
        break;
      default:
        warnings.push(
          `The matching key ${/^[A-Za-z0-9]{1,64}$/.test(rawKey) ? rawKey : '(unreadable)'} is not supported and was ignored` +
            (key === 'PatientName' || rawKey === '00100010' ? ' (patient names are stored encrypted)' : ''),
        );
    }
  }
  if (fixed.study) filter.studyUids = [fixed.study];
  if (fixed.series) filter.seriesUids = [fixed.series];
  return { filter, page: { limit, offset }, warnings };
}

function integer(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new AppError('validation_failed', `${name} must be an integer from ${min} to ${max}`);
  }
  return n;
}

function uidList(name: string, text: string): string[] {
  const list = text.split(',').map((u) => u.trim());
  const bad = list.find((u) => !UID.test(u) || u.length > 64);
  if (bad !== undefined) throw new AppError('validation_failed', `${name}: "${bad.slice(0, 70)}" is not a DICOM UID`);
  return list;
}

/** A DA range (PS3.4 C.2.2.2.5): YYYYMMDD, YYYYMMDD-, -YYYYMMDD or YYYYMMDD-YYYYMMDD. */
function dateRange(text: string): { studyDateFrom?: string; studyDateTo?: string } {
  const [from = '', to = from, extra] = text.includes('-') ? text.split('-') : [text, text];
  if (extra !== undefined || (from && !DATE.test(from)) || (to && !DATE.test(to)) || (!from && !to)) {
    throw new AppError(
      'validation_failed',
      'StudyDate must be YYYYMMDD or a range YYYYMMDD-YYYYMMDD (either end open)',
    );
  }
  return { ...(from ? { studyDateFrom: from } : {}), ...(to ? { studyDateTo: to } : {}) };
}

// ---- results in the DICOM JSON Model ----

const attr = (vr: string, value: unknown): DicomJsonAttribute =>
  value === null || value === undefined || value === '' ? { vr } : { vr, Value: [value] };

function patientAttributes(row: PatientColumns, cipher: FieldCipher): DicomJson {
  const name = cipher.maybeDecrypt(row.name_enc);
  // Birth dates of patient accounts are ISO dates; DICOM's DA has no separators.
  const birth = cipher.maybeDecrypt(row.birth_date_enc)?.replace(/-/g, '');
  return {
    '00100010': name ? { vr: 'PN', Value: [{ Alphabetic: name }] } : { vr: 'PN' },
    '00100020': attr('LO', cipher.maybeDecrypt(row.mrn_enc)),
    '00100030': attr('DA', birth && DATE.test(birth) ? birth : null),
    '00100040': attr('CS', cipher.maybeDecrypt(row.sex_enc)),
  };
}

export function studyJson(row: StudyRow, cipher: FieldCipher, base: string): DicomJson {
  return {
    '00080020': attr('DA', row.study_date),
    '00080050': { vr: 'SH' }, // Accession Number: not kept by Scanflow
    '00080061': row.modalities?.length ? { vr: 'CS', Value: row.modalities } : { vr: 'CS' },
    '00081190': attr('UR', `${base}/studies/${row.study_uid}`),
    ...patientAttributes(row, cipher),
    '0020000D': attr('UI', row.study_uid),
    '00201206': attr('IS', row.series_count),
    '00201208': attr('IS', row.instance_count),
  };
}

export function seriesJson(row: SeriesRow, cipher: FieldCipher, base: string): DicomJson {
  return {
    '00080020': attr('DA', row.study_date),
    '00080060': attr('CS', row.modality),
    '00081190': attr('UR', `${base}/studies/${row.study_uid}/series/${row.series_uid}`),
    ...patientAttributes(row, cipher),
    '00180015': attr('CS', row.body_part),
    '0020000D': attr('UI', row.study_uid),
    '0020000E': attr('UI', row.series_uid),
    '00201209': attr('IS', row.instance_count),
  };
}

export function instanceJson(row: InstanceRow, cipher: FieldCipher, base: string): DicomJson {
  return {
    '00080016': attr('UI', row.sop_class_uid),
    '00080018': attr('UI', row.sop_uid),
    '00080020': attr('DA', row.study_date),
    '00080060': attr('CS', row.modality),
    '00081190': attr('UR', instanceUrl(base, row)),
    ...patientAttributes(row, cipher),
    '0020000D': attr('UI', row.study_uid),
    '0020000E': attr('UI', row.series_uid),
    '00280008': attr('IS', row.frames),
    '00280010': attr('US', row.rows),
    '00280011': attr('US', row.columns),
  };
}

export const instanceUrl = (base: string, row: Pick<InstanceRow, 'study_uid' | 'series_uid' | 'sop_uid'>) =>
  `${base}/studies/${row.study_uid}/series/${row.series_uid}/instances/${row.sop_uid}`;
