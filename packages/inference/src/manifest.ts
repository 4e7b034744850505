/**
 * The model manifest (SPEC M1): everything the server must know to run a model folder without a
 * code change. Validated on load; every problem is reported with its JSON path, all at once, so a
 * model author fixes the file in one pass.
 */

export const DEFAULT_UNCERTAIN_THRESHOLD = 0.75;
export const DEFAULT_HIGH_THRESHOLD = 0.85;

export interface ManifestLabel {
  id: string;
  display: string;
  /** Clinical urgency 0..1; the default priority weight of the label. */
  urgency: number;
  /** Decision threshold on the probability: positive when probability >= threshold. */
  threshold: number;
}

export interface ManifestInput {
  name: string;
  /** [batch, channels, height, width]; batch is 1 (the graph may accept more). */
  shape: [1, number, number, number];
  channels: 1 | 3;
  layout: 'NCHW';
  dtype: 'float32';
}

export interface ManifestPreprocessing {
  /** `dicom-window-or-percentile`: a DICOM file's own window when it has one, else percentiles. */
  intensity: 'dicom-window-or-percentile' | 'percentile';
  /** [p_low, p_high], 0..100. */
  percentiles: [number, number];
  /**
   * Which pixels the percentiles are taken over. Absent or `exact`: every pixel of the frame.
   * `regular-grid`: frames larger than `maxSamples` pixels are sampled on a regular grid with the
   * same stride s = ceil(sqrt(pixels / maxSamples)) in both directions (rows and columns s/2, s/2 +
   * s, …), so at most `maxSamples` pixels; smaller frames still use every pixel.
   */
  percentileSampling?: PercentileSampling;
  resize: 'stretch' | 'letterbox';
  /** [height, width] of the model input. */
  size: [number, number];
  interpolation: 'area';
  normalisation: { mean: number; std: number };
  /** Prose for people; the code follows the fields above. */
  photometric?: string;
  pipeline?: string[];
}

export type PercentileSampling = { method: 'exact' } | { method: 'regular-grid'; maxSamples: number };

/** Fewest samples a regular grid may keep: below this the 1st/99th percentiles rest on a handful of pixels. */
export const MIN_PERCENTILE_SAMPLES = 4096;

export interface ManifestOutputs {
  logits: string;
  /** Last convolutional feature maps [1, K, h, w] (Grad-CAM). */
  features?: string;
  /** Pooled embedding [1, K] (similar cases, progress tracking). */
  embedding?: string;
}

export interface ManifestGradcam {
  method: 'gradcam-linear-head';
  /** File in the model folder with the linear head's weights: { labels, weight[c][k], bias? }. */
  classifier: string;
  definition?: string;
}

export interface ModelManifest {
  name: string;
  version: string;
  description?: string;
  task: 'multi-label';
  labels: ManifestLabel[];
  input: ManifestInput;
  preprocessing: ManifestPreprocessing;
  outputs: ManifestOutputs;
  featureStride?: number;
  activation: 'sigmoid';
  calibration?: string;
  gradcam?: ManifestGradcam;
  uncertainThreshold: number;
  /** Prose for people; the rule itself is fixed in postprocess.ts (top finding and confidence). */
  uncertainDefinition?: string;
  priority: { weights: Record<string, number>; highThreshold: number; definition?: string };
  /** A copy of the labels' thresholds some tools read; must agree with `labels`. */
  thresholds?: Record<string, number>;
  modelCard?: string;
}

