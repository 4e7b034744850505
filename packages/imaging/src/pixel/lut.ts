import type { DicomDataSet } from '../dicom/parse.ts';
import { Tags } from '../dicom/tags.ts';
import { getItems, getNumber, getNumbers, getString, getUint16Array } from '../dicom/values.ts';

/** A lookup table as described by LUT Descriptor (0028,3002), PS3.3 C.11.1.1.1. */
export interface Lut {
  firstMapped: number;
  bits: number;
  data: Uint16Array;
}

/**
 * LUT Descriptor: entries (0 means 65536), first stored value mapped (US or SS depending on the
 * pixel representation, C.11.1.1.1) and bits per entry; LUT Data (0028,3006) follows.
 */
export function readLut(item: DicomDataSet, signedInput: boolean): Lut | undefined {
  const descriptor = getUint16Array(item, Tags.LUTDescriptor);
  const words = getUint16Array(item, Tags.LUTData);
  if (!descriptor || descriptor.length < 3 || !words) return undefined;
  const entries = descriptor[0] === 0 ? 65536 : (descriptor[0] ?? 0);
  let firstMapped = descriptor[1] ?? 0;
  if (signedInput && firstMapped >= 0x8000) firstMapped -= 0x10000;
  let bits = descriptor[2] ?? 16;
  if (bits < 1 || bits > 16) bits = 16;
  let data = Uint16Array.from(words);
  // 8-bit entries may be packed two per word (C.11.1.1.1 note); unpack when the count says so.
  if (bits <= 8 && data.length * 2 === entries) {
    data = Uint16Array.from({ length: entries }, (_, i) => ((words[i >> 1] ?? 0) >> ((i & 1) * 8)) & 0xff);
  }
  if (data.length === 0) return undefined;
  if (data.length > entries) data = data.slice(0, entries);
  return { firstMapped, bits, data };
}

export function applyLut(lut: Lut, value: number): number {
  const i = value - lut.firstMapped;
  const last = lut.data.length - 1;
  return lut.data[i < 0 ? 0 : i > last ? last : i] ?? 0;
}

/** Modality LUT module, C.11.1: either a LUT, or Rescale Slope and Intercept (default 1 and 0). */
export interface ModalityTransform {
  slope: number;
  intercept: number;
  rescaleType?: string;
  lut?: Lut;
}

export function readModalityTransform(sources: readonly DicomDataSet[], signedInput: boolean): ModalityTransform {
  for (const ds of sources) {
    const lutItem = getItems(ds, Tags.ModalityLUTSequence)[0];
    if (lutItem) {
      const lut = readLut(lutItem, signedInput);
      if (lut) return { slope: 1, intercept: 0, lut };
    }
    const pvt = getItems(ds, Tags.PixelValueTransformationSequence)[0];
    const holder = pvt ?? ds;
    const slope = getNumber(holder, Tags.RescaleSlope);
    const intercept = getNumber(holder, Tags.RescaleIntercept);
    if (slope !== undefined || intercept !== undefined) {
      const rescaleType = getString(holder, Tags.RescaleType);
      return {
        slope: slope === undefined || slope === 0 ? 1 : slope,
        intercept: intercept ?? 0,
        ...(rescaleType ? { rescaleType } : {}),
      };
    }
  }
  return { slope: 1, intercept: 0 };
}

export type VoiFunction = 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID';

export interface Window {
  center: number;
  width: number;
}

/** VOI LUT module, C.11.2: windows (0028,1050/1051) with their function, or a VOI LUT. */
export interface Voi {
  windows: Window[];
  function: VoiFunction;
  lut?: Lut;
}

export function readVoi(sources: readonly DicomDataSet[]): Voi {
  for (const ds of sources) {
    const holder = getItems(ds, Tags.FrameVOILUTSequence)[0] ?? ds;
    const centers = getNumbers(holder, Tags.WindowCenter) ?? [];
    const widths = getNumbers(holder, Tags.WindowWidth) ?? [];
    const fn = getString(holder, Tags.VOILUTFunction)?.toUpperCase();
    const windows: Window[] = [];
    for (let i = 0; i < Math.min(centers.length, widths.length); i++) {
      const width = widths[i] ?? 0;
      // Window Width shall be >= 1 for LINEAR (C.11.2.1.2.1) and > 0 otherwise.
      if (width > 0) windows.push({ center: centers[i] ?? 0, width });
    }
    const lutItem = getItems(ds, Tags.VOILUTSequence)[0];
    const lut = lutItem ? readLut(lutItem, false) : undefined;
    if (windows.length > 0 || lut) {
      return {
        windows,
        function: fn === 'SIGMOID' || fn === 'LINEAR_EXACT' ? fn : 'LINEAR',
        ...(lut ? { lut } : {}),
      };
    }
  }
  return { windows: [], function: 'LINEAR' };
}

/**
 * Maps a value through a window to 0..1, C.11.2.1.2: LINEAR (C.11.2.1.2.1), LINEAR_EXACT
 * (C.11.3.2) and SIGMOID (C.11.2.1.3.1).
 */
export function windowFunction(w: Window, fn: VoiFunction): (x: number) => number {
  const { center: c, width } = w;
  if (fn === 'SIGMOID') return (x) => 1 / (1 + Math.exp((-4 * (x - c)) / width));
  if (fn === 'LINEAR_EXACT') {
    const lo = c - width / 2;
    return (x) => (x <= lo ? 0 : x > c + width / 2 ? 1 : (x - lo) / width);
  }
  const wm1 = Math.max(width - 1, 1e-9);
  const lo = c - 0.5 - (width - 1) / 2;
  const hi = c - 0.5 + (width - 1) / 2;
  return (x) => (x <= lo ? 0 : x > hi ? 1 : (x - (c - 0.5)) / wm1 + 0.5);
}
