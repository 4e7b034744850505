import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { areaResize, percentileGrid, percentileOf, placeRegion, preprocess } from './preprocess.ts';
import type { DecodedImage } from '@scanflow/imaging';
import { decodedImage, validManifest } from './testing.ts';

interface FixtureCase {
  name: string;
  pixels: number[];
  percentiles: [number, number];
  samplesPerPixel?: 1 | 3;
  monochrome1?: boolean;
  window?: { center: number; width: number };
  resize?: 'letterbox';
  region?: { top: number; left: number; height: number; width: number };
  expected: number[];
}
const fixture = JSON.parse(readFileSync(new URL('./fixtures/preprocess-fixture.json', import.meta.url), 'utf8')) as {
  width: number;
  height: number;
  size: [number, number];
  normalisation: { mean: number; std: number };
  cases: FixtureCase[];
};

function manifestFor(c: FixtureCase) {
  const m = validManifest();
  m.preprocessing.size = fixture.size;
  m.input.shape = [1, 1, fixture.size[0], fixture.size[1]];
  m.preprocessing.percentiles = c.percentiles;
  m.preprocessing.normalisation = fixture.normalisation;
  if (c.resize) m.preprocessing.resize = c.resize;
  return m;
}

describe('preprocess matches the training code (training/evaluate.py server_pipeline)', () => {
  for (const c of fixture.cases) {
    it(c.name, () => {
      const spp = c.samplesPerPixel ?? 1;
      const image = decodedImage({
        width: fixture.width,
        height: fixture.height,
        // 12-bit grey as DICOM would give it; colour as 8-bit RGB.
        pixels: spp === 3 ? Uint8Array.from(c.pixels) : Uint16Array.from(c.pixels),
        samplesPerPixel: spp,
        ...(c.monochrome1 ? { monochrome1: true } : {}),
        ...(c.window ? { window: c.window } : {}),
      });
      const out = preprocess(image, manifestFor(c));
      expect(out.dims).toEqual([1, 1, ...fixture.size]);
      expect(out.intensity.source).toBe(c.window ? 'dicom-window' : 'percentile');
      if (c.region) expect(out.region).toEqual(c.region);
      let worst = 0;
      c.expected.forEach((e, i) => (worst = Math.max(worst, Math.abs((out.data[i] ?? NaN) - e))));
      expect(worst).toBeLessThan(1e-5);
    });
  }

  it('gives the same result for float pixels (quickselect) as for integer pixels (histogram)', () => {
    const c = fixture.cases[1]!;
    const ints = decodedImage({ width: fixture.width, height: fixture.height, pixels: Uint16Array.from(c.pixels) });
    const floats = { ...ints, pixels: Float32Array.from(c.pixels) };
    const m = manifestFor(c);
    expect(Array.from(preprocess(floats, m).data)).toEqual(Array.from(preprocess(ints, m).data));
    const mono1 = { ...floats, photometricInterpretation: 'MONOCHROME1' as const };
    const mono1Ints = { ...ints, photometricInterpretation: 'MONOCHROME1' as const };
    expect(Array.from(preprocess(mono1, m).data)).toEqual(Array.from(preprocess(mono1Ints, m).data));
  });
});

