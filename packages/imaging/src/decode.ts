import { decodeDicom } from './dicom/decode.ts';
import { ImagingError } from './errors.ts';
import type { DecodedImage } from './image.ts';
import type { ProbeLimits } from './limits.ts';
import type { ProbeOptions } from './probe.ts';
import { identify, probeImageSync } from './probe.ts';
import { readJpegHeader, readPngHeader, readTiffHeader } from './raster/headers.ts';
import { decodeRaster } from './raster/decode.ts';

export type DecodeLimits = ProbeLimits;

export interface DecodeOptions extends ProbeOptions {
  /**
   * The caller hands the bytes over and will not read them again: uncompressed pixel data may then
   * be decoded where it lies, the pixels a view of the same memory, instead of into a copy (8 MB
   * allocated, copied and later collected for a 2048² radiograph). A decode worker owns every
   * buffer it is sent, so it always may.
   */
  consumeBytes?: boolean;
}

/**
 * Decodes any supported image to a DecodedImage. Headers are checked against `limits` first, so
 * no decoder ever sees an over-sized image. Throws ImagingError only.
 */
export async function decodeImage(
  bytes: Uint8Array,
  limits: DecodeLimits,
  options: DecodeOptions = {},
): Promise<DecodedImage> {
  try {
    const format = identify(bytes, options);
    if (format === 'dicom') return await decodeDicom(bytes, limits, { consumeBytes: options.consumeBytes === true });
    probeImageSync(bytes, limits);
    const header =
      format === 'png' ? readPngHeader(bytes) : format === 'jpeg' ? readJpegHeader(bytes) : readTiffHeader(bytes);
    return await decodeRaster(bytes, format, header, limits);
  } catch (err) {
    if (err instanceof ImagingError) throw err;
    throw new ImagingError('corrupt', 'The image could not be decoded.', { cause: err });
  }
}
