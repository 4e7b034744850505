import { inflateRawSync } from 'node:zlib';
import { corrupt, emptyFile, ImagingError, tooLarge, unsupportedFormat } from '../errors.ts';
import { bareDicomEncoding, hasDicomPreamble } from '../sniff.ts';
import { formatTag, IMPLICIT_SEQUENCE_TAGS, Tags } from './tags.ts';
import { datasetEncoding, TS } from './transfer-syntax.ts';
import { isVrAt, LONG_LENGTH_VRS } from './vr.ts';

/**
 * A bounded DICOM reader (PS3.5 section 7 data sets, PS3.10 section 7 file format). It never trusts
 * a length field: every value must fit inside its parent, nesting depth and element counts are
 * capped, and each step advances by at least one header, so time is linear in the input size.
 */

export interface Fragment {
  offset: number;
  length: number;
}

export interface DicomElement {
  tag: number;
  vr: string;
  /** Offset of the value in the owning data set's `bytes`. */
  offset: number;
  /** Value length in bytes (for undefined-length sequences, the bytes up to the delimiter). */
  length: number;
  items?: DicomDataSet[];
  /** Encapsulated pixel data (PS3.5 A.4): item 0 is the Basic Offset Table, then the fragments. */
  fragments?: Fragment[];
}

export interface DicomDataSet {
  bytes: Uint8Array;
  littleEndian: boolean;
  elements: Map<number, DicomElement>;
}

export interface ParsedDicom {
  meta: DicomDataSet;
  dataset: DicomDataSet;
  /** From the meta group, or inferred for files without one. */
  transferSyntaxUid: string;
  /** True when the file had no meta group and its encoding was inferred. */
  inferredTransferSyntax: boolean;
  /** Byte offset in the input where the data set (or its deflated stream) starts. */
  datasetOffset: number;
}

export interface ParseLimits {
  /** Cap on the inflated size of a deflated data set. */
  maxInflatedBytes: number;
  maxElements: number;
  maxDepth: number;
  maxFragments: number;
}

export const DEFAULT_PARSE_LIMITS: ParseLimits = {
  maxInflatedBytes: 1024 * 1024 * 1024,
  maxElements: 500_000,
  maxDepth: 16,
  maxFragments: 100_000,
};

const UNDEFINED_LENGTH = 0xffffffff;

class Reader {
  readonly view: DataView;
  elementCount = 0;
  fragmentCount = 0;

