import { ImagingError } from '../errors.ts';

/** Transfer syntaxes of PS3.5 section 10 and annex A, and how this package handles each. */
export const TS = {
  ImplicitVRLittleEndian: '1.2.840.10008.1.2',
  ExplicitVRLittleEndian: '1.2.840.10008.1.2.1',
  DeflatedExplicitVRLittleEndian: '1.2.840.10008.1.2.1.99',
  ExplicitVRBigEndian: '1.2.840.10008.1.2.2',
  JpegBaseline: '1.2.840.10008.1.2.4.50',
  JpegExtended: '1.2.840.10008.1.2.4.51',
  JpegLossless: '1.2.840.10008.1.2.4.57',
  JpegLosslessSV1: '1.2.840.10008.1.2.4.70',
  JpegLsLossless: '1.2.840.10008.1.2.4.80',
  JpegLsNearLossless: '1.2.840.10008.1.2.4.81',
  Jpeg2000Lossless: '1.2.840.10008.1.2.4.90',
  Jpeg2000: '1.2.840.10008.1.2.4.91',
  RleLossless: '1.2.840.10008.1.2.5',
  HtJpeg2000Lossless: '1.2.840.10008.1.2.4.201',
  HtJpeg2000LosslessRpcl: '1.2.840.10008.1.2.4.202',
  HtJpeg2000: '1.2.840.10008.1.2.4.203',
} as const;

export type TransferSyntaxKind = 'native' | 'rle' | 'jpeg' | 'jpeg-ls' | 'jpeg2000' | 'htj2k';

export interface TransferSyntaxInfo {
  uid: string;
  name: string;
  kind: TransferSyntaxKind;
  littleEndian: boolean;
  explicitVr: boolean;
  deflated: boolean;
  lossy: boolean;
}

const info = (
  uid: string,
  name: string,
  kind: TransferSyntaxKind,
  extra: Partial<Pick<TransferSyntaxInfo, 'littleEndian' | 'explicitVr' | 'deflated' | 'lossy'>> = {},
): TransferSyntaxInfo => ({
  uid,
  name,
  kind,
  littleEndian: extra.littleEndian ?? true,
  explicitVr: extra.explicitVr ?? true,
  deflated: extra.deflated ?? false,
  lossy: extra.lossy ?? false,
});

/** Every transfer syntax this package decodes to pixels. */
export const SUPPORTED_TRANSFER_SYNTAXES: ReadonlyMap<string, TransferSyntaxInfo> = new Map(
  [
    info(TS.ImplicitVRLittleEndian, 'Implicit VR Little Endian', 'native', { explicitVr: false }),
    info(TS.ExplicitVRLittleEndian, 'Explicit VR Little Endian', 'native'),
    info(TS.DeflatedExplicitVRLittleEndian, 'Deflated Explicit VR Little Endian', 'native', { deflated: true }),
    info(TS.ExplicitVRBigEndian, 'Explicit VR Big Endian', 'native', { littleEndian: false }),
    info(TS.RleLossless, 'RLE Lossless', 'rle'),
    info(TS.JpegBaseline, 'JPEG Baseline (Process 1)', 'jpeg', { lossy: true }),
    info(TS.JpegExtended, 'JPEG Extended (Process 2 & 4)', 'jpeg', { lossy: true }),
    info(TS.JpegLossless, 'JPEG Lossless, Non-Hierarchical (Process 14)', 'jpeg'),
    info(TS.JpegLosslessSV1, 'JPEG Lossless, First-Order Prediction (Process 14, SV1)', 'jpeg'),
    info(TS.JpegLsLossless, 'JPEG-LS Lossless', 'jpeg-ls'),
    info(TS.JpegLsNearLossless, 'JPEG-LS Near-Lossless', 'jpeg-ls', { lossy: true }),
    info(TS.Jpeg2000Lossless, 'JPEG 2000 (Lossless Only)', 'jpeg2000'),
    info(TS.Jpeg2000, 'JPEG 2000', 'jpeg2000', { lossy: true }),
    info(TS.HtJpeg2000Lossless, 'High-Throughput JPEG 2000 (Lossless Only)', 'htj2k'),
    info(TS.HtJpeg2000LosslessRpcl, 'High-Throughput JPEG 2000 with RPCL Options (Lossless Only)', 'htj2k'),
    info(TS.HtJpeg2000, 'High-Throughput JPEG 2000', 'htj2k', { lossy: true }),
  ].map((i) => [i.uid, i]),
);