describe('preprocess details', () => {
  it('ignores the display window the imaging package gives 8-bit PNGs (only a DICOM window counts)', () => {
    const pixels = Uint8Array.from({ length: 64 * 64 }, (_, i) => 50 + (i % 100));
    const m = validManifest();
    const png = decodedImage({ width: 64, height: 64, pixels, format: 'png' });
    png.voi = [{ windows: [{ center: 128, width: 256 }], function: 'LINEAR' }];
    expect(preprocess(png, m).intensity.source).toBe('percentile');
    const dcm = { ...png, format: 'dicom' as const };
    expect(preprocess(dcm, m).intensity).toEqual({ source: 'dicom-window', low: 0, high: 256 });
    m.preprocessing.intensity = 'percentile';
    expect(preprocess(dcm, m).intensity.source).toBe('percentile');
  });

  it('maps a constant image to 0 rather than NaN, and repeats grey into 3 channels', () => {
    const m = validManifest();
    m.input.channels = 3;
    m.input.shape = [1, 3, 32, 32];
    const out = preprocess(decodedImage({ width: 5, height: 7, pixels: new Uint16Array(35).fill(9) }), m);
    expect(out.dims).toEqual([1, 3, 32, 32]);
    expect(new Set(out.data)).toEqual(new Set([(0 - 0.5) / 0.25]));
  });

  it('rejects an image with too few samples', () => {
    expect(() => preprocess(decodedImage({ width: 4, height: 4, pixels: new Uint8Array(3) }), validManifest())).toThrow(
      /3 samples where 16/,
    );
  });

  it('percentile interpolates like numpy', () => {
    // numpy.percentile([1, 2, 3, 4], [0, 10, 50, 99, 100]) = [1, 1.3, 2.5, 3.97, 4]
    const v = [4, 1, 3, 2];
    expect([0, 10, 50, 99, 100].map((p) => percentileOf(v, p))).toEqual(
      [1, 1.3, 2.5, 3.97, 4].map((x) => expect.closeTo(x, 10)),
    );
  });

  it('area resize averages exact blocks for integer factors', () => {
    // 4x4 -> 2x2: each output is the mean of a 2x2 block.
    const img = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
    expect(Array.from(areaResize(4, 4, 2, 2, (i) => img[i]!))).toEqual([3.5, 5.5, 11.5, 13.5]);
  });

  it('letterboxes only when the aspect differs', () => {
    expect(placeRegion(100, 100, 32, 32, 'letterbox')).toEqual({ top: 0, left: 0, height: 32, width: 32 });
    expect(placeRegion(200, 100, 32, 32, 'letterbox')).toEqual({ top: 8, left: 0, height: 16, width: 32 });
    expect(placeRegion(200, 100, 32, 32, 'stretch')).toEqual({ top: 0, left: 0, height: 32, width: 32 });
  });
});

describe('percentile sampling', () => {
  const side = 128;
  // Pixels at odd rows and columns (the grid below) are brighter, so grid and whole frame differ.
  const odd = (i: number) => Math.floor(i / side) % 2 === 1 && (i % side) % 2 === 1;
  const pixels = Uint16Array.from({ length: side * side }, (_, i) => ((i * 2654435761) % 3000) + (odd(i) ? 1000 : 0));
  const sampled = (maxSamples: number) => {
    const m = validManifest();
    m.preprocessing.percentileSampling = { method: 'regular-grid', maxSamples };
    return m;
  };

  it('takes the percentiles over every stride-th row and column, starting mid-cell', () => {
    // 16384 pixels, at most 4096 samples: stride ceil(sqrt(4)) = 2, rows and columns 1, 3, 5, …
    expect(percentileGrid(side, side, sampled(4096).preprocessing.percentileSampling)).toEqual({
      stride: 2,
      offset: 1,
    });
    const grid = Array.from(pixels).filter((_, i) => odd(i));
    expect(grid).toHaveLength(4096);
    const out = preprocess(decodedImage({ width: side, height: side, pixels }), sampled(4096));
    expect(out.intensity.low).toBe(percentileOf(grid, 1));
    expect(out.intensity.high).toBe(percentileOf(grid, 99));
    expect(out.intensity.low).not.toBe(percentileOf(pixels, 1));
    // The same through quickselect (float pixels), and negated for MONOCHROME1.
    const floats = { ...decodedImage({ width: side, height: side, pixels }), pixels: Float32Array.from(pixels) };
    expect(preprocess(floats, sampled(4096)).intensity).toEqual(out.intensity);
    const mono1 = preprocess(decodedImage({ width: side, height: side, pixels, monochrome1: true }), sampled(4096));
    expect(mono1.intensity.low).toBeCloseTo(-percentileOf(grid, 99), 9);
    expect(mono1.intensity.high).toBeCloseTo(-percentileOf(grid, 1), 9);
  });

  it('keeps exact percentiles for images of at most maxSamples pixels, and by default', () => {
    const exact = preprocess(decodedImage({ width: side, height: side, pixels }), validManifest());
    expect(exact.intensity.low).toBe(percentileOf(pixels, 1));
    const same = preprocess(decodedImage({ width: side, height: side, pixels }), sampled(side * side));
    expect(same.intensity).toEqual(exact.intensity);
    expect(Array.from(same.data)).toEqual(Array.from(exact.data));
  });
});

