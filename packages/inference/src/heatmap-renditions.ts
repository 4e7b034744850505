/**
 * The heatmap as it is kept and as it is shown. An analysis keeps the map itself, small
 * (`heatmapGrid`); the two pictures are drawn from it when someone looks (`renderHeatmapRendition`):
 * the grey map (the data) and the colour overlay (for the viewer), resampled to the image's aspect
 * at most HEATMAP_MAX_SIDE pixels on the longest side. The same grid gives the same bytes every time.
 */
import { heatmapToImage, type Heatmap } from './gradcam.ts';
import { renderHeatmapGreyPng, renderHeatmapPng } from './heatmap-png.ts';

// The Grad-CAM grid is 16×16, so 128 px is 8 px per cell, bilinear already; the viewer scales the
// overlay to the image with smoothing.
export const HEATMAP_MAX_SIDE = 128;

/** Maps finer than this a side (occlusion's, on the model's input pixels) are kept resampled to it. */
export const HEATMAP_GRID_MAX_SIDE = 64;

export type HeatmapRenditionKind = 'heatmap' | 'overlay';

export interface HeatmapRenditions {
  heatmapPng: Uint8Array;
  overlayPng: Uint8Array;
}

/**
 * What an analysis keeps of its heatmap: the map as the model made it (Grad-CAM's 16×16 cells,
 * with where the image lies on them), or, when finer than HEATMAP_GRID_MAX_SIDE a side, resampled
 * over the image to that size (occlusion maps vary at the scale of their patches, an eighth of the
 * input, so nothing shown is lost).
 */
export function heatmapGrid(map: Heatmap, image: { width: number; height: number }): Heatmap {
  if (map.width <= HEATMAP_GRID_MAX_SIDE && map.height <= HEATMAP_GRID_MAX_SIDE) return map;
  const { width, height } = fitted(image, HEATMAP_GRID_MAX_SIDE);
  return heatmapToImage(map, width, height);
}

/** One of the two pictures of a kept grid, for an image of this size. */
export async function renderHeatmapRendition(
  grid: Heatmap,
  image: { width: number; height: number },
  kind: HeatmapRenditionKind,
  maxSide = HEATMAP_MAX_SIDE,
): Promise<Uint8Array> {
  const { width, height } = fitted(image, maxSide);
  const sized = heatmapToImage(grid, width, height);
  return (kind === 'heatmap' ? await renderHeatmapGreyPng(sized) : await renderHeatmapPng(sized)).png;
}

/** Both pictures (`scanflow analyze --heatmaps`). */
export async function renderHeatmapRenditions(
  grid: Heatmap,
  image: { width: number; height: number },
  maxSide = HEATMAP_MAX_SIDE,
): Promise<HeatmapRenditions> {
  const { width, height } = fitted(image, maxSide);
  const sized = heatmapToImage(grid, width, height);
  const [grey, overlay] = await Promise.all([renderHeatmapGreyPng(sized), renderHeatmapPng(sized)]);
  return { heatmapPng: grey.png, overlayPng: overlay.png };
}

function fitted(image: { width: number; height: number }, maxSide: number): { width: number; height: number } {
  const scale = Math.min(1, maxSide / Math.max(image.width, image.height));
  return {
    width: Math.max(1, Math.round(image.width * scale)),
    height: Math.max(1, Math.round(image.height * scale)),
  };
}
