/** Tags as (group << 16 | element) >>> 0 numbers, names from the PS3.6 data dictionary. */
export const tag = (group: number, element: number): number => ((group << 16) | element) >>> 0;

export const formatTag = (t: number): string =>
  `(${(t >>> 16).toString(16).padStart(4, '0').toUpperCase()},${(t & 0xffff).toString(16).padStart(4, '0').toUpperCase()})`;

export const Tags = {
  TransferSyntaxUID: tag(0x0002, 0x0010),
  MediaStorageSOPClassUID: tag(0x0002, 0x0002),
  MediaStorageSOPInstanceUID: tag(0x0002, 0x0003),
  SpecificCharacterSet: tag(0x0008, 0x0005),
  SOPClassUID: tag(0x0008, 0x0016),
  SOPInstanceUID: tag(0x0008, 0x0018),
  StudyDate: tag(0x0008, 0x0020),
  Modality: tag(0x0008, 0x0060),
  PatientName: tag(0x0010, 0x0010),
  PatientID: tag(0x0010, 0x0020),
  PatientBirthDate: tag(0x0010, 0x0030),
  PatientSex: tag(0x0010, 0x0040),
  BodyPartExamined: tag(0x0018, 0x0015),
  ViewPosition: tag(0x0018, 0x5101),
  ImagerPixelSpacing: tag(0x0018, 0x1164),
  StudyInstanceUID: tag(0x0020, 0x000d),
  SeriesInstanceUID: tag(0x0020, 0x000e),
  SamplesPerPixel: tag(0x0028, 0x0002),
  PhotometricInterpretation: tag(0x0028, 0x0004),
  PlanarConfiguration: tag(0x0028, 0x0006),
  NumberOfFrames: tag(0x0028, 0x0008),
  Rows: tag(0x0028, 0x0010),
  Columns: tag(0x0028, 0x0011),
  PixelSpacing: tag(0x0028, 0x0030),
  BitsAllocated: tag(0x0028, 0x0100),
  BitsStored: tag(0x0028, 0x0101),
  HighBit: tag(0x0028, 0x0102),
  PixelRepresentation: tag(0x0028, 0x0103),
  WindowCenter: tag(0x0028, 0x1050),
  WindowWidth: tag(0x0028, 0x1051),
  RescaleIntercept: tag(0x0028, 0x1052),
  RescaleSlope: tag(0x0028, 0x1053),
  RescaleType: tag(0x0028, 0x1054),
  VOILUTFunction: tag(0x0028, 0x1056),
  ModalityLUTSequence: tag(0x0028, 0x3000),
  LUTDescriptor: tag(0x0028, 0x3002),
  ModalityLUTType: tag(0x0028, 0x3004),
  LUTData: tag(0x0028, 0x3006),
  VOILUTSequence: tag(0x0028, 0x3010),
  PixelMeasuresSequence: tag(0x0028, 0x9110),
  FrameVOILUTSequence: tag(0x0028, 0x9132),
  PixelValueTransformationSequence: tag(0x0028, 0x9145),
  SharedFunctionalGroupsSequence: tag(0x5200, 0x9229),
  PerFrameFunctionalGroupsSequence: tag(0x5200, 0x9230),
  PixelData: tag(0x7fe0, 0x0010),
  Item: tag(0xfffe, 0xe000),
  ItemDelimitationItem: tag(0xfffe, 0xe00d),
  SequenceDelimitationItem: tag(0xfffe, 0xe0dd),
} as const;

/**
 * Sequences read by this package. In implicit VR (PS3.5 A.1) a defined-length sequence cannot be
 * told from other data without the dictionary, so these are recognised by tag; any other
 * defined-length value is skipped as opaque bytes, and undefined length always means a sequence.
 */
export const IMPLICIT_SEQUENCE_TAGS: ReadonlySet<number> = new Set([
  Tags.ModalityLUTSequence,
  Tags.VOILUTSequence,
  Tags.PixelMeasuresSequence,
  Tags.FrameVOILUTSequence,
  Tags.PixelValueTransformationSequence,
  Tags.SharedFunctionalGroupsSequence,
  Tags.PerFrameFunctionalGroupsSequence,
]);
