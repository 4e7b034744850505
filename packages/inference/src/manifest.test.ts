import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ManifestError, parseManifest, validateManifest } from './manifest.ts';
import { validManifest } from './testing.ts';

const SHIPPED = new URL('../../../models/chest-xray-phantom/manifest.json', import.meta.url);

function problems(value: unknown): string[] {
  const r = validateManifest(value);
  return r.ok ? [] : r.problems;
}

describe('validateManifest', () => {
  it('accepts the shipped manifest', () => {
    const m = parseManifest(JSON.parse(readFileSync(SHIPPED, 'utf8')));
    expect(m.task).toBe('multi-label');
    expect(m.input.shape).toEqual([1, 1, m.preprocessing.size[0], m.preprocessing.size[1]]);
    expect(Object.keys(m.priority.weights).sort()).toEqual(m.labels.map((l) => l.id).sort());
  });

  it('accepts a minimal manifest and fills the defaults', () => {
    const m = validManifest();
    delete (m as { uncertainThreshold?: number }).uncertainThreshold;
    delete (m.priority as { highThreshold?: number }).highThreshold;
    const parsed = parseManifest(m);
    expect(parsed.uncertainThreshold).toBe(0.75);
    expect(parsed.priority.highThreshold).toBe(0.85);
    expect(parsed.activation).toBe('sigmoid');
    expect(parsed.input.dtype).toBe('float32');
  });

  it('names missing, unknown and ill-typed fields, all of them at once', () => {
    const m: Record<string, unknown> = { ...validManifest(), colour: 'blue' };
    delete m.version;
    (m.input as Record<string, unknown>).layout = 'NHWC';
    (m.preprocessing as Record<string, unknown>).percentiles = [99, 1];
    ((m.labels as unknown[])[1] as Record<string, unknown>).threshold = '0.5';
    const p = problems(m);
    expect(p.find((x) => x.startsWith('colour:'))).toMatch(/^colour: unknown field \(known: name, version, /);
    expect(p).toContain('version: is missing (a string)');
    expect(p).toContain('input.layout: must be one of \'NCHW\', got "NHWC"');
    expect(p).toContain('preprocessing.percentiles: p_low 99 must be below p_high 1');
    expect(p).toContain('labels[1].threshold: must be a finite number, got "0.5"');
    expect(p).toHaveLength(5);
  });

  it('reads percentileSampling: absent means every pixel, a grid needs a sensible maxSamples', () => {
    expect(parseManifest(validManifest()).preprocessing.percentileSampling).toBeUndefined();
    const withSampling = (value: unknown) => {
      const m = validManifest();
      (m.preprocessing as unknown as Record<string, unknown>).percentileSampling = value;
      return m;
    };
    expect(parseManifest(withSampling({ method: 'regular-grid', maxSamples: 65536 })).preprocessing).toMatchObject({
      percentileSampling: { method: 'regular-grid', maxSamples: 65536 },
    });
    expect(parseManifest(withSampling({ method: 'exact' })).preprocessing.percentileSampling).toEqual({
      method: 'exact',
    });
    expect(problems(withSampling({ method: 'regular-grid' }))).toEqual([
      "preprocessing.percentileSampling.maxSamples: is missing (the most pixels method 'regular-grid' takes percentiles over)",
    ]);
    expect(problems(withSampling({ method: 'regular-grid', maxSamples: 100 }))).toEqual([
      'preprocessing.percentileSampling.maxSamples: must be >= 4096, got 100',
    ]);
    expect(problems(withSampling({ method: 'regular-grid', maxSamples: 5000.5 }))).toEqual([
      'preprocessing.percentileSampling.maxSamples: must be an integer, got 5000.5',
    ]);
    expect(problems(withSampling({ method: 'exact', maxSamples: 5000 }))).toEqual([
      "preprocessing.percentileSampling.maxSamples: applies only to method 'regular-grid'",
    ]);
    expect(problems(withSampling({ method: 'random' }))).toEqual([
      "preprocessing.percentileSampling.method: must be one of 'exact', 'regular-grid', got \"random\"",
    ]);
    expect(problems(withSampling('grid'))).toEqual(['preprocessing.percentileSampling: must be an object, got "grid"']);
  });

  it('checks the parts against each other', () => {
    const m = validManifest();
    m.input.shape = [1, 1, 64, 64];
    m.priority.weights = { a: 0.5, zzz: 1 };
    m.thresholds = { a: 0.5, b: 0.9 };
    const { features: _f, ...outputs } = m.outputs;
    (m as { outputs: unknown }).outputs = outputs;
    const p = problems(m);
    expect(p).toEqual(
      expect.arrayContaining([
        "preprocessing.size: [32, 32] differs from input.shape's [64, 64]",
        'gradcam: needs outputs.features (the feature maps Grad-CAM weighs)',
        'priority.weights.zzz: names no label (labels: a, b)',
        "priority.weights: has no weight for label 'b'",
        "thresholds.b: is 0.9 but labels[].threshold for 'b' is 0.4",
      ]),
    );
  });

  it('rejects duplicate labels, bad ranges and a classifier path outside the folder', () => {
    const m = validManifest();
    m.labels[1]!.id = 'a';
    m.labels[0]!.urgency = 2;
    m.preprocessing.normalisation.std = 0;
    m.gradcam = { method: 'gradcam-linear-head', classifier: '../secret.json' };
    const p = problems(m);
    expect(p).toEqual(
      expect.arrayContaining([
        "labels[1].id: duplicate label id 'a'",
        'labels[0].urgency: must be <= 1, got 2',
        'preprocessing.normalisation.std: must be > 0, got 0',
        'gradcam.classifier: must be a file name inside the model folder, got "../secret.json"',
      ]),
    );
  });

  it('accepts a degenerate threshold (0 or 1) with a warning', () => {
    const m = validManifest();
    m.labels[1]!.threshold = 0;
    const r = validateManifest(m);
    expect(r.ok && r.warnings).toEqual([
      "labels[1].threshold is 0: every image will be positive for 'b' (a degenerate threshold; check the model's calibration)",
    ]);
    const seen: string[] = [];
    parseManifest(m, 'x/manifest.json', (w) => seen.push(w));
    expect(seen[0]).toMatch(/^x\/manifest.json: labels\[1\].threshold is 0/);
    m.labels[1]!.threshold = -0.1;
    expect(validateManifest(m).ok).toBe(false);
  });

  it('says what a non-object is', () => {
    expect(problems([])).toEqual(['(manifest): must be an object, got an array of 0']);
    expect(() => parseManifest(null, 'models/x/manifest.json')).toThrow(ManifestError);
    expect(() => parseManifest(null, 'models/x/manifest.json')).toThrow(/models\/x\/manifest.json: 1 problem/);
  });
});
