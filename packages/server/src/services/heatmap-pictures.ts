/**
 * A run's heatmap pictures, the grey map (the data) and the colour overlay (for the viewer). An
 * analysis keeps its map as a small grid and the pictures are drawn from it when someone looks
 * (a couple of milliseconds, the same bytes each time) rather than drawn and stored for every
 * scan in the pre-read, where they cost more than the model's own run. Runs recorded before that
 * have the pictures stored, and are served from them.
 */
import { renderHeatmapRendition, type Heatmap, type HeatmapRenditionKind } from '@scanflow/inference';
import type { AppContext } from '../context.ts';
import type { AnalysisRow, HeatmapGridJson } from '../repositories/analyses.ts';

export type HeatmapPicture = HeatmapRenditionKind;

/** The grid as an analysis keeps it (JSON: the values as a plain array). */
export function heatmapGridJson(map: Heatmap): HeatmapGridJson {
  return {
    label: map.label,
    width: map.width,
    height: map.height,
    values: Array.from(map.values),
    ...(map.imageRegion ? { imageRegion: map.imageRegion } : {}),
  };
}

/** The picture of a run for an image of this size; null when the run has no heatmap. */
export async function heatmapPicture(
  ctx: AppContext,
  run: Pick<AnalysisRow, 'heatmap_sha256' | 'overlay_sha256' | 'heatmap_grid'>,
  kind: HeatmapPicture,
  image: { width: number; height: number },
): Promise<Buffer | null> {
  const stored = kind === 'heatmap' ? run.heatmap_sha256 : run.overlay_sha256;
  if (stored) return ctx.blobs.get(stored);
  const grid = run.heatmap_grid;
  if (!grid) return null;
  return Buffer.from(await renderHeatmapRendition({ ...grid, values: Float32Array.from(grid.values) }, image, kind));
}
