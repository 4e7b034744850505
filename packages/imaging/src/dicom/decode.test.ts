import { describe, expect, it } from 'vitest';
import { decodeImage } from '../decode.ts';
import { ImagingError } from '../errors.ts';
import type { DecodedImage } from '../image.ts';
import type { SyntheticSpec } from '../testing/fixtures.ts';
import { dcmtk, hasDcmtk, hasPydicomFiles, readPydicom, syntheticDicom } from '../testing/fixtures.ts';
import { ob, text, us } from '../testing/dicom-writer.ts';
import { encodeJpeg2000Dicom } from '../testing/jpeg2000.ts';

const LIMITS = { maxPixels: 20_000_000, maxDimension: 8192 };
const decode = (bytes: Uint8Array): Promise<DecodedImage> => decodeImage(bytes, LIMITS);

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return max;
}

function rmsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += ((a[i] ?? 0) - (b[i] ?? 0)) ** 2;
  return Math.sqrt(sum / a.length);
}

describe('decodeImage on synthetic DICOM', () => {
  it('applies rescale slope and intercept (PS3.3 C.11.1)', async () => {
    const { file, values } = syntheticDicom({
      rows: 4,
      columns: 5,
      frames: 1,
      bitsAllocated: 16,
      bitsStored: 12,
      signed: false,
      samplesPerPixel: 1,
      extra: [text(0x00281052, 'DS', '-1024'), text(0x00281053, 'DS', '1'), text(0x00280030, 'DS', '0.5\\0.25')],
    });
    const img = await decode(file);
    expect(img.pixels).toBeInstanceOf(Int32Array);
    expect(Array.from(img.pixels)).toEqual(values.map((v) => v - 1024));
    expect(img.pixelSpacing).toEqual([0.5, 0.25]);
    expect(img.dicom).toMatchObject({
      patientId: 'P-001',
      studyInstanceUid: '1.2.3.4.1',
      seriesInstanceUid: '1.2.3.4.2',
    });
  });

  it('keeps fractional rescale exact in Float32 and sign-extends signed 12-bit values', async () => {
    const { file, values } = syntheticDicom({
      rows: 3,
      columns: 3,
      frames: 2,
      bitsAllocated: 16,
      bitsStored: 12,
      signed: true,
      samplesPerPixel: 1,
      extra: [text(0x00281052, 'DS', '0.25'), text(0x00281053, 'DS', '0.5')],
    });
    const img = await decode(file);
    expect(img.pixels).toBeInstanceOf(Float32Array);
    expect(img.frames).toBe(2);
    expect(Array.from(img.pixels)).toEqual(values.map((v) => v * 0.5 + 0.25));
    expect(Math.min(...values)).toBeLessThan(0);
  });

  it('flags MONOCHROME1 for inversion and converts native YBR_FULL to RGB', async () => {
    const mono1 = await decode(
      syntheticDicom({
        rows: 2,
        columns: 2,
        frames: 1,
        bitsAllocated: 8,
        bitsStored: 8,
        signed: false,
        samplesPerPixel: 1,
        photometric: 'MONOCHROME1',
      }).file,
    );
    expect(mono1).toMatchObject({ invertForDisplay: true, photometricInterpretation: 'MONOCHROME1' });
    const ybr = syntheticDicom({
      rows: 2,
      columns: 2,
      frames: 1,
      bitsAllocated: 8,
      bitsStored: 8,
      signed: false,
      samplesPerPixel: 3,
      photometric: 'YBR_FULL',
    });
    const img = await decode(ybr.file);
    const [y, cb, cr] = ybr.values;
    // PS3.3 C.7.6.3.1.2: R = Y + 1.402 (Cr - 128)
    expect(img.pixels[0]).toBe(Math.max(0, Math.min(255, Math.round(y! + 1.402 * (cr! - 128)))));
    expect(img.pixels[2]).toBe(Math.max(0, Math.min(255, Math.round(y! + 1.772 * (cb! - 128)))));
  });

  it('maps PALETTE COLOR through its red, green and blue tables (PS3.3 C.7.6.3.1.5)', async () => {
    const words = (f: (i: number) => number): Uint8Array => {
      const b = new Uint8Array(512);
      for (let i = 0; i < 256; i++) new DataView(b.buffer).setUint16(i * 2, f(i), true);
      return b;
    };
    const { file, values } = syntheticDicom({
      rows: 4,
      columns: 4,
      frames: 1,
      bitsAllocated: 8,
      bitsStored: 8,
      signed: false,
      samplesPerPixel: 1,
      photometric: 'PALETTE COLOR',
      extra: [
        us(0x00281101, 256, 0, 16),
        us(0x00281102, 256, 0, 16),
        us(0x00281103, 256, 0, 16),
        ob(
          0x00281201,
          words((i) => i * 256),
          'OW',
        ),
        ob(
          0x00281202,
          words((i) => 65535 - i * 256),
          'OW',
        ),
        ob(
          0x00281203,
          words(() => 4660),
          'OW',
        ),
      ],
    });
    const img = await decode(file);
    expect(img).toMatchObject({ samplesPerPixel: 3, photometricInterpretation: 'RGB', bitsStored: 16 });
    expect(Array.from(img.pixels.subarray(0, 3))).toEqual([values[0]! * 256, 65535 - values[0]! * 256, 4660]);
  });

  it('refuses pixel data shorter than the header needs', async () => {
    const { file } = syntheticDicom({
      rows: 8,
      columns: 8,
      frames: 1,
      bitsAllocated: 16,
      bitsStored: 16,
      signed: false,
      samplesPerPixel: 1,
    });
    // Shrink the Pixel Data length field and the file together: a consistent but short element.
    const cut = file.slice(0, file.length - 20);
    new DataView(cut.buffer).setUint32(cut.length - (128 - 20) - 4, 128 - 20, true);
    const err = await decode(cut).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImagingError);
    expect((err as ImagingError).message).toMatch(/truncated/);
  });
});

