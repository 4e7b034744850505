/**
 * Image → model input, exactly as the manifest's pipeline says and as the training code does it
 * (`training/evaluate.py` `server_pipeline`): a model only works on inputs prepared the way it was
 * trained. Pure: no I/O, no ONNX.
 *
 * 1. Frame 0 as one grey channel: the modality-LUT output that DecodedImage already holds (PS3.3
 *    C.11.1); colour through Rec. 601 luma (what PIL's convert('L') uses, so Python tools agree);
 *    MONOCHROME1 negated so that dense is bright (C.7.6.3.1.2), as the model saw it.
 * 2. Intensity to 0..1: the DICOM file's first window, linear x = (v - (c - w/2)) / w; otherwise the
 *    p_low/p_high percentiles of the full-resolution frame (numpy's default linear interpolation
 *    between order statistics) over every pixel, or over a regular grid when the manifest's
 *    percentileSampling asks for one and the frame is larger (percentileGrid); clipped to 0..1.
 * 3. Resize to [H, W] by area averaging with torch's adaptive_avg_pool2d bins (start floor(i·n/m),
 *    end ceil((i+1)·n/m)), which is exact area averaging for integer factors and what the
 *    reference does otherwise. Letterbox (when asked and the aspect differs) pads with 0.
 *    Steps 2 and 3 are one pass over the pixels: for unsigned 8/16-bit greyscale reduced by an
 *    integer factor (2048² → 128², 1024² → 128²) a WebAssembly SIMD kernel sums clamped values
 *    (clamped-block-sums.ts); otherwise a table per value, or the formula per pixel.
 * 4. (x - mean) / std, as float32 [1, C, H, W]; C = 3 repeats the grey channel.
 */
import type { DecodedImage, PixelArray } from '@scanflow/imaging';
import { clampedBlockSums } from './clamped-block-sums.ts';
import type { ModelManifest } from './manifest.ts';

/** Where the image sits inside the model input (all of it for stretch; centred for letterbox). */
export interface InputRegion {
  top: number;
  left: number;
  height: number;
  width: number;
}

export interface Preprocessed {
  data: Float32Array;
  dims: [1, number, number, number];
  region: InputRegion;
  /** How intensities were mapped to 0..1: [low, high] in (possibly negated) pixel values. */
  intensity: { source: 'dicom-window' | 'percentile'; low: number; high: number };
  sourceSize: { width: number; height: number };
}

export class PreprocessError extends Error {
  override readonly name = 'PreprocessError';
}

/** Rec. 601 luma weights. */
const LUMA = [0.299, 0.587, 0.114] as const;

export function preprocess(image: DecodedImage, manifest: ModelManifest): Preprocessed {
  const { width, height } = image;
  if (width < 1 || height < 1 || image.frames < 1) throw new PreprocessError('The image has no pixels.');
  const n = width * height;
  if (image.pixels.length < n * image.samplesPerPixel) {
    throw new PreprocessError(
      `The image holds ${image.pixels.length} samples where ${n * image.samplesPerPixel} are needed.`,
    );
  }
  // Tables over Bits Stored (4096 entries for a 12-bit radiograph) rather than the array type's
  // 65536 are smaller to build and stay in cache. The decoder masks stored values to Bits Stored,
  // but this is a pure function of whatever DecodedImage it is given: a value outside the narrow
  // range is detected (see prepare) and the image redone over the type's full range.
  const narrow = storedRange(image);
  if (narrow) {
    const out = prepare(image, manifest, narrow);
    if (out) return out;
  }
  return prepare(image, manifest, integerRange(image))!;
}

/**
 * The preprocessing proper, with integer greyscale values assumed to lie in `range` (tables are
 * built over it; undefined: no tables). Undefined when a pixel turned out to lie outside `range`.
 */