export class ManifestError extends Error {
  readonly problems: string[];
  constructor(source: string, problems: string[]) {
    super(`${source}: ${problems.length} problem(s) in the model manifest:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ManifestError';
    this.problems = problems;
  }
}

/** `warnings`: legal but suspicious values (a model still loads; the registry reports them). */
export type ManifestResult =
  { ok: true; manifest: ModelManifest; warnings: string[] } | { ok: false; problems: string[] };

type Json = Record<string, unknown>;

/** Collects problems while reading an untrusted JSON value; each read names its path. */
class Reader {
  readonly problems: string[] = [];

  problem(path: string, what: string): void {
    this.problems.push(`${path}: ${what}`);
  }

  object(value: unknown, path: string, known: readonly string[]): Json | undefined {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.problem(path, `must be an object, got ${describe(value)}`);
      return undefined;
    }
    const obj = value as Json;
    for (const key of Object.keys(obj)) {
      if (!known.includes(key))
        this.problem(join(path === ROOT ? '' : path, key), `unknown field (known: ${known.join(', ')})`);
    }
    return obj;
  }

  string(obj: Json, path: string, key: string, optional = false): string | undefined {
    const v = obj[key];
    if (v === undefined) {
      if (!optional) this.problem(join(path, key), 'is missing (a string)');
      return undefined;
    }
    if (typeof v !== 'string' || v.trim() === '') {
      this.problem(join(path, key), `must be a non-empty string, got ${describe(v)}`);
      return undefined;
    }
    return v;
  }

  number(
    obj: Json,
    path: string,
    key: string,
    range: { min?: number; max?: number; above?: number; integer?: boolean } = {},
    optional = false,
  ): number | undefined {
    const v = obj[key];
    if (v === undefined) {
      if (!optional) this.problem(join(path, key), 'is missing (a number)');
      return undefined;
    }
    return this.numberValue(v, join(path, key), range);
  }

  numberValue(
    v: unknown,
    path: string,
    range: { min?: number; max?: number; above?: number; integer?: boolean } = {},
  ): number | undefined {
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      this.problem(path, `must be a finite number, got ${describe(v)}`);
      return undefined;
    }
    if (range.integer && !Number.isInteger(v)) this.problem(path, `must be an integer, got ${v}`);
    else if (range.min !== undefined && v < range.min) this.problem(path, `must be >= ${range.min}, got ${v}`);
    else if (range.max !== undefined && v > range.max) this.problem(path, `must be <= ${range.max}, got ${v}`);
    else if (range.above !== undefined && v <= range.above) this.problem(path, `must be > ${range.above}, got ${v}`);
    else return v;
    return undefined;
  }

  oneOf<T extends string>(obj: Json, path: string, key: string, allowed: readonly T[], fallback?: T): T | undefined {
    const v = obj[key];
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
    this.problem(
      join(path, key),
      v === undefined
        ? `is missing (one of ${allowed.map((a) => `'${a}'`).join(', ')})`
        : `must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describe(v)}`,
    );
    return undefined;
  }

  array(obj: Json, path: string, key: string, optional = false): unknown[] | undefined {
    const v = obj[key];
    if (v === undefined) {
      if (!optional) this.problem(join(path, key), 'is missing (an array)');
      return undefined;
    }
    if (!Array.isArray(v)) {
      this.problem(join(path, key), `must be an array, got ${describe(v)}`);
      return undefined;
    }
    return v as unknown[];
  }

  numberMap(obj: Json, path: string, key: string, optional: boolean): Record<string, number> | undefined {
    const v = obj[key];
    if (v === undefined) {
      if (!optional) this.problem(join(path, key), 'is missing (an object of numbers)');
      return undefined;
    }
    const map = this.object(v, join(path, key), Object.keys(typeof v === 'object' && v !== null ? v : {}));
    if (!map) return undefined;
    const out: Record<string, number> = {};
    for (const [k, x] of Object.entries(map)) {
      const n = this.numberValue(x, join(join(path, key), k), { min: 0, max: 1 });
      if (n !== undefined) out[k] = n;
    }
    return out;
  }
}

const ROOT = '(manifest)';

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'string') return `"${v.length > 40 ? `${v.slice(0, 40)}…` : v}"`;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return `${typeof v} ${v}`;
  return typeof v === 'object' ? 'an object' : typeof v;
}

const TOP = [
  'name',
  'version',
  'description',
  'task',
  'labels',
  'input',
  'preprocessing',
  'outputs',
  'featureStride',
  'activation',
  'calibration',
  'gradcam',
  'uncertainThreshold',
  'uncertainDefinition',
  'priority',
  'thresholds',
  'modelCard',
] as const;

/** Checks an untrusted JSON value; on failure lists every problem found, each with its path. */
export function validateManifest(value: unknown): ManifestResult {
  const r = new Reader();
  const top = r.object(value, ROOT, TOP);
  if (!top) return { ok: false, problems: r.problems };

  const name = r.string(top, '', 'name');
  if (name !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
    r.problem('name', `must be letters, digits, '.', '_' or '-' (it names the model in results), got "${name}"`);
  }
  const version = r.string(top, '', 'version');
  const description = r.string(top, '', 'description', true);
  const task = r.oneOf(top, '', 'task', ['multi-label'] as const);
  const activation = r.oneOf(top, '', 'activation', ['sigmoid'] as const, 'sigmoid');
  const calibration = r.string(top, '', 'calibration', true);
  const modelCard = r.string(top, '', 'modelCard', true);
  const featureStride = r.number(top, '', 'featureStride', { min: 1, integer: true }, true);

  const labels = readLabels(r, top);
  const ids = new Set(labels?.map((l) => l.id));
  const input = readInput(r, top);
  const preprocessing = readPreprocessing(r, top);
  if (input && preprocessing) {
    const [, , h, w] = input.shape;
    const [sh, sw] = preprocessing.size;
    if (sh !== h || sw !== w) {
      r.problem('preprocessing.size', `[${sh}, ${sw}] differs from input.shape's [${h}, ${w}]`);
    }
  }
  const outputs = readOutputs(r, top);
  const gradcam = readGradcam(r, top);
  if (gradcam && outputs && !outputs.features) {
    r.problem('gradcam', 'needs outputs.features (the feature maps Grad-CAM weighs)');
  }
  const uncertainThreshold =
    top.uncertainThreshold === undefined
      ? DEFAULT_UNCERTAIN_THRESHOLD
      : r.number(top, '', 'uncertainThreshold', { min: 0, max: 1 });
  const uncertainDefinition = r.string(top, '', 'uncertainDefinition', true);

  const priority = readPriority(r, top, labels);
  const thresholds = r.numberMap(top, '', 'thresholds', true);
  if (thresholds && labels) {
    for (const [id, t] of Object.entries(thresholds)) {
      const label = labels.find((l) => l.id === id);
      if (!label) r.problem(`thresholds.${id}`, `names no label (labels: ${[...ids].join(', ')})`);
      else if (label.threshold !== t) {
        r.problem(`thresholds.${id}`, `is ${t} but labels[].threshold for '${id}' is ${label.threshold}`);
      }
    }
  }

  if (
    r.problems.length > 0 ||
    !name ||
    !version ||
    !task ||
    !activation ||
    !labels ||
    !input ||
    !preprocessing ||
    !outputs ||
    uncertainThreshold === undefined ||
    !priority
  ) {
    return { ok: false, problems: r.problems.length > 0 ? r.problems : ['(manifest): incomplete'] };
  }
  const manifest: ModelManifest = {
    name,
    version,
    task,
    labels,
    input,
    preprocessing,
    outputs,
    activation,
    uncertainThreshold,
    priority,
    ...(description !== undefined ? { description } : {}),
    ...(calibration !== undefined ? { calibration } : {}),
    ...(modelCard !== undefined ? { modelCard } : {}),
    ...(uncertainDefinition !== undefined ? { uncertainDefinition } : {}),
    ...(featureStride !== undefined ? { featureStride } : {}),
    ...(gradcam ? { gradcam } : {}),
    ...(thresholds ? { thresholds } : {}),
  };
  const warnings = labels
    .filter((l) => l.threshold <= 0 || l.threshold >= 1)
    .map(
      (l) =>
        `labels[${labels.indexOf(l)}].threshold is ${l.threshold}: every image will be ${l.threshold <= 0 ? 'positive' : 'negative'} for '${l.id}' (a degenerate threshold; check the model's calibration)`,
    );
  return { ok: true, manifest, warnings };
}

