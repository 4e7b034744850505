import type { ImageFormat } from './format.ts';
import { isVrAt, LONG_LENGTH_VRS } from './dicom/vr.ts';

/** PNG signature, PNG specification section 5.2. */
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] as const;

function startsWith(bytes: Uint8Array, prefix: readonly number[], at = 0): boolean {
  if (bytes.length < at + prefix.length) return false;
  return prefix.every((b, i) => bytes[at + i] === b);
}

/** 'DICM' at byte 128, after the 128-byte preamble (PS3.10 section 7.1). */
export function hasDicomPreamble(bytes: Uint8Array): boolean {
  return startsWith(bytes, [0x44, 0x49, 0x43, 0x4d], 128);
}

interface ElementHeader {
  group: number;
  element: number;
  next: number;
}

/**
 * Reads one little-endian data element header at `offset` as explicit VR (when a valid VR follows the
 * tag) or implicit VR, and returns where the next element starts; null when it is implausible.
 */
function plausibleElementAt(bytes: Uint8Array, offset: number, le: boolean): ElementHeader | null {
  if (bytes.length < offset + 8) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const group = view.getUint16(offset, le);
  const element = view.getUint16(offset + 2, le);
  if (isVrAt(bytes, offset + 4)) {
    const vr = String.fromCharCode(bytes[offset + 4] ?? 0, bytes[offset + 5] ?? 0);
    if (LONG_LENGTH_VRS.has(vr)) {
      if (bytes.length < offset + 12) return null;
      if (view.getUint16(offset + 6, le) !== 0) return null; // reserved bytes, PS3.5 7.1.2
      const length = view.getUint32(offset + 8, le);
      if (length === 0xffffffff) return vr === 'SQ' || vr === 'UN' ? { group, element, next: -1 } : null;
      return { group, element, next: offset + 12 + length };
    }
    return { group, element, next: offset + 8 + view.getUint16(offset + 6, le) };
  }
  // Implicit VR exists only in little endian (PS3.5 A.1); big endian is always explicit.
  if (!le) return null;
  const length = view.getUint32(offset + 4, true);
  if (length === 0xffffffff) return { group, element, next: -1 };
  // Implicit VR: only short values are plausible at the start of a header.
  if (length > 1024) return null;
  return { group, element, next: offset + 8 + length };
}

/**
 * DICOM written without the 128-byte preamble and 'DICM' prefix (a bare data set, or a meta group
 * with no preamble) is recognised only when it is unambiguous: it starts with a File Meta (0002,xxxx)
 * or Identifying (0008,xxxx) element, and the element after it is plausible too and in ascending order.
 */
export function looksLikeBareDicom(bytes: Uint8Array): boolean {
  return bareDicomEncoding(bytes) !== null;
}

/** Byte order of a bare DICOM stream that `looksLikeBareDicom` accepts, else null. */
export function bareDicomEncoding(bytes: Uint8Array): 'little' | 'big' | null {
  if (plausibleBareStart(bytes, true)) return 'little';
  if (plausibleBareStart(bytes, false)) return 'big';
  return null;
}

function plausibleBareStart(bytes: Uint8Array, le: boolean): boolean {
  const first = plausibleElementAt(bytes, 0, le);
  if (first === null) return false;
  if (first.group !== 0x0002 && first.group !== 0x0008) return false;
  if (first.element > 0x1fff) return false;
  if (first.next === -1) return false;
  if (first.next > bytes.length) return false;
  if (first.next === bytes.length) return bytes.length >= 12;
  const second = plausibleElementAt(bytes, first.next, le);
  if (second === null) return false;
  const firstTag = first.group * 0x10000 + first.element;
  const secondTag = second.group * 0x10000 + second.element;
  return secondTag > firstTag && second.group <= 0x7fe0;
}

/** Identifies the container by its leading bytes only; it never decodes anything. */
export function sniffFormat(bytes: Uint8Array): ImageFormat | null {
  // First, because the 128-byte preamble may itself hold a TIFF header (PS3.10 7.5, dual-personality files).
  if (hasDicomPreamble(bytes)) return 'dicom';
  if (startsWith(bytes, PNG_SIGNATURE)) return 'png';
  // JPEG: SOI marker followed by the start of another marker (ITU-T T.81 B.1.1.3).
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  // TIFF 6.0 section 2: byte order 'II' or 'MM' then 42.
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) return 'tiff';
  if (looksLikeBareDicom(bytes)) return 'dicom';
  return null;
}
