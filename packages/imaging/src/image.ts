import type { BasicDicomTags } from './dicom/basic-tags.ts';
import type { ImageFormat } from './format.ts';
import type { ModalityTransform, Voi } from './pixel/lut.ts';
import type { PixelArray } from './pixel/stored.ts';

export type { PixelArray } from './pixel/stored.ts';

/**
 * A decoded image, normalised whatever it came from. `pixels` holds frames × rows × columns ×
 * samples, sample-interleaved:
 * - greyscale: the output of the modality transform (PS3.3 C.11.1: Modality LUT, or rescale slope
 *   and intercept), so CT is in Hounsfield units; integer types when exact, else Float32Array;
 * - colour: RGB (YBR and planar data already converted), in the stored bit depth.
 */
export interface DecodedImage {
  format: ImageFormat;
  mediaType: string;
  width: number;
  height: number;
  frames: number;
  samplesPerPixel: 1 | 3;
  pixels: PixelArray;
  /** Photometric interpretation of `pixels`: MONOCHROME1/2 or RGB. */
  photometricInterpretation: 'MONOCHROME1' | 'MONOCHROME2' | 'RGB';
  /** As written in the source (e.g. YBR_FULL_422), before conversion. */
  sourcePhotometricInterpretation: string;
  /** MONOCHROME1: minimum value is white; renditions invert after the VOI transform (C.7.6.3.1.2). */
  invertForDisplay: boolean;
  bitsAllocated: number;
  bitsStored: number;
  signed: boolean;
  /** The modality transform applied to greyscale pixels (per frame for enhanced multi-frame). */
  modality: ModalityTransform[];
  /** Windows and VOI LUT from the file, per frame (index 0 applies to all when only one). */
  voi: Voi[];
  /** Row and column spacing in mm: Pixel Spacing (0028,0030), else Imager Pixel Spacing (0018,1164). */
  pixelSpacing?: [number, number];
  lossy: boolean;
  dicom?: BasicDicomTags;
}

export function frameLength(image: Pick<DecodedImage, 'width' | 'height' | 'samplesPerPixel'>): number {
  return image.width * image.height * image.samplesPerPixel;
}
