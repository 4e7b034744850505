import { decodeRleFrame } from '../codecs/rle.ts';
import { codestreamSize } from '../codecs/codestream.ts';
import { jpegColourSpace } from '../codecs/jpeg-colour.ts';
import { decodeWithWasm } from '../codecs/wasm.ts';
import { corrupt, ImagingError } from '../errors.ts';
import { MEDIA_TYPES } from '../format.ts';
import type { DecodedImage } from '../image.ts';
import type { ProbeLimits } from '../limits.ts';
import { checkDimensions, inflateCap } from '../limits.ts';
import { expand422, planarToInterleaved, ybrFullToRgb, ybrPartialToRgb } from '../pixel/colour.ts';
import type { ModalityTransform } from '../pixel/lut.ts';
import { applyLut, readModalityTransform, readVoi } from '../pixel/lut.ts';
import { applyPalette, readPalette } from '../pixel/palette.ts';
import type { PixelArray, StoredLayout } from '../pixel/stored.ts';
import { allocateStored, readBits, readStored, readStoredInPlace } from '../pixel/stored.ts';
import { readBasicTags } from './basic-tags.ts';
import { encapsulatedFrames } from './frames.ts';
import type { ImagePixelHeader } from './image-header.ts';
import { readImagePixelHeader } from './image-header.ts';
import type { DicomDataSet, ParsedDicom } from './parse.ts';
import { parseDicom } from './parse.ts';
import { Tags } from './tags.ts';
import type { TransferSyntaxInfo } from './transfer-syntax.ts';
import { SUPPORTED_TRANSFER_SYNTAXES, unsupportedTransferSyntax } from './transfer-syntax.ts';
import { getItems, getNumbers } from './values.ts';

const GREY = new Set(['MONOCHROME1', 'MONOCHROME2', 'PALETTE COLOR']);
const COLOUR = new Set(['RGB', 'YBR_FULL', 'YBR_FULL_422', 'YBR_PARTIAL_422', 'YBR_PARTIAL_420', 'YBR_ICT', 'YBR_RCT']);

/** The stored pixel values of every frame, before any LUT, with what they were read from. */
export interface StoredPixels {
  parsed: ParsedDicom;
  header: ImagePixelHeader;
  transferSyntax: TransferSyntaxInfo;
  /** Frames × rows × columns × samples; colour already converted to interleaved RGB. */
  stored: PixelArray;
}

/**
 * Checks the header against the limits and decodes every frame to its stored values (PS3.5
 * transfer syntaxes). `decodeDicom` builds on it; DICOMweb frame retrieval returns these values.
 */
export async function decodeStoredPixels(
  bytes: Uint8Array,
  limits: ProbeLimits,
  { consumeBytes = false }: { consumeBytes?: boolean } = {},
): Promise<StoredPixels> {
  const parsed = parseDicom(bytes, { limits: { maxInflatedBytes: inflateCap(limits, bytes.length) } });
  const ds = parsed.dataset;
  const header = readImagePixelHeader(ds);
  const ts = SUPPORTED_TRANSFER_SYNTAXES.get(parsed.transferSyntaxUid);
  if (!ts) throw unsupportedTransferSyntax(parsed.transferSyntaxUid);
  checkDimensions(header.columns, header.rows, header.frames, limits);
  const pi = header.photometricInterpretation;
  if (header.samplesPerPixel === 1 && !GREY.has(pi)) {
    throw new ImagingError(
      'unsupported_format',
      `Photometric interpretation ${pi} is not supported (PS3.3 C.7.6.3.1.2).`,
    );
  }
  if (header.samplesPerPixel === 3 && !COLOUR.has(pi)) {
    throw new ImagingError(
      'unsupported_format',
      `Photometric interpretation ${pi} is not supported for colour images.`,
    );
  }
  if (header.samplesPerPixel === 3 && header.pixelRepresentation === 1) {
    throw corrupt('Colour pixel data cannot be signed (PS3.3 C.7.6.3.1.2).');
  }
  if (header.bitsAllocated === 1 && (ts.kind !== 'native' || header.samplesPerPixel !== 1)) {
    throw corrupt('1-bit pixel data is only valid uncompressed and greyscale.');
  }

  const deadline = limits.maxMillis === undefined ? Infinity : performance.now() + limits.maxMillis;
  return { parsed, header, transferSyntax: ts, stored: await decodeStored(ds, header, ts, deadline, consumeBytes) };
}

