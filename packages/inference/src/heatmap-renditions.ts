/**
 * The two stored renditions of an analysis's heatmap: the grey map (the data) and the colour
 * overlay (for the viewer), resampled once from the model's grid to the image's aspect at most
 * `maxSide` pixels on its longest side.
 */
import { heatmapToImage, type Heatmap } from './gradcam.ts';
import { renderHeatmapGreyPng, renderHeatmapPng } from './heatmap-png.ts';

export interface HeatmapRenditions {
  heatmapPng: Uint8Array;
  overlayPng: Uint8Array;
}

export async function renderHeatmapRenditions(
  heatmap: Heatmap,
  image: { width: number; height: number },
  maxSide: number,
): Promise<HeatmapRenditions> {
  const scale = Math.min(1, maxSide / Math.max(image.width, image.height));
  const sized = heatmapToImage(
    heatmap,
    Math.max(1, Math.round(image.width * scale)),
    Math.max(1, Math.round(image.height * scale)),
  );
  // Both encoded here, one after the other (a small PNG encoder over node:zlib; under a millisecond each).
  const [grey, overlay] = await Promise.all([renderHeatmapGreyPng(sized), renderHeatmapPng(sized)]);
  return { heatmapPng: grey.png, overlayPng: overlay.png };
}