/** Lossless transcodes must decode bit-exact to the uncompressed original. */
const LOSSLESS: [string, string, string[]][] = [
  ['implicit VR little endian', 'dcmconv', ['+ti']],
  ['explicit VR big endian', 'dcmconv', ['+tb']],
  ['deflated explicit VR little endian', 'dcmconv', ['+td']],
  ['RLE lossless', 'dcmcrle', []],
  ['JPEG lossless SV1 (process 14)', 'dcmcjpeg', ['+e1']],
  ['JPEG lossless, selection value 6', 'dcmcjpeg', ['+el', '+sv', '6']],
  ['JPEG-LS lossless', 'dcmcjpls', ['+el']],
];

const SPECS: [string, SyntheticSpec][] = [
  [
    '8-bit grey, 3 frames',
    { rows: 30, columns: 40, frames: 3, bitsAllocated: 8, bitsStored: 8, signed: false, samplesPerPixel: 1 },
  ],
  [
    '12-bit grey',
    { rows: 48, columns: 64, frames: 1, bitsAllocated: 16, bitsStored: 12, signed: false, samplesPerPixel: 1 },
  ],
  [
    '16-bit signed grey, 2 frames',
    { rows: 32, columns: 33, frames: 2, bitsAllocated: 16, bitsStored: 16, signed: true, samplesPerPixel: 1 },
  ],
  [
    '8-bit RGB, 2 frames',
    { rows: 20, columns: 24, frames: 2, bitsAllocated: 8, bitsStored: 8, signed: false, samplesPerPixel: 3 },
  ],
];