/**
 * Decodes a DICOM image (PS3.5 transfer syntaxes, PS3.3 C.7.6.3 Image Pixel module). With
 * `consumeBytes`, uncompressed pixels may be decoded in place (see DecodeOptions).
 */
export async function decodeDicom(
  bytes: Uint8Array,
  limits: ProbeLimits,
  options: { consumeBytes?: boolean } = {},
): Promise<DecodedImage> {
  const { parsed, header, transferSyntax: ts, stored } = await decodeStoredPixels(bytes, limits, options);
  const ds = parsed.dataset;
  const pi = header.photometricInterpretation;
  const palette = pi === 'PALETTE COLOR' ? readPalette(ds, header.pixelRepresentation === 1) : undefined;
  const colour = header.samplesPerPixel === 3 || palette !== undefined;
  const perFrame = getItems(ds, Tags.PerFrameFunctionalGroupsSequence);
  const shared = getItems(ds, Tags.SharedFunctionalGroupsSequence)[0];
  const sourcesFor = (frame: number): DicomDataSet[] =>
    [perFrame[frame], shared, ds].filter((s): s is DicomDataSet => s !== undefined);

  const modality: ModalityTransform[] = [];
  const voi = [];
  const frameCountForMeta = perFrame.length === header.frames ? header.frames : 1;
  for (let f = 0; f < frameCountForMeta; f++) {
    modality.push(
      colour ? { slope: 1, intercept: 0 } : readModalityTransform(sourcesFor(f), header.pixelRepresentation === 1),
    );
    voi.push(readVoi(sourcesFor(f)));
  }
  const pixels = palette ? applyPalette(stored, palette) : colour ? stored : applyModality(stored, header, modality);
  const spacing = readSpacing(sourcesFor(0));

  return {
    format: 'dicom',
    mediaType: MEDIA_TYPES.dicom,
    width: header.columns,
    height: header.rows,
    frames: header.frames,
    samplesPerPixel: colour ? 3 : 1,
    pixels,
    photometricInterpretation: colour ? 'RGB' : pi === 'MONOCHROME1' ? 'MONOCHROME1' : 'MONOCHROME2',
    sourcePhotometricInterpretation: pi,
    invertForDisplay: pi === 'MONOCHROME1',
    bitsAllocated: palette ? palette.bits : header.bitsAllocated,
    bitsStored: palette ? palette.bits : header.bitsStored,
    signed: header.pixelRepresentation === 1 && !palette,
    modality,
    voi,
    ...(spacing ? { pixelSpacing: spacing } : {}),
    lossy: ts.lossy,
    dicom: readBasicTags(parsed.meta, ds, parsed.transferSyntaxUid),
  };
}

function readSpacing(sources: readonly DicomDataSet[]): [number, number] | undefined {
  for (const ds of sources) {
    const holder = getItems(ds, Tags.PixelMeasuresSequence)[0] ?? ds;
    const v = getNumbers(holder, Tags.PixelSpacing) ?? getNumbers(holder, Tags.ImagerPixelSpacing);
    if (v && v.length >= 2 && (v[0] ?? 0) > 0 && (v[1] ?? 0) > 0) return [v[0] ?? 0, v[1] ?? 0];
  }
  return undefined;
}

