// Check the exported ONNX model with ONNX Runtime (Node), independently of PyTorch:
// - the graph loads, has input `image` and outputs logits/features/embedding, dynamic batch;
// - the shipped eval set (eval/images/*.png), preprocessed as the manifest says, gives the same
//   logits and Grad-CAMs as PyTorch did (eval/reference.json);
// - AUROC and pointing game on that set match eval/labels.json "expected".
// Usage: node training/check_onnx.mjs [models/chest-xray-phantom]
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const require = createRequire(join(process.cwd(), 'package.json'));
const ort = require('onnxruntime-node');
const sharp = require('sharp');

const dir = resolve(process.argv[2] ?? 'models/chest-xray-phantom');
const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
const clf = JSON.parse(readFileSync(join(dir, 'classifier.json'), 'utf8'));
const evalSet = JSON.parse(readFileSync(join(dir, 'eval', 'labels.json'), 'utf8'));
const ref = JSON.parse(readFileSync(join(dir, 'eval', 'reference.json'), 'utf8'));
const [H, W] = manifest.preprocessing.size;
const { mean, std } = manifest.preprocessing.normalisation;
const [pLow, pHigh] = manifest.preprocessing.percentiles;
const labels = manifest.labels.map((l) => l.id);

function percentile(sorted, p) {
  const pos = (p / 100) * (sorted.length - 1);
  const i0 = Math.floor(pos);
  const i1 = Math.min(i0 + 1, sorted.length - 1);
  return sorted[i0] * (1 - (pos - i0)) + sorted[i1] * (pos - i0);
}

async function loadGrey(file) {
  const meta = await sharp(file).metadata();
  const wide = meta.depth === 'ushort';
  // 16-bit grey: sharp's greyscale() silently reduces to 8 bits; toColourspace('grey16') keeps 16
  const img = wide ? sharp(file).toColourspace('grey16').raw({ depth: 'ushort' }) : sharp(file).greyscale().raw();
  const { data, info } = await img.toBuffer({ resolveWithObject: true });
  if (info.width !== W || info.height !== H) throw new Error(`${file}: expected ${W}x${H}`);
  if (info.channels !== 1) throw new Error(`${file}: expected 1 channel, got ${info.channels}`);
  if (!wide) return Float64Array.from(data, (v) => v / 255);
  const u16 = new Uint16Array(data.buffer, data.byteOffset, data.length / 2);
  return Float64Array.from(u16, (v) => v / 65535);
}

function preprocess(v) {
  const s = Float64Array.from(v).sort();
  const lo = percentile(s, pLow);
  const hi = percentile(s, pHigh);
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const x = Math.min(1, Math.max(0, (v[i] - lo) / Math.max(hi - lo, 1e-12)));
    out[i] = (x - mean) / std;
  }
  return out;
}

