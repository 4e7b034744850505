/** Synthetic test images, made on the fly: no patient data, nothing downloaded. */
import { randomUUID } from 'node:crypto';
import dcmjs from 'dcmjs';
import sharp from 'sharp';

export async function pngBytes(width = 64, height = 64, seed = 1): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7 + seed * 13) % 256;
  return sharp(pixels, { raw: { width, height, channels: 1 } })
    .png()
    .toBuffer();
}

export async function jpegBytes(width = 64, height = 64): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height, 128);
  return sharp(pixels, { raw: { width, height, channels: 1 } })
    .jpeg()
    .toBuffer();
}

export const newUid = () => `2.25.${BigInt(`0x${randomUUID().replace(/-/g, '')}`).toString()}`;

/** A small 16-bit monochrome DICOM Part 10 file (explicit VR little endian). */
export function dicomBytes(
  options: {
    patientId?: string;
    patientName?: string;
    sopInstanceUid?: string;
    rows?: number;
    columns?: number;
    /** Pixel Spacing (0028,0030) in mm, row then column: for measurements. */
    pixelSpacing?: [number, number];
    /** More attributes by keyword (dcmjs naturalised form), replacing the defaults. */
    attributes?: Record<string, unknown>;
    /** Attributes by tag in DICOM JSON form, e.g. private ones: `{ '00091001': { vr: 'LO', Value: ['x'] } }`. */
    raw?: Record<string, { vr: string; Value: unknown[] }>;
  } = {},
): Buffer {
  const rows = options.rows ?? 32;
  const columns = options.columns ?? 32;
  const sop = options.sopInstanceUid ?? newUid();
  const pixels = new Uint16Array(rows * columns);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 37) % 4096;
  // Only the writer is needed here; the imaging package declares the parts of dcmjs it reads.
  const { DicomDict, DicomMetaDictionary } = (
    dcmjs as unknown as {
      data: {
        DicomDict: new (meta: unknown) => { dict: unknown; write(): ArrayBuffer };
        DicomMetaDictionary: { denaturalizeDataset(dataset: unknown): unknown };
      };
    }
  ).data;
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: '1.2.840.10008.5.1.4.1.1.1.1',
    MediaStorageSOPInstanceUID: sop,
    TransferSyntaxUID: '1.2.840.10008.1.2.1',
    ImplementationClassUID: '2.25.1234567',
  };
  const dataset = {
    SOPClassUID: '1.2.840.10008.5.1.4.1.1.1.1',
    SOPInstanceUID: sop,
    StudyInstanceUID: newUid(),
    SeriesInstanceUID: newUid(),
    PatientID: options.patientId ?? `SYN-${randomUUID().slice(0, 8)}`,
    PatientName: options.patientName ?? 'Synthetic^Phantom',
    PatientBirthDate: '19700101',
    PatientSex: 'O',
    Modality: 'DX',
    BodyPartExamined: 'CHEST',
    ViewPosition: 'PA',
    StudyDate: '20260101',
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: rows,
    Columns: columns,
    BitsAllocated: 16,
    BitsStored: 12,
    HighBit: 11,
    PixelRepresentation: 0,
    ...(options.pixelSpacing ? { PixelSpacing: options.pixelSpacing } : {}),
    ...options.attributes,
    PixelData: [pixels.buffer],
    _vrMap: { PixelData: 'OW' },
  };
  const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = { ...(DicomMetaDictionary.denaturalizeDataset(dataset) as object), ...options.raw };
  return Buffer.from(dict.write());
}
