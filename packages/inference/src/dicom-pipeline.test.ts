/**
 * From DICOM bytes through @scanflow/imaging's decoder into preprocess: the modality transform
 * (rescale slope/intercept), the file's window and MONOCHROME1 must all reach the model input as
 * the manifest says. Expected values are computed here from first principles.
 */
import { decodeImage } from '@scanflow/imaging';
import { describe, expect, it } from 'vitest';
// Test-only helper of the imaging package (not part of its public API).
import { imageDataset, part10, text } from '../../imaging/src/testing/dicom-writer.ts';
import { preprocess } from './preprocess.ts';
import { validManifest } from './testing.ts';

const N = 64; // source side; the model input is 32, so each input pixel averages a 2×2 block
const stored = Array.from({ length: N * N }, (_, i) => ((i % N) * 37 + Math.floor(i / N) * 11) % 2048);

function file(extra: ReturnType<typeof text>[], photometric = 'MONOCHROME2'): Uint8Array {
  const bytes = new Uint8Array(N * N * 2);
  const view = new DataView(bytes.buffer);
  stored.forEach((v, i) => view.setUint16(i * 2, v, true));
  return part10(imageDataset({ rows: N, columns: N, bitsStored: 12, photometric, pixels: bytes, extra }));
}

function expected(map: (v: number) => number): number[] {
  const out: number[] = [];
  for (let y = 0; y < 32; y++)
    for (let x = 0; x < 32; x++) {
      let s = 0;
      for (const [dy, dx] of [
        [0, 0],
        [0, 1],
        [1, 0],
        [1, 1],
      ] as const)
        s += map(stored[(2 * y + dy) * N + 2 * x + dx]!);
      out.push((s / 4 - 0.5) / 0.25);
    }
  return out;
}

const limits = { maxPixels: 1 << 20, maxDimension: 4096 };
const clip = (x: number) => Math.min(1, Math.max(0, x));

describe('DICOM → decodeImage → preprocess', () => {
  it('applies rescale slope/intercept, then the file window linearly', async () => {
    const image = await decodeImage(
      file([
        text(0x00281050, 'DS', '1000'),
        text(0x00281051, 'DS', '3000'),
        text(0x00281052, 'DS', '-1000'),
        text(0x00281053, 'DS', '2'),
      ]),
      limits,
    );
    const out = preprocess(image, validManifest());
    expect(out.intensity).toEqual({ source: 'dicom-window', low: -500, high: 2500 });
    const want = expected((s) => clip((2 * s - 1000 - -500) / 3000));
    want.forEach((w, i) => expect(out.data[i]).toBeCloseTo(w, 5));
  });

  it('makes MONOCHROME1 dense-bright (window on stored values, then inverted)', async () => {
    const image = await decodeImage(
      file([text(0x00281050, 'DS', '1024'), text(0x00281051, 'DS', '2048')], 'MONOCHROME1'),
      limits,
    );
    const out = preprocess(image, validManifest());
    const want = expected((s) => 1 - clip((s - 0) / 2048));
    want.forEach((w, i) => expect(out.data[i]).toBeCloseTo(w, 5));
  });

  it('falls back to percentiles when the file has no window', async () => {
    const out = preprocess(await decodeImage(file([]), limits), validManifest());
    expect(out.intensity.source).toBe('percentile');
    const sorted = [...stored].sort((a, b) => a - b);
    const q = (p: number) => {
      const pos = (p / 100) * (sorted.length - 1);
      const k = Math.floor(pos);
      return sorted[k]! + (sorted[Math.min(k + 1, sorted.length - 1)]! - sorted[k]!) * (pos - k);
    };
    expect(out.intensity.low).toBeCloseTo(q(1), 9);
    expect(out.intensity.high).toBeCloseTo(q(99), 9);
  });
});
