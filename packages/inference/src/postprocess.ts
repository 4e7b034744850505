/**
 * Logits → the pre-read (SPEC M3) and the triage priority (SPEC M4), as the manifest defines them.
 * Pure.
 */
import type { ModelManifest } from './manifest.ts';

/** Same words as @scanflow/domain's worklist Priority. */
export type Priority = 'HIGH' | 'ROUTINE';

export interface LabelResult {
  id: string;
  display: string;
  probability: number;
  threshold: number;
  /** probability >= threshold */
  positive: boolean;
}

export interface Triage {
  labels: LabelResult[];
  /** The most probable label (null only for a model without labels, which the manifest forbids). */
  topFinding: LabelResult | null;
  /** The top probability is below the manifest's uncertainThreshold: a doctor must decide. */
  uncertain: boolean;
  priorityScore: number;
  priority: Priority;
}

/** Logistic function, written so neither branch overflows for large |z|. */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/**
 * Noisy-OR of urgency-weighted findings: 1 - Π(1 - w·p). One certain urgent finding alone reaches
 * its weight; several weaker ones add up, but the score never leaves 0..1.
 */
export function priorityScore(
  probabilities: ReadonlyArray<{ id: string; probability: number }>,
  weights: Readonly<Record<string, number>>,
): number {
  let none = 1;
  for (const { id, probability } of probabilities) none *= 1 - (weights[id] ?? 0) * probability;
  return Math.min(1, Math.max(0, 1 - none));
}

export function postprocess(logits: ArrayLike<number>, manifest: ModelManifest): Triage {
  if (logits.length !== manifest.labels.length) {
    throw new Error(`The model gave ${logits.length} logits for ${manifest.labels.length} labels.`);
  }
  const labels = manifest.labels.map((label, i): LabelResult => {
    const probability = sigmoid(logits[i] ?? NaN);
    if (!Number.isFinite(probability)) throw new Error(`The model gave a non-finite logit for '${label.id}'.`);
    return {
      id: label.id,
      display: label.display,
      probability,
      threshold: label.threshold,
      positive: probability >= label.threshold,
    };
  });
  let top: LabelResult | null = null;
  for (const l of labels) if (!top || l.probability > top.probability) top = l;
  const score = priorityScore(labels, manifest.priority.weights);
  return {
    labels,
    topFinding: top,
    uncertain: (top?.probability ?? 0) < manifest.uncertainThreshold,
    priorityScore: score,
    priority: score >= manifest.priority.highThreshold ? 'HIGH' : 'ROUTINE',
  };
}
