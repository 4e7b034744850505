import { createHmac } from 'node:crypto';
import type { DicomJsonDataSet, DicomJsonElement } from 'dcmjs';
import { parseDicom } from '../dicom/parse.ts';
import { Tags } from '../dicom/tags.ts';
import { TS } from '../dicom/transfer-syntax.ts';
import { getString } from '../dicom/values.ts';
import { corrupt, ImagingError } from '../errors.ts';
import { readDicomDict } from './dcmjs-read.ts';
import { KEPT_WHEN_SHIFTING, NON_INSTANCE_UIDS, PROFILE } from './profile.ts';

/**
 * De-identification by the DICOM PS3.15 Basic Application Level Confidentiality Profile (annex E),
 * optionally with the Retain Longitudinal Temporal Information with Modified Dates option (E.3.6).
 * Produces a valid Part 10 file (checked with DCMTK's dcmftest in the tests); pixel data untouched.
 */
export interface DeidentifyOptions {
  /** Secret for UID remapping (HMAC-SHA-256): the same secret maps the same UID the same way, across files. */
  uidSecret: string;
  /** Dummy Patient's Name and Patient ID (PS3.15 action D); empty when not given. */
  patientName?: string;
  patientId?: string;
  /** Shift every date by this many days (E.3.6) instead of removing dates; times are then kept. */
  dateShiftDays?: number;
  /**
   * Burned In Annotation (0028,0301) YES: 'refuse' (default) throws ImagingError
   * `burned_in_annotation`; 'warn' de-identifies the header and reports a warning, since text in
   * the pixels is not removed.
   */
  burnedInAnnotation?: 'refuse' | 'warn';
}

export interface DeidentifyResult {
  bytes: Uint8Array;
  warnings: string[];
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  sopInstanceUid?: string;
}

const DICOM_ROOT = '1.2.840.10008.';
/** Modalities whose images often carry burned-in text when the attribute is absent. */
const BURN_IN_PRONE = new Set(['US', 'SC', 'OT', 'XC', 'ES', 'GM', 'SM', 'DOC']);
const MAX_DEPTH = 16;
/** Value representations removed wherever they are not named by the profile table. */
const REMOVED_VRS = new Set(['LT', 'ST', 'UT', 'UC', 'UR', 'AE', 'UN']);

/** A UID under the 2.25 root from a keyed hash of the original (PS3.5 B.2, ISO/IEC 9834-8). */
export function remapUid(uid: string, secret: string): string {
  const digest = createHmac('sha256', secret).update(uid).digest('hex').slice(0, 32);
  return `2.25.${BigInt(`0x${digest}`).toString()}`;
}

/** Shifts DA (YYYYMMDD) and the date part of DT values by whole days (E.3.6). */
export function shiftDate(value: string, days: number): string {
  const m = /^(\d{4})(\d{2})(\d{2})(.*)$/.exec(value);
  if (!m) return '';
  const date = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  if (Number.isNaN(date.getTime())) return '';
  date.setUTCDate(date.getUTCDate() + days);
  const y = String(date.getUTCFullYear()).padStart(4, '0');
  const mo = String(date.getUTCMonth() + 1).padStart(2, '0');
  const d = String(date.getUTCDate()).padStart(2, '0');
  return `${y}${mo}${d}${m[4] ?? ''}`;
}

const code = (value: string, meaning: string): DicomJsonDataSet => ({
  '00080100': { vr: 'SH', Value: [value] },
  '00080102': { vr: 'SH', Value: ['DCM'] },
  '00080104': { vr: 'LO', Value: [meaning] },
});

