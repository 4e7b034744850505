import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DISCLAIMER, OnnxEngine, l2normalise } from './engine.ts';
import { heatmapToImage } from './gradcam.ts';
import { loadModels } from './registry.ts';
import type { ModelRegistry } from './registry.ts';
import { decodedImage } from './testing.ts';

const MODELS = fileURLToPath(new URL('../../../models/', import.meta.url));

/** A 12-bit phantom-ish radiograph: a bright body ellipse with darker lungs, 300×240. */
function radiograph() {
  const width = 300;
  const height = 240;
  const pixels = new Uint16Array(width * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const body = ((x - 150) / 130) ** 2 + ((y - 120) / 115) ** 2 < 1;
      const lung = ((Math.abs(x - 150) - 55) / 35) ** 2 + ((y - 110) / 70) ** 2 < 1;
      pixels[y * width + x] = (body ? (lung ? 1200 : 2800) : 300) + ((x * 7 + y * 13) % 50);
    }
  return decodedImage({ width, height, pixels });
}

let registry: ModelRegistry;
beforeAll(async () => {
  registry = await loadModels(MODELS, { active: 'chest-xray-phantom' });
});
afterAll(async () => registry.close());

describe('OnnxEngine on the shipped model', () => {
  it('analyses an image: labels, top finding, priority, disclaimer, unit embedding, Grad-CAM', async () => {
    const engine = new OnnxEngine(registry.active);
    const m = registry.active.manifest;
    const a = await engine.analyse(radiograph());
    expect(a.model).toEqual({ name: m.name, version: m.version });
    expect(a.labels.map((l) => l.id)).toEqual(m.labels.map((l) => l.id));
    for (const l of a.labels) {
      expect(l.probability).toBeGreaterThanOrEqual(0);
      expect(l.probability).toBeLessThanOrEqual(1);
      expect(l.positive).toBe(l.probability >= l.threshold);
    }
    const top = a.labels.reduce((b, l) => (l.probability > b.probability ? l : b));
    expect(a.mostProbable).toEqual(top);
    expect(a.topFinding).toEqual(top.positive ? top : null);
    expect(a.confidence).toBe(top.positive ? top.probability : 1 - top.probability);
    expect(a.uncertain).toBe(a.confidence < m.uncertainThreshold);
    expect(a.priority).toBe(a.priorityScore >= m.priority.highThreshold ? 'HIGH' : 'ROUTINE');
    expect(a.disclaimer).toBe(DISCLAIMER);
    expect(Math.hypot(...a.embedding)).toBeCloseTo(1, 5);
    expect(a.heatmap).toMatchObject({ label: top.id, method: 'gradcam', width: 16, height: 16 });
    expect(a.heatmap!.imageRegion).toEqual({ top: 0, left: 0, height: 16, width: 16 });
    expect(Math.max(...a.heatmap!.values)).toBeLessThanOrEqual(1);
    const onImage = heatmapToImage(a.heatmap!, 300, 240);
    expect(onImage.values).toHaveLength(300 * 240);
    expect(a.timingsMs.inference).toBeGreaterThan(0);
  });

  it('is deterministic and reuses the one session', async () => {
    const engine = new OnnxEngine(registry.active);
    const [a, b] = await Promise.all([engine.analyse(radiograph()), engine.analyse(radiograph())]);
    expect(a.labels).toEqual(b.labels);
    expect(a.embedding).toEqual(b.embedding);
  });

  it('gives an occlusion map on request (the path for models without feature maps), or none', async () => {
    const occ = await new OnnxEngine(registry.active, {
      explain: 'occlusion',
      occlusion: { patch: 32, stride: 16 },
    }).analyse(radiograph());
    expect(occ.heatmap).toMatchObject({ method: 'occlusion', width: 128, height: 128 });
    expect(occ.heatmap!.values.every((v) => v >= 0 && v <= 1)).toBe(true);
    const none = await new OnnxEngine(registry.active, { explain: 'none' }).analyse(radiograph());
    expect(none.heatmap).toBeNull();
    expect(none.labels).toEqual(occ.labels);
  });
});

describe('l2normalise', () => {
  it('scales to unit length and keeps zero at zero', () => {
    expect(l2normalise([3, 4])).toEqual([0.6, 0.8]);
    expect(l2normalise([0, 0])).toEqual([0, 0]);
  });
});
