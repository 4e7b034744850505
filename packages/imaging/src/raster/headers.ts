import { corrupt, emptyFile, unsupportedFormat } from '../errors.ts';

/** Dimensions read from a raster image's header, without decoding any pixels. */
export interface RasterHeader {
  width: number;
  height: number;
  frames: number;
  bitsPerSample: number;
  samplesPerPixel: number;
}

function dv(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** PNG: IHDR must be the first chunk (PNG specification 11.2.2). */
export function readPngHeader(bytes: Uint8Array): RasterHeader {
  if (bytes.length === 0) throw emptyFile();
  if (bytes.length < 8 + 8 + 13) throw corrupt('The PNG file is truncated: its IHDR header is incomplete.');
  const v = dv(bytes);
  const length = v.getUint32(8);
  const type = String.fromCharCode(...bytes.subarray(12, 16));
  if (type !== 'IHDR' || length !== 13) throw corrupt('The PNG file is corrupt: it does not start with an IHDR chunk.');
  const width = v.getUint32(16);
  const height = v.getUint32(20);
  const bitDepth = v.getUint8(24);
  const colourType = v.getUint8(25);
  if (width === 0 || height === 0 || width > 0x7fffffff || height > 0x7fffffff) {
    throw corrupt(`The PNG file has invalid dimensions ${width}×${height}.`);
  }
  // Allowed bit depths per colour type, PNG specification table 11.1.
  const allowed: Record<number, { depths: number[]; samples: number }> = {
    0: { depths: [1, 2, 4, 8, 16], samples: 1 },
    2: { depths: [8, 16], samples: 3 },
    3: { depths: [1, 2, 4, 8], samples: 3 },
    4: { depths: [8, 16], samples: 2 },
    6: { depths: [8, 16], samples: 4 },
  };
  const rule = allowed[colourType];
  if (!rule || !rule.depths.includes(bitDepth)) {
    throw corrupt(`The PNG file is corrupt: colour type ${colourType} with bit depth ${bitDepth} is not valid.`);
  }
  return { width, height, frames: 1, bitsPerSample: bitDepth, samplesPerPixel: rule.samples };
}

/** Start-of-frame markers, ITU-T T.81 table B.1 (SOF0-SOF15 except DHT C4, JPG C8, DAC CC), and JPEG-LS SOF55 (T.87). */
const SOF_MARKERS = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf, 0xf7]);

/** Finds the first SOFn segment by walking marker segments (T.81 B.1.1). */
export function readJpegHeader(bytes: Uint8Array): RasterHeader & { process: number } {
  if (bytes.length === 0) throw emptyFile();
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) throw unsupportedFormat('The content is not JPEG: no SOI marker.');
  const v = dv(bytes);
  let pos = 2;
  while (pos < bytes.length) {
    if (bytes[pos] !== 0xff) throw corrupt(`The JPEG file is corrupt: expected a marker at byte ${pos}.`);
    // Any number of 0xFF fill bytes may precede a marker (T.81 B.1.1.2).
    while (pos < bytes.length && bytes[pos] === 0xff) pos += 1;
    const marker = bytes[pos];
    if (marker === undefined) break;
    pos += 1;
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue; // no length
    if (marker === 0xd9) break; // EOI before any frame
    if (pos + 2 > bytes.length) break;
    const length = v.getUint16(pos);
    if (length < 2) throw corrupt(`The JPEG file is corrupt: segment length ${length} at byte ${pos}.`);
    if (SOF_MARKERS.has(marker)) {
      if (pos + 8 > bytes.length) break;
      const precision = v.getUint8(pos + 2);
      const height = v.getUint16(pos + 3);
      const width = v.getUint16(pos + 5);
      const components = v.getUint8(pos + 7);
      if (width === 0 || height === 0) {
        // Height 0 defers the line count to a DNL marker (T.81 B.2.5), which decoders rarely support.
        throw corrupt(`The JPEG file has invalid dimensions ${width}×${height}.`);
      }
      if (components === 0 || components > 4 || precision < 2 || precision > 16) {
        throw corrupt(`The JPEG file is corrupt: ${components} components at ${precision}-bit precision.`);
      }
      return {
        width,
        height,
        frames: 1,
        bitsPerSample: precision,
        samplesPerPixel: components,
        process: marker - 0xc0,
      };
    }
    if (marker === 0xda) throw corrupt('The JPEG file is corrupt: scan data starts before any frame header.');
    pos += length;
  }
  throw corrupt('The JPEG file is truncated: no frame header (SOFn) was found.');
}

/** TIFF 6.0 section 2: image file header and the first IFD's baseline tags. */
export function readTiffHeader(bytes: Uint8Array): RasterHeader {
  if (bytes.length === 0) throw emptyFile();
  if (bytes.length < 8) throw corrupt('The TIFF file is truncated: its header is incomplete.');
  const le = bytes[0] === 0x49;
  const v = dv(bytes);
  const ifd = v.getUint32(4, le);
  if (ifd < 8 || ifd + 2 > bytes.length)
    throw corrupt('The TIFF file is truncated or corrupt: its first IFD is outside the file.');
  const count = v.getUint16(ifd, le);
  if (count === 0 || ifd + 2 + count * 12 > bytes.length) {
    throw corrupt('The TIFF file is truncated or corrupt: its first IFD does not fit in the file.');
  }
  const typeSize: Record<number, number> = { 1: 1, 3: 2, 4: 4, 6: 1, 8: 2, 9: 4, 16: 8 };
  const value = (entry: number, index = 0): number | undefined => {
    const type = v.getUint16(entry + 2, le);
    const n = v.getUint32(entry + 4, le);
    const size = typeSize[type];
    if (size === undefined || index >= n) return undefined;
    const inline = size * n <= 4;
    const at = inline ? entry + 8 + index * size : v.getUint32(entry + 8, le) + index * size;
    if (at + size > bytes.length) return undefined;
    if (size === 1) return v.getUint8(at);
    if (size === 2) return v.getUint16(at, le);
    if (size === 4) return v.getUint32(at, le);
    return undefined;
  };
  let width: number | undefined;
  let height: number | undefined;
  let bits = 1; // TIFF default BitsPerSample
  let samples = 1;
  for (let i = 0; i < count; i++) {
    const entry = ifd + 2 + i * 12;
    switch (v.getUint16(entry, le)) {
      case 256:
        width = value(entry);
        break;
      case 257:
        height = value(entry);
        break;
      case 258:
        bits = value(entry) ?? bits;
        break;
      case 277:
        samples = value(entry) ?? samples;
        break;
      default:
        break;
    }
  }
  if (width === undefined || height === undefined || width === 0 || height === 0) {
    throw corrupt('The TIFF file is corrupt: its first image has no valid width and height.');
  }
  if (samples < 1 || samples > 8 || bits < 1 || bits > 64) {
    throw corrupt(`The TIFF file is corrupt: ${samples} samples of ${bits} bits per pixel.`);
  }
  return { width, height, frames: 1, bitsPerSample: bits, samplesPerPixel: samples };
}
