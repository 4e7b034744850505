import { describe, expect, it } from 'vitest';
import { ImagingError } from '../errors.ts';
import { encapsulatedFrames } from './frames.ts';
import type { DicomDataSet, Fragment } from './parse.ts';

/** Lays out items as in PS3.5 A.4 (8-byte item headers) and returns the data set and fragments. */
function layout(bot: number[], fragments: number[][]): { ds: DicomDataSet; frags: Fragment[] } {
  const botBytes = new Uint8Array(bot.length * 4);
  bot.forEach((v, i) => new DataView(botBytes.buffer).setUint32(i * 4, v, true));
  const parts = [botBytes, ...fragments.map((f) => Uint8Array.from(f))];
  const bytes = new Uint8Array(parts.reduce((n, p) => n + 8 + p.length, 0));
  const frags: Fragment[] = [];
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at + 8);
    frags.push({ offset: at + 8, length: p.length });
    at += 8 + p.length;
  }
  return { ds: { bytes, littleEndian: true, elements: new Map() }, frags };
}

const asArrays = (frames: Uint8Array[]): number[][] => frames.map((f) => Array.from(f));

describe('encapsulatedFrames (PS3.5 A.4)', () => {
  it('maps one fragment per frame without an offset table', () => {
    const { ds, frags } = layout(
      [],
      [
        [1, 1],
        [2, 2],
        [3, 3],
      ],
    );
    expect(asArrays(encapsulatedFrames(ds, frags, 3, false))).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
  });

  it('joins every fragment for a single frame', () => {
    const { ds, frags } = layout(
      [],
      [
        [1, 1],
        [2, 2],
      ],
    );
    expect(asArrays(encapsulatedFrames(ds, frags, 1, false))).toEqual([[1, 1, 2, 2]]);
  });

  it('groups fragments by the Basic Offset Table', () => {
    // Frame 0: fragments of 2 and 4 bytes (10 + 12 bytes with headers); frame 1 starts at 22.
    const { ds, frags } = layout(
      [0, 22],
      [
        [1, 1],
        [2, 2, 2, 2],
        [3, 3],
      ],
    );
    expect(asArrays(encapsulatedFrames(ds, frags, 2, false))).toEqual([
      [1, 1, 2, 2, 2, 2],
      [3, 3],
    ]);
  });

  it('without a table, starts a JPEG frame at each start-of-image marker', () => {
    const { ds, frags } = layout(
      [],
      [
        [0xff, 0xd8, 1, 1],
        [9, 9],
        [0xff, 0xd8, 2, 2],
      ],
    );
    expect(asArrays(encapsulatedFrames(ds, frags, 2, true))).toEqual([
      [0xff, 0xd8, 1, 1, 9, 9],
      [0xff, 0xd8, 2, 2],
    ]);
  });

  it('refuses fragments that cannot be matched to the declared frames', () => {
    const { ds, frags } = layout(
      [],
      [
        [1, 1],
        [2, 2],
        [3, 3],
      ],
    );
    expect(() => encapsulatedFrames(ds, frags, 2, false)).toThrow(ImagingError);
    const none = layout([], []);
    expect(() => encapsulatedFrames(none.ds, none.frags, 1, false)).toThrow(/no fragments/);
  });
});
