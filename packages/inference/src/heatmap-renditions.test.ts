import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { heatmapToImage, type Heatmap } from './gradcam.ts';
import { HEATMAP_GRID_MAX_SIDE, heatmapGrid, renderHeatmapRendition } from './heatmap-renditions.ts';

/** A map with one hot spot at (x, y) of a width × height grid, the image on part of it. */
function hotSpot(width: number, height: number, x: number, y: number, imageRegion?: Heatmap['imageRegion']): Heatmap {
  const values = new Float32Array(width * height);
  for (let i = 0; i < values.length; i++) {
    values[i] = Math.max(0, 1 - Math.hypot((i % width) - x, Math.floor(i / width) - y) / (width / 8));
  }
  return { label: 'nodule', width, height, values, ...(imageRegion ? { imageRegion } : {}) };
}

describe('heatmap grids and their pictures', () => {
  it('keeps a Grad-CAM grid as the model made it', () => {
    const map = hotSpot(16, 16, 4, 5, { top: 2, left: 0, height: 12, width: 16 });
    expect(heatmapGrid(map, { width: 2048, height: 1536 })).toBe(map);
  });

  it('keeps a finer map (occlusion, on input pixels) resampled over the image, the hot spot where it was', () => {
    const map = hotSpot(256, 256, 64, 160, { top: 32, left: 0, height: 192, width: 256 });
    const grid = heatmapGrid(map, { width: 2048, height: 1536 });
    expect([grid.width, grid.height, grid.imageRegion]).toEqual([HEATMAP_GRID_MAX_SIDE, 48, undefined]);
    // The same picture, drawn from the grid or from the full map.
    const fromGrid = heatmapToImage(grid, 128, 96);
    const fromMap = heatmapToImage(map, 128, 96);
    const peak = (v: Float32Array) => v.indexOf(Math.max(...v));
    const [gx, gy] = [peak(fromGrid.values) % 128, Math.floor(peak(fromGrid.values) / 128)];
    const [mx, my] = [peak(fromMap.values) % 128, Math.floor(peak(fromMap.values) / 128)];
    expect(Math.hypot(gx - mx, gy - my)).toBeLessThanOrEqual(2);
  });

  it('draws the grey map and the colour overlay at the image aspect, at most 128 px, the same bytes each time', async () => {
    const grid = hotSpot(16, 16, 4, 5);
    const image = { width: 2048, height: 1024 };
    const grey = await renderHeatmapRendition(grid, image, 'heatmap');
    const overlay = await renderHeatmapRendition(grid, image, 'overlay');
    const [g, o] = await Promise.all([sharp(grey).metadata(), sharp(overlay).metadata()]);
    expect([g.width, g.height, g.channels]).toEqual([128, 64, 1]);
    expect([o.width, o.height, o.channels]).toEqual([128, 64, 4]);
    expect(Buffer.from(await renderHeatmapRendition(grid, image, 'overlay')).equals(Buffer.from(overlay))).toBe(true);
  });
});
