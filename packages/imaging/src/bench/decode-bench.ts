/**
 * Decode benchmark (issue 3, "Measured"): decode time per transfer syntax and size, on synthetic
 * images transcoded with DCMTK (and JPEG 2000 encoded with dcmjs-codecs, as DCMTK has no J2K
 * encoder). Not part of the package's pure API: it runs external tools. Use:
 *   node --import tsx packages/imaging/src/bench/decode-bench.ts
 */
import { pathToFileURL } from 'node:url';
import { decodeImage } from '../decode.ts';
import { renderDisplayPng } from '../render.ts';
import type { SyntheticSpec } from '../testing/fixtures.ts';
import { dcmtk, syntheticDicom } from '../testing/fixtures.ts';
import { encodeJpeg2000Dicom } from '../testing/jpeg2000.ts';

export interface DecodeBenchRow {
  image: string;
  transferSyntax: string;
  bytes: number;
  decodeMs: number;
  renderMs: number;
}

const SIZES: [string, SyntheticSpec][] = [
  [
    '512² 16-bit',
    { rows: 512, columns: 512, frames: 1, bitsAllocated: 16, bitsStored: 12, signed: false, samplesPerPixel: 1 },
  ],
  [
    '2048² 16-bit',
    { rows: 2048, columns: 2048, frames: 1, bitsAllocated: 16, bitsStored: 16, signed: true, samplesPerPixel: 1 },
  ],
  [
    '512² × 20 frames 8-bit',
    { rows: 512, columns: 512, frames: 20, bitsAllocated: 8, bitsStored: 8, signed: false, samplesPerPixel: 1 },
  ],
];

const SYNTAXES: [string, string, string[], (s: SyntheticSpec) => boolean][] = [
  ['Explicit VR LE', '', [], () => true],
  ['Implicit VR LE', 'dcmconv', ['+ti'], () => true],
  ['Explicit VR BE', 'dcmconv', ['+tb'], () => true],
  ['Deflate', 'dcmconv', ['+td'], () => true],
  ['RLE', 'dcmcrle', [], () => true],
  ['JPEG baseline', 'dcmcjpeg', ['+eb'], (s) => s.bitsStored === 8],
  ['JPEG extended 12-bit', 'dcmcjpeg', ['+ee'], (s) => s.bitsStored === 12],
  ['JPEG lossless SV1', 'dcmcjpeg', ['+e1'], () => true],
  ['JPEG-LS lossless', 'dcmcjpls', [], () => true],
];

async function time(fn: () => Promise<unknown>, runs: number): Promise<number> {
  await fn(); // warm-up
  const started = performance.now();
  for (let i = 0; i < runs; i++) await fn();
  return (performance.now() - started) / runs;
}

export async function benchDecode(runs = 3): Promise<DecodeBenchRow[]> {
  const limits = { maxPixels: 50_000_000, maxDimension: 8192 };
  const rows: DecodeBenchRow[] = [];
  for (const [image, spec] of SIZES) {
    const { file } = syntheticDicom(spec, 1);
    const inputs: [string, Uint8Array][] = [];
    for (const [name, tool, args, applies] of SYNTAXES) {
      if (applies(spec)) inputs.push([name, tool ? dcmtk(tool, args, file) : file]);
    }
    inputs.push(['JPEG 2000 lossless', await encodeJpeg2000Dicom(spec, file)]);
    inputs.push(['HTJ2K lossless', await encodeJpeg2000Dicom(spec, file, 'htj2k')]);
    for (const [transferSyntax, bytes] of inputs) {
      const decoded = await decodeImage(bytes, limits);
      const decodeMs = await time(() => decodeImage(bytes, limits), runs);
      const renderMs = await time(() => renderDisplayPng(decoded, { maxSize: 256 }), runs);
      rows.push({ image, transferSyntax, bytes: bytes.length, decodeMs, renderMs });
    }
  }
  return rows;
}

/** The rows as a Markdown table (printed by the package's own runner and by `npm run bench`). */
export function decodeTable(rows: DecodeBenchRow[]): string {
  return [
    '| image | transfer syntax | file bytes | decode ms | thumbnail ms |',
    '| --- | --- | ---: | ---: | ---: |',
    ...rows.map(
      (r) => `| ${r.image} | ${r.transferSyntax} | ${r.bytes} | ${r.decodeMs.toFixed(1)} | ${r.renderMs.toFixed(1)} |`,
    ),
  ].join('\n');
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) console.log(decodeTable(await benchDecode()));