/** Names of well-known syntaxes we refuse, so the refusal can say what the file was. */
const KNOWN_UNSUPPORTED: Record<string, string> = {
  '1.2.840.10008.1.2.4.100': 'MPEG2 Main Profile',
  '1.2.840.10008.1.2.4.101': 'MPEG2 Main Profile High Level',
  '1.2.840.10008.1.2.4.102': 'MPEG-4 AVC/H.264',
  '1.2.840.10008.1.2.4.103': 'MPEG-4 AVC/H.264 BD-compatible',
  '1.2.840.10008.1.2.4.104': 'MPEG-4 AVC/H.264 for 2D video',
  '1.2.840.10008.1.2.4.105': 'MPEG-4 AVC/H.264 for 3D video',
  '1.2.840.10008.1.2.4.106': 'MPEG-4 AVC/H.264 Stereo',
  '1.2.840.10008.1.2.4.107': 'HEVC/H.265 Main Profile',
  '1.2.840.10008.1.2.4.108': 'HEVC/H.265 Main 10 Profile',
  '1.2.840.10008.1.2.4.92': 'JPEG 2000 Part 2 Multi-component (Lossless Only)',
  '1.2.840.10008.1.2.4.93': 'JPEG 2000 Part 2 Multi-component',
  '1.2.840.10008.1.2.4.94': 'JPIP Referenced',
  '1.2.840.10008.1.2.4.95': 'JPIP Referenced Deflate',
  '1.2.840.10008.1.2.4.110': 'JPEG XL Lossless',
  '1.2.840.10008.1.2.4.111': 'JPEG XL JPEG Recompression',
  '1.2.840.10008.1.2.4.112': 'JPEG XL',
  '1.2.840.10008.1.2.4.52': 'JPEG Extended (Process 3 & 5, retired)',
  '1.2.840.10008.1.2.4.53': 'JPEG Spectral Selection, Non-Hierarchical (retired)',
  '1.2.840.10008.1.2.4.55': 'JPEG Full Progression, Non-Hierarchical (retired)',
  '1.2.840.10008.1.2.4.58': 'JPEG Lossless, Non-Hierarchical (Process 15, retired)',
  '1.2.840.10008.1.2.4.59': 'JPEG Extended, Hierarchical (retired)',
  '1.2.840.10008.1.2.6.1': 'RFC 2557 MIME encapsulation (retired)',
  '1.2.840.10008.1.2.6.2': 'XML Encoding (retired)',
};

export function transferSyntaxName(uid: string): string {
  return SUPPORTED_TRANSFER_SYNTAXES.get(uid)?.name ?? KNOWN_UNSUPPORTED[uid] ?? 'unknown transfer syntax';
}

/**
 * How the data set after the meta group is encoded (PS3.5 A.1-A.5): every syntax other than the
 * three native ones and deflate is explicit VR little endian with encapsulated pixel data (A.4).
 */
export function datasetEncoding(uid: string): { littleEndian: boolean; explicitVr: boolean; deflated: boolean } {
  switch (uid) {
    case TS.ImplicitVRLittleEndian:
      return { littleEndian: true, explicitVr: false, deflated: false };
    case TS.ExplicitVRBigEndian:
      return { littleEndian: false, explicitVr: true, deflated: false };
    case TS.DeflatedExplicitVRLittleEndian:
      return { littleEndian: true, explicitVr: true, deflated: true };
    default:
      return { littleEndian: true, explicitVr: true, deflated: false };
  }
}

export function unsupportedTransferSyntax(uid: string): ImagingError {
  return new ImagingError(
    'unsupported_transfer_syntax',
    `The DICOM transfer syntax ${uid} (${transferSyntaxName(uid)}) is not supported.`,
  );
}
