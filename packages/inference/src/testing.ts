/** Test helpers shared by this package's unit tests (not exported from the package). */
import type { DecodedImage } from '@scanflow/imaging';
import type { ModelManifest } from './manifest.ts';

/** A small, valid manifest: two labels a and b, a 32×32 single-channel input. A fresh copy each call. */
export function validManifest(): ModelManifest {
  return {
    name: 'tiny',
    version: '0.0.1',
    task: 'multi-label',
    labels: [
      { id: 'a', display: 'Finding A', urgency: 1, threshold: 0.5 },
      { id: 'b', display: 'Finding B', urgency: 0.5, threshold: 0.4 },
    ],
    input: { name: 'image', shape: [1, 1, 32, 32], channels: 1, layout: 'NCHW', dtype: 'float32' },
    preprocessing: {
      intensity: 'dicom-window-or-percentile',
      percentiles: [1, 99],
      resize: 'stretch',
      size: [32, 32],
      interpolation: 'area',
      normalisation: { mean: 0.5, std: 0.25 },
    },
    outputs: { logits: 'logits', features: 'features', embedding: 'embedding' },
    activation: 'sigmoid',
    gradcam: { method: 'gradcam-linear-head', classifier: 'classifier.json' },
    uncertainThreshold: 0.75,
    priority: { weights: { a: 1, b: 0.5 }, highThreshold: 0.85 },
  };
}

/** A DecodedImage as @scanflow/imaging would produce it, for pure-function tests. */
export function decodedImage(options: {
  width: number;
  height: number;
  pixels: DecodedImage['pixels'];
  samplesPerPixel?: 1 | 3;
  format?: DecodedImage['format'];
  monochrome1?: boolean;
  window?: { center: number; width: number };
}): DecodedImage {
  const spp = options.samplesPerPixel ?? 1;
  const photometric = spp === 3 ? 'RGB' : options.monochrome1 ? 'MONOCHROME1' : 'MONOCHROME2';
  return {
    format: options.format ?? (options.window ? 'dicom' : 'png'),
    mediaType: options.window ? 'application/dicom' : 'image/png',
    width: options.width,
    height: options.height,
    frames: 1,
    samplesPerPixel: spp,
    pixels: options.pixels,
    photometricInterpretation: photometric,
    sourcePhotometricInterpretation: photometric,
    invertForDisplay: photometric === 'MONOCHROME1',
    bitsAllocated: 16,
    bitsStored: 12,
    signed: false,
    modality: [{ slope: 1, intercept: 0 }],
    voi: [{ windows: options.window ? [options.window] : [], function: 'LINEAR' }],
    lossy: false,
  };
}
