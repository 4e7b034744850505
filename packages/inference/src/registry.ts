/**
 * The model registry (SPEC M1): every folder under the models directory that holds `model.onnx`,
 * `manifest.json` and `MODEL_CARD.md` is a model. Each is validated and its ONNX Runtime session
 * created once at load, then reused for every scan. A broken folder is reported by name and
 * skipped, so one bad model cannot take the others down; a setting picks the active one.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { parseClassifier } from './gradcam.ts';
import type { Classifier } from './gradcam.ts';
import { parseManifest } from './manifest.ts';
import type { ModelManifest } from './manifest.ts';
import { checkSignature } from './signature.ts';
import type { Signature, ValueInfo } from './signature.ts';

export interface LoadedModel {
  /** The folder name, which is how a setting names the model. */
  id: string;
  dir: string;
  manifest: ModelManifest;
  session: ort.InferenceSession;
  /** The linear head for Grad-CAM (manifest `gradcam`), checked against the labels and features. */
  classifier?: Classifier;
  /** MODEL_CARD.md, when present (it is written at the end of training). */
  card?: string;
  signature: Signature;
}

export interface ModelRegistry {
  models: LoadedModel[];
  active: LoadedModel;
  /** Folders that did not load, each with why. */
  errors: Array<{ folder: string; message: string }>;
  warnings: string[];
  get(idOrName: string): LoadedModel | undefined;
  /** Releases every session. */
  close(): Promise<void>;
}

export interface LoadOptions {
  /** Folder name or manifest name of the model to use; default the only, or first by name, one. */
  active?: string;
  /**
   * Threads per session for one inference. Small by default: the server runs analyses side by
   * side on a few cores, and ONNX Runtime's default (all cores per session) makes them fight.
   */
  intraOpNumThreads?: number;
  onWarning?: (message: string) => void;
}

export class ModelLoadError extends Error {
  override readonly name = 'ModelLoadError';
}

const FILES = { model: 'model.onnx', manifest: 'manifest.json', card: 'MODEL_CARD.md' } as const;

export async function loadModels(dir: string, options: LoadOptions = {}): Promise<ModelRegistry> {
  const root = resolve(dir);
  let entries: string[];
  try {
    entries = (await readdir(root, { withFileTypes: true }))
      .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
      .map((e) => e.name)
      .sort();
  } catch (err) {
    throw new ModelLoadError(`The models directory ${root} cannot be read: ${(err as Error).message}`);
  }
  const models: LoadedModel[] = [];
  const errors: ModelRegistry['errors'] = [];
  const warnings: string[] = [];
  const warn = (message: string): void => {
    warnings.push(message);
    options.onWarning?.(message);
  };
  for (const folder of entries) {
    try {
      const model = await loadModel(join(root, folder), folder, options.intraOpNumThreads ?? 1, warn);
      const clash = models.find((m) => m.manifest.name === model.manifest.name);
      if (clash) {
        await model.session.release();
        throw new ModelLoadError(`its manifest name '${model.manifest.name}' is already used by folder '${clash.id}'`);
      }
      models.push(model);
    } catch (err) {
      errors.push({ folder, message: err instanceof Error ? err.message : String(err) });
      warn(`Model folder '${folder}' was not loaded: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const summary = errors.map((e) => `  - ${e.folder}: ${e.message}`).join('\n');
  if (models.length === 0) {
    throw new ModelLoadError(
      `No model could be loaded from ${root}${summary ? `:\n${summary}` : ' (no model folders)'}`,
    );
  }
  const get = (key: string): LoadedModel | undefined =>
    models.find((m) => m.id === key) ?? models.find((m) => m.manifest.name === key);
  let active = models[0]!;
  if (options.active !== undefined && options.active !== '') {
    const chosen = get(options.active);
    if (!chosen) {
      for (const m of models) await m.session.release();
      const failed = errors.find((e) => e.folder === options.active);
      throw new ModelLoadError(
        failed
          ? `The active model '${options.active}' did not load: ${failed.message}`
          : `The active model '${options.active}' is not among the loaded models (${models.map((m) => m.id).join(', ')})`,
      );
    }
    active = chosen;
  }
  return {
    models,
    active,
    errors,
    warnings,
    get,
    close: async () => {
      for (const m of models) await m.session.release();
    },
  };
}

/**
 * One model folder, loaded alone with one intra-op thread (a decode worker thread that runs the
 * whole analysis loads the server's active model this way: its own session, the same files).
 */
export function loadModelFolder(dir: string): Promise<LoadedModel> {
  const root = resolve(dir);
  return loadModel(root, basename(root), 1, () => undefined);
}

async function loadModel(
  dir: string,
  id: string,
  threads: number,
  warn: (message: string) => void,
): Promise<LoadedModel> {
  const missing = [FILES.model, FILES.manifest].filter((f) => !existsSync(join(dir, f)));
  if (missing.length > 0) throw new ModelLoadError(`missing ${missing.join(' and ')}`);
  let json: unknown;
  try {
    json = JSON.parse(await readFile(join(dir, FILES.manifest), 'utf8'));
  } catch (err) {
    throw new ModelLoadError(`${FILES.manifest} is not valid JSON: ${(err as Error).message}`);
  }
  const manifest = parseManifest(json, `${id}/${FILES.manifest}`, warn);

  let card: string | undefined;
  const cardName = manifest.modelCard ?? FILES.card;
  if (existsSync(join(dir, cardName)) && (await stat(join(dir, cardName))).isFile()) {
    card = await readFile(join(dir, cardName), 'utf8');
  } else {
    // Training writes the card last; the model is usable before, but the card must ship with it.
    warn(`Model folder '${id}' has no ${cardName}; its measured performance cannot be shown.`);
  }

  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(join(dir, FILES.model), {
      executionProviders: ['cpu'],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
    });
  } catch (err) {
    throw new ModelLoadError(`${FILES.model} cannot be opened by ONNX Runtime: ${(err as Error).message}`);
  }
  try {
    const { problems, signature } = checkSignature(
      manifest,
      session.inputMetadata.map(info),
      session.outputMetadata.map(info),
    );
    let classifier: Classifier | undefined;
    if (manifest.gradcam) {
      try {
        const raw: unknown = JSON.parse(await readFile(join(dir, manifest.gradcam.classifier), 'utf8'));
        classifier = parseClassifier(
          raw,
          manifest.labels.map((l) => l.id),
          signature.featureChannels,
        );
      } catch (err) {
        problems.push(`gradcam.classifier ${manifest.gradcam.classifier}: ${(err as Error).message}`);
      }
    }
    if (problems.length > 0) {
      throw new ModelLoadError(`${FILES.model} does not match its manifest:\n    - ${problems.join('\n    - ')}`);
    }
    return { id, dir, manifest, session, signature, ...(classifier ? { classifier } : {}), ...(card ? { card } : {}) };
  } catch (err) {
    await session.release();
    throw err;
  }
}

function info(meta: ort.InferenceSession.ValueMetadata): ValueInfo {
  return meta.isTensor ? { name: meta.name, shape: meta.shape, type: meta.type } : { name: meta.name, shape: [] };
}
