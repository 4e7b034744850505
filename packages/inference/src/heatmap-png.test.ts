import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { crc32 } from 'node:zlib';
import {
  blendHeatmap,
  encodePng,
  inferno,
  overlayPixels,
  renderHeatmapGreyPng,
  renderHeatmapPng,
} from './heatmap-png.ts';

describe('overlay colours', () => {
  it('ramps from dark to bright with rising lightness (inferno ends)', () => {
    expect(inferno(0)).toEqual([0, 0, 4]);
    expect(inferno(1)).toEqual([252, 255, 164]);
    const lum = (c: [number, number, number]) => 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
    for (let v = 0; v < 1; v += 0.05) expect(lum(inferno(v + 0.05))).toBeGreaterThanOrEqual(lum(inferno(v)));
    expect(inferno(NaN)).toEqual(inferno(0));
  });

  it('is transparent up to the floor and rises to maxAlpha', () => {
    const px = overlayPixels([0, 0.2, 0.6, 1], { maxAlpha: 0.5, floor: 0.2 });
    expect([px[3], px[7], px[11], px[15]]).toEqual([0, 0, 64, 128]);
  });
});

describe('PNG rendering', () => {
  const map = { label: 'a', width: 2, height: 2, values: new Float32Array([0, 0, 0, 1]) };

  it('renders an RGBA PNG at the requested size, hot where the map is hot', async () => {
    const { png, width, height } = await renderHeatmapPng(map, { width: 64, height: 48 });
    expect([width, height]).toEqual([64, 48]);
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect(info).toMatchObject({ width: 64, height: 48, channels: 4 });
    expect(data[3]).toBe(0); // top-left: cold, transparent
    expect(data[(47 * 64 + 63) * 4 + 3]).toBe(Math.round(0.6 * 255)); // bottom-right: hottest
  });

  it('blends the overlay onto a grey rendition', async () => {
    const grey = await sharp(new Uint8Array(64 * 48).fill(100), { raw: { width: 64, height: 48, channels: 1 } })
      .png()
      .toBuffer();
    const out = await blendHeatmap(new Uint8Array(grey), map);
    const { data, info } = await sharp(out).raw().toBuffer({ resolveWithObject: true });
    expect(info).toMatchObject({ width: 64, height: 48, channels: 3 });
    expect([data[0], data[1], data[2]]).toEqual([100, 100, 100]); // untouched where cold
    const i = (47 * 64 + 63) * 3;
    expect(data[i]! > data[i + 2]!).toBe(true); // warm tint where hot
  });
});

describe('grey heatmap PNG', () => {
  it('is one 8-bit channel at the requested size: 0 where cold, 255 at the peak', async () => {
    const map = { label: 'a', width: 2, height: 2, values: new Float32Array([0, 0, 0, 1]) };
    const { png } = await renderHeatmapGreyPng(map, { width: 32, height: 16 });
    expect(await sharp(png).metadata()).toMatchObject({ width: 32, height: 16, channels: 1, depth: 'uchar' });
    const { data } = await sharp(png).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
    expect(data[0]).toBe(0);
    expect(data[16 * 32 - 1]).toBe(255);
  });
});

describe('encodePng', () => {
  const [width, height] = [37, 11];
  const noise = (n: number) => Uint8Array.from({ length: n }, (_, i) => ((i * 2654435761) >>> 13) & 255);

  it('writes RGBA that a PNG decoder reads back exactly', async () => {
    const rgba = noise(width * height * 4);
    const { data, info } = await sharp(encodePng(rgba, width, height, 4))
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect(info).toMatchObject({ width, height, channels: 4 });
    expect(Buffer.compare(data, Buffer.from(rgba))).toBe(0);
  });

  it('writes one 8-bit grey channel that reads back exactly', async () => {
    const grey = noise(width * height);
    const png = encodePng(grey, width, height, 1);
    expect(await sharp(png).metadata()).toMatchObject({ width, height, channels: 1, depth: 'uchar' });
    const { data } = await sharp(png).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
    expect(Buffer.compare(data, Buffer.from(grey))).toBe(0);
  });

  it('has a valid signature and chunk CRCs', () => {
    const png = encodePng(noise(width * height), width, height, 1);
    expect(Array.from(png.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
    const types: string[] = [];
    for (let at = 8; at < png.length;) {
      const length = view.getUint32(at);
      types.push(String.fromCharCode(...png.subarray(at + 4, at + 8)));
      expect(view.getUint32(at + 8 + length)).toBe(crc32(png.subarray(at + 4, at + 8 + length)));
      at += 12 + length;
    }
    expect(types).toEqual(['IHDR', 'IDAT', 'IEND']);
  });

  it('refuses too few pixels', () => {
    expect(() => encodePng(new Uint8Array(10), 4, 4, 1)).toThrow(/too few/);
  });
});