function prepare(
  image: DecodedImage,
  manifest: ModelManifest,
  range: [number, number] | undefined,
): Preprocessed | undefined {
  const { width, height } = image;
  const pre = manifest.preprocessing;
  // MONOCHROME1: the minimum is white; negating makes dense (high attenuation) bright like MONOCHROME2.
  const sign = image.photometricInterpretation === 'MONOCHROME1' ? -1 : 1;

  let low: number;
  let high: number;
  let source: Preprocessed['intensity']['source'];
  const window = fileWindow(image, manifest);
  if (window) {
    source = 'dicom-window';
    const a = window.center - window.width / 2;
    const b = window.center + window.width / 2;
    [low, high] = sign > 0 ? [a, b] : [-b, -a];
  } else {
    source = 'percentile';
    const grid = percentileGrid(width, height, pre.percentileSampling);
    const stats = orderStatistics(image, sign, range, grid);
    if (!stats) return undefined;
    low = percentile(stats.stat, stats.count, pre.percentiles[0]);
    high = percentile(stats.stat, stats.count, pre.percentiles[1]);
  }
  // The reference divides by max(hi - lo, 1e-12): a constant image maps to 0, not NaN.
  const scale = 1 / Math.max(high - low, 1e-12);

  const [H, W] = pre.size;
  const region = placeRegion(width, height, H, W, pre.resize);
  const pooled = range
    ? (clampedAreaMeans(image, region.height, region.width, sign, low, high, scale) ??
      lutAreaResize(image, range, region.height, region.width, intensityTable(range, sign, low, scale)))
    : areaResizeRows(width, height, region.height, region.width, computedRowBinner(image, sign, low, scale));
  // A value outside the table read as undefined and made its output pixel NaN.
  if (!pooled) return undefined;

  const { mean, std } = pre.normalisation;
  const channels = manifest.input.channels;
  const plane = H * W;
  const data = new Float32Array(channels * plane);
  // Letterbox padding is intensity 0, normalised like any other pixel.
  data.fill((0 - mean) / std, 0, plane);
  for (let y = 0; y < region.height; y++) {
    const row = (region.top + y) * W + region.left;
    for (let x = 0; x < region.width; x++) data[row + x] = ((pooled[y * region.width + x] ?? 0) - mean) / std;
  }
  for (let c = 1; c < channels; c++) data.copyWithin(c * plane, 0, plane);
  return {
    data,
    dims: [1, channels, H, W],
    region,
    intensity: { source, low, high },
    sourceSize: { width, height },
  };
}

/**
 * The window to use, if any. Only a DICOM file's own window counts: the imaging package gives 8-bit
 * PNG/JPEG an identity window (centre 128, width 256) for display, but the model's reference
 * pipeline applies percentiles to such images, and 255 vs 256 would shift every input slightly.
 */
function fileWindow(image: DecodedImage, manifest: ModelManifest): { center: number; width: number } | undefined {
  if (manifest.preprocessing.intensity !== 'dicom-window-or-percentile') return undefined;
  if (image.format !== 'dicom' || image.samplesPerPixel !== 1) return undefined;
  const w = image.voi[0]?.windows[0];
  return w && w.width > 0 && Number.isFinite(w.center) ? w : undefined;
}

/** The pixels percentiles are taken over: rows and columns offset, offset + stride, … */
export interface PercentileGrid {
  stride: number;
  offset: number;
}

/**
 * The manifest's percentile sampling for a width×height frame: every pixel unless it asks for a
 * regular grid and the frame has more than maxSamples pixels; then the stride
 * s = ceil(sqrt(pixels / maxSamples)), starting at floor(s/2) so the samples sit mid-cell.
 */
export function percentileGrid(
  width: number,
  height: number,
  sampling: ModelManifest['preprocessing']['percentileSampling'],
): PercentileGrid {
  if (!sampling || sampling.method === 'exact' || width * height <= sampling.maxSamples)
    return { stride: 1, offset: 0 };
  const stride = Math.ceil(Math.sqrt((width * height) / sampling.maxSamples));
  return { stride, offset: stride >> 1 };
}

