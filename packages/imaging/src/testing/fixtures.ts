/**
 * Generated test inputs: small synthetic DICOM images (smooth gradients plus a deterministic
 * pseudo-random texture, so codecs have something real to compress) and DCMTK transcodes of them.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Element } from './dicom-writer.ts';
import { imageDataset, part10, text } from './dicom-writer.ts';

export const PYDICOM_DIR = '/usr/lib/python3/dist-packages/pydicom/data/test_files/';
export const hasPydicomFiles = existsSync(PYDICOM_DIR);
export const readPydicom = (name: string): Uint8Array => new Uint8Array(readFileSync(join(PYDICOM_DIR, name)));

export function hasDcmtk(): boolean {
  try {
    execFileSync('dcmconv', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Mulberry32: a small seeded PRNG so generated data and fuzzing are reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SyntheticSpec {
  rows: number;
  columns: number;
  frames: number;
  bitsAllocated: 8 | 16;
  bitsStored: number;
  signed: boolean;
  samplesPerPixel: 1 | 3;
  photometric?: string;
  extra?: Element[];
  pixelVr?: 'OB' | 'OW';
}

/** Stored sample values of a synthetic image, frames × rows × columns × samples. */
export function syntheticValues(spec: SyntheticSpec, seed = 1): number[] {
  const rnd = prng(seed);
  const max = 2 ** spec.bitsStored - 1;
  const offset = spec.signed ? 2 ** (spec.bitsStored - 1) : 0;
  const out: number[] = [];
  for (let f = 0; f < spec.frames; f++) {
    for (let r = 0; r < spec.rows; r++) {
      for (let c = 0; c < spec.columns; c++) {
        for (let s = 0; s < spec.samplesPerPixel; s++) {
          const gradient = ((r + 2 * c + 7 * f + 11 * s) / (spec.rows + 2 * spec.columns + 30)) * max;
          const v = Math.round(gradient * 0.9 + rnd() * max * 0.1);
          out.push(Math.min(max, v) - offset);
        }
      }
    }
  }
  return out;
}

export function syntheticDicom(spec: SyntheticSpec, seed = 1): { file: Uint8Array; values: number[] } {
  const values = syntheticValues(spec, seed);
  const bytes = new Uint8Array(
    values.length * (spec.bitsAllocated / 8) + (((values.length * spec.bitsAllocated) / 8) % 2),
  );
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => {
    if (spec.bitsAllocated === 8) view.setUint8(i, v & 0xff);
    else view.setUint16(i * 2, v & 0xffff, true);
  });
  const ds = imageDataset({
    rows: spec.rows,
    columns: spec.columns,
    frames: spec.frames,
    bitsAllocated: spec.bitsAllocated,
    samplesPerPixel: spec.samplesPerPixel,
    pixelRepresentation: spec.signed ? 1 : 0,
    pixels: bytes,
    ...(spec.photometric ? { photometric: spec.photometric } : {}),
    ...(spec.pixelVr ? { pixelVr: spec.pixelVr } : {}),
    extra: [...(spec.extra ?? []), text(0x0020000d, 'UI', '1.2.3.4.1'), text(0x0020000e, 'UI', '1.2.3.4.2')],
    bitsStored: spec.bitsStored,
  });
  return { file: part10(ds), values };
}

/** Runs a DCMTK tool on `input` and returns the output file's bytes. */
export function dcmtk(tool: string, args: string[], input: Uint8Array): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'scanflow-dcmtk-'));
  const src = join(dir, 'in.dcm');
  const dst = join(dir, 'out.dcm');
  writeFileSync(src, input);
  execFileSync(tool, [...args, src, dst], { stdio: 'pipe', timeout: 30_000 });
  return new Uint8Array(readFileSync(dst));
}
