/**
 * The shipped default model, run through Scanflow's own pipeline on its shipped held-out
 * evaluation set, must reproduce the figures its model card states (metrics.json
 * `shipped_eval_set`, written by training/evaluate.py with PyTorch).
 *
 * Tolerances: both sides run the same preprocessing on the same PNGs and the same weights
 * (PyTorch vs ONNX Runtime differ by ~1e-5 in the logits), so agreement is expected to the 4
 * decimals metrics.json keeps: AUROC within 0.002 (rounding plus a possible near-tie), pointing
 * game within one image of that label's positives (a peak that is a near-tie between two cells).
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '@scanflow/imaging';
import { OnnxEngine } from './engine.ts';
import { auroc, evaluateModel } from './evaluation.ts';
import type { EvalSet } from './evaluation.ts';
import { gradcam } from './gradcam.ts';
import { loadModels } from './registry.ts';

const MODELS = fileURLToPath(new URL('../../../models/', import.meta.url));
const MODEL_DIR = `${MODELS}chest-xray-phantom/`;
const EVAL_DIR = `${MODEL_DIR}eval`;
const present = existsSync(`${EVAL_DIR}/labels.json`);
if (!present) {
  console.warn(
    `shipped-model.test.ts: SKIPPED - ${EVAL_DIR} is absent (training/evaluate.py writes it with metrics.json).`,
  );
}

interface Metrics {
  model: { name: string; version: string };
  shipped_eval_set: { n: number; per_label: Record<string, { auroc: number; pointing_game: number }> };
}

describe.skipIf(!present)('shipped model on its held-out evaluation set (skipped when eval/ is absent)', () => {
  it('reproduces the model card AUROC and pointing game, and PyTorch logits', { timeout: 60_000 }, async () => {
    const metrics = JSON.parse(readFileSync(`${MODEL_DIR}metrics.json`, 'utf8')) as Metrics;
    const registry = await loadModels(MODELS, { active: 'chest-xray-phantom' });
    try {
      const model = registry.active;
      expect(metrics.model).toEqual({ name: model.manifest.name, version: model.manifest.version });
      const report = await evaluateModel(model, EVAL_DIR);
      expect(report.n).toBe(metrics.shipped_eval_set.n);
      for (const { id } of model.manifest.labels) {
        const got = report.perLabel[id]!;
        const want = metrics.shipped_eval_set.per_label[id]!;
        expect(Math.abs(got.auroc - want.auroc), `${id} AUROC ${got.auroc} vs ${want.auroc}`).toBeLessThanOrEqual(
          0.002,
        );
        expect(
          Math.abs(got.pointingGame - want.pointing_game),
          `${id} pointing game ${got.pointingGame} vs ${want.pointing_game}`,
        ).toBeLessThanOrEqual(1 / got.pointingN + 1e-4);
      }
      const refFile = `${EVAL_DIR}/reference.json`;
      if (existsSync(refFile)) {
        const ref = JSON.parse(readFileSync(refFile, 'utf8')) as {
          logits: number[][];
          cams: Array<{ index: number; label: string; cam: number[][] }>;
        };
        let worst = 0;
        report.logits.forEach((row, i) =>
          row.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - ref.logits[i]![k]!)))),
        );
        expect(worst, 'max |logit - PyTorch logit|').toBeLessThan(1e-3);
        // Grad-CAM against PyTorch's (reference cams are unnormalised: compare both scaled to 0..1).
        const set = JSON.parse(readFileSync(`${EVAL_DIR}/labels.json`, 'utf8')) as EvalSet;
        const engine = new OnnxEngine(model, { explain: 'none' });
        let camWorst = 0;
        for (const r of ref.cams) {
          const bytes = new Uint8Array(readFileSync(`${EVAL_DIR}/${set.items[r.index]!.image}`));
          const out = await engine.run(await decodeImage(bytes, { maxPixels: 1 << 24, maxDimension: 8192 }));
          const c = model.manifest.labels.findIndex((l) => l.id === r.label);
          const ours = gradcam(out.features!.data, out.features!.dims, model.classifier!.weight[c]!, r.label);
          const theirs = r.cam.flat();
          const max = Math.max(...theirs);
          theirs.forEach(
            (v, p) => (camWorst = Math.max(camWorst, Math.abs((max > 0 ? v / max : 0) - ours.values[p]!))),
          );
        }
        expect(ref.cams.length).toBeGreaterThan(0);
        expect(camWorst, 'max |Grad-CAM - PyTorch Grad-CAM| (normalised)').toBeLessThan(1e-3);
      }
    } finally {
      await registry.close();
    }
  });
});

describe.skipIf(!present)('the Uncertain rule on the shipped evaluation set (skipped when eval/ is absent)', () => {
  // MODEL_CARD.md states the measured fractions (normal 0/44, abnormal 1/156); the bound leaves room
  // for a retrained model while still failing the old rule, which called every normal scan Uncertain.
  it(
    'calls few normal and few abnormal images Uncertain, and most normal ones "No finding"',
    { timeout: 60_000 },
    async () => {
      const registry = await loadModels(MODELS, { active: 'chest-xray-phantom' });
      try {
        const engine = new OnnxEngine(registry.active, { explain: 'none' });
        const set = JSON.parse(readFileSync(`${EVAL_DIR}/labels.json`, 'utf8')) as EvalSet;
        const tally = { normal: { n: 0, uncertain: 0, noFinding: 0 }, abnormal: { n: 0, uncertain: 0, noFinding: 0 } };
        for (const item of set.items) {
          const bytes = new Uint8Array(readFileSync(`${EVAL_DIR}/${item.image}`));
          const a = await engine.analyse(await decodeImage(bytes, { maxPixels: 1 << 24, maxDimension: 8192 }));
          const group = tally[Object.values(item.labels).some((v) => v === 1) ? 'abnormal' : 'normal'];
          group.n++;
          if (a.uncertain) group.uncertain++;
          if (!a.topFinding) group.noFinding++;
        }
        console.info(`Uncertain on the shipped eval set: ${JSON.stringify(tally)}`);
        expect(tally.normal.n).toBeGreaterThan(0);
        expect(tally.normal.uncertain / tally.normal.n).toBeLessThanOrEqual(0.05);
        expect(tally.abnormal.uncertain / tally.abnormal.n).toBeLessThanOrEqual(0.05);
        expect(tally.normal.noFinding / tally.normal.n).toBeGreaterThanOrEqual(0.9);
        expect(tally.abnormal.noFinding / tally.abnormal.n).toBeLessThanOrEqual(0.1);
      } finally {
        await registry.close();
      }
    },
  );
});

describe('auroc', () => {
  it('is the Mann-Whitney statistic with mid-ranks for ties', () => {
    expect(auroc([true, true, false, false], [0.9, 0.8, 0.2, 0.1])).toBe(1);
    expect(auroc([false, false, true, true], [0.9, 0.8, 0.2, 0.1])).toBe(0);
    expect(auroc([true, false], [0.5, 0.5])).toBe(0.5);
    // scipy: ranks of [0.1, 0.4, 0.35, 0.8] with y [0, 0, 1, 1] -> (3 + 4 - 3) / 4 = 0.75
    expect(auroc([false, false, true, true], [0.1, 0.4, 0.35, 0.8])).toBe(0.75);
    expect(auroc([true], [1])).toBeNaN();
  });
});