/** Stored values of every frame, colour converted to interleaved RGB. */
async function decodeStored(
  ds: DicomDataSet,
  h: ImagePixelHeader,
  ts: TransferSyntaxInfo,
  deadline: number,
  consumeBytes: boolean,
): Promise<PixelArray> {
  const pixelsPerFrame = h.rows * h.columns;
  const samplesPerFrame = pixelsPerFrame * h.samplesPerPixel;
  const layout: StoredLayout = {
    bitsAllocated: h.bitsAllocated,
    bitsStored: h.bitsStored,
    highBit: h.highBit,
    signed: h.pixelRepresentation === 1,
  };
  const pixelData = ds.elements.get(Tags.PixelData);
  if (!pixelData) throw corrupt('The DICOM file has no Pixel Data.');
  const pi = h.photometricInterpretation;

  if (ts.kind === 'native') {
    if (pixelData.fragments) throw corrupt('The pixel data is encapsulated but the transfer syntax is uncompressed.');
    let value = ds.bytes.subarray(pixelData.offset, pixelData.offset + pixelData.length);
    const samples = samplesPerFrame * h.frames;
    if (consumeBytes && h.samplesPerPixel === 1) {
      const inPlace = readStoredInPlace(value, ds.littleEndian, layout, samples);
      if (inPlace) return inPlace;
    }
    // OW is a stream of 16-bit words (PS3.5 6.2), so in big endian 8-bit or 1-bit samples held in
    // OW arrive with each byte pair swapped; undo that before reading bytes in order.
    if (!ds.littleEndian && pixelData.vr === 'OW' && h.bitsAllocated <= 8) value = swapPairs(value);
    const out = allocateStored(samples, layout);
    if (h.bitsAllocated === 1) {
      readBits(value, 0, samples, out as Uint8Array, 0);
      return out;
    }
    const bytesPerSample = h.bitsAllocated / 8;
    // Native YBR_FULL_422 carries 2 samples per pixel on the wire (C.7.6.3.1.2).
    const wireSamples = pi === 'YBR_FULL_422' ? pixelsPerFrame * 2 : samplesPerFrame;
    const needed = wireSamples * bytesPerSample * h.frames;
    if (value.length < needed) {
      throw corrupt(
        `The pixel data is truncated: ${value.length} bytes where ${needed} are needed for ${h.frames} frame(s).`,
      );
    }
    for (let f = 0; f < h.frames; f++) {
      const src = value.subarray(f * wireSamples * bytesPerSample, (f + 1) * wireSamples * bytesPerSample);
      if (pi === 'YBR_FULL_422') {
        const tmp = allocateStored(wireSamples, layout);
        readStored(src, ds.littleEndian, layout, wireSamples, tmp, 0);
        expand422(tmp, h.rows, h.columns, out, f * samplesPerFrame);
      } else {
        readStored(src, ds.littleEndian, layout, samplesPerFrame, out, f * samplesPerFrame);
        if (h.samplesPerPixel === 3 && h.planarConfiguration === 1) {
          planarToInterleaved(out.subarray(f * samplesPerFrame, (f + 1) * samplesPerFrame), pixelsPerFrame);
        }
      }
      toRgb(out.subarray(f * samplesPerFrame, (f + 1) * samplesPerFrame), pi, pixelsPerFrame, h.bitsStored);
    }
    return out;
  }

  if (!pixelData.fragments) throw corrupt(`The transfer syntax ${ts.name} requires encapsulated pixel data.`);
  const out = allocateStored(samplesPerFrame * h.frames, layout);
  const frames = encapsulatedFrames(ds, pixelData.fragments, h.frames, ts.kind !== 'rle');
  for (let f = 0; f < h.frames; f++) {
    if (performance.now() > deadline) {
      throw new ImagingError(
        'too_large',
        `Decoding took longer than allowed (stopped at frame ${f + 1} of ${h.frames}).`,
      );
    }
    const encoded = frames[f];
    if (!encoded) throw corrupt(`Frame ${f + 1} is missing from the compressed pixel data.`);
    let decoded: Uint8Array;
    let decodedPi = pi;
    if (ts.kind === 'rle') {
      decoded = decodeRleFrame(encoded, h.rows, h.columns, h.samplesPerPixel, h.bitsAllocated);
      if (pi === 'YBR_FULL_422') decodedPi = 'YBR_FULL'; // RLE stores full-resolution chroma
    } else {
      let size: ReturnType<typeof codestreamSize>;
      try {
        size = codestreamSize(ts.kind, encoded);
      } catch (err) {
        // The file claims this syntax, so a frame that is not such a codestream is corrupt (422).
        const reason = err instanceof Error ? err.message : String(err);
        throw corrupt(`Frame ${f + 1} is not a valid ${ts.name} codestream: ${reason}`, err);
      }
      if (size.components !== h.samplesPerPixel) {
        throw corrupt(
          `Frame ${f + 1} has ${size.components} components in its codestream but ${h.samplesPerPixel} samples per pixel in the DICOM header.`,
        );
      }
      if (size.width !== h.columns || size.height !== h.rows) {
        throw corrupt(
          `Frame ${f + 1} is ${size.width}×${size.height} in its codestream but ${h.columns}×${h.rows} in the DICOM header.`,
        );
      }
      // Codecs return the codestream's components unconverted. Lossy JPEG colour is converted
      // here from YCbCr when the codestream says so (jpeg-colour.ts, PS3.5 8.2.1); lossless JPEG
      // and JPEG-LS carry the photometric interpretation as is. JPEG 2000 and HTJ2K decoders undo
      // the ICT/RCT component transform themselves (PS3.5 8.2.4, 8.2.8), so they give RGB.
      decoded = await decodeWithWasm(ts.kind, encoded, h);
      if (ts.kind === 'jpeg' && ts.lossy && h.samplesPerPixel === 3) {
        const space = jpegColourSpace(encoded);
        decodedPi = space === 'ycbcr' || (space === 'unknown' && pi.startsWith('YBR')) ? 'YBR_FULL' : 'RGB';
      } else if (ts.kind === 'jpeg2000' || ts.kind === 'htj2k') {
        decodedPi = 'RGB';
      }
    }
    const bytesPerSample = Math.ceil(h.bitsAllocated / 8);
    if (decoded.length < samplesPerFrame * bytesPerSample) {
      throw corrupt(
        `Frame ${f + 1} decoded to ${decoded.length} bytes; ${samplesPerFrame * bytesPerSample} were expected.`,
      );
    }
    readStored(decoded, true, layout, samplesPerFrame, out, f * samplesPerFrame);
    toRgb(out.subarray(f * samplesPerFrame, (f + 1) * samplesPerFrame), decodedPi, pixelsPerFrame, h.bitsStored);
  }
  return out;
}