/** Parses and validates, throwing a ManifestError that lists every problem; warnings go to `onWarning`. */
export function parseManifest(
  value: unknown,
  source = 'manifest.json',
  onWarning?: (message: string) => void,
): ModelManifest {
  const result = validateManifest(value);
  if (!result.ok) throw new ManifestError(source, result.problems);
  for (const w of result.warnings) onWarning?.(`${source}: ${w}`);
  return result.manifest;
}

function readLabels(r: Reader, top: Json): ManifestLabel[] | undefined {
  const raw = r.array(top, '', 'labels');
  if (!raw) return undefined;
  if (raw.length === 0) r.problem('labels', 'must list at least one label');
  const out: ManifestLabel[] = [];
  const seen = new Set<string>();
  raw.forEach((item, i) => {
    const path = `labels[${i}]`;
    const o = r.object(item, path, ['id', 'display', 'urgency', 'threshold']);
    if (!o) return;
    const id = r.string(o, path, 'id');
    const display = r.string(o, path, 'display');
    const urgency = r.number(o, path, 'urgency', { min: 0, max: 1 });
    // 0 or 1 would make the label always or never positive: legal, but reported as a warning.
    const threshold = r.number(o, path, 'threshold', { min: 0, max: 1 });
    if (id !== undefined) {
      if (seen.has(id)) r.problem(`${path}.id`, `duplicate label id '${id}'`);
      seen.add(id);
    }
    if (id !== undefined && display !== undefined && urgency !== undefined && threshold !== undefined) {
      out.push({ id, display, urgency, threshold });
    }
  });
  return out.length === raw.length && raw.length > 0 ? out : undefined;
}

