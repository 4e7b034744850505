/**
 * Micro-benchmark of the pre- and post-processing around the model (issue 4): decode and
 * preprocess of a 2048² 12-bit explicit-VR-LE DICOM without a window and of a 1024² 8-bit PNG, and
 * the heatmap PNGs. A benchmark, not a test: the official numbers are `BENCH_ONLY=ai-throughput
 * npm run bench`. Use:
 *   node --import tsx packages/inference/src/preprocess-bench.ts
 */
import { decodeImage } from '@scanflow/imaging';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
// Test-only helper of the imaging package (not part of its public API).
import { imageDataset, part10 } from '../../imaging/src/testing/dicom-writer.ts';
import type { Heatmap } from './gradcam.ts';
import { renderHeatmapGreyPng, renderHeatmapPng } from './heatmap-png.ts';
import { parseManifest } from './manifest.ts';
import { preprocess } from './preprocess.ts';

const manifest = parseManifest(
  JSON.parse(readFileSync(new URL('../../../models/chest-xray-phantom/manifest.json', import.meta.url), 'utf8')),
);
const limits = { maxPixels: 50_000_000, maxDimension: 20_000 };

/** A smooth 12-bit "radiograph" with noise: a realistic histogram, unlike a ramp. */
function dicom2048(): Uint8Array {
  const n = 2048;
  const bytes = new Uint8Array(n * n * 2);
  const view = new DataView(bytes.buffer);
  let seed = 1;
  for (let y = 0; y < n; y++)
    for (let x = 0; x < n; x++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const body = Math.exp(-(((x - n / 2) / (n * 0.35)) ** 2 + ((y - n / 2) / (n * 0.4)) ** 2));
      const v = 300 + 3000 * body + 200 * Math.sin(x / 37) * Math.cos(y / 53) + ((seed >>> 16) % 64);
      view.setUint16((y * n + x) * 2, Math.max(0, Math.min(4095, Math.round(v))), true);
    }
  return part10(imageDataset({ rows: n, columns: n, bitsStored: 12, pixels: bytes }));
}

async function png1024(): Promise<Uint8Array> {
  const n = 1024;
  const grey = new Uint8Array(n * n);
  for (let i = 0; i < grey.length; i++)
    grey[i] = ((i % n) * 7 + Math.floor(i / n) * 3 + ((i * 2654435761) >>> 28)) & 255;
  return new Uint8Array(
    await sharp(grey, { raw: { width: n, height: n, channels: 1 } })
      .png()
      .toBuffer(),
  );
}

/**
 * Wall-clock median and minimum, and the process's CPU time per run: on a shared machine the wall
 * clock includes waiting for a core, the CPU time mostly does not.
 */
async function median(label: string, fn: () => unknown, runs = 30): Promise<number> {
  for (let i = 0; i < 3; i++) await fn();
  const times: number[] = [];
  const cpu = process.cpuUsage();
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await fn();
    times.push(performance.now() - started);
  }
  const used = process.cpuUsage(cpu);
  times.sort((a, b) => a - b);
  const m = times[times.length >> 1]!;
  const cpuMs = (used.user + used.system) / 1000 / runs;
  console.log(
    `${label.padEnd(26)} median ${m.toFixed(2)} ms  min ${times[0]!.toFixed(2)} ms  cpu ${cpuMs.toFixed(2)} ms`,
  );
  return m;
}

console.log(`load average ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
const dcm = dicom2048();
const dcmImage = await decodeImage(dcm, limits);
await median('decode 2048² DICOM', () => decodeImage(dcm, limits));
await median('preprocess 2048² DICOM', () => preprocess(dcmImage, manifest));
const png = await png1024();
const pngImage = await decodeImage(png, limits);
await median('decode 1024² PNG', () => decodeImage(png, limits));
await median('preprocess 1024² PNG', () => preprocess(pngImage, manifest));
const grid = new Float32Array(16 * 16).map((_, i) => (i % 16) / 15);
const map: Heatmap = { label: 'nodule', width: 16, height: 16, values: grid };
await median('heatmap RGBA PNG 128²', () => renderHeatmapPng(map, { width: 128, height: 128 }));
await median('heatmap grey PNG 128²', () => renderHeatmapGreyPng(map, { width: 128, height: 128 }));
console.log(`load average ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
