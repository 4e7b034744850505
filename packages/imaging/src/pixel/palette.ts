import type { DicomDataSet } from '../dicom/parse.ts';
import { corrupt, ImagingError } from '../errors.ts';
import { tag } from '../dicom/tags.ts';
import { getUint16Array } from '../dicom/values.ts';
import type { PixelArray } from './stored.ts';

/**
 * PALETTE COLOR, PS3.3 C.7.6.3.1.5 and C.7.9: each stored value indexes three LUTs (red, green,
 * blue), each with a descriptor (entries, first mapped value, 8 or 16 bits, C.7.6.3.1.5) and data.
 * Segmented palettes (C.7.9.2) are refused.
 */
const DESCRIPTORS = [tag(0x0028, 0x1101), tag(0x0028, 0x1102), tag(0x0028, 0x1103)] as const;
const DATA = [tag(0x0028, 0x1201), tag(0x0028, 0x1202), tag(0x0028, 0x1203)] as const;
const SEGMENTED = [tag(0x0028, 0x1221), tag(0x0028, 0x1222), tag(0x0028, 0x1223)] as const;

interface Palette {
  first: number;
  bits: number;
  tables: [Uint16Array, Uint16Array, Uint16Array];
}

export function readPalette(ds: DicomDataSet, signed: boolean): Palette {
  if (SEGMENTED.some((t) => ds.elements.has(t)) && !DATA.every((t) => ds.elements.has(t))) {
    throw new ImagingError(
      'unsupported_format',
      'Segmented palette colour lookup tables (PS3.3 C.7.9.2) are not supported.',
    );
  }
  const tables: Uint16Array[] = [];
  let first = 0;
  let bits = 16;
  for (let c = 0; c < 3; c++) {
    const d = getUint16Array(ds, DESCRIPTORS[c] ?? 0);
    const words = getUint16Array(ds, DATA[c] ?? 0);
    if (!d || d.length < 3 || !words || words.length === 0) {
      throw corrupt('The PALETTE COLOR image lacks its palette lookup tables (0028,1101-1203).');
    }
    const entries = d[0] === 0 ? 65536 : (d[0] ?? 0);
    first = d[1] ?? 0;
    if (signed && first >= 0x8000) first -= 0x10000;
    bits = d[2] === 8 ? 8 : 16;
    let table: Uint16Array;
    if (bits === 8 && words.length * 2 === entries) {
      // Two 8-bit entries packed per 16-bit word.
      table = Uint16Array.from({ length: entries }, (_, i) => ((words[i >> 1] ?? 0) >> ((i & 1) * 8)) & 0xff);
    } else {
      table = Uint16Array.from(words.slice(0, entries));
      // Some writers put 8-bit entries in the high byte of each word.
      if (bits === 8 && table.some((v) => v > 255)) table = table.map((v) => v >> 8);
    }
    tables.push(table);
  }
  return { first, bits, tables: tables as [Uint16Array, Uint16Array, Uint16Array] };
}

/** Maps stored indices to interleaved RGB at the palette's bit depth. */
export function applyPalette(stored: PixelArray, palette: Palette): Uint8Array | Uint16Array {
  const out = palette.bits === 8 ? new Uint8Array(stored.length * 3) : new Uint16Array(stored.length * 3);
  const [r, g, b] = palette.tables;
  for (let i = 0; i < stored.length; i++) {
    const idx = (stored[i] ?? 0) - palette.first;
    const at = (t: Uint16Array): number => t[idx < 0 ? 0 : idx >= t.length ? t.length - 1 : idx] ?? 0;
    out[i * 3] = at(r);
    out[i * 3 + 1] = at(g);
    out[i * 3 + 2] = at(b);
  }
  return out;
}