function readInput(r: Reader, top: Json): ManifestInput | undefined {
  if (top.input === undefined) {
    r.problem('input', 'is missing (an object)');
    return undefined;
  }
  const o = r.object(top.input, 'input', ['name', 'shape', 'channels', 'layout', 'dtype']);
  if (!o) return undefined;
  const name = r.string(o, 'input', 'name');
  const channels = r.number(o, 'input', 'channels', { integer: true });
  if (channels !== undefined && channels !== 1 && channels !== 3) {
    r.problem('input.channels', `must be 1 or 3 (greyscale, or greyscale replicated), got ${channels}`);
  }
  const layout = r.oneOf(o, 'input', 'layout', ['NCHW'] as const);
  const dtype = r.oneOf(o, 'input', 'dtype', ['float32'] as const, 'float32');
  const shapeRaw = r.array(o, 'input', 'shape');
  let shape: ManifestInput['shape'] | undefined;
  if (shapeRaw) {
    const dims = shapeRaw.map((d, i) => r.numberValue(d, `input.shape[${i}]`, { min: 1, integer: true }));
    if (dims.length !== 4) r.problem('input.shape', `must be [1, C, H, W], got ${dims.length} dimension(s)`);
    else if (dims.every((d) => d !== undefined)) {
      const [n, c, h, w] = dims as [number, number, number, number];
      if (n !== 1) r.problem('input.shape[0]', `the batch dimension must be 1, got ${n}`);
      if (channels !== undefined && c !== channels) {
        r.problem('input.shape[1]', `is ${c} but input.channels is ${channels}`);
      }
      shape = [1, c, h, w];
    }
  }
  if (!name || !shape || !layout || !dtype || (channels !== 1 && channels !== 3)) return undefined;
  return { name, shape, channels, layout, dtype };
}

function readPreprocessing(r: Reader, top: Json): ManifestPreprocessing | undefined {
  if (top.preprocessing === undefined) {
    r.problem('preprocessing', 'is missing (an object)');
    return undefined;
  }
  const P = 'preprocessing';
  const o = r.object(top.preprocessing, P, [
    'intensity',
    'percentiles',
    'percentileSampling',
    'resize',
    'size',
    'interpolation',
    'normalisation',
    'photometric',
    'pipeline',
  ]);
  if (!o) return undefined;
  const intensity = r.oneOf(o, P, 'intensity', ['dicom-window-or-percentile', 'percentile'] as const);
  const resize = r.oneOf(o, P, 'resize', ['stretch', 'letterbox'] as const);
  const interpolation = r.oneOf(o, P, 'interpolation', ['area'] as const, 'area');
  const photometric = r.string(o, P, 'photometric', true);
  const pctRaw = r.array(o, P, 'percentiles');
  let percentiles: [number, number] | undefined;
  if (pctRaw) {
    const p = pctRaw.map((v, i) => r.numberValue(v, `${P}.percentiles[${i}]`, { min: 0, max: 100 }));
    if (p.length !== 2) r.problem(`${P}.percentiles`, `must be [p_low, p_high], got ${p.length} value(s)`);
    else if (p[0] !== undefined && p[1] !== undefined) {
      if (p[0] >= p[1]) r.problem(`${P}.percentiles`, `p_low ${p[0]} must be below p_high ${p[1]}`);
      else percentiles = [p[0], p[1]];
    }
  }
  const percentileSampling = readPercentileSampling(r, o.percentileSampling, `${P}.percentileSampling`);
  const sizeRaw = r.array(o, P, 'size');
  let size: [number, number] | undefined;
  if (sizeRaw) {
    const s = sizeRaw.map((v, i) => r.numberValue(v, `${P}.size[${i}]`, { min: 1, integer: true }));
    if (s.length !== 2) r.problem(`${P}.size`, `must be [H, W], got ${s.length} value(s)`);
    else if (s[0] !== undefined && s[1] !== undefined) size = [s[0], s[1]];
  }
  let normalisation: { mean: number; std: number } | undefined;
  if (o.normalisation === undefined) r.problem(`${P}.normalisation`, 'is missing ({ mean, std })');
  else {
    const n = r.object(o.normalisation, `${P}.normalisation`, ['mean', 'std']);
    if (n) {
      const mean = r.number(n, `${P}.normalisation`, 'mean');
      const std = r.number(n, `${P}.normalisation`, 'std', { above: 0 });
      if (mean !== undefined && std !== undefined) normalisation = { mean, std };
    }
  }
  let pipeline: string[] | undefined;
  const pipeRaw = r.array(o, P, 'pipeline', true);
  if (pipeRaw) {
    if (pipeRaw.every((s): s is string => typeof s === 'string')) pipeline = pipeRaw;
    else r.problem(`${P}.pipeline`, 'must be an array of strings');
  }
  if (!intensity || !resize || !interpolation || !percentiles || !size || !normalisation) return undefined;
  return {
    intensity,
    percentiles,
    resize,
    size,
    interpolation,
    normalisation,
    ...(percentileSampling ? { percentileSampling } : {}),
    ...(photometric !== undefined ? { photometric } : {}),
    ...(pipeline ? { pipeline } : {}),
  };
}

