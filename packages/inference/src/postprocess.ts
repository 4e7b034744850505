/**
 * Logits → the pre-read (SPEC M3) and the triage priority (SPEC M4), as the manifest defines them.
 * Pure.
 *
 * The top finding and its confidence (the documented rule; MODEL_CARD.md says the same):
 * - labels at or above their own threshold are findings; the top finding is the most probable of
 *   them, and its confidence is its probability;
 * - when no label reaches its threshold the read is "No finding" (topFinding null), and its
 *   confidence is 1 − the highest label probability: how sure the model is that nothing is there;
 * - "Uncertain" means that confidence is below the manifest's uncertainThreshold (default 0.75).
 * Taking the raw highest probability instead would call every confident normal scan uncertain,
 * because a normal scan's highest probability is low by construction.
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
  /** The most probable label at or above its threshold; null reads "No finding". */
  topFinding: LabelResult | null;
  /** The most probable label whether or not it passed its threshold: what Grad-CAM explains on a
   * "No finding" read (where the model looked most suspiciously). */
  mostProbable: LabelResult;
  /** The top finding's probability, or for "No finding" 1 − the highest probability. */
  confidence: number;
  /** confidence < the manifest's uncertainThreshold: a doctor must decide. */
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
  let mostProbable = labels[0]!; // the manifest requires at least one label
  let top: LabelResult | null = null;
  for (const l of labels) {
    if (l.probability > mostProbable.probability) mostProbable = l;
    if (l.positive && (!top || l.probability > top.probability)) top = l;
  }
  const confidence = top ? top.probability : 1 - mostProbable.probability;
  const score = priorityScore(labels, manifest.priority.weights);
  return {
    labels,
    topFinding: top,
    mostProbable,
    confidence,
    uncertain: confidence < manifest.uncertainThreshold,
    priorityScore: score,
    priority: score >= manifest.priority.highThreshold ? 'HIGH' : 'ROUTINE',
  };
}
