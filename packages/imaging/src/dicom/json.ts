import type { DicomJsonDataSet, DicomJsonElement } from 'dcmjs';
import { readDicomDict } from '../deid/dcmjs-read.ts';
import { corrupt, ImagingError } from '../errors.ts';
import { parseDicom } from './parse.ts';

/** An attribute of the DICOM JSON Model (PS3.18 annex F.2). */
export interface DicomJsonAttribute {
  vr: string;
  Value?: unknown[];
  InlineBinary?: string;
  BulkDataURI?: string;
}
export type DicomJson = Record<string, DicomJsonAttribute>;

export interface DicomJsonOptions {
  /** Where the pixel data can be fetched (PS3.18 F.2.6 BulkDataURI); without it, pixel data is left out. */
  pixelDataUri?: string;
}

const BINARY_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN']);
const PIXEL_DATA_TAGS = new Set(['7FE00008', '7FE00009', '7FE00010']);
const MAX_DEPTH = 16;

/**
 * The data set of a DICOM file (not its file meta group) in the DICOM JSON Model, as DICOMweb
 * metadata returns it: tags as eight upper-case hex digits, numbers as JSON numbers, person names
 * as objects, binary values inline as base64, pixel data by reference.
 */
export function dicomJson(bytes: Uint8Array, options: DicomJsonOptions = {}): DicomJson {
  const parsed = parseDicom(bytes); // the bounded parser vets the structure first
  const dict = readDicomDict(bytes, parsed);
  try {
    return convert(dict.dict, options, 0);
  } catch (err) {
    if (err instanceof ImagingError) throw err;
    throw corrupt('The DICOM file could not be converted to DICOM JSON.', err);
  }
}

function convert(ds: DicomJsonDataSet, options: DicomJsonOptions, depth: number): DicomJson {
  if (depth > MAX_DEPTH) throw corrupt('The DICOM file nests sequences too deeply.');
  const out: DicomJson = {};
  for (const key of Object.keys(ds).sort()) {
    const el = ds[key];
    if (!el) continue;
    const tag = key.toUpperCase();
    const attribute = convertElement(tag, el, options, depth);
    if (attribute) out[tag] = attribute;
  }
  return out;
}

function convertElement(
  tag: string,
  el: DicomJsonElement,
  options: DicomJsonOptions,
  depth: number,
): DicomJsonAttribute | null {
  const vr = el.vr;
  // PS3.18 F.2.5: an empty value within a multi-valued attribute is null; all empty, no Value.
  const raw = (el.Value ?? []).map((v) => (v === undefined || v === '' ? null : v));
  const values = raw.every((v) => v === null) ? [] : raw;
  if (PIXEL_DATA_TAGS.has(tag)) return options.pixelDataUri ? { vr, BulkDataURI: options.pixelDataUri } : null;
  if (BINARY_VRS.has(vr)) {
    const chunks = values.filter((v): v is ArrayBuffer => v instanceof ArrayBuffer).map((v) => Buffer.from(v));
    const total = Buffer.concat(chunks);
    return total.length > 0 ? { vr, InlineBinary: total.toString('base64') } : { vr };
  }
  if (vr === 'SQ') {
    return values.length > 0
      ? { vr, Value: values.map((item) => convert(item as DicomJsonDataSet, options, depth + 1)) }
      : { vr };
  }
  if (vr === 'AT') {
    // PS3.18 F.2.3: an attribute tag is a string of eight hex digits.
    const tags = values.map((v) =>
      typeof v === 'number'
        ? v.toString(16).padStart(8, '0').toUpperCase()
        : typeof v === 'string'
          ? v.toUpperCase()
          : null,
    );
    return tags.length > 0 ? { vr, Value: tags } : { vr };
  }
  if (vr === 'PN') {
    const names = values.map((v) => (typeof v === 'string' ? { Alphabetic: v } : v));
    return names.length > 0 ? { vr, Value: names } : { vr };
  }
  return values.length > 0 ? { vr, Value: values } : { vr };
}