describe.skipIf(!hasDcmtk())('decodeImage on DCMTK transcodes', () => {
  for (const [specName, spec] of SPECS) {
    for (const [tsName, tool, args] of LOSSLESS) {
      it(`${tsName}: ${specName} decodes bit-exact`, async () => {
        const { file, values } = syntheticDicom(spec, 7);
        const original = await decode(file);
        expect(Array.from(original.pixels)).toEqual(values);
        const transcoded = await decode(dcmtk(tool, args, file));
        expect(transcoded.frames).toBe(spec.frames);
        expect(maxAbsDiff(transcoded.pixels, original.pixels)).toBe(0);
      });
    }
  }

  it('big endian 8-bit pixels held in OW are un-swapped (PS3.5 6.2)', async () => {
    const spec: SyntheticSpec = {
      rows: 5,
      columns: 6,
      frames: 1,
      bitsAllocated: 8,
      bitsStored: 8,
      signed: false,
      samplesPerPixel: 1,
      pixelVr: 'OW',
    };
    const { file, values } = syntheticDicom(spec, 9);
    const img = await decode(dcmtk('dcmconv', ['+tb'], file));
    expect(Array.from(img.pixels)).toEqual(values);
  });

  it('JPEG-LS near-lossless stays within its NEAR bound of 2', async () => {
    const spec = SPECS[1]![1];
    const { file } = syntheticDicom(spec, 3);
    const img = await decode(dcmtk('dcmcjpls', ['+en', '+md', '2'], file));
    expect(maxAbsDiff(img.pixels, (await decode(file)).pixels)).toBeLessThanOrEqual(2);
  });

  // Lossy JPEG, stated error: within 1 of DCMTK's own decoder (dcmdjpeg, libijg) on every sample,
  // and RMS within 5% of the stored range from the original (quality 90 on a deliberately noisy image).
  const LOSSY: [string, string[], SyntheticSpec][] = [
    ['JPEG baseline, 8-bit grey', ['+eb'], SPECS[0]![1]],
    ['JPEG baseline, 8-bit RGB (YBR_FULL_422)', ['+eb'], SPECS[3]![1]],
    ['JPEG extended, 12-bit grey', ['+ee'], SPECS[1]![1]],
  ];
  for (const [name, args, spec] of LOSSY) {
    it(`${name} decodes within 1 of DCMTK and 5% RMS of the original`, async () => {
      const { file } = syntheticDicom(spec, 5);
      const original = await decode(file);
      const compressed = dcmtk('dcmcjpeg', args, file);
      const img = await decode(compressed);
      expect(img.lossy).toBe(true);
      expect(maxAbsDiff(img.pixels, (await decode(dcmtk('dcmdjpeg', [], compressed))).pixels)).toBeLessThanOrEqual(1);
      expect(rmsDiff(img.pixels, original.pixels)).toBeLessThan(0.05 * 2 ** spec.bitsStored);
    });
  }
});

describe('decodeImage on JPEG 2000 made by an encoder', () => {
  it('decodes multi-frame JPEG 2000 lossless bit-exact (16-bit signed, 3 frames)', async () => {
    const spec: SyntheticSpec = {
      rows: 24,
      columns: 30,
      frames: 3,
      bitsAllocated: 16,
      bitsStored: 16,
      signed: true,
      samplesPerPixel: 1,
    };
    const { file, values } = syntheticDicom(spec, 4);
    const img = await decode(await encodeJpeg2000Dicom(spec, file));
    expect(img.frames).toBe(3);
    expect(Array.from(img.pixels)).toEqual(values);
  });

  it('decodes multi-frame High-Throughput JPEG 2000 lossless bit-exact (12-bit, 2 frames)', async () => {
    const spec: SyntheticSpec = {
      rows: 20,
      columns: 28,
      frames: 2,
      bitsAllocated: 16,
      bitsStored: 12,
      signed: false,
      samplesPerPixel: 1,
    };
    const { file, values } = syntheticDicom(spec, 6);
    const img = await decode(await encodeJpeg2000Dicom(spec, file, 'htj2k'));
    expect(img.dicom?.transferSyntaxUid).toBe('1.2.840.10008.1.2.4.201');
    expect(Array.from(img.pixels)).toEqual(values);
  });
});