describe('integer fast paths agree with the per-pixel path', () => {
  const manifest = validManifest(); // 32×32 input
  const worstDiff = (a: Float32Array, b: Float32Array) => a.reduce((w, v, i) => Math.max(w, Math.abs(v - b[i]!)), 0);

  it('WebAssembly block sums, 32-bit word loops, the general block loop and bin tables', () => {
    const variants: [string, Partial<Parameters<typeof decodedImage>[0]>][] = [
      ['percentiles', {}],
      ['MONOCHROME1', { monochrome1: true }],
      ['a window inside the pixel range', { window: { center: 2000, width: 3000 } }],
      // Below 0: not a clamp the kernel can do, so the word loops run.
      ['a window reaching below 0', { window: { center: 100, width: 5000 } }],
    ];
    for (const [width, height] of [
      [256, 128], // 8×4 blocks: WebAssembly, or 32-bit words
      [96, 64], // 3×2 blocks: the general block loop
      [100, 70], // not a multiple: the bin tables
    ] as const) {
      const n = width * height;
      const values = Array.from({ length: n }, (_, i) => ((i % width) * 13 + Math.floor(i / width) * 7) % 4096);
      const bytes = values.map((v) => v & 255);
      for (const [name, options] of variants) {
        const image = (pixels: DecodedImage['pixels']) => decodedImage({ width, height, pixels, ...options });
        const check = (pixels: DecodedImage['pixels'], reference: number[]) => {
          const got = preprocess(image(pixels), manifest);
          const want = preprocess(image(Float32Array.from(reference)), manifest);
          expect(got.intensity, `${name} ${width}×${height}`).toEqual(want.intensity);
          expect(worstDiff(got.data, want.data), `${name} ${width}×${height}`).toBeLessThan(1e-6);
        };
        check(Uint16Array.from(values), values);
        // A view 2 bytes into its buffer cannot be read as 32-bit words.
        const shifted = new Uint16Array(n + 1).subarray(1);
        shifted.set(values);
        check(shifted, values);
        check(Uint8Array.from(bytes), bytes);
      }
    }
  });

  it('redoes an image whose values exceed its Bits Stored over the full range', () => {
    const width = 64;
    const values = Array.from({ length: width * width }, (_, i) => (i * 37) % 4096);
    values[100] = 60_000; // not a 12-bit value: tables over 0..4095 have no entry for it
    const image = decodedImage({ width, height: width, pixels: Uint16Array.from(values) });
    const wide = { ...image, bitsStored: 16 };
    expect(image.bitsStored).toBe(12);
    // Percentiles, exact and sampled (the histogram sees the value) …
    expect(Array.from(preprocess(image, manifest).data)).toEqual(Array.from(preprocess(wide, manifest).data));
    const sampling = validManifest();
    sampling.preprocessing.percentileSampling = { method: 'regular-grid', maxSamples: 4096 };
    expect(Array.from(preprocess(image, sampling).data)).toEqual(Array.from(preprocess(wide, sampling).data));
    // … and a window (only the resize sees it).
    const windowed = {
      ...image,
      format: 'dicom' as const,
      voi: [{ windows: [{ center: 2048, width: 4096 }], function: 'LINEAR' as const }],
    };
    const out = preprocess(windowed, manifest);
    expect(out.intensity.source).toBe('dicom-window');
    expect(Array.from(out.data)).toEqual(Array.from(preprocess({ ...windowed, bitsStored: 16 }, manifest).data));
    expect(out.data.every(Number.isFinite)).toBe(true);
  });
});
