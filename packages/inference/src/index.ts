/**
 * @scanflow/inference: models as data (manifest + ONNX + card), the in-process ONNX Runtime
 * engine, pure pre- and post-processing, Grad-CAM / occlusion heatmaps and their PNG overlays.
 */
export type {
  ManifestGradcam,
  ManifestInput,
  ManifestLabel,
  ManifestOutputs,
  ManifestPreprocessing,
  ManifestResult,
  ModelManifest,
} from './manifest.ts';
export {
  DEFAULT_HIGH_THRESHOLD,
  DEFAULT_UNCERTAIN_THRESHOLD,
  ManifestError,
  parseManifest,
  validateManifest,
} from './manifest.ts';
export type { LoadedModel, LoadOptions, ModelRegistry } from './registry.ts';
export { loadModelFolder, loadModels, ModelLoadError } from './registry.ts';
export type { Signature, ValueInfo } from './signature.ts';
export { checkSignature } from './signature.ts';
export type { InputRegion, Preprocessed } from './preprocess.ts';
export { preprocess, PreprocessError } from './preprocess.ts';
export type { LabelResult, Priority, Triage } from './postprocess.ts';
export { postprocess, priorityScore, sigmoid } from './postprocess.ts';
export type { Classifier, Heatmap } from './gradcam.ts';
export { gradcam, heatmapToImage, parseClassifier, peakLocation } from './gradcam.ts';
export type { OcclusionOptions } from './occlusion.ts';
export { occlusionMap } from './occlusion.ts';
export type { OverlayOptions } from './heatmap-png.ts';
export { blendHeatmap, inferno, overlayPixels, renderHeatmapGreyPng, renderHeatmapPng } from './heatmap-png.ts';
export type { Analysis, AnalysisHeatmap, InferenceEngine, ModelOutputs, OnnxEngineOptions } from './engine.ts';
export { DISCLAIMER, l2normalise, OnnxEngine } from './engine.ts';
export type { WorkerAnalysis, WorkerAnalysisOptions } from './in-worker.ts';
export type { HeatmapRenditionKind, HeatmapRenditions } from './heatmap-renditions.ts';
export {
  HEATMAP_GRID_MAX_SIDE,
  HEATMAP_MAX_SIDE,
  heatmapGrid,
  renderHeatmapRendition,
  renderHeatmapRenditions,
} from './heatmap-renditions.ts';
export type { EvalReport, EvalSet, LabelScore } from './evaluation.ts';
export { auroc, evaluateModel } from './evaluation.ts';
