import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelLoadError, loadModels } from './registry.ts';

const SHIPPED = fileURLToPath(new URL('../../../models/chest-xray-phantom/', import.meta.url));
const manifest = () => JSON.parse(readFileSync(join(SHIPPED, 'manifest.json'), 'utf8')) as Record<string, unknown>;

let root: string;

/** A model folder sharing the shipped model.onnx and classifier, with its own manifest and card. */
function folder(name: string, m: unknown, options: { card?: boolean; onnx?: boolean } = {}): void {
  const dir = join(root, name);
  mkdirSync(dir);
  if (options.onnx !== false) symlinkSync(join(SHIPPED, 'model.onnx'), join(dir, 'model.onnx'));
  symlinkSync(join(SHIPPED, 'classifier.json'), join(dir, 'classifier.json'));
  if (m !== undefined) writeFileSync(join(dir, 'manifest.json'), typeof m === 'string' ? m : JSON.stringify(m));
  if (options.card !== false) writeFileSync(join(dir, 'MODEL_CARD.md'), `# ${name}\nDemonstration only.\n`);
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'scanflow-models-'));
  folder('a-good', { ...manifest(), name: 'good' });
  folder('b-no-card', { ...manifest(), name: 'second' }, { card: false });
  folder('c-bad-json', '{ "name": ');
  folder('d-wrong-graph', {
    ...manifest(),
    name: 'wrong',
    input: { name: 'pixels', shape: [1, 1, 64, 64], channels: 1, layout: 'NCHW' },
    preprocessing: { ...(manifest().preprocessing as object), size: [64, 64] },
  });
  folder('e-no-onnx', manifest(), { onnx: false });
  folder('f-bad-manifest', { ...manifest(), name: 'bad', task: 'segmentation', colour: 1 });
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('loadModels', () => {
  it('loads the good folders, names the bad ones and why, and warns about a missing card', async () => {
    const warnings: string[] = [];
    const reg = await loadModels(root, { onWarning: (w) => warnings.push(w) });
    try {
      expect(reg.models.map((m) => m.id)).toEqual(['a-good', 'b-no-card']);
      expect(reg.active.id).toBe('a-good');
      expect(reg.active.card).toMatch(/Demonstration only/);
      expect(reg.get('second')?.id).toBe('b-no-card');
      expect(reg.get('b-no-card')?.card).toBeUndefined();
      expect(reg.active.classifier?.weight).toHaveLength(5);
      expect(reg.active.signature.featureChannels).toBe(reg.active.classifier?.weight[0]?.length);
      const errors = Object.fromEntries(reg.errors.map((e) => [e.folder, e.message]));
      expect(Object.keys(errors)).toEqual(['c-bad-json', 'd-wrong-graph', 'e-no-onnx', 'f-bad-manifest']);
      expect(errors['c-bad-json']).toMatch(/^manifest.json is not valid JSON/);
      expect(errors['d-wrong-graph']).toMatch(/input 'pixels' is not in the graph \(inputs: image\)/);
      expect(errors['e-no-onnx']).toBe('missing model.onnx');
      expect(errors['f-bad-manifest']).toMatch(/f-bad-manifest\/manifest.json: 2 problem/);
      expect(errors['f-bad-manifest']).toMatch(/task: must be one of 'multi-label', got "segmentation"/);
      expect(errors['f-bad-manifest']).toMatch(/colour: unknown field/);
      expect(warnings.some((w) => w.includes("'b-no-card' has no MODEL_CARD.md"))).toBe(true);
      expect(warnings.some((w) => w.startsWith("Model folder 'c-bad-json' was not loaded"))).toBe(true);
    } finally {
      await reg.close();
    }
  });

  it('picks the active model by folder or manifest name, and refuses an unknown one', async () => {
    const reg = await loadModels(root, { active: 'second' });
    expect(reg.active.id).toBe('b-no-card');
    await reg.close();
    await expect(loadModels(root, { active: 'nope' })).rejects.toThrow(
      "The active model 'nope' is not among the loaded models (a-good, b-no-card)",
    );
    await expect(loadModels(root, { active: 'e-no-onnx' })).rejects.toThrow(
      "The active model 'e-no-onnx' did not load: missing model.onnx",
    );
  });

  it('fails readably when nothing loads', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'scanflow-nomodels-'));
    try {
      await expect(loadModels(empty)).rejects.toThrow(ModelLoadError);
      await expect(loadModels(empty)).rejects.toThrow(/No model could be loaded .* \(no model folders\)/);
      await expect(loadModels(join(empty, 'absent'))).rejects.toThrow(/cannot be read/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