export function deidentifyDicom(bytes: Uint8Array, options: DeidentifyOptions): DeidentifyResult {
  if (options.uidSecret.length < 16) throw new Error('uidSecret must be at least 16 characters');
  // The bounded parser vets the structure first; dcmjs then does the rewriting.
  const parsed = parseDicom(bytes);
  const warnings: string[] = [];
  const burnedIn = getString(parsed.dataset, 0x00280301)?.toUpperCase();
  const modality = getString(parsed.dataset, Tags.Modality)?.toUpperCase() ?? '';
  if (burnedIn === 'YES') {
    if ((options.burnedInAnnotation ?? 'refuse') === 'refuse') {
      throw new ImagingError(
        'burned_in_annotation',
        'The image has burned-in annotation (0028,0301 = YES): identifying text in the pixels cannot be removed by header de-identification.',
      );
    }
    warnings.push('Burned In Annotation is YES: text in the pixel data was not removed.');
  } else if (burnedIn === undefined && BURN_IN_PRONE.has(modality)) {
    warnings.push(
      `Modality ${modality} often has burned-in text and Burned In Annotation (0028,0301) is absent: check the pixels.`,
    );
  }

  const dict = readDicomDict(bytes, parsed);

  const shift = options.dateShiftDays;
  const remap = (uid: string): string => (uid.startsWith(DICOM_ROOT) ? uid : remapUid(uid, options.uidSecret));

  const clean = (ds: DicomJsonDataSet, depth: number): void => {
    if (depth > MAX_DEPTH) throw corrupt('The DICOM file nests sequences too deeply to de-identify.');
    for (const key of Object.keys(ds)) {
      const el = ds[key];
      if (!el) continue;
      const group = parseInt(key.slice(0, 4), 16);
      // Private attributes (odd groups), curves (50xx) and overlays (60xx): removed (E.1-1 and E.3.10).
      if (group % 2 === 1 || (group >= 0x5000 && group <= 0x50ff) || (group >= 0x6000 && group <= 0x60ff)) {
        delete ds[key];
        continue;
      }
      const action = PROFILE.get(key);
      if (shift !== undefined && KEPT_WHEN_SHIFTING.has(key)) {
        if (el.vr === 'DA' || el.vr === 'DT')
          setValues(
            el,
            strings(el).map((v) => shiftDate(v, shift)),
          );
        continue;
      }
      if (action === 'X') {
        delete ds[key];
      } else if (action === 'Z') {
        setValues(el, []);
      } else if (action === 'D') {
        const dummy = key === '00100010' ? options.patientName : key === '00100020' ? options.patientId : undefined;
        setValues(el, dummy === undefined || dummy === '' ? [] : el.vr === 'PN' ? [{ Alphabetic: dummy }] : [dummy]);
      } else if (el.vr === 'SQ') {
        for (const item of (el.Value ?? []) as DicomJsonDataSet[]) clean(item, depth + 1);
      } else if (el.vr === 'UI') {
        if (!NON_INSTANCE_UIDS.has(key)) setValues(el, strings(el).map(remap));
      } else if (el.vr === 'PN') {
        delete ds[key]; // any other person's name (E.1-1 lists each; removing all is the safe superset)
      } else if (el.vr === 'DA' || el.vr === 'DT') {
        if (shift === undefined) delete ds[key];
        else
          setValues(
            el,
            strings(el).map((v) => shiftDate(v, shift)),
          );
      } else if (el.vr === 'TM') {
        if (shift === undefined) delete ds[key];
      } else if (REMOVED_VRS.has(el.vr)) {
        delete ds[key]; // free text, AE titles and values of unknown meaning (see profile.ts)
      }
    }
  };

  try {
    clean(dict.dict, 0);
    const meta = dict.meta;
    for (const key of ['00020016', '00020017', '00020018']) delete meta[key]; // AE titles of the sender
    const sop = strings(dict.dict['00080018'] ?? { vr: 'UI' })[0];
    if (sop) setValues(meta['00020003'] ?? (meta['00020003'] = { vr: 'UI' }), [sop]);
    // dcmjs writes deflated syntaxes uncompressed; label them as what is written.
    if (strings(meta['00020010'] ?? { vr: 'UI' })[0] === TS.DeflatedExplicitVRLittleEndian) {
      setValues(meta['00020010'] ?? { vr: 'UI' }, [TS.ExplicitVRLittleEndian]);
    }
    dict.dict['00120062'] = { vr: 'CS', Value: ['YES'] }; // Patient Identity Removed
    dict.dict['00120063'] = {
      vr: 'LO',
      Value: [shift === undefined ? 'PS3.15 Basic Profile' : 'PS3.15 Basic Profile, modified dates'],
    };
    dict.dict['00120064'] = {
      vr: 'SQ',
      Value: [
        code('113100', 'Basic Application Confidentiality Profile'),
        ...(shift === undefined
          ? []
          : [code('113107', 'Retain Longitudinal Temporal Information Modified Dates Option')]),
      ],
    };
    dict.dict['00280303'] = { vr: 'CS', Value: [shift === undefined ? 'REMOVED' : 'MODIFIED'] };
    const out = new Uint8Array(dict.write());
    parseDicom(out); // the result must itself parse
    const first = (key: string): string | undefined => strings(dict.dict[key] ?? { vr: 'UI' })[0];
    const result: DeidentifyResult = { bytes: out, warnings };
    const study = first('0020000D');
    const series = first('0020000E');
    if (study) result.studyInstanceUid = study;
    if (series) result.seriesInstanceUid = series;
    if (sop) result.sopInstanceUid = sop;
    return result;
  } catch (err) {
    if (err instanceof ImagingError) throw err;
    throw corrupt('The DICOM file could not be de-identified.', err);
  }
}

function strings(el: DicomJsonElement): string[] {
  return (el.Value ?? []).filter((v): v is string => typeof v === 'string');
}

function setValues(el: DicomJsonElement, values: unknown[]): void {
  el.Value = values;
  delete el._rawValue;
  delete el.InlineBinary;
}
