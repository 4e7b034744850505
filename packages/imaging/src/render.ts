import sharp from 'sharp';
import { ImagingError } from './errors.ts';
import type { DecodedImage } from './image.ts';
import { frameLength } from './image.ts';
import type { Voi, Window } from './pixel/lut.ts';
import { applyLut, windowFunction } from './pixel/lut.ts';

export interface RenderOptions {
  /** Zero-based frame index; default 0. */
  frame?: number;
  /** Override the window; both must be given. */
  windowCenter?: number;
  windowWidth?: number;
  /** Longest side of the output in pixels (thumbnail); never enlarges. */
  maxSize?: number;
}

export interface DisplayRendition {
  png: Uint8Array;
  width: number;
  height: number;
  /** The window used (absent when a VOI LUT or a colour image needed none). */
  window?: Window;
  windowSource: 'request' | 'file' | 'voi-lut' | 'automatic' | 'none';
}

/**
 * Robust automatic window: the 1st to 99th percentile of the frame's values (so a few outliers,
 * such as padding or collimator edges, do not flatten the contrast).
 */
export function automaticWindow(values: ArrayLike<number>, start: number, end: number): Window {
  const n = end - start;
  const step = Math.max(1, Math.floor(n / 65536));
  const sample: number[] = [];
  for (let i = start; i < end; i += step) sample.push(values[i] ?? 0);
  sample.sort((a, b) => a - b);
  const at = (q: number): number =>
    sample[Math.min(sample.length - 1, Math.max(0, Math.floor(q * (sample.length - 1))))] ?? 0;
  let lo = at(0.01);
  let hi = at(0.99);
  if (hi <= lo) {
    lo = sample[0] ?? 0;
    hi = sample[sample.length - 1] ?? 0;
  }
  if (hi <= lo) hi = lo + 1;
  // LINEAR (C.11.2.1.2.1) maps [c - 0.5 - (w-1)/2, c - 0.5 + (w-1)/2] onto the output range.
  return { center: (lo + hi) / 2 + 0.5, width: hi - lo + 1 };
}

/** 8-bit greyscale or RGB pixels of one frame for display (VOI transform, then MONOCHROME1 inversion). */
export function displayPixels(
  image: DecodedImage,
  options: RenderOptions = {},
): { data: Uint8Array; channels: 1 | 3; window?: Window; windowSource: DisplayRendition['windowSource'] } {
  const frame = options.frame ?? 0;
  if (!Number.isInteger(frame) || frame < 0 || frame >= image.frames) {
    throw new ImagingError('corrupt', `Frame ${frame} does not exist; the image has ${image.frames} frame(s).`, {
      status: 400,
    });
  }
  const len = frameLength(image);
  const start = frame * len;
  const src = image.pixels;
  const data = new Uint8Array(len);
  if (image.samplesPerPixel === 3) {
    const shift = Math.max(0, image.bitsStored - 8);
    const scale = 2 ** shift;
    for (let i = 0; i < len; i++) data[i] = Math.min(255, Math.floor((src[start + i] ?? 0) / scale));
    return { data, channels: 3, windowSource: 'none' };
  }
  const voi: Voi = image.voi[image.voi.length === 1 ? 0 : frame] ?? { windows: [], function: 'LINEAR' };
  let window: Window | undefined;
  let source: DisplayRendition['windowSource'];
  let map: (x: number) => number;
  if (options.windowCenter !== undefined && options.windowWidth !== undefined && options.windowWidth > 0) {
    window = { center: options.windowCenter, width: options.windowWidth };
    source = 'request';
    map = windowFunction(window, voi.function);
  } else if (voi.windows[0]) {
    window = voi.windows[0];
    source = 'file';
    map = windowFunction(window, voi.function);
  } else if (voi.lut) {
    // VOI LUT (C.11.2.1.1): output range is 0..2^bits-1 of the LUT.
    const lut = voi.lut;
    const max = 2 ** lut.bits - 1;
    source = 'voi-lut';
    map = (x) => applyLut(lut, Math.round(x)) / max;
  } else {
    window = automaticWindow(src, start, start + len);
    source = 'automatic';
    map = windowFunction(window, 'LINEAR');
  }
  const invert = image.invertForDisplay;
  const toByte = (x: number): number => {
    const y = Math.round(map(x) * 255);
    return invert ? 255 - y : y;
  };
  // Integer pixels: evaluate the VOI function once per distinct value through a lookup table.
  let lo = Infinity;
  let hi = -Infinity;
  if (!(src instanceof Float32Array)) {
    for (let i = start; i < start + len; i++) {
      const v = src[i] ?? 0;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (hi >= lo && hi - lo <= 1 << 20) {
    const table = new Uint8Array(hi - lo + 1);
    for (let v = lo; v <= hi; v++) table[v - lo] = toByte(v);
    for (let i = 0; i < len; i++) data[i] = table[(src[start + i] ?? 0) - lo] ?? 0;
  } else {
    for (let i = 0; i < len; i++) data[i] = toByte(src[start + i] ?? 0);
  }
  return { data, channels: 1, ...(window ? { window } : {}), windowSource: source };
}

/** An 8-bit PNG rendition of one frame, at full size or as a thumbnail (`maxSize`). */
export async function renderDisplayPng(image: DecodedImage, options: RenderOptions = {}): Promise<DisplayRendition> {
  const { data, channels, window, windowSource } = displayPixels(image, options);
  let pipeline = sharp(data, { raw: { width: image.width, height: image.height, channels } });
  if (options.maxSize !== undefined) {
    pipeline = pipeline.resize({
      width: options.maxSize,
      height: options.maxSize,
      fit: 'inside',
      withoutEnlargement: true,
    });
  }
  const { data: png, info } = await pipeline
    .toColourspace(channels === 1 ? 'b-w' : 'srgb')
    .png({ compressionLevel: 6 })
    .toBuffer({ resolveWithObject: true });
  return {
    png: new Uint8Array(png),
    width: info.width,
    height: info.height,
    ...(window ? { window } : {}),
    windowSource,
  };
}

/** A rendition re-encoded as JPEG, for clients that ask for image/jpeg (DICOMweb rendered resources). */
export async function renditionAsJpeg(png: Uint8Array, quality = 90): Promise<Uint8Array> {
  return new Uint8Array(await sharp(png).jpeg({ quality }).toBuffer());
}
