/** @scanflow/imaging: identify, probe and decode medical images. Pure functions, no I/O. */
export type { ImageFormat } from './format.ts';
export { MEDIA_TYPES } from './format.ts';
export { sniffFormat } from './sniff.ts';
export { ImagingError } from './errors.ts';
export type { ImagingErrorCode, ImagingErrorStatus } from './errors.ts';
export type { BasicDicomTags } from './dicom/basic-tags.ts';
export type { ProbeLimits } from './limits.ts';
export type { ImageProbe, ProbeOptions } from './probe.ts';
export { probeImage, probeImageSync } from './probe.ts';
export type { DecodedImage, PixelArray } from './image.ts';
export type { DecodeLimits } from './decode.ts';
export { decodeImage } from './decode.ts';
export type { DisplayRendition, RenderOptions } from './render.ts';
export { automaticWindow, displayPixels, renderDisplayPng } from './render.ts';
export type { Lut, ModalityTransform, Voi, VoiFunction, Window } from './pixel/lut.ts';
export { SUPPORTED_TRANSFER_SYNTAXES, transferSyntaxName } from './dicom/transfer-syntax.ts';
export type { TransferSyntaxInfo } from './dicom/transfer-syntax.ts';