/** Value of pixel i of frame 0 as one grey sample, times `sign`. */
function greyValue(image: DecodedImage, sign: number): (i: number) => number {
  const p = image.pixels;
  if (image.samplesPerPixel === 3) {
    return (i) => sign * (LUMA[0] * (p[3 * i] ?? 0) + LUMA[1] * (p[3 * i + 1] ?? 0) + LUMA[2] * (p[3 * i + 2] ?? 0));
  }
  return sign > 0 ? (i) => p[i] ?? 0 : (i) => -(p[i] ?? 0);
}

/** The k-th smallest value (0-based) of the frame's grey values. */
type OrderStatistic = (k: number) => number;

/**
 * [0, 2^BitsStored - 1] for unsigned integer greyscale whose Bits Stored is narrower than its array
 * type; else undefined.
 */
function storedRange(image: DecodedImage): [number, number] | undefined {
  const p = image.pixels;
  if (image.samplesPerPixel !== 1 || image.signed) return undefined;
  const typeBits = p instanceof Uint8Array ? 8 : p instanceof Uint16Array ? 16 : 0;
  const bits = image.bitsStored;
  if (!Number.isInteger(bits) || bits < 1 || bits >= typeBits) return undefined;
  return [0, 2 ** bits - 1];
}

/** [min, max] of integer greyscale pixels, from the array type when it is narrow; else undefined. */
function integerRange(image: DecodedImage): [number, number] | undefined {
  const p = image.pixels;
  if (image.samplesPerPixel !== 1) return undefined;
  if (p instanceof Uint8Array) return [0, 255];
  if (p instanceof Int8Array) return [-128, 127];
  if (p instanceof Uint16Array) return [0, 65535];
  if (p instanceof Int16Array) return [-32768, 32767];
  if (p instanceof Float32Array) return undefined;
  const n = image.width * image.height;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = p[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return max - min <= LUT_MAX ? [min, max] : undefined;
}

/** Largest value range handled through tables (a 2^17-entry Float64Array is 1 MiB). */
const LUT_MAX = 1 << 17;

/**
 * Order statistics of frame 0's grey values on `grid`, in O(samples): a histogram for integer
 * greyscale (exact, and far faster than sorting), else quickselect on a copy. Undefined when a
 * value lies outside `range`.
 */
function orderStatistics(
  image: DecodedImage,
  sign: number,
  range: [number, number] | undefined,
  grid: PercentileGrid,
): { stat: OrderStatistic; count: number } | undefined {
  const { width, height } = image;
  const cols = Math.ceil((width - grid.offset) / grid.stride);
  const count = cols * Math.ceil((height - grid.offset) / grid.stride);
  const p = image.pixels;
  if (range) {
    const [min, max] = range;
    const size = max - min + 1;
    const counts =
      grid.stride === 1 ? histogram(p, count, min, size) : gridHistogram(p, width, height, grid, min, size);
    if (!counts) return undefined;
    // Counts become running totals (samples ≤ b + min), so each order statistic is a binary search
    // rather than a scan of up to 65536 bins: percentiles ask for four.
    let seen = 0;
    for (let b = 0; b < counts.length; b++) counts[b] = seen += counts[b]!;
    const ascending = (k: number): number => {
      if (k >= seen) return max;
      let lo = 0;
      let hi = counts.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (counts[mid]! > k) hi = mid;
        else lo = mid + 1;
      }
      return lo + min;
    };
    // Negated values in ascending order are the originals in descending order.
    return { stat: sign > 0 ? ascending : (k) => -ascending(count - 1 - k), count };
  }
  const grey = greyValue(image, sign);
  const values = new Float64Array(count);
  let j = 0;
  for (let y = grid.offset; y < height; y += grid.stride)
    for (let x = grid.offset; x < width; x += grid.stride) values[j++] = grey(y * width + x);
  return { stat: (k) => select(values, k), count };
}

