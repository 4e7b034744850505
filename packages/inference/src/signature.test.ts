import { describe, expect, it } from 'vitest';
import { checkSignature } from './signature.ts';
import { validManifest } from './testing.ts';

const inputs = [{ name: 'image', shape: ['batch', 1, 32, 32], type: 'float32' }];
const outputs = [
  { name: 'logits', shape: ['batch', 2] },
  { name: 'features', shape: ['batch', 16, 4, 4] },
  { name: 'embedding', shape: ['batch', 16] },
];

describe('checkSignature', () => {
  it('accepts a graph that matches, with a dynamic batch, and reports the feature sizes', () => {
    expect(checkSignature(validManifest(), inputs, outputs)).toEqual({
      problems: [],
      signature: { dynamicBatch: true, featureChannels: 16, embeddingSize: 16 },
    });
  });

  it('lists every mismatch', () => {
    const { problems } = checkSignature(
      validManifest(),
      [{ name: 'image', shape: [1, 3, 32, 32], type: 'uint8' }],
      [
        { name: 'logits', shape: [1, 5] },
        { name: 'feats', shape: [1, 16, 4, 4] },
        { name: 'embedding', shape: [1, 16, 1, 1] },
      ],
    );
    expect(problems).toEqual([
      "input 'image' is uint8, the manifest says float32",
      "input 'image' has shape [1, 3, 32, 32], the manifest expects [1, 1, 32, 32]",
      "output 'logits' has shape [1, 5], the manifest expects [1, 2]",
      "outputs.features 'features' is not in the graph (outputs: logits, feats, embedding)",
      "output 'embedding' has 4 dimensions, [N, K] expected",
    ]);
  });
});
