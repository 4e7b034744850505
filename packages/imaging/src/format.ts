export type ImageFormat = 'dicom' | 'png' | 'jpeg' | 'tiff';

export const MEDIA_TYPES: Record<ImageFormat, string> = {
  dicom: 'application/dicom',
  png: 'image/png',
  jpeg: 'image/jpeg',
  tiff: 'image/tiff',
};

export const FORMAT_NAMES: Record<ImageFormat, string> = {
  dicom: 'DICOM',
  png: 'PNG',
  jpeg: 'JPEG',
  tiff: 'TIFF',
};
