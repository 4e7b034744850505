import { describe, expect, it } from 'vitest';
import { gradcam, heatmapToImage, normalise, parseClassifier, peakLocation, regionOnGrid } from './gradcam.ts';

/** Features [1, 3, 8, 8]: channel 0 hot at (x 5, y 2), channel 1 hot at (1, 6), channel 2 flat. */
function features(): { data: Float32Array; dims: number[] } {
  const K = 3;
  const h = 8;
  const w = 8;
  const data = new Float32Array(K * h * w);
  data[0 * 64 + 2 * 8 + 5] = 4;
  data[0 * 64 + 2 * 8 + 4] = 1;
  data[1 * 64 + 6 * 8 + 1] = 9;
  data.fill(0.5, 2 * 64, 3 * 64);
  return { data, dims: [1, K, h, w] };
}

describe('gradcam', () => {
  it('weighs the feature maps, applies ReLU and normalises to 0..1 (pointing game on a hot spot)', () => {
    const { data, dims } = features();
    // Label reads channel 0 positively and channel 1 negatively: the channel-1 spot must vanish.
    const map = gradcam(data, dims, [1, -1, 0], 'a');
    expect(map).toMatchObject({ label: 'a', width: 8, height: 8 });
    expect(peakLocation(map)).toEqual({ x: 5, y: 2, value: 1 });
    expect(map.values[2 * 8 + 4]).toBeCloseTo(0.25, 6);
    expect(map.values[6 * 8 + 1]).toBe(0); // negative evidence, ReLU
    expect(Math.min(...map.values)).toBe(0);
    // The other label looks at channel 1.
    expect(peakLocation(gradcam(data, dims, [0, 1, 0], 'b'))).toMatchObject({ x: 1, y: 6 });
  });

  it('leaves a map without positive evidence at zero', () => {
    const { data, dims } = features();
    const map = gradcam(data, dims, [-1, -1, -1], 'a');
    expect(map.values.every((v) => v === 0)).toBe(true);
    expect(Array.from(normalise(new Float32Array([0, 0])))).toEqual([0, 0]);
  });

  it('refuses weights that do not fit the features', () => {
    const { data, dims } = features();
    expect(() => gradcam(data, dims, [1, 2], 'a')).toThrow(/do not fit 2 classifier weights/);
  });
});

describe('heatmapToImage', () => {
  it('puts the peak where the hot cell lies on the image', () => {
    const { data, dims } = features();
    const up = heatmapToImage(gradcam(data, dims, [1, 0, 0], 'a'), 160, 80);
    expect(up).toMatchObject({ width: 160, height: 80 });
    const peak = peakLocation(up);
    // Cell (5, 2) of 8x8 covers x 100..120, y 20..30 of a 160x80 image.
    expect(peak.x).toBeGreaterThanOrEqual(100);
    expect(peak.x).toBeLessThan(120);
    expect(peak.y).toBeGreaterThanOrEqual(20);
    expect(peak.y).toBeLessThan(30);
    expect(Math.max(...up.values)).toBeLessThanOrEqual(1);
  });

  it('interpolates bilinearly between cell centres and reproduces a grid of the same size', () => {
    const map = { label: 'a', width: 2, height: 1, values: new Float32Array([0, 1]) };
    expect(Array.from(heatmapToImage(map, 4, 1).values)).toEqual([0, 0.25, 0.75, 1]);
    expect(Array.from(heatmapToImage(map, 2, 1).values)).toEqual([0, 1]);
  });

  it('crops letterbox bands: only the image region of the grid is resampled', () => {
    // 4x4 grid, image in rows 1..2 (letterboxed wide image); band rows hot, image rows cold-to-hot.
    const values = new Float32Array([1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1, 1]);
    const region = regionOnGrid({ top: 32, left: 0, height: 64, width: 128 }, 128, 128, 4, 4);
    expect(region).toEqual({ top: 1, left: 0, height: 2, width: 4 });
    const up = heatmapToImage({ label: 'a', width: 4, height: 4, values, imageRegion: region }, 4, 2);
    expect(Array.from(up.values)).toEqual([0, 0, 0, 1, 0, 0, 0, 1]);
  });
});

describe('parseClassifier', () => {
  it('accepts matching labels and checks shapes', () => {
    const c = parseClassifier(
      {
        labels: ['a', 'b'],
        weight: [
          [1, 2],
          [3, 4],
        ],
        bias: [0, 1],
      },
      ['a', 'b'],
      2,
    );
    expect(Array.from(c.weight[1]!)).toEqual([3, 4]);
    expect(() => parseClassifier({ labels: ['b', 'a'], weight: [[1], [2]] }, ['a', 'b'], 2)).toThrow(
      /labels: \[b, a\] differ from the manifest's \[a, b\]; weight\[0\]: has 1 values, the features have 2 channels/,
    );
  });
});