/**
 * Counts of each value v (at index v - min) among the first n samples; undefined when one lies
 * outside [min, min + size). Four interleaved tables, summed at the end: with one, runs of equal or
 * nearby values make each increment wait for the previous one (a 2048² frame: about 14 → 6 ms).
 */
function histogram(p: PixelArray, n: number, min: number, size: number): Uint32Array | undefined {
  const lanes = new Uint32Array(size * 4);
  const whole = n - (n % 4);
  // The OR of every index: below `bound` (size rounded up to a power of two) exactly when all are
  // in 0..bound-1. Only a Bits Stored range can be violated, and its size is a power of two.
  let any = 0;
  for (let i = 0; i < whole; i += 4) {
    const a = p[i]! - min;
    const b = p[i + 1]! - min;
    const c = p[i + 2]! - min;
    const d = p[i + 3]! - min;
    any |= a | b | c | d;
    lanes[a]!++;
    lanes[b + size]!++;
    lanes[c + 2 * size]!++;
    lanes[d + 3 * size]!++;
  }
  for (let i = whole; i < n; i++) {
    const a = p[i]! - min;
    any |= a;
    lanes[a]!++;
  }
  if (any >>> 0 >= 2 ** Math.ceil(Math.log2(size))) return undefined;
  const counts = lanes.subarray(0, size);
  for (let b = 0; b < size; b++)
    counts[b] = counts[b]! + lanes[b + size]! + lanes[b + 2 * size]! + lanes[b + 3 * size]!;
  return counts;
}

/**
 * Counts of each value v (at index v - min) on the grid; undefined when one lies outside the table
 * (checked as in `histogram`). Two interleaved tables, as there: about 1.0 → 0.8 ms for 2^18 samples.
 */
function gridHistogram(
  p: PixelArray,
  width: number,
  height: number,
  grid: PercentileGrid,
  min: number,
  size: number,
): Uint32Array | undefined {
  const lanes = new Uint32Array(2 * size);
  const { stride, offset } = grid;
  let any = 0;
  for (let y = offset; y < height; y += stride) {
    const end = (y + 1) * width;
    let i = y * width + offset;
    for (; i + stride < end; i += 2 * stride) {
      const a = p[i]! - min;
      const b = p[i + stride]! - min;
      any |= a | b;
      lanes[a]!++;
      lanes[b + size]!++;
    }
    if (i < end) {
      const a = p[i]! - min;
      any |= a;
      lanes[a]!++;
    }
  }
  if (any >>> 0 >= 2 ** Math.ceil(Math.log2(size))) return undefined;
  const counts = lanes.subarray(0, size);
  for (let b = 0; b < size; b++) counts[b] = counts[b]! + lanes[b + size]!;
  return counts;
}

/**
 * Area means for integer reduction factors of unsigned 8/16-bit greyscale from the WebAssembly
 * kernel's clamped block sums: clip((sign·v - low)·scale, 0, 1) = (sign·c - low)·scale with
 * c = clamp(v, a, b), [a, b] the interval sign·v ∈ [low, high] gives. Exact integer sums; the
 * result differs from the table path by rounding alone. Undefined when the kernel does not apply
 * (then the table path runs), including a window narrower than the 1e-12 floor of the scale,
 * where clipping is no longer clamping.
 */
function clampedAreaMeans(
  image: DecodedImage,
  outH: number,
  outW: number,
  sign: number,
  low: number,
  high: number,
  scale: number,
): Float64Array | undefined {
  const p = image.pixels;
  const { width, height } = image;
  if (!(p instanceof Uint16Array || p instanceof Uint8Array) || image.samplesPerPixel !== 1) return undefined;
  if (width % outW !== 0 || height % outH !== 0 || !(high - low >= 1e-12)) return undefined;
  const fx = width / outW;
  const fy = height / outH;
  const [a, b] = sign > 0 ? [low, high] : [-high, -low];
  const lo = Math.floor(a);
  const hi = Math.ceil(b);
  // An integer bound multiplies its count by zero below, so that count is not taken.
  const sums = clampedBlockSums(p, width, height, fx, fy, lo, hi, { low: a !== lo, high: b !== hi });
  if (!sums) return undefined;
  const area = fx * fy;
  const out = new Float64Array(outH * outW);
  for (let i = 0; i < out.length; i++) {
    const clamped = sums[3 * i]! + sums[3 * i + 1]! * (a - lo) + sums[3 * i + 2]! * (b - hi);
    out[i] = ((sign * clamped - area * low) * scale) / area;
  }
  return out;
}

