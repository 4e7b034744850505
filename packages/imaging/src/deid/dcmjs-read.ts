import type { DicomDict } from 'dcmjs';
import dcmjs from 'dcmjs';
import type { ParsedDicom } from '../dicom/parse.ts';
import { corrupt } from '../errors.ts';
import { normalisePart10 } from './part10.ts';

/**
 * Reads a file that the bounded parser has already vetted into dcmjs's data dictionary (DICOM JSON
 * keyed by tag), for the code that rewrites or re-encodes whole data sets: de-identification and
 * DICOMweb metadata.
 */
export function readDicomDict(bytes: Uint8Array, parsed: ParsedDicom): DicomDict {
  // dcmjs logs recoverable oddities (e.g. implicit VR 'ox' pixel data, through its validation
  // logger); quiet both for this call only, as they are shared with other users of dcmjs.
  const loggers = [dcmjs.log, dcmjs.log.getLogger('validation.dcmjs')];
  const previousLevels = loggers.map((l) => l.getLevel());
  try {
    for (const l of loggers) l.setLevel('silent');
    const normalised = normalisePart10(bytes, parsed);
    const buffer = new ArrayBuffer(normalised.length);
    new Uint8Array(buffer).set(normalised);
    return dcmjs.data.DicomMessage.readFile(buffer);
  } catch (err) {
    throw corrupt('The DICOM file could not be read.', err);
  } finally {
    loggers.forEach((l, i) => l.setLevel(previousLevels[i] ?? 'warn'));
  }
}
