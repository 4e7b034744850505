/** Test and benchmark helper: JPEG 2000 files made with dcmjs-codecs' encoder (DCMTK has none). */
import dcmjsCodecs from 'dcmjs-codecs';
import { initCodecs } from '../codecs/wasm.ts';
import { concat, delimiter, encodeExplicit, imageDataset, item, part10 } from './dicom-writer.ts';
import type { SyntheticSpec } from './fixtures.ts';

/**
 * JPEG 2000 (or High-Throughput JPEG 2000) lossless through dcmjs-codecs' encoders, one fragment
 * per frame (PS3.5 A.4).
 */
export async function encodeJpeg2000Dicom(
  spec: SyntheticSpec,
  file: Uint8Array,
  flavour: 'jpeg2000' | 'htj2k' = 'jpeg2000',
): Promise<Uint8Array> {
  await initCodecs();
  const { NativeCodecs, Context } = dcmjsCodecs;
  const frameBytes = spec.rows * spec.columns * (spec.bitsAllocated / 8);
  const pixelStart = file.length - frameBytes * spec.frames;
  const frames: Uint8Array[] = [];
  for (let f = 0; f < spec.frames; f++) {
    const ctx = new Context({
      width: spec.columns,
      height: spec.rows,
      bitsAllocated: spec.bitsAllocated,
      bitsStored: spec.bitsStored,
      samplesPerPixel: 1,
      pixelRepresentation: spec.signed ? 1 : 0,
      planarConfiguration: 0,
      photometricInterpretation: 'MONOCHROME2',
      decodedBuffer: file.slice(pixelStart + f * frameBytes, pixelStart + (f + 1) * frameBytes),
    });
    const encoded = (
      flavour === 'htj2k'
        ? NativeCodecs.encodeHtJpeg2000(ctx, { lossy: false })
        : NativeCodecs.encodeJpeg2000(ctx, { lossy: false })
    ).getEncodedBuffer();
    if (!encoded) throw new Error('JPEG 2000 encoding failed');
    frames.push(encoded.length % 2 ? concat([encoded, new Uint8Array(1)]) : encoded);
  }
  const ds = imageDataset({
    rows: spec.rows,
    columns: spec.columns,
    frames: spec.frames,
    bitsAllocated: spec.bitsAllocated,
    bitsStored: spec.bitsStored,
    pixelRepresentation: spec.signed ? 1 : 0,
    pixels: new Uint8Array(),
  });
  return part10(
    concat([
      ds.subarray(0, ds.length - 12),
      encodeExplicit({ tag: 0x7fe00010, vr: 'OB', value: new Uint8Array(), undefinedLength: true }),
      item(new Uint8Array()),
      ...frames.map((f) => item(f)),
      delimiter('sequence'),
    ]),
    flavour === 'htj2k' ? '1.2.840.10008.1.2.4.201' : '1.2.840.10008.1.2.4.90',
  );
}
