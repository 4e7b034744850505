/**
 * The models of this process (SPEC M1): loaded once from MODELS_DIR — each validated, its ONNX
 * Runtime session created — and shared by the pre-read worker and the API that describes them,
 * so a process holds one session per model however many parts use it.
 */
import { DISCLAIMER, loadModels, type LoadedModel, type ModelRegistry } from '@scanflow/inference';
import type { Config } from '../config.ts';

const registries = new Map<string, Promise<ModelRegistry>>();

export function modelRegistry(config: Pick<Config, 'modelsDir' | 'model'>): Promise<ModelRegistry> {
  const key = JSON.stringify([config.modelsDir, config.model ?? null]);
  let registry = registries.get(key);
  if (!registry) {
    registry = loadModels(config.modelsDir, config.model ? { active: config.model } : {});
    // A failed load (no models directory yet) is tried again on the next call, not cached.
    registry.catch(() => registries.delete(key));
    registries.set(key, registry);
  }
  return registry;
}

export interface ModelSummary {
  id: string;
  name: string;
  version: string;
  description: string | null;
  task: string;
  labels: { id: string; display: string; threshold: number; urgency: number }[];
  input: { shape: number[]; channels: number };
  preprocessing: { intensity: string; resize: string; size: number[] };
  explanation: 'gradcam' | 'occlusion';
  uncertainThreshold: number;
  uncertainDefinition: string | null;
  priority: { weights: Record<string, number>; highThreshold: number; definition: string | null };
}

export function summariseModel(model: LoadedModel): ModelSummary {
  const m = model.manifest;
  return {
    id: model.id,
    name: m.name,
    version: m.version,
    description: m.description ?? null,
    task: m.task,
    labels: m.labels.map((l) => ({ id: l.id, display: l.display, threshold: l.threshold, urgency: l.urgency })),
    input: { shape: [...m.input.shape], channels: m.input.channels },
    preprocessing: {
      intensity: m.preprocessing.intensity,
      resize: m.preprocessing.resize,
      size: [...m.preprocessing.size],
    },
    explanation: model.classifier && m.outputs.features ? 'gradcam' : 'occlusion',
    uncertainThreshold: m.uncertainThreshold,
    uncertainDefinition: m.uncertainDefinition ?? null,
    priority: {
      weights: { ...m.priority.weights },
      highThreshold: m.priority.highThreshold,
      definition: m.priority.definition ?? null,
    },
  };
}

export interface ModelCatalog {
  active: ModelSummary & { card: string | null };
  models: Pick<ModelSummary, 'id' | 'name' | 'version'>[];
  disclaimer: string;
}

export async function modelCatalog(config: Pick<Config, 'modelsDir' | 'model'>): Promise<ModelCatalog> {
  const registry = await modelRegistry(config);
  return {
    active: { ...summariseModel(registry.active), card: registry.active.card ?? null },
    models: registry.models.map((m) => ({ id: m.id, name: m.manifest.name, version: m.manifest.version })),
    disclaimer: DISCLAIMER,
  };
}