function auroc(y, s) {
  const idx = s.map((v, i) => i).sort((a, b) => s[a] - s[b]);
  const ranks = new Array(s.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && s[idx[j + 1]] === s[idx[i]]) j++;
    for (let k = i; k <= j; k++) ranks[idx[k]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  let np = 0;
  let rs = 0;
  for (let i = 0; i < y.length; i++) if (y[i]) ((np += 1), (rs += ranks[i]));
  const nn = y.length - np;
  return (rs - (np * (np + 1)) / 2) / (np * nn);
}

const session = await ort.InferenceSession.create(join(dir, 'model.onnx'));
console.log('inputs', session.inputNames, 'outputs', session.outputNames);
for (const name of Object.values(manifest.outputs)) {
  if (!session.outputNames.includes(name)) throw new Error(`missing output ${name}`);
}

const items = evalSet.items;
const inputs = [];
for (const it of items) inputs.push(preprocess(await loadGrey(join(dir, 'eval', it.image))));
const masks = [];
for (const it of items) {
  const { data } = await sharp(join(dir, 'eval', it.mask))
    .greyscale()
    .raw()
    .toBuffer({ resolveWithObject: true });
  masks.push(data);
}

const B = 50;
const logits = [];
const feats = [];
let C = 0;
let fh = 0;
let fw = 0;
const t0 = performance.now();
for (let b = 0; b < items.length; b += B) {
  const n = Math.min(B, items.length - b);
  const buf = new Float32Array(n * H * W);
  for (let i = 0; i < n; i++) buf.set(inputs[b + i], i * H * W);
  const out = await session.run({ [manifest.input.name]: new ort.Tensor('float32', buf, [n, 1, H, W]) });
  const lg = out[manifest.outputs.logits];
  const ft = out[manifest.outputs.features];
  const em = out[manifest.outputs.embedding];
  [, C, fh, fw] = ft.dims;
  if (em.dims[1] !== C) throw new Error('embedding size != feature channels');
  for (let i = 0; i < n; i++) {
    logits.push(Array.from(lg.data.slice(i * labels.length, (i + 1) * labels.length)));
    feats.push(ft.data.slice(i * C * fh * fw, (i + 1) * C * fh * fw));
  }
}
const ms = performance.now() - t0;

let maxDiff = 0;
logits.forEach((r, i) => r.forEach((v, k) => (maxDiff = Math.max(maxDiff, Math.abs(v - ref.logits[i][k])))));

function cam(f, c) {
  const w = clf.weight[c];
  const m = new Float64Array(fh * fw);
  for (let k = 0; k < C; k++) for (let p = 0; p < fh * fw; p++) m[p] += w[k] * f[k * fh * fw + p];
  return m.map((v) => Math.max(0, v));
}
let camDiff = 0;
for (const r of ref.cams) {
  const m = cam(feats[r.index], labels.indexOf(r.label));
  r.cam.flat().forEach((v, p) => (camDiff = Math.max(camDiff, Math.abs(v - m[p]))));
}

const tol = evalSet.pointingTolerancePx;
const result = {};
for (let c = 0; c < labels.length; c++) {
  const y = items.map((it) => it.labels[labels[c]]);
  const a = auroc(
    y,
    logits.map((r) => r[c]),
  );
  let hits = 0;
  let n = 0;
  items.forEach((it, i) => {
    if (!y[i]) return;
    const m = cam(feats[i], c);
    let best = 0;
    for (let p = 1; p < m.length; p++) if (m[p] > m[best]) best = p;
    const r = Math.floor(((Math.floor(best / fw) + 0.5) * H) / fh);
    const q = Math.floor((((best % fw) + 0.5) * W) / fw);
    let hit = false;
    for (let dy = -tol; dy <= tol && !hit; dy++)
      for (let dx = -tol; dx <= tol && !hit; dx++) {
        const rr = r + dy;
        const qq = q + dx;
        if (dx * dx + dy * dy > tol * tol || rr < 0 || qq < 0 || rr >= H || qq >= W) continue;
        if ((masks[i][rr * W + qq] >> c) & 1) hit = true;
      }
    n++;
    if (hit) hits++;
  });
  result[labels[c]] = { auroc: +a.toFixed(4), pointing_game: +(hits / n).toFixed(4), positives: n };
}
// Full-size demo scans: percentile window at full resolution, area resize (integer factor: block
// mean), normalise; compare with the probabilities PyTorch gave through the same pipeline.
const demoIndex = JSON.parse(readFileSync(join(dir, 'demo', 'index.json'), 'utf8'));
let demoDiff = 0;
for (const d of demoIndex.items) {
  const meta = await sharp(join(dir, d.file)).metadata();
  const img =
    meta.depth === 'ushort'
      ? sharp(join(dir, d.file)).toColourspace('grey16').raw({ depth: 'ushort' })
      : sharp(join(dir, d.file)).greyscale().raw();
  const { data, info } = await img.toBuffer({ resolveWithObject: true });
  const v = meta.depth === 'ushort' ? new Uint16Array(data.buffer, data.byteOffset, data.length / 2) : data;
  const s = Float64Array.from(v).sort();
  const lo = percentile(s, pLow);
  const hi = percentile(s, pHigh);
  const f = info.width / W;
  if (!Number.isInteger(f) || info.height / H !== f) throw new Error('demo size is not an integer multiple');
  const buf = new Float32Array(H * W);
  for (let r = 0; r < H; r++)
    for (let c = 0; c < W; c++) {
      let acc = 0;
      for (let dy = 0; dy < f; dy++)
        for (let dx = 0; dx < f; dx++) {
          const x = (v[(r * f + dy) * info.width + c * f + dx] - lo) / Math.max(hi - lo, 1e-12);
          acc += Math.min(1, Math.max(0, x));
        }
      buf[r * W + c] = (acc / (f * f) - mean) / std;
    }
  const out = await session.run({ [manifest.input.name]: new ort.Tensor('float32', buf, [1, 1, H, W]) });
  const lg = out[manifest.outputs.logits].data;
  labels.forEach((l, k) => {
    const p = 1 / (1 + Math.exp(-lg[k]));
    demoDiff = Math.max(demoDiff, Math.abs(p - d.probabilities[l]));
  });
}

const summary = {
  maxDemoProbabilityDiffVsTorch: demoDiff,
  n: items.length,
  maxLogitDiffVsTorch: maxDiff,
  maxCamDiffVsTorch: camDiff,
  msPerImage: +(ms / items.length).toFixed(3),
  perLabel: result,
  expected: evalSet.expected.per_label,
};
console.log(JSON.stringify(summary, null, 1));
let ok = maxDiff < 1e-3 && camDiff < 1e-3 && demoDiff < 1e-3;
for (const l of labels) {
  if (Math.abs(result[l].auroc - evalSet.expected.per_label[l].auroc) > 1e-3) ok = false;
  if (Math.abs(result[l].pointing_game - evalSet.expected.per_label[l].pointing_game) > 1e-3) ok = false;
}
console.log(ok ? 'ONNX CHECK OK' : 'ONNX CHECK FAILED');
process.exit(ok ? 0 : 1);
