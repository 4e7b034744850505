import type { BasicDicomTags } from './dicom/basic-tags.ts';
import { readBasicTags } from './dicom/basic-tags.ts';
import type { ImagePixelHeader } from './dicom/image-header.ts';
import { readImagePixelHeader } from './dicom/image-header.ts';
import type { DicomDataSet } from './dicom/parse.ts';
import { parseDicom } from './dicom/parse.ts';
import { Tags } from './dicom/tags.ts';
import { SUPPORTED_TRANSFER_SYNTAXES, unsupportedTransferSyntax } from './dicom/transfer-syntax.ts';
import { corrupt, emptyFile, ImagingError, unsupportedFormat } from './errors.ts';
import type { ImageFormat } from './format.ts';
import { FORMAT_NAMES, MEDIA_TYPES } from './format.ts';
import type { ProbeLimits } from './limits.ts';
import { checkDimensions, inflateCap } from './limits.ts';
import type { RasterHeader } from './raster/headers.ts';
import { readJpegHeader, readPngHeader, readTiffHeader } from './raster/headers.ts';
import { sniffFormat } from './sniff.ts';

export interface ImageProbe {
  format: ImageFormat;
  mediaType: string;
  width: number;
  height: number;
  frames: number;
  bitsAllocated?: number;
  samplesPerPixel?: number;
  dicom?: BasicDicomTags;
}

export interface ProbeOptions {
  /** The format the sender declared (file name or media type); a mismatch is refused with 415. */
  expectedFormat?: ImageFormat;
}

/** Sniffs the format, refusing unknown content and content that contradicts the declared format. */
export function identify(bytes: Uint8Array, options: ProbeOptions = {}): ImageFormat {
  if (bytes.length === 0) throw emptyFile();
  const format = sniffFormat(bytes);
  if (format === null) {
    throw unsupportedFormat('The content is not a recognised image: expected DICOM, PNG, JPEG or TIFF.');
  }
  const expected = options.expectedFormat;
  if (expected !== undefined && expected !== format) {
    throw unsupportedFormat(
      `The content is a ${FORMAT_NAMES[format]} image, not ${FORMAT_NAMES[expected]} as declared.`,
    );
  }
  return format;
}

/**
 * Reads only headers (PNG IHDR, JPEG SOFn, TIFF first IFD, DICOM data elements) and checks the
 * dimensions against `limits` before any pixel is decoded. Throws ImagingError only.
 */
export function probeImageSync(bytes: Uint8Array, limits: ProbeLimits, options: ProbeOptions = {}): ImageProbe {
  try {
    const format = identify(bytes, options);
    if (format === 'dicom') return probeDicom(bytes, limits);
    const header: RasterHeader =
      format === 'png' ? readPngHeader(bytes) : format === 'jpeg' ? readJpegHeader(bytes) : readTiffHeader(bytes);
    checkDimensions(header.width, header.height, header.frames, limits);
    return {
      format,
      mediaType: MEDIA_TYPES[format],
      width: header.width,
      height: header.height,
      frames: header.frames,
      bitsAllocated: header.bitsPerSample,
      samplesPerPixel: header.samplesPerPixel,
    };
  } catch (err) {
    if (err instanceof ImagingError) throw err;
    throw new ImagingError('corrupt', 'The image header could not be read.', { cause: err });
  }
}

export function probeImage(bytes: Uint8Array, limits: ProbeLimits, options: ProbeOptions = {}): Promise<ImageProbe> {
  try {
    return Promise.resolve(probeImageSync(bytes, limits, options));
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

function probeDicom(bytes: Uint8Array, limits: ProbeLimits): ImageProbe {
  const parsed = parseDicom(bytes, { limits: { maxInflatedBytes: inflateCap(limits, bytes.length) } });
  const header = readImagePixelHeader(parsed.dataset);
  if (!SUPPORTED_TRANSFER_SYNTAXES.has(parsed.transferSyntaxUid)) {
    throw unsupportedTransferSyntax(parsed.transferSyntaxUid);
  }
  checkDimensions(header.columns, header.rows, header.frames, limits);
  checkNativeLength(parsed.dataset, header, parsed.transferSyntaxUid);
  return {
    format: 'dicom',
    mediaType: MEDIA_TYPES.dicom,
    width: header.columns,
    height: header.rows,
    frames: header.frames,
    bitsAllocated: header.bitsAllocated,
    samplesPerPixel: header.samplesPerPixel,
    dicom: readBasicTags(parsed.meta, parsed.dataset, parsed.transferSyntaxUid),
  };
}

/** Uncompressed pixel data must hold every frame the header declares (PS3.5 8.1.1, A.1-A.3). */
function checkNativeLength(ds: DicomDataSet, h: ImagePixelHeader, transferSyntaxUid: string): void {
  if (SUPPORTED_TRANSFER_SYNTAXES.get(transferSyntaxUid)?.kind !== 'native') return;
  const pixelData = ds.elements.get(Tags.PixelData);
  if (!pixelData || pixelData.fragments) return;
  const samples =
    h.rows * h.columns * h.frames * (h.photometricInterpretation === 'YBR_FULL_422' ? 2 : h.samplesPerPixel);
  const needed = Math.ceil((samples * h.bitsAllocated) / 8);
  if (pixelData.length < needed) {
    throw corrupt(
      `The pixel data is truncated: ${pixelData.length} bytes where ${needed} are needed for ${h.frames} frame(s).`,
    );
  }
}