/** clip((sign·v - low)·scale, 0, 1) for each integer v in `range`, at index v - min. */
function intensityTable(range: [number, number], sign: number, low: number, scale: number): Float64Array {
  const [min, max] = range;
  const lut = new Float64Array(max - min + 1);
  for (let v = min; v <= max; v++) {
    const x = (sign * v - low) * scale;
    lut[v - min] = x < 0 ? 0 : x > 1 ? 1 : x;
  }
  return lut;
}

/**
 * Area resize of integer greyscale through `lut` (pixel value v → lut[v - min]). Undefined when a
 * pixel's value has no entry. Integer reduction factors (2048 → 128 is 16×16 blocks) take a loop
 * without bin tables or a per-row buffer; other sizes go through areaResizeRows.
 */
function lutAreaResize(
  image: DecodedImage,
  range: [number, number],
  outH: number,
  outW: number,
  lut: Float64Array,
): Float64Array | undefined {
  const { width, height } = image;
  const p = image.pixels;
  const min = range[0];
  const out =
    width % outW === 0 && height % outH === 0
      ? blockMeans(p, width, height, width / outW, height / outH, min, lut)
      : areaResizeRows(width, height, outH, outW, (y, start, end, sums) => {
          const base = y * width;
          for (let o = 0; o < sums.length; o++) {
            let sum = 0;
            const e = base + end[o]!;
            for (let i = base + start[o]!; i < e; i++) sum += lut[p[i]! - min]!;
            sums[o] = sum;
          }
        });
  for (let i = 0; i < out.length; i++) if (Number.isNaN(out[i])) return undefined;
  return out;
}

/**
 * Means of fx×fy blocks of lut[v - min]: each source row's block sums added straight into their
 * output row, in row order, then one division; nothing allocated per row and no row-sum buffer
 * (2048 × 128 doubles) written and read back. The hot loops read two 16-bit or four 8-bit pixels
 * per 32-bit word and keep two partial sums, so the additions do not form one long dependency
 * chain (a 2048² 12-bit frame: about 12 → 4 ms on a loaded 2-core machine). The WebAssembly kernel
 * takes these sizes first; this is its fallback (no SIMD, or a window outside the pixel range).
 */
function blockMeans(
  p: PixelArray,
  width: number,
  height: number,
  fx: number,
  fy: number,
  min: number,
  lut: Float64Array,
): Float64Array {
  const outW = width / fx;
  const out = new Float64Array(outW * (height / fy));
  const words = min === 0 && fx % 8 === 0 && p.byteOffset % 4 === 0;
  if (words && p instanceof Uint16Array && width % 2 === 0) blockSums16(p, width, height, fx, fy, lut, out);
  else if (words && p instanceof Uint8Array && width % 4 === 0) blockSums8(p, width, height, fx, fy, lut, out);
  else blockSums(p, width, height, fx, fy, min, lut, out);
  const area = fx * fy;
  for (let i = 0; i < out.length; i++) out[i] = out[i]! / area;
  return out;
}

