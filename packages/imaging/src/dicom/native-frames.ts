import { ImagingError } from '../errors.ts';
import type { ProbeLimits } from '../limits.ts';
import { checkDimensions, inflateCap } from '../limits.ts';
import type { PixelArray } from '../pixel/stored.ts';
import { decodeStoredPixels } from './decode.ts';
import { readImagePixelHeader } from './image-header.ts';
import type { ImagePixelHeader } from './image-header.ts';
import { parseDicom } from './parse.ts';
import { Tags } from './tags.ts';
import { SUPPORTED_TRANSFER_SYNTAXES, TS, unsupportedTransferSyntax } from './transfer-syntax.ts';

/**
 * Frames as uncompressed little-endian bytes, as DICOMweb returns them for
 * `application/octet-stream` (PS3.18 8.7.3.5.2, transfer syntax Explicit VR Little Endian).
 */
export interface NativeFrames {
  frames: Uint8Array[];
  /** The photometric interpretation of the returned bytes (decoded colour becomes RGB). */
  photometricInterpretation: string;
  /** False when the bytes are the stored ones as they were; true when a codec produced them. */
  decoded: boolean;
}

/**
 * Returns the requested frames (1-based numbers, PS3.18 10.4.1.1.6). Uncompressed pixel data is
 * returned as stored (byte-swapped from big endian), so it matches the instance's metadata exactly;
 * compressed frames are decoded to their stored values, colour as interleaved RGB.
 */
export async function readNativeFrames(
  bytes: Uint8Array,
  limits: ProbeLimits,
  frameNumbers: readonly number[],
): Promise<NativeFrames> {
  const parsed = parseDicom(bytes, { limits: { maxInflatedBytes: inflateCap(limits, bytes.length) } });
  const ts = SUPPORTED_TRANSFER_SYNTAXES.get(parsed.transferSyntaxUid);
  if (!ts) throw unsupportedTransferSyntax(parsed.transferSyntaxUid);
  const header = readImagePixelHeader(parsed.dataset);
  checkDimensions(header.columns, header.rows, header.frames, limits);
  for (const n of frameNumbers) {
    if (!Number.isInteger(n) || n < 1 || n > header.frames) {
      throw new ImagingError('corrupt', `Frame ${n} does not exist: the instance has ${header.frames} frame(s).`, {
        status: 400,
      });
    }
  }
  const pixelData = parsed.dataset.elements.get(Tags.PixelData);
  if (ts.kind === 'native' && header.bitsAllocated >= 8 && pixelData && !pixelData.fragments) {
    const frameBytes = storedFrameBytes(header);
    const value = parsed.dataset.bytes.subarray(pixelData.offset, pixelData.offset + pixelData.length);
    if (value.length < frameBytes * header.frames) {
      throw new ImagingError(
        'corrupt',
        `The pixel data is truncated: ${value.length} bytes where ${frameBytes * header.frames} are needed.`,
      );
    }
    const swap = parsed.transferSyntaxUid === TS.ExplicitVRBigEndian ? header.bitsAllocated / 8 : 1;
    return {
      frames: frameNumbers.map((n) => toLittleEndian(value.subarray((n - 1) * frameBytes, n * frameBytes), swap)),
      photometricInterpretation: header.photometricInterpretation,
      decoded: false,
    };
  }
  const { stored } = await decodeStoredPixels(bytes, limits);
  const samples = header.rows * header.columns * header.samplesPerPixel;
  return {
    frames: frameNumbers.map((n) => serialise(stored.subarray((n - 1) * samples, n * samples), header.bitsAllocated)),
    photometricInterpretation: header.samplesPerPixel === 3 ? 'RGB' : header.photometricInterpretation,
    decoded: ts.kind !== 'native',
  };
}

/** Bytes of one uncompressed frame (YBR_FULL_422 carries two samples per pixel, PS3.3 C.7.6.3.1.2). */
function storedFrameBytes(h: ImagePixelHeader): number {
  const samples = h.photometricInterpretation === 'YBR_FULL_422' ? 2 : h.samplesPerPixel;
  return h.rows * h.columns * samples * (h.bitsAllocated / 8);
}

function toLittleEndian(bytes: Uint8Array, wordBytes: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  if (wordBytes === 1) return out;
  for (let i = 0; i + wordBytes <= out.length; i += wordBytes) out.subarray(i, i + wordBytes).reverse();
  return out;
}

/** Stored values as little-endian words of Bits Allocated (1-bit: packed, first pixel in bit 0). */
function serialise(values: PixelArray, bitsAllocated: number): Uint8Array {
  if (bitsAllocated === 1) {
    const out = new Uint8Array(Math.ceil(values.length / 8));
    values.forEach((v, i) => {
      if (v) out[i >> 3] = (out[i >> 3] ?? 0) | (1 << (i & 7));
    });
    return out;
  }
  const width = bitsAllocated / 8;
  const out = new Uint8Array(values.length * width);
  const view = new DataView(out.buffer);
  const signed = values instanceof Int8Array || values instanceof Int16Array || values instanceof Int32Array;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] ?? 0;
    if (width === 1) view.setUint8(i, v & 0xff);
    else if (width === 2) view.setUint16(i * 2, signed ? v & 0xffff : v, true);
    else view.setUint32(i * 4, signed ? v >>> 0 : v, true);
  }
  return out;
}
