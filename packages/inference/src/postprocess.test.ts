import { describe, expect, it } from 'vitest';
import { postprocess, priorityScore, sigmoid } from './postprocess.ts';
import { validManifest } from './testing.ts';

const logit = (p: number) => Math.log(p / (1 - p));

describe('sigmoid', () => {
  it('is the logistic function and stays finite at the extremes', () => {
    expect(sigmoid(0)).toBe(0.5);
    expect(sigmoid(logit(0.9))).toBeCloseTo(0.9, 12);
    expect(sigmoid(-1000)).toBe(0);
    expect(sigmoid(1000)).toBe(1);
  });
});

describe('priorityScore (noisy-OR of urgency-weighted probabilities)', () => {
  it('is 1 - Π(1 - w·p)', () => {
    const s = priorityScore(
      [
        { id: 'a', probability: 0.5 },
        { id: 'b', probability: 0.8 },
      ],
      { a: 1, b: 0.5 },
    );
    expect(s).toBeCloseTo(1 - (1 - 0.5) * (1 - 0.4), 12);
  });
  it('is the weight for one certain finding and 0 with none', () => {
    expect(priorityScore([{ id: 'a', probability: 1 }], { a: 0.9 })).toBeCloseTo(0.9, 12);
    expect(priorityScore([{ id: 'a', probability: 0 }], { a: 0.9 })).toBe(0);
  });
});

describe('postprocess', () => {
  const m = validManifest(); // a: threshold 0.5, weight 1; b: threshold 0.4, weight 0.5

  it('gives probabilities, positives, the top finding and the priority', () => {
    const t = postprocess([logit(0.9), logit(0.45)], m);
    expect(t.labels.map((l) => [l.id, l.positive])).toEqual([
      ['a', true],
      ['b', true],
    ]);
    expect(t.labels[0]!.probability).toBeCloseTo(0.9, 12);
    expect(t.labels[1]).toMatchObject({ display: 'Finding B', threshold: 0.4 });
    expect(t.topFinding?.id).toBe('a');
    expect(t.confidence).toBeCloseTo(0.9, 12);
    expect(t.uncertain).toBe(false);
    expect(t.priorityScore).toBeCloseTo(1 - 0.1 * (1 - 0.225), 12);
    expect(t.priority).toBe('HIGH');
  });

  it('is uncertain when the top finding probability is below uncertainThreshold, and ROUTINE below highThreshold', () => {
    const t = postprocess([logit(0.3), logit(0.7)], m);
    expect(t.topFinding?.id).toBe('b');
    expect(t.labels.map((l) => l.positive)).toEqual([false, true]);
    expect(t.confidence).toBeCloseTo(0.7, 12);
    expect(t.uncertain).toBe(true);
    expect(t.priority).toBe('ROUTINE');
  });

  it('reads "No finding" when no label reaches its threshold, confident when every probability is low', () => {
    const clear = postprocess([logit(0.05), logit(0.1)], m);
    expect(clear.topFinding).toBeNull();
    expect(clear.mostProbable.id).toBe('b');
    expect(clear.confidence).toBeCloseTo(0.9, 12);
    expect(clear.uncertain).toBe(false);
    // Just under both thresholds: "No finding", but not a confident one.
    const doubtful = postprocess([logit(0.45), logit(0.35)], m);
    expect(doubtful.topFinding).toBeNull();
    expect(doubtful.confidence).toBeCloseTo(0.55, 12);
    expect(doubtful.uncertain).toBe(true);
  });

  it('takes the most probable label that passed its own threshold as the top finding', () => {
    // a (threshold 0.5) at 0.48 is more probable but not a finding; b (threshold 0.4) at 0.42 is.
    const t = postprocess([logit(0.48), logit(0.42)], m);
    expect(t.mostProbable.id).toBe('a');
    expect(t.topFinding?.id).toBe('b');
    expect(t.confidence).toBeCloseTo(0.42, 12);
  });

  it('puts the boundaries where the manifest says (>= threshold, >= highThreshold, < uncertainThreshold)', () => {
    const edge = validManifest();
    edge.priority.weights = { a: 1, b: 0 };
    edge.priority.highThreshold = 0.75;
    const t = postprocess([logit(0.75), logit(0.4)], edge);
    expect(t.labels[1]!.positive).toBe(true);
    // logit round trip is not exact; compare with what the sigmoid gave.
    const p = t.labels[0]!.probability;
    expect(t.uncertain).toBe(p < 0.75);
    expect(t.priority).toBe(p >= 0.75 ? 'HIGH' : 'ROUTINE');
  });

  it('refuses a logit count that does not match the labels, and NaN', () => {
    expect(() => postprocess([0], m)).toThrow(/1 logits for 2 labels/);
    expect(() => postprocess([0, NaN], m)).toThrow(/non-finite logit for 'b'/);
  });
});
