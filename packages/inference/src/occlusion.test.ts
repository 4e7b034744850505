import { describe, expect, it } from 'vitest';
import { peakLocation } from './gradcam.ts';
import { occlusionMap } from './occlusion.ts';

describe('occlusionMap', () => {
  // A stand-in "model": the probability is the mean of the input inside a lesion box, so covering
  // the box (with a fill of 0) lowers it and covering anything else does not.
  const H = 32;
  const W = 32;
  const box = { x0: 20, x1: 26, y0: 4, y1: 10 };
  const input = new Float32Array(H * W).fill(0.2);
  for (let y = box.y0; y < box.y1; y++) for (let x = box.x0; x < box.x1; x++) input[y * W + x] = 1;
  let calls = 0;
  const predict = async (x: Float32Array, n: number) => {
    calls += 1;
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let y = box.y0; y < box.y1; y++) for (let xx = box.x0; xx < box.x1; xx++) s += x[i * H * W + y * W + xx]!;
      out.push(s / 36);
    }
    return out;
  };

  it('peaks on the region whose occlusion lowers the probability (pointing game)', async () => {
    calls = 0;
    const map = await occlusionMap(input, [1, 1, H, W], predict, 'a', { patch: 6, stride: 3, fill: 0, batch: 16 });
    expect(map).toMatchObject({ label: 'a', width: W, height: H });
    const peak = peakLocation(map);
    expect(peak.value).toBe(1);
    expect(peak.x >= box.x0 && peak.x < box.x1 && peak.y >= box.y0 && peak.y < box.y1).toBe(true);
    expect(map.values[30 * W + 2]).toBe(0); // far from the lesion: no drop
    // 10 x 10 patch positions (the last flush with the edge) in batches of 16, plus the baseline.
    expect(calls).toBe(1 + Math.ceil(100 / 16));
  });

  it('defaults to a patch of 1/8 of the side, one input per call', async () => {
    calls = 0;
    const map = await occlusionMap(input, [1, 1, H, W], predict, 'a', { fill: 0 });
    expect(peakLocation(map).value).toBe(1);
    expect(calls).toBe(1 + 15 * 15);
  });
});