/** 16-bit pixels, fx a multiple of 8: four words (eight pixels) per step. */
function blockSums16(
  p: Uint16Array,
  width: number,
  height: number,
  fx: number,
  fy: number,
  lut: Float64Array,
  out: Float64Array,
): void {
  const q = new Uint32Array(p.buffer, p.byteOffset, (width * height) >> 1);
  const outW = width / fx;
  const step = fx >> 1;
  for (let y = 0; y < height; y++) {
    const target = ((y / fy) | 0) * outW;
    let j = (y * width) >> 1;
    for (let o = 0; o < outW; o++) {
      let s0 = 0;
      let s1 = 0;
      const end = j + step;
      for (; j < end; j += 4) {
        const a = q[j]!;
        const b = q[j + 1]!;
        const c = q[j + 2]!;
        const d = q[j + 3]!;
        s0 += lut[a & 0xffff]! + lut[a >>> 16]! + (lut[b & 0xffff]! + lut[b >>> 16]!);
        s1 += lut[c & 0xffff]! + lut[c >>> 16]! + (lut[d & 0xffff]! + lut[d >>> 16]!);
      }
      out[target + o] = out[target + o]! + (s0 + s1);
    }
  }
}

/** 8-bit pixels, fx a multiple of 8: two words (eight pixels) per step. */
function blockSums8(
  p: Uint8Array,
  width: number,
  height: number,
  fx: number,
  fy: number,
  lut: Float64Array,
  out: Float64Array,
): void {
  const q = new Uint32Array(p.buffer, p.byteOffset, (width * height) >> 2);
  const outW = width / fx;
  const step = fx >> 2;
  for (let y = 0; y < height; y++) {
    const target = ((y / fy) | 0) * outW;
    let j = (y * width) >> 2;
    for (let o = 0; o < outW; o++) {
      let s0 = 0;
      let s1 = 0;
      const end = j + step;
      for (; j < end; j += 2) {
        const a = q[j]!;
        const b = q[j + 1]!;
        s0 += lut[a & 0xff]! + lut[(a >>> 8) & 0xff]! + (lut[(a >>> 16) & 0xff]! + lut[a >>> 24]!);
        s1 += lut[b & 0xff]! + lut[(b >>> 8) & 0xff]! + (lut[(b >>> 16) & 0xff]! + lut[b >>> 24]!);
      }
      out[target + o] = out[target + o]! + (s0 + s1);
    }
  }
}

/** Any integer pixels and factors. */
function blockSums(
  p: PixelArray,
  width: number,
  height: number,
  fx: number,
  fy: number,
  min: number,
  lut: Float64Array,
  out: Float64Array,
): void {
  const outW = width / fx;
  const whole = fx - (fx % 4);
  for (let y = 0; y < height; y++) {
    const target = ((y / fy) | 0) * outW;
    let i = y * width;
    for (let o = 0; o < outW; o++) {
      let s0 = 0;
      let s1 = 0;
      const unrolled = i + whole;
      const end = i + fx;
      for (; i < unrolled; i += 4) {
        s0 += lut[p[i]! - min]! + lut[p[i + 1]! - min]!;
        s1 += lut[p[i + 2]! - min]! + lut[p[i + 3]! - min]!;
      }
      for (; i < end; i++) s0 += lut[p[i]! - min]!;
      out[target + o] = out[target + o]! + (s0 + s1);
    }
  }
}

/**
 * Sums one source row's intensities clip((sign·v - low)·scale, 0, 1) over each column bin
 * [start[o], end[o]), computed per pixel: colour, float and wide-range pixels.
 */
function computedRowBinner(image: DecodedImage, sign: number, low: number, scale: number): RowBinner {
  const { width } = image;
  const map = (v: number): number => {
    const x = (v - low) * scale;
    return x < 0 ? 0 : x > 1 ? 1 : x;
  };
  const grey = greyValue(image, sign);
  return (y, start, end, out) => {
    const base = y * width;
    for (let o = 0; o < out.length; o++) {
      let sum = 0;
      const e = base + end[o]!;
      for (let i = base + start[o]!; i < e; i++) sum += map(grey(i));
      out[o] = sum;
    }
  };
}

