/**
 * Does the ONNX graph have the inputs and outputs its manifest promises? Checked once at load, so a
 * mismatched model fails with a readable message at start-up instead of at the first scan. Pure:
 * works on the session's metadata.
 */
import type { ModelManifest } from './manifest.ts';

export interface ValueInfo {
  name: string;
  /** Dimensions; a string is a symbolic (dynamic) dimension such as "batch". Empty when unknown. */
  shape: ReadonlyArray<number | string>;
  type?: string;
}

/** Sizes the graph reports for the optional outputs, when it states them. */
export interface Signature {
  /** The input's batch dimension is symbolic, so several inputs can run in one call. */
  dynamicBatch?: boolean;
  featureChannels?: number;
  embeddingSize?: number;
}

export function checkSignature(
  manifest: ModelManifest,
  inputs: readonly ValueInfo[],
  outputs: readonly ValueInfo[],
): { problems: string[]; signature: Signature } {
  const problems: string[] = [];
  const signature: Signature = {};
  const input = inputs.find((i) => i.name === manifest.input.name);
  if (!input) {
    problems.push(`input '${manifest.input.name}' is not in the graph (inputs: ${names(inputs)})`);
  } else {
    if (input.type !== undefined && input.type !== 'float32') {
      problems.push(`input '${input.name}' is ${input.type}, the manifest says float32`);
    }
    matchShape(problems, `input '${input.name}'`, input.shape, manifest.input.shape, true);
    if (typeof input.shape[0] === 'string' || input.shape[0] === -1) signature.dynamicBatch = true;
  }
  if (inputs.length > 1) problems.push(`the graph has ${inputs.length} inputs (${names(inputs)}); one is supported`);

  const find = (role: string, name: string | undefined): ValueInfo | undefined => {
    if (name === undefined) return undefined;
    const o = outputs.find((v) => v.name === name);
    if (!o) problems.push(`outputs.${role} '${name}' is not in the graph (outputs: ${names(outputs)})`);
    return o;
  };
  const logits = find('logits', manifest.outputs.logits);
  if (logits) matchShape(problems, `output '${logits.name}'`, logits.shape, [1, manifest.labels.length], true);
  const features = find('features', manifest.outputs.features);
  if (features && features.shape.length > 0) {
    if (features.shape.length !== 4) {
      problems.push(`output '${features.name}' has ${features.shape.length} dimensions, [N, K, h, w] expected`);
    } else if (typeof features.shape[1] === 'number') signature.featureChannels = features.shape[1];
  }
  const embedding = find('embedding', manifest.outputs.embedding);
  if (embedding && embedding.shape.length > 0) {
    if (embedding.shape.length !== 2) {
      problems.push(`output '${embedding.name}' has ${embedding.shape.length} dimensions, [N, K] expected`);
    } else if (typeof embedding.shape[1] === 'number') signature.embeddingSize = embedding.shape[1];
  }
  return { problems, signature };
}

/** Fixed dimensions must agree; a symbolic batch dimension is fine (the engine sends 1). */
function matchShape(
  problems: string[],
  what: string,
  actual: ReadonlyArray<number | string>,
  expected: readonly number[],
  dynamicBatch: boolean,
): void {
  if (actual.length === 0) return; // the graph does not say
  if (actual.length !== expected.length) {
    problems.push(`${what} has shape [${actual.join(', ')}], the manifest expects [${expected.join(', ')}]`);
    return;
  }
  const differs = actual.some(
    (d, i) => typeof d === 'number' && !(i === 0 && dynamicBatch && d === -1) && d !== expected[i],
  );
  if (differs) problems.push(`${what} has shape [${actual.join(', ')}], the manifest expects [${expected.join(', ')}]`);
}

function names(values: readonly ValueInfo[]): string {
  return values.map((v) => v.name).join(', ') || 'none';
}
