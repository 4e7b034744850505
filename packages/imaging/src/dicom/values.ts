import type { DicomDataSet, DicomElement } from './parse.ts';
import { readAscii } from './parse.ts';
import { Tags } from './tags.ts';

/**
 * Typed access to element values. Callers ask for the type they expect, so implicit VR files
 * (which carry no VR, PS3.5 A.1) need no full data dictionary.
 */

const utf8 = new TextDecoder('utf-8', { fatal: false });
const latin1 = new TextDecoder('latin1');

/** Character repertoires of PS3.3 C.12.1.1.2 that decode as UTF-8 or Latin-1 here. */
function decoderFor(charset: string): TextDecoder {
  return /ISO_IR 192/.test(charset) ? utf8 : latin1;
}

/** Text value with padding stripped, decoded per Specific Character Set (0008,0005). */
export function getString(ds: DicomDataSet, t: number, charset = ''): string | undefined {
  const el = ds.elements.get(t);
  if (!el) return undefined;
  let end = el.offset + el.length;
  while (end > el.offset && (ds.bytes[end - 1] === 0x00 || ds.bytes[end - 1] === 0x20)) end -= 1;
  const s = decoderFor(charset).decode(ds.bytes.subarray(el.offset, end)).trim();
  return s === '' ? undefined : s;
}

export function getCharset(ds: DicomDataSet): string {
  const el = ds.elements.get(Tags.SpecificCharacterSet);
  return el ? readAscii(ds.bytes, el.offset, el.length) : '';
}

function view(ds: DicomDataSet, el: DicomElement): DataView {
  return new DataView(ds.bytes.buffer, ds.bytes.byteOffset + el.offset, el.length);
}

/** US value (first of several). */
export function getUint16(ds: DicomDataSet, t: number): number | undefined {
  const el = ds.elements.get(t);
  if (!el || el.length < 2) return undefined;
  return view(ds, el).getUint16(0, ds.littleEndian);
}

/** All 16-bit words of a US/SS/OW value, as unsigned. */
export function getUint16Array(ds: DicomDataSet, t: number): number[] | undefined {
  const el = ds.elements.get(t);
  if (!el) return undefined;
  const v = view(ds, el);
  const out: number[] = [];
  for (let i = 0; i + 1 < el.length; i += 2) out.push(v.getUint16(i, ds.littleEndian));
  return out;
}

/** Decimal String / Integer String values (PS3.5 6.2), backslash-separated; NaN entries dropped. */
export function getNumbers(ds: DicomDataSet, t: number): number[] | undefined {
  const el = ds.elements.get(t);
  if (!el || el.length === 0) return undefined;
  const values = readAscii(ds.bytes, el.offset, el.length)
    .split('\\')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number)
    .filter((n) => Number.isFinite(n));
  return values.length > 0 ? values : undefined;
}

export function getNumber(ds: DicomDataSet, t: number): number | undefined {
  return getNumbers(ds, t)?.[0];
}

export function getItems(ds: DicomDataSet, t: number): DicomDataSet[] {
  return ds.elements.get(t)?.items ?? [];
}