  constructor(
    readonly bytes: Uint8Array,
    readonly littleEndian: boolean,
    readonly limits: ParseLimits,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  u16(at: number): number {
    return this.view.getUint16(at, this.littleEndian);
  }

  u32(at: number): number {
    return this.view.getUint32(at, this.littleEndian);
  }

  tagAt(at: number): number {
    return ((this.u16(at) << 16) | this.u16(at + 2)) >>> 0;
  }

  need(at: number, n: number, end: number, what: string): void {
    if (at + n > end) {
      throw corrupt(`The DICOM file is truncated or corrupt: ${what} at byte ${at} runs past the end of its data.`);
    }
  }

  count(): void {
    this.elementCount += 1;
    if (this.elementCount > this.limits.maxElements) {
      throw corrupt(`The DICOM file has more than ${this.limits.maxElements} data elements; refusing to parse it.`);
    }
  }

  /**
   * Reads elements from `start` until `end`, or until an Item Delimitation Item when `delimited`
   * (PS3.5 7.5.2). Returns the data set and the offset just after it (after the delimiter).
   */
  dataSet(
    start: number,
    end: number,
    depth: number,
    explicitVr: boolean,
    delimited: boolean,
    stop?: (tag: number) => boolean,
  ): { dataSet: DicomDataSet; next: number } {
    if (depth > this.limits.maxDepth) {
      throw corrupt(`The DICOM file nests sequences deeper than ${this.limits.maxDepth} levels; refusing to parse it.`);
    }
    const elements = new Map<number, DicomElement>();
    const dataSet: DicomDataSet = { bytes: this.bytes, littleEndian: this.littleEndian, elements };
    let pos = start;
    while (pos < end) {
      this.need(pos, 8, end, 'a data element header');
      const t = this.tagAt(pos);
      if (t === Tags.ItemDelimitationItem) {
        if (!delimited) throw corrupt(`The DICOM file has a stray item delimiter at byte ${pos}.`);
        return { dataSet, next: pos + 8 };
      }
      if (t === Tags.SequenceDelimitationItem || t === Tags.Item) {
        throw corrupt(`The DICOM file has a misplaced item or sequence delimiter at byte ${pos}.`);
      }
      if (stop?.(t)) return { dataSet, next: pos };
      this.count();
      let vr: string;
      let length: number;
      let valueStart: number;
      let elementExplicit = explicitVr;
      if (explicitVr) {
        if (!isVrAt(this.bytes, pos + 4)) {
          throw corrupt(
            `The DICOM file has an invalid value representation for element ${formatTag(t)} at byte ${pos}.`,
          );
        }
        vr = String.fromCharCode(this.bytes[pos + 4] ?? 0, this.bytes[pos + 5] ?? 0);
        if (LONG_LENGTH_VRS.has(vr)) {
          this.need(pos, 12, end, `element ${formatTag(t)}`);
          length = this.u32(pos + 8);
          valueStart = pos + 12;
        } else {
          length = this.u16(pos + 6);
          valueStart = pos + 8;
        }
        // An undefined-length UN holds a sequence encoded in implicit VR little endian (PS3.5 6.2.2).
        if (vr === 'UN' && length === UNDEFINED_LENGTH) {
          vr = 'SQ';
          elementExplicit = false;
        }
      } else {
        length = this.u32(pos + 4);
        valueStart = pos + 8;
        vr = length === UNDEFINED_LENGTH || IMPLICIT_SEQUENCE_TAGS.has(t) ? 'SQ' : 'UN';
      }

      if (t === Tags.PixelData && length === UNDEFINED_LENGTH) {
        const { fragments, next } = this.fragments(valueStart, end);
        elements.set(t, {
          tag: t,
          vr: vr === 'SQ' ? 'OB' : vr,
          offset: valueStart,
          length: next - valueStart,
          fragments,
        });
        pos = next;
        continue;
      }
      if (vr === 'SQ') {
        const { items, next } = this.sequence(valueStart, length, end, depth, elementExplicit);
        elements.set(t, { tag: t, vr, offset: valueStart, length: next - valueStart, items });
        pos = next;
        continue;
      }
      if (length === UNDEFINED_LENGTH) {
        throw corrupt(
          `The DICOM file gives element ${formatTag(t)} (${vr}) an undefined length, which only sequences and pixel data may have.`,
        );
      }
      if (valueStart + length > end) {
        throw corrupt(
          `The DICOM file is truncated or has a false length: element ${formatTag(t)} claims ${length} bytes but only ${Math.max(0, end - valueStart)} remain.`,
        );
      }
      elements.set(t, { tag: t, vr, offset: valueStart, length });
      pos = valueStart + length;
    }
    if (delimited) throw corrupt('The DICOM file is truncated: an undefined-length item never ends.');
    return { dataSet, next: pos };
  }

  /** Sequence of items, PS3.5 section 7.5. */
  sequence(
    start: number,
    length: number,
    end: number,
    depth: number,
    explicitVr: boolean,
  ): { items: DicomDataSet[]; next: number } {
    const undefinedLength = length === UNDEFINED_LENGTH;
    const seqEnd = undefinedLength ? end : start + length;
    if (seqEnd > end) {
      throw corrupt(`The DICOM file is truncated or has a false length: a sequence claims ${length} bytes.`);
    }
    const items: DicomDataSet[] = [];
    let pos = start;
    while (pos < seqEnd) {
      this.need(pos, 8, seqEnd, 'a sequence item');
      const t = this.tagAt(pos);
      const itemLength = this.u32(pos + 4);
      if (t === Tags.SequenceDelimitationItem) {
        if (!undefinedLength) throw corrupt(`The DICOM file has a stray sequence delimiter at byte ${pos}.`);
        return { items, next: pos + 8 };
      }
      if (t !== Tags.Item) throw corrupt(`The DICOM file has a malformed sequence item at byte ${pos}.`);
      this.count();
      if (itemLength === UNDEFINED_LENGTH) {
        const { dataSet, next } = this.dataSet(pos + 8, seqEnd, depth + 1, explicitVr, true);
        items.push(dataSet);
        pos = next;
      } else {
        const itemEnd = pos + 8 + itemLength;
        if (itemEnd > seqEnd) {
          throw corrupt(`The DICOM file is truncated or has a false length: an item claims ${itemLength} bytes.`);
        }
        items.push(this.dataSet(pos + 8, itemEnd, depth + 1, explicitVr, false).dataSet);
        pos = itemEnd;
      }
    }
    if (undefinedLength) throw corrupt('The DICOM file is truncated: an undefined-length sequence never ends.');
    return { items, next: pos };
  }

  /** Encapsulated pixel data items, PS3.5 A.4: each item has a defined length. */
  fragments(start: number, end: number): { fragments: Fragment[]; next: number } {
    const fragments: Fragment[] = [];
    let pos = start;
    for (;;) {
      this.need(pos, 8, end, 'an encapsulated pixel data item');
      const t = this.tagAt(pos);
      const length = this.u32(pos + 4);
      if (t === Tags.SequenceDelimitationItem) return { fragments, next: pos + 8 };
      if (t !== Tags.Item) throw corrupt(`The DICOM file has malformed encapsulated pixel data at byte ${pos}.`);
      if (length === UNDEFINED_LENGTH || pos + 8 + length > end) {
        throw corrupt('The DICOM file is truncated or has a false length inside its compressed pixel data.');
      }
      this.fragmentCount += 1;
      if (this.fragmentCount > this.limits.maxFragments) {
        throw corrupt(`The DICOM file has more than ${this.limits.maxFragments} pixel data fragments.`);
      }
      fragments.push({ offset: pos + 8, length });
      pos += 8 + length;
    }
  }
}

/** Where the data set starts and how it is encoded, for a file without a usable meta group. */
function inferEncoding(bytes: Uint8Array, at: number): { uid: string; littleEndian: boolean; explicitVr: boolean } {
  const rest = bytes.subarray(at);
  const order = bareDicomEncoding(rest);
  if (order === 'big') return { uid: TS.ExplicitVRBigEndian, littleEndian: false, explicitVr: true };
  if (isVrAt(rest, 4)) return { uid: TS.ExplicitVRLittleEndian, littleEndian: true, explicitVr: true };
  return { uid: TS.ImplicitVRLittleEndian, littleEndian: true, explicitVr: false };
}

export interface ParseOptions {
  limits?: Partial<ParseLimits>;
  /** Stop before the first top-level element whose tag is >= this (e.g. Pixel Data). */
  untilTag?: number;
}

/**
 * Parses a DICOM Part 10 file (PS3.10 section 7.1: preamble, 'DICM', File Meta Information in
 * explicit VR little endian, then the data set in its transfer syntax), or a bare data set whose
 * encoding is unambiguous. Throws ImagingError only.
 */
export function parseDicom(bytes: Uint8Array, options: ParseOptions = {}): ParsedDicom {
  const limits: ParseLimits = { ...DEFAULT_PARSE_LIMITS, ...options.limits };
  if (bytes.length === 0) throw emptyFile();
  let pos: number;
  if (hasDicomPreamble(bytes)) pos = 132;
  else if (bareDicomEncoding(bytes) !== null) pos = 0;
  else throw unsupportedFormat('The content is not DICOM: it has no DICM prefix and no recognisable data elements.');

  try {
    // File Meta Information: group 0002, always explicit VR little endian (PS3.10 7.1).
    const metaReader = new Reader(bytes, true, limits);
    let metaEnd = pos;
    let meta: DicomDataSet = { bytes, littleEndian: true, elements: new Map() };
    if (bytes.length >= pos + 2 && metaReader.view.getUint16(pos, true) === 0x0002) {
      const parsed = metaReader.dataSet(pos, bytes.length, 0, true, false, (t) => t >>> 16 !== 0x0002);
      meta = parsed.dataSet;
      metaEnd = parsed.next;
    }
    const tsElement = meta.elements.get(Tags.TransferSyntaxUID);
    let uid = tsElement ? readAscii(bytes, tsElement.offset, tsElement.length) : '';
    let inferred = false;
    let littleEndian: boolean;
    let explicitVr: boolean;
    let dataBytes = bytes;
    let dataStart = metaEnd;
    if (uid === '') {
      const guess = inferEncoding(bytes, metaEnd);
      ({ uid, littleEndian, explicitVr } = guess);
      inferred = true;
    } else {
      const enc = datasetEncoding(uid);
      ({ littleEndian, explicitVr } = enc);
      if (enc.deflated) {
        dataBytes = inflate(bytes.subarray(metaEnd), limits.maxInflatedBytes);
        dataStart = 0;
      }
      // Some writers label implicit VR data as explicit; like DCMTK and pydicom, trust the bytes.
      if (explicitVr && littleEndian && dataBytes.length >= dataStart + 8 && !isVrAt(dataBytes, dataStart + 4)) {
        explicitVr = false;
      }
    }
    const reader = new Reader(dataBytes, littleEndian, limits);
    const stopAt = options.untilTag;
    const { dataSet } = reader.dataSet(
      dataStart,
      dataBytes.length,
      0,
      explicitVr,
      false,
      stopAt === undefined ? undefined : (t) => t >= stopAt,
    );
    return { meta, dataset: dataSet, transferSyntaxUid: uid, inferredTransferSyntax: inferred, datasetOffset: metaEnd };
  } catch (err) {
    if (err instanceof ImagingError) throw err;
    throw corrupt('The DICOM file is corrupt and could not be parsed.', err);
  }
}

/** Deflated Explicit VR Little Endian (PS3.5 A.5): raw deflate (RFC 1951) after the meta group. */
function inflate(deflated: Uint8Array, maxBytes: number): Uint8Array {
  try {
    return new Uint8Array(inflateRawSync(deflated, { maxOutputLength: maxBytes }));
  } catch (err) {
    if (err instanceof RangeError) {
      throw tooLarge(`The deflated DICOM data set inflates to more than ${maxBytes} bytes.`);
    }
    throw corrupt('The deflated DICOM data set is corrupt and could not be inflated.', err);
  }
}

/** Text value with trailing NUL and space padding removed (PS3.5 6.2). */
export function readAscii(bytes: Uint8Array, offset: number, length: number): string {
  let end = offset + length;
  while (end > offset && (bytes[end - 1] === 0x00 || bytes[end - 1] === 0x20)) end -= 1;
  let start = offset;
  while (start < end && bytes[start] === 0x20) start += 1;
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i] ?? 0);
  return s;
}
