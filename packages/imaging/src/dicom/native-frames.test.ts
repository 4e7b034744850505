import { describe, expect, it } from 'vitest';
import type { SyntheticSpec } from '../testing/fixtures.ts';
import { dcmtk, hasDcmtk, syntheticDicom } from '../testing/fixtures.ts';
import { ImagingError } from '../errors.ts';
import { readNativeFrames } from './native-frames.ts';

const LIMITS = { maxPixels: 10_000_000, maxDimension: 4096 };
const SPEC: SyntheticSpec = {
  rows: 16,
  columns: 12,
  frames: 3,
  bitsAllocated: 16,
  bitsStored: 12,
  signed: false,
  samplesPerPixel: 1,
};

/** The expected little-endian bytes of frame `n` (1-based) of the synthetic image. */
function expectedFrame(values: number[], n: number): number[] {
  const per = SPEC.rows * SPEC.columns;
  return values.slice((n - 1) * per, n * per).flatMap((v) => [v & 0xff, v >> 8]);
}

describe('readNativeFrames (DICOMweb frames as uncompressed little-endian bytes)', () => {
  it('returns the stored bytes of the requested frames, in the order asked', async () => {
    const { file, values } = syntheticDicom(SPEC);
    const result = await readNativeFrames(file, LIMITS, [3, 1]);
    expect(result.decoded).toBe(false);
    expect(Array.from(result.frames[0]!)).toEqual(expectedFrame(values, 3));
    expect(Array.from(result.frames[1]!)).toEqual(expectedFrame(values, 1));
  });

  it('refuses a frame number the instance does not have, with a 400', async () => {
    const { file } = syntheticDicom(SPEC);
    await expect(readNativeFrames(file, LIMITS, [4])).rejects.toMatchObject({
      status: 400,
      message: 'Frame 4 does not exist: the instance has 3 frame(s).',
    });
    await expect(readNativeFrames(file, LIMITS, [0])).rejects.toBeInstanceOf(ImagingError);
  });

  it.skipIf(!hasDcmtk())('byte-swaps big endian and decodes lossless compression to the same bytes', async () => {
    const { file, values } = syntheticDicom(SPEC);
    for (const [tool, args] of [
      ['dcmconv', ['+tb']],
      ['dcmcrle', []],
      ['dcmcjpeg', ['+e1']],
      ['dcmcjpls', []],
    ] as const) {
      const transcoded = dcmtk(tool, [...args], file);
      const result = await readNativeFrames(transcoded, LIMITS, [2]);
      expect(Array.from(result.frames[0]!), tool).toEqual(expectedFrame(values, 2));
      expect(result.decoded, tool).toBe(tool !== 'dcmconv');
    }
  });
});