/** numpy.percentile's default ('linear'): interpolate between the order statistics around p/100·(n-1). */
export function percentile(stat: OrderStatistic, n: number, p: number): number {
  const pos = (p / 100) * (n - 1);
  const k = Math.floor(pos);
  const t = pos - k;
  const a = stat(k);
  if (t === 0 || k + 1 >= n) return a;
  const b = stat(k + 1);
  // numpy's _lerp: the form that is exact at both ends.
  return t < 0.5 ? a + (b - a) * t : b - (b - a) * (1 - t);
}

/** Percentile of a plain array (tests and tools). */
export function percentileOf(values: ArrayLike<number>, p: number): number {
  const copy = Float64Array.from(values);
  return percentile((k) => select(copy, k), copy.length, p);
}

/** Hoare quickselect: the k-th smallest of `a` (reorders `a`). */
function select(a: Float64Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (hi > lo) {
    const pivot = a[(lo + hi) >> 1] ?? 0;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((a[i] ?? 0) < pivot) i++;
      while ((a[j] ?? 0) > pivot) j--;
      if (i <= j) {
        const t = a[i] ?? 0;
        a[i] = a[j] ?? 0;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return a[k] ?? 0;
}

export function placeRegion(
  width: number,
  height: number,
  H: number,
  W: number,
  resize: 'stretch' | 'letterbox',
): InputRegion {
  // Same aspect (within rounding to whole pixels): letterboxing would add nothing.
  if (resize === 'stretch' || width * H === height * W) return { top: 0, left: 0, height: H, width: W };
  const s = Math.min(H / height, W / width);
  const rh = Math.min(H, Math.max(1, Math.round(height * s)));
  const rw = Math.min(W, Math.max(1, Math.round(width * s)));
  return { top: Math.floor((H - rh) / 2), left: Math.floor((W - rw) / 2), height: rh, width: rw };
}

/** Bin edges of torch's adaptive pooling: [floor(i·n/m), ceil((i+1)·n/m)). */
function bins(n: number, m: number): { start: Int32Array; end: Int32Array } {
  const start = new Int32Array(m);
  const end = new Int32Array(m);
  for (let i = 0; i < m; i++) {
    start[i] = Math.floor((i * n) / m);
    end[i] = Math.ceil(((i + 1) * n) / m);
  }
  return { start, end };
}

/** Writes, for source row y, the sum of its values over each column bin [start[o], end[o]). */
export type RowBinner = (y: number, start: Int32Array, end: Int32Array, out: Float64Array) => void;

/** Area-average resize of a width×height image given pixel by pixel (row-major). */
export function areaResize(
  width: number,
  height: number,
  outH: number,
  outW: number,
  value: (i: number) => number,
): Float64Array {
  return areaResizeRows(width, height, outH, outW, (y, start, end, out) => {
    for (let o = 0; o < out.length; o++) {
      let sum = 0;
      for (let x = start[o]!; x < end[o]!; x++) sum += value(y * width + x);
      out[o] = sum;
    }
  });
}

/**
 * Area-average resize to outH×outW of a width×height image whose rows `binRow` reduces to
 * column-bin sums. Separable: each source row is reduced once, then rows are summed per row bin
 * (overlapping bins, when sizes are not multiples, just read a row twice).
 */
export function areaResizeRows(
  width: number,
  height: number,
  outH: number,
  outW: number,
  binRow: RowBinner,
): Float64Array {
  const cols = bins(width, outW);
  const rows = bins(height, outH);
  const rowSums = new Float64Array(height * outW);
  for (let y = 0; y < height; y++) binRow(y, cols.start, cols.end, rowSums.subarray(y * outW, (y + 1) * outW));
  const out = new Float64Array(outH * outW);
  for (let oy = 0; oy < outH; oy++) {
    const y0 = rows.start[oy]!;
    const y1 = rows.end[oy]!;
    for (let ox = 0; ox < outW; ox++) {
      let sum = 0;
      for (let y = y0; y < y1; y++) sum += rowSums[y * outW + ox]!;
      out[oy * outW + ox] = sum / ((y1 - y0) * (cols.end[ox]! - cols.start[ox]!));
    }
  }
  return out;
}
