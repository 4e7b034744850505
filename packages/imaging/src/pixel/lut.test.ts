import { describe, expect, it } from 'vitest';
import { decodeImage } from '../decode.ts';
import type { Element } from '../testing/dicom-writer.ts';
import { concat, encodeExplicit, imageDataset, item, ob, part10, text, us } from '../testing/dicom-writer.ts';
import { windowFunction } from './lut.ts';

const LIMITS = { maxPixels: 1_000_000, maxDimension: 4096 };
const sq = (tag: number, ...items: Element[][]): Element => ({
  tag,
  vr: 'SQ',
  value: concat(items.map((els) => item(concat(els.sort((a, b) => a.tag - b.tag).map((e) => encodeExplicit(e)))))),
});
const words = (...v: number[]): Uint8Array => {
  const b = new Uint8Array(v.length * 2);
  v.forEach((x, i) => new DataView(b.buffer).setUint16(i * 2, x, true));
  return b;
};

describe('VOI functions (PS3.3 C.11.2.1.2)', () => {
  it('LINEAR_EXACT and SIGMOID', () => {
    const exact = windowFunction({ center: 100, width: 50 }, 'LINEAR_EXACT');
    expect([exact(75), exact(100), exact(125), exact(126)]).toEqual([0, 0.5, 1, 1]);
    const sigmoid = windowFunction({ center: 100, width: 50 }, 'SIGMOID');
    expect(sigmoid(100)).toBeCloseTo(0.5);
    expect(sigmoid(200)).toBeGreaterThan(0.99);
  });
});

describe('modality and VOI lookup tables in DICOM', () => {
  it('applies a Modality LUT Sequence (C.11.1) and reads a VOI LUT Sequence (C.11.2)', async () => {
    const file = part10(
      imageDataset({
        rows: 1,
        columns: 4,
        pixels: words(0, 1, 2, 3),
        extra: [
          sq(0x00283000, [
            us(0x00283002, 4, 0, 16),
            text(0x00283004, 'LO', 'OD'),
            ob(0x00283006, words(10, 20, 30, 40), 'OW'),
          ]),
          sq(0x00283010, [us(0x00283002, 2, 10, 8), ob(0x00283006, words(0, 255), 'OW')]),
        ],
      }),
    );
    const img = await decodeImage(file, LIMITS);
    expect(Array.from(img.pixels)).toEqual([10, 20, 30, 40]);
    expect(img.voi[0]?.lut).toMatchObject({ firstMapped: 10, bits: 8 });
  });

  it('reads enhanced multi-frame functional groups: shared rescale and spacing, per-frame windows', async () => {
    const frame = (c: string, w: string): Element[] => [
      sq(0x00289132, [text(0x00281050, 'DS', c), text(0x00281051, 'DS', w)]),
    ];
    const file = part10(
      imageDataset({
        rows: 1,
        columns: 2,
        frames: 2,
        pixels: words(1, 2, 3, 4),
        extra: [
          sq(0x52009229, [
            sq(0x00289110, [text(0x00280030, 'DS', '0.7\\0.7')]),
            sq(0x00289145, [text(0x00281052, 'DS', '-5'), text(0x00281053, 'DS', '2'), text(0x00281054, 'LO', 'US')]),
          ]),
          sq(0x52009230, frame('10', '20'), frame('30', '40')),
        ],
      }),
    );
    const img = await decodeImage(file, LIMITS);
    expect(Array.from(img.pixels)).toEqual([-3, -1, 1, 3]);
    expect(img.pixelSpacing).toEqual([0.7, 0.7]);
    expect(img.voi.map((v) => v.windows[0])).toEqual([
      { center: 10, width: 20 },
      { center: 30, width: 40 },
    ]);
  });
});
