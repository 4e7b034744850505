/**
 * Heatmaps as images for the viewer and the report (SPEC M5): an RGBA PNG overlay in a
 * perceptually ordered colour ramp (inferno: dark purple → red → yellow, monotonic in lightness,
 * readable by colour-blind viewers, unlike jet), transparent where the model saw nothing so the
 * anatomy underneath stays visible; and the overlay blended onto a display rendition.
 */
import sharp from 'sharp';
import { crc32, deflateSync } from 'node:zlib';
import { heatmapToImage } from './gradcam.ts';
import type { Heatmap } from './gradcam.ts';

/** Inferno (matplotlib, BIDS) sampled at 0, 1/8, …, 1; linear in between. */
const INFERNO: ReadonlyArray<readonly [number, number, number]> = [
  [0, 0, 4],
  [31, 12, 72],
  [85, 15, 109],
  [136, 34, 106],
  [186, 54, 85],
  [227, 89, 51],
  [249, 140, 10],
  [249, 201, 50],
  [252, 255, 164],
];

export function inferno(v: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0)) * (INFERNO.length - 1);
  const i = Math.min(Math.floor(x), INFERNO.length - 2);
  const t = x - i;
  const a = INFERNO[i]!;
  const b = INFERNO[i + 1]!;
  return [0, 1, 2].map((k) => Math.round(a[k]! + (b[k]! - a[k]!) * t)) as [number, number, number];
}

export interface OverlayOptions {
  /** Output size; default the heatmap's own grid (resampled bilinearly when different). */
  width?: number;
  height?: number;
  /** Opacity at the hottest point, 0..1; default 0.6 so the image stays readable under it. */
  maxAlpha?: number;
  /** Values at or below this are fully transparent; default 0.2 (weak, diffuse evidence is noise). */
  floor?: number;
}

/** Levels of the colour table overlays are drawn through (finer than 8-bit output can show). */
const OVERLAY_LEVELS = 4096;

/**
 * RGBA pixels of an overlay: colour from the ramp, alpha rising from `floor` to 1. Pure. Values go
 * through a table of OVERLAY_LEVELS entries built once per call: one lookup per pixel instead of
 * the ramp's interpolation, which matters at a million pixels.
 */
export function overlayPixels(values: ArrayLike<number>, options: OverlayOptions = {}): Uint8Array {
  const table = overlayTable(options.maxAlpha ?? 0.6, options.floor ?? 0.2);
  const out = new Uint32Array(values.length);
  const top = OVERLAY_LEVELS - 1;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] ?? 0;
    // NaN and anything below 0 read as cold, above 1 as hottest.
    out[i] = table[v > 0 ? (v < 1 ? Math.round(v * top) : top) : 0]!;
  }
  return new Uint8Array(out.buffer);
}

/** The last overlay table built: every pre-read uses the same opacity and floor. */
let lastTable: { maxAlpha: number; floor: number; table: Uint32Array } | undefined;

/** RGBA (as one little-endian word) of each level. */
function overlayTable(maxAlpha: number, floor: number): Uint32Array {
  if (lastTable?.maxAlpha === maxAlpha && lastTable.floor === floor) return lastTable.table;
  const table = new Uint32Array(OVERLAY_LEVELS);
  const bytes = new Uint8Array(table.buffer);
  for (let level = 0; level < OVERLAY_LEVELS; level++) {
    const v = level / (OVERLAY_LEVELS - 1);
    const [r, g, b] = inferno(v);
    const a = v <= floor ? 0 : ((v - floor) / (1 - floor)) * maxAlpha;
    bytes.set([r, g, b, Math.round(a * 255)], level * 4);
  }
  lastTable = { maxAlpha, floor, table };
  return table;
}

/** The map as an 8-bit greyscale PNG (0 cold … 255 hottest): the heatmap's data, for tools. */
export async function renderHeatmapGreyPng(
  map: Heatmap,
  options: { width?: number; height?: number } = {},
): Promise<{ png: Uint8Array; width: number; height: number }> {
  const width = options.width ?? map.width;
  const height = options.height ?? map.height;
  const sized =
    width === map.width && height === map.height && !map.imageRegion ? map : heatmapToImage(map, width, height);
  const grey = new Uint8Array(width * height);
  for (let i = 0; i < grey.length; i++) grey[i] = Math.round(Math.min(1, Math.max(0, sized.values[i] || 0)) * 255);
  return { png: encodePng(grey, width, height, 1), width, height };
}

/** The overlay as an RGBA PNG, at the image's size when width/height are given. */
export async function renderHeatmapPng(
  map: Heatmap,
  options: OverlayOptions = {},
): Promise<{ png: Uint8Array; width: number; height: number }> {
  const width = options.width ?? map.width;
  const height = options.height ?? map.height;
  const sized =
    width === map.width && height === map.height && !map.imageRegion ? map : heatmapToImage(map, width, height);
  return { png: encodePng(overlayPixels(sized.values, options), width, height, 4), width, height };
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * An 8-bit greyscale (1 channel) or RGBA (4) PNG (ISO/IEC 15948): IHDR, one IDAT, IEND; rows
 * unfiltered, deflated at level 3. For heatmaps of at most a few hundred pixels a side this is
 * about half of sharp's time (no libvips pipeline, no hop to the thread pool), and the smooth
 * maps compress to within a few kB of sharp's level-6 output.
 */
export function encodePng(pixels: Uint8Array, width: number, height: number, channels: 1 | 4): Uint8Array {
  const stride = width * channels;
  if (pixels.length < stride * height)
    throw new Error(`${pixels.length} bytes is too few for a ${width}×${height} PNG.`);
  const rows = new Uint8Array((stride + 1) * height); // each row: filter type 0, then its bytes
  for (let y = 0; y < height; y++) rows.set(pixels.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header[8] = 8; // bits per sample
  header[9] = channels === 4 ? 6 : 0; // colour type: RGBA or greyscale
  const chunks = [
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows, { level: 3 })),
    chunk('IEND', new Uint8Array(0)),
  ];
  const out = new Uint8Array(PNG_SIGNATURE.length + chunks.reduce((n, c) => n + c.length, 0));
  out.set(PNG_SIGNATURE, 0);
  let at = PNG_SIGNATURE.length;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** length, type, data, CRC-32 of type and data. */
function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/**
 * A display rendition (any image sharp reads, e.g. the 8-bit PNG from @scanflow/imaging) with the
 * heatmap drawn over it, as an RGB PNG: for the report and for viewers that cannot layer images.
 */
export async function blendHeatmap(
  rendition: Uint8Array,
  map: Heatmap,
  options: OverlayOptions = {},
): Promise<Uint8Array> {
  const meta = await sharp(rendition).metadata();
  if (!meta.width || !meta.height) throw new Error('The rendition has no size.');
  const overlay = await renderHeatmapPng(map, { ...options, width: meta.width, height: meta.height });
  const out = await sharp(rendition)
    .toColourspace('srgb')
    .composite([{ input: Buffer.from(overlay.png), blend: 'over' }])
    .removeAlpha()
    .png({ compressionLevel: 6 })
    .toBuffer();
  return new Uint8Array(out);
}