function readPercentileSampling(r: Reader, value: unknown, path: string): PercentileSampling | undefined {
  if (value === undefined) return undefined;
  const o = r.object(value, path, ['method', 'maxSamples']);
  if (!o) return undefined;
  const method = r.oneOf(o, path, 'method', ['exact', 'regular-grid'] as const);
  if (method === 'exact') {
    if (o.maxSamples !== undefined) r.problem(`${path}.maxSamples`, "applies only to method 'regular-grid'");
    return { method };
  }
  if (method !== 'regular-grid') return undefined;
  if (o.maxSamples === undefined) {
    r.problem(`${path}.maxSamples`, "is missing (the most pixels method 'regular-grid' takes percentiles over)");
    return undefined;
  }
  const maxSamples = r.number(o, path, 'maxSamples', { min: MIN_PERCENTILE_SAMPLES, integer: true });
  return maxSamples === undefined ? undefined : { method, maxSamples };
}

function readOutputs(r: Reader, top: Json): ManifestOutputs | undefined {
  if (top.outputs === undefined) {
    r.problem('outputs', 'is missing (an object)');
    return undefined;
  }
  const o = r.object(top.outputs, 'outputs', ['logits', 'features', 'embedding']);
  if (!o) return undefined;
  const logits = r.string(o, 'outputs', 'logits');
  const features = r.string(o, 'outputs', 'features', true);
  const embedding = r.string(o, 'outputs', 'embedding', true);
  if (!logits) return undefined;
  return { logits, ...(features ? { features } : {}), ...(embedding ? { embedding } : {}) };
}

function readGradcam(r: Reader, top: Json): ManifestGradcam | undefined {
  if (top.gradcam === undefined) return undefined;
  const o = r.object(top.gradcam, 'gradcam', ['method', 'classifier', 'definition']);
  if (!o) return undefined;
  const method = r.oneOf(o, 'gradcam', 'method', ['gradcam-linear-head'] as const);
  const classifier = r.string(o, 'gradcam', 'classifier');
  const definition = r.string(o, 'gradcam', 'definition', true);
  if (classifier !== undefined && (classifier.includes('/') || classifier.includes('\\') || classifier === '..')) {
    r.problem('gradcam.classifier', `must be a file name inside the model folder, got "${classifier}"`);
    return undefined;
  }
  if (!method || !classifier) return undefined;
  return { method, classifier, ...(definition !== undefined ? { definition } : {}) };
}

function readPriority(
  r: Reader,
  top: Json,
  labels: ManifestLabel[] | undefined,
): ModelManifest['priority'] | undefined {
  if (top.priority === undefined) {
    r.problem('priority', 'is missing ({ weights, highThreshold })');
    return undefined;
  }
  const o = r.object(top.priority, 'priority', ['weights', 'highThreshold', 'definition']);
  if (!o) return undefined;
  const weights = r.numberMap(o, 'priority', 'weights', false);
  const highThreshold =
    o.highThreshold === undefined
      ? DEFAULT_HIGH_THRESHOLD
      : r.number(o, 'priority', 'highThreshold', { min: 0, max: 1 });
  const definition = r.string(o, 'priority', 'definition', true);
  if (weights && labels) {
    const ids = labels.map((l) => l.id);
    for (const key of Object.keys(weights)) {
      if (!ids.includes(key)) r.problem(`priority.weights.${key}`, `names no label (labels: ${ids.join(', ')})`);
    }
    for (const id of ids) {
      if ((o.weights as Json)[id] === undefined) {
        r.problem(`priority.weights`, `has no weight for label '${id}'`);
      }
    }
  }
  if (!weights || highThreshold === undefined) return undefined;
  return { weights, highThreshold, ...(definition !== undefined ? { definition } : {}) };
}