describe.skipIf(!hasPydicomFiles)('decodeImage on pydicom conformance files', () => {
  it('decodes every MR_small encoding to the same pixels', async () => {
    const reference = await decode(readPydicom('MR_small.dcm'));
    expect(reference.voi[0]?.windows[0]).toEqual({ center: 600, width: 1600 });
    for (const name of [
      'MR_small_implicit.dcm',
      'MR_small_bigendian.dcm',
      'MR_small_expb.dcm',
      'MR_small_padded.dcm',
      'MR_small_RLE.dcm',
      'MR_small_jp2klossless.dcm',
      'MR_small_jpeg_ls_lossless.dcm',
    ]) {
      const img = await decode(readPydicom(name));
      expect(maxAbsDiff(img.pixels, reference.pixels), name).toBe(0);
    }
  });

  it('decodes 32-bit multi-frame dose grids in big endian and RLE identically', async () => {
    const reference = await decode(readPydicom('rtdose.dcm'));
    expect(reference.frames).toBe(15);
    for (const name of ['rtdose_expb.dcm', 'rtdose_rle.dcm']) {
      expect(maxAbsDiff((await decode(readPydicom(name))).pixels, reference.pixels), name).toBe(0);
    }
  });

  it('decodes 1-bit segmentations in both byte orders identically', async () => {
    const le = await decode(readPydicom('liver_1frame.dcm'));
    const be = await decode(readPydicom('liver_expb_1frame.dcm'));
    expect(maxAbsDiff(le.pixels, be.pixels)).toBe(0);
    expect(Array.from(le.pixels).reduce((a, b) => Math.max(a, b), 0)).toBe(1);
  });

  it('decodes colour in every JPEG, JPEG 2000 and RLE variant close to the RLE original', async () => {
    const reference = await decode(readPydicom('SC_rgb_rle.dcm'));
    const exact = ['SC_rgb_gdcm_KY.dcm', 'SC_rgb_jpeg_gdcm.dcm', 'SC_rgb_rle_2frame.dcm'];
    for (const name of exact) {
      const img = await decode(readPydicom(name));
      expect(maxAbsDiff(img.pixels.subarray(0, 30000), reference.pixels), name).toBe(0);
    }
    const lossy = [
      'SC_rgb_dcmtk_+eb+cr.dcm',
      'SC_rgb_dcmtk_+eb+cy+n1.dcm',
      'SC_rgb_dcmtk_+eb+cy+n2.dcm',
      'SC_rgb_dcmtk_+eb+cy+np.dcm',
      'SC_rgb_dcmtk_+eb+cy+s2.dcm',
      'SC_rgb_dcmtk_+eb+cy+s4.dcm',
      'SC_rgb_jpeg_dcmtk.dcm',
      'SC_rgb_jpeg_lossy_gdcm.dcm',
      'SC_ybr_full_422_uncompressed.dcm',
    ];
    for (const name of lossy) {
      const img = await decode(readPydicom(name));
      expect(img.photometricInterpretation).toBe('RGB');
      // Band edges of this synthetic image suffer most from chroma subsampling: RMS under 5% of 255.
      expect(rmsDiff(img.pixels, reference.pixels), name).toBeLessThan(0.05 * 255);
    }
  });

  it.skipIf(!hasDcmtk())(
    'decodes RGB JPEG without a colour transform as DCMTK does (no YCbCr conversion)',
    async () => {
      for (const name of [
        'SC_jpeg_no_color_transform.dcm',
        'SC_jpeg_no_color_transform_2.dcm',
        'SC_rgb_jpeg_app14_dcmd.dcm',
      ]) {
        const file = readPydicom(name);
        const ours = await decode(file);
        expect(maxAbsDiff(ours.pixels, (await decode(dcmtk('dcmdjpeg', [], file))).pixels), name).toBeLessThanOrEqual(
          1,
        );
      }
    },
  );

  it.skipIf(!hasDcmtk())('decodes 12-bit JPEG Extended exactly as DCMTK dcmdjpeg does', async () => {
    const file = readPydicom('JPGExtended.dcm');
    const ours = await decode(file);
    const dcmtkDecoded = await decode(dcmtk('dcmdjpeg', [], file));
    expect(ours.bitsStored).toBe(12);
    expect(maxAbsDiff(ours.pixels, dcmtkDecoded.pixels)).toBe(0);
  });

  it('decodes deflate and rescaled CT', async () => {
    const dfl = await decode(readPydicom('image_dfl.dcm'));
    expect([dfl.width, dfl.height]).toEqual([512, 512]);
    const ct = await decode(readPydicom('CT_small.dcm'));
    expect(ct.modality[0]).toMatchObject({ slope: 1, intercept: -1024 });
    expect(ct.pixels).toBeInstanceOf(Int32Array);
  });

  it('refuses broken files with clear errors', async () => {
    await expect(decode(readPydicom('MR_truncated.dcm'))).rejects.toMatchObject({ code: 'corrupt', status: 422 });
    await expect(decode(readPydicom('JPEG2000-embedded-sequence-delimiter.dcm'))).rejects.toMatchObject({
      code: 'corrupt',
    });
    await expect(decode(readPydicom('rtplan.dcm'))).rejects.toMatchObject({ code: 'unsupported_format', status: 415 });
  });
});