function toRgb(frame: PixelArray, pi: string, pixels: number, bits: number): void {
  if (pi === 'YBR_FULL' || pi === 'YBR_FULL_422') ybrFullToRgb(frame, pixels, bits);
  else if (pi === 'YBR_PARTIAL_422' || pi === 'YBR_PARTIAL_420') ybrPartialToRgb(frame, pixels, bits);
}

/** Modality transform, PS3.3 C.11.1, into the narrowest array that holds the result exactly. */
function applyModality(stored: PixelArray, h: ImagePixelHeader, transforms: ModalityTransform[]): PixelArray {
  if (transforms.every((t) => !t.lut && t.slope === 1 && t.intercept === 0)) return stored;
  const integral = transforms.every((t) => t.lut || (Number.isInteger(t.slope) && Number.isInteger(t.intercept)));
  const out = integral ? new Int32Array(stored.length) : new Float32Array(stored.length);
  const perFrame = h.rows * h.columns;
  for (let f = 0; f < h.frames; f++) {
    const t = transforms[transforms.length === 1 ? 0 : f] ?? { slope: 1, intercept: 0 };
    const start = f * perFrame;
    const end = start + perFrame;
    if (t.lut) {
      const lut = t.lut;
      for (let i = start; i < end; i++) out[i] = applyLut(lut, stored[i] ?? 0);
    } else {
      for (let i = start; i < end; i++) out[i] = (stored[i] ?? 0) * t.slope + t.intercept;
    }
  }
  return out;
}

function swapPairs(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i + 1 < bytes.length; i += 2) {
    out[i] = bytes[i + 1] ?? 0;
    out[i + 1] = bytes[i] ?? 0;
  }
  if (bytes.length % 2) out[bytes.length - 1] = bytes[bytes.length - 1] ?? 0;
  return out;
}
