import sharp from 'sharp';
import { corrupt, ImagingError } from '../errors.ts';
import type { ImageFormat } from '../format.ts';
import { MEDIA_TYPES } from '../format.ts';
import type { DecodedImage } from '../image.ts';
import type { ProbeLimits } from '../limits.ts';
import type { Voi } from '../pixel/lut.ts';
import type { RasterHeader } from './headers.ts';

/**
 * PNG, JPEG and TIFF through sharp (libvips), first page only. Greyscale stays one channel at its
 * bit depth (8 or 16; sharp would otherwise widen 16-bit grey to three channels); colour becomes
 * 8-bit sRGB. EXIF orientation is applied. Alpha is dropped.
 */
export async function decodeRaster(
  bytes: Uint8Array,
  format: Exclude<ImageFormat, 'dicom'>,
  header: RasterHeader,
  limits: ProbeLimits,
): Promise<DecodedImage> {
  let grey = header.samplesPerPixel <= 2;
  const sixteen = header.bitsPerSample > 8;
  try {
    const base = sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: 'error', sequentialRead: true }).rotate();
    const { data, info } = grey
      ? await base
          .extractChannel(0)
          .toColourspace(sixteen ? 'grey16' : 'b-w')
          .raw(sixteen ? { depth: 'ushort' } : {})
          .toBuffer({ resolveWithObject: true })
      : await base.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    const channels = info.channels;
    if ((grey && channels !== 1) || (!grey && channels !== 3)) {
      throw corrupt(`The ${format.toUpperCase()} image decoded to ${channels} channels unexpectedly.`);
    }
    let pixels: Uint8Array | Uint16Array =
      sixteen && grey
        ? new Uint16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength))
        : new Uint8Array(data);
    // Radiographs are often saved as RGB with three equal channels: keep them as greyscale.
    if (!grey && isGreyRgb(pixels)) {
      pixels = firstOfThree(pixels);
      grey = true;
    }
    const bits = sixteen && grey ? 16 : 8;
    // 8-bit images are display images already: their identity window (centre 128, width 256 maps x to x).
    const voi: Voi =
      bits === 8 ? { windows: [{ center: 128, width: 256 }], function: 'LINEAR' } : { windows: [], function: 'LINEAR' };
    return {
      format,
      mediaType: MEDIA_TYPES[format],
      width: info.width,
      height: info.height,
      frames: 1,
      samplesPerPixel: grey ? 1 : 3,
      pixels,
      photometricInterpretation: grey ? 'MONOCHROME2' : 'RGB',
      sourcePhotometricInterpretation: grey ? 'MONOCHROME2' : 'RGB',
      invertForDisplay: false,
      bitsAllocated: bits,
      bitsStored: bits,
      signed: false,
      modality: [{ slope: 1, intercept: 0 }],
      voi: [voi],
      lossy: format === 'jpeg',
    };
  } catch (err) {
    if (err instanceof ImagingError) throw err;
    const message = err instanceof Error ? err.message.split('\n')[0] : '';
    if (message?.includes('pixel limit')) {
      throw new ImagingError('too_large', `The ${format.toUpperCase()} image has more pixels than allowed.`);
    }
    throw corrupt(`The ${format.toUpperCase()} image is corrupt or truncated${message ? `: ${message}` : ''}.`, err);
  }
}

function isGreyRgb(rgb: Uint8Array | Uint16Array): boolean {
  for (let i = 0; i + 2 < rgb.length; i += 3) {
    if (rgb[i] !== rgb[i + 1] || rgb[i] !== rgb[i + 2]) return false;
  }
  return true;
}

/** Every third sample (the red of RGB), in a plain loop: TypedArray.filter's callback per sample cost ~80 ms at 1024². */
function firstOfThree(rgb: Uint8Array | Uint16Array): Uint8Array | Uint16Array {
  const out = rgb instanceof Uint16Array ? new Uint16Array(rgb.length / 3) : new Uint8Array(rgb.length / 3);
  for (let i = 0, j = 0; j < out.length; i += 3, j++) out[j] = rgb[i]!;
  return out;
}
