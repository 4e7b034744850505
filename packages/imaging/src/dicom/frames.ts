import { concat } from '../bytes.ts';
import { corrupt } from '../errors.ts';
import type { DicomDataSet, Fragment } from './parse.ts';

/**
 * Splits encapsulated pixel data into frames, PS3.5 A.4: item 0 is the Basic Offset Table (byte
 * offsets of each frame's first fragment, relative to the first fragment's item tag), and each
 * frame is one or more fragments. Without a usable table: one fragment per frame when the counts
 * match, all fragments for a single frame, or, for JPEG family codestreams, a new frame at each
 * fragment that starts with a start-of-image marker.
 */
export function encapsulatedFrames(
  ds: DicomDataSet,
  fragments: readonly Fragment[],
  frameCount: number,
  isJpegFamily: boolean,
): Uint8Array[] {
  const [bot, ...data] = fragments;
  if (bot === undefined || data.length === 0)
    throw corrupt('The DICOM file has compressed pixel data with no fragments.');
  const bytesOf = (f: Fragment): Uint8Array => ds.bytes.subarray(f.offset, f.offset + f.length);
  if (frameCount === 1) return [data.length === 1 ? bytesOf(data[0] as Fragment) : concat(data.map(bytesOf))];
  if (data.length === frameCount) return data.map(bytesOf);

  const groups = groupsFromOffsetTable(ds, bot, data, frameCount) ?? (isJpegFamily ? groupsBySoi(ds, data) : null);
  if (groups === null || groups.length !== frameCount) {
    throw corrupt(
      `The DICOM file declares ${frameCount} frames but its ${data.length} compressed fragments cannot be matched to them.`,
    );
  }
  return groups.map((g) => (g.length === 1 ? bytesOf(g[0] as Fragment) : concat(g.map(bytesOf))));
}

function groupsFromOffsetTable(
  ds: DicomDataSet,
  bot: Fragment,
  data: readonly Fragment[],
  frameCount: number,
): Fragment[][] | null {
  if (bot.length !== frameCount * 4) return null;
  const view = new DataView(ds.bytes.buffer, ds.bytes.byteOffset + bot.offset, bot.length);
  const first = data[0];
  if (!first) return null;
  const base = first.offset - 8; // offsets count from the first fragment's item tag
  const starts: number[] = [];
  for (let i = 0; i < frameCount; i++) starts.push(view.getUint32(i * 4, true));
  const groups: Fragment[][] = starts.map(() => []);
  let frame = -1;
  for (const f of data) {
    const rel = f.offset - 8 - base;
    while (frame + 1 < frameCount && rel >= (starts[frame + 1] ?? Infinity)) frame += 1;
    if (frame < 0) return null;
    groups[frame]?.push(f);
  }
  return groups.every((g) => g.length > 0) ? groups : null;
}

function groupsBySoi(ds: DicomDataSet, data: readonly Fragment[]): Fragment[][] | null {
  const groups: Fragment[][] = [];
  for (const f of data) {
    const b0 = ds.bytes[f.offset];
    const b1 = ds.bytes[f.offset + 1];
    // JPEG SOI FFD8 (T.81), JPEG 2000 SOC FF4F (T.800).
    const startsFrame = b0 === 0xff && (b1 === 0xd8 || b1 === 0x4f);
    if (startsFrame || groups.length === 0) groups.push([f]);
    else groups[groups.length - 1]?.push(f);
  }
  return groups;
}
