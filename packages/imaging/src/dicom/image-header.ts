import { corrupt, unsupportedFormat } from '../errors.ts';
import type { DicomDataSet } from './parse.ts';
import { Tags } from './tags.ts';
import { getNumber, getString, getUint16 } from './values.ts';

/** Image Pixel module attributes, PS3.3 C.7.6.3, validated against C.7.6.3.1. */
export interface ImagePixelHeader {
  rows: number;
  columns: number;
  frames: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  pixelRepresentation: 0 | 1;
  photometricInterpretation: string;
  planarConfiguration: 0 | 1;
}

export function readImagePixelHeader(ds: DicomDataSet): ImagePixelHeader {
  const rows = getUint16(ds, Tags.Rows);
  const columns = getUint16(ds, Tags.Columns);
  if (!ds.elements.has(Tags.PixelData)) {
    throw unsupportedFormat(
      'The DICOM file has no Pixel Data (7FE0,0010): it is not an image (perhaps a report or plan).',
    );
  }
  if (rows === undefined || columns === undefined || rows === 0 || columns === 0) {
    throw corrupt('The DICOM image has no valid Rows (0028,0010) and Columns (0028,0011).');
  }
  const framesValue = getNumber(ds, Tags.NumberOfFrames);
  const frames = framesValue === undefined ? 1 : framesValue;
  if (!Number.isInteger(frames) || frames < 1) {
    throw corrupt(`The DICOM image has an invalid Number of Frames (0028,0008): ${framesValue}.`);
  }
  const samplesPerPixel = getUint16(ds, Tags.SamplesPerPixel) ?? 1;
  if (samplesPerPixel !== 1 && samplesPerPixel !== 3) {
    throw corrupt(
      `The DICOM image has ${samplesPerPixel} samples per pixel; only 1 or 3 are defined (PS3.3 C.7.6.3.1.1).`,
    );
  }
  const bitsAllocated = getUint16(ds, Tags.BitsAllocated);
  if (bitsAllocated === undefined || ![1, 8, 16, 32].includes(bitsAllocated)) {
    throw corrupt(`The DICOM image has an unsupported Bits Allocated (0028,0100): ${bitsAllocated ?? 'missing'}.`);
  }
  const bitsStoredRaw = getUint16(ds, Tags.BitsStored) ?? bitsAllocated;
  const bitsStored = bitsStoredRaw === 0 || bitsStoredRaw > bitsAllocated ? bitsAllocated : bitsStoredRaw;
  const highBitRaw = getUint16(ds, Tags.HighBit);
  const highBit = highBitRaw === undefined || highBitRaw >= bitsAllocated ? bitsStored - 1 : highBitRaw;
  const pixelRepresentation = getUint16(ds, Tags.PixelRepresentation) === 1 ? 1 : 0;
  const photometricInterpretation =
    getString(ds, Tags.PhotometricInterpretation)?.toUpperCase() ?? (samplesPerPixel === 3 ? 'RGB' : 'MONOCHROME2');
  const planarConfiguration = samplesPerPixel > 1 && getUint16(ds, Tags.PlanarConfiguration) === 1 ? 1 : 0;
  return {
    rows,
    columns,
    frames,
    samplesPerPixel,
    bitsAllocated,
    bitsStored,
    highBit,
    pixelRepresentation,
    photometricInterpretation,
    planarConfiguration,
  };
}
