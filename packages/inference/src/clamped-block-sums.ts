/**
 * Block sums of clamped pixel values in WebAssembly SIMD: the one pass over every pixel of a
 * 2048² radiograph that preprocessing cannot avoid (issue 4). JavaScript reads a pixel, looks its
 * intensity up in a table and adds a double, about 1 ns a pixel; eight 16-bit lanes at a time in
 * integers it is several times less, and exact.
 *
 * For an output block and integers lo < hi the kernel returns, over the block's pixels v:
 *   S  = Σ min(max(v, lo), hi)   (exact: at most 32768 pixels of at most 65535 per block)
 *   cL = #{v ≤ lo},  cH = #{v ≥ hi}
 * from which the caller gets Σ clamp(v, a, b) for real a ≤ b with lo = floor(a), hi = ceil(b):
 * S + cL·(a − lo) + cH·(b − hi) (for an integer v, v ≤ floor(a) ⇔ v ≤ a and v ≥ ceil(b) ⇔ v ≥ b).
 *
 * The module is a few hundred bytes assembled below from named instructions (no toolchain, no
 * committed binary), once per block width: a block row's fx/8 vector steps are written out in
 * full at constant offsets, so a 16-pixel-wide block costs two loads and no address arithmetic per
 * row. The pixel rows of one output row at a time are copied into its memory, so the copy stays in
 * cache. Without WebAssembly SIMD, `clampedBlockSums` returns undefined and the caller keeps its
 * JavaScript loop.
 */

/** Pixel arrays the kernels read: unsigned 16-bit (DICOM, 16-bit PNG) and 8-bit. */
export type UnsignedPixels = Uint16Array | Uint8Array;

/**
 * Which counts to take. A caller whose a (or b) is an integer multiplies cL (or cH) by zero, and a
 * kernel that skips a count does two operations fewer per eight pixels; a count not taken reads 0.
 */
export interface BlockCounts {
  low: boolean;
  high: boolean;
}

/**
 * [S, cL, cH] for each fx×fy block of a width×height frame (row-major blocks, three Int32 each),
 * or undefined when the kernels cannot do it: no WebAssembly SIMD, fx not a multiple of 8, lo/hi
 * outside the pixel type or lo ≥ hi, or blocks too large for exact 32-bit sums.
 */
export function clampedBlockSums(
  pixels: UnsignedPixels,
  width: number,
  height: number,
  fx: number,
  fy: number,
  lo: number,
  hi: number,
  counts: BlockCounts = { low: true, high: true },
): Int32Array | undefined {
  const bytes = pixels.BYTES_PER_ELEMENT;
  const max = bytes === 2 ? 0xffff : 0xff;
  if (fx % 8 !== 0 || width % fx !== 0 || height % fy !== 0 || fx * fy > 32768) return undefined;
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 0 || hi > max || lo >= hi) return undefined;
  const kernel = kernels({ unrolled: fx / 8 <= MAX_UNROLLED_STEPS ? fx / 8 : 1, ...counts });
  if (!kernel) return undefined;
  const outW = width / fx;
  const outH = height / fy;
  const chunk = fy * width * bytes; // the source rows of one output row
  const dst = Math.ceil(chunk / 16) * 16;
  kernel.reserve(dst + outW * 12);
  const run = bytes === 2 ? kernel.blocks16 : kernel.blocks8;
  const source = new Uint8Array(pixels.buffer, pixels.byteOffset, width * height * bytes);
  const out = new Int32Array(outH * outW * 3);
  for (let oy = 0; oy < outH; oy++) {
    kernel.bytes().set(source.subarray(oy * chunk, (oy + 1) * chunk), 0);
    run(0, width, fy, fx, lo, hi, dst);
    out.set(new Int32Array(kernel.memory.buffer, dst, outW * 3), oy * outW * 3);
  }
  return out;
}

interface Kernels {
  memory: WebAssembly.Memory;
  blocks16: KernelFn;
  blocks8: KernelFn;
  /** Grows the memory to hold at least `size` bytes. */
  reserve(size: number): void;
  bytes(): Uint8Array;
}

type KernelFn = (src: number, width: number, rows: number, fx: number, lo: number, hi: number, dst: number) => void;

/** Blocks up to this many vector steps wide have them written out; wider ones loop over one. */
const MAX_UNROLLED_STEPS = 8;

/** What a module is specialised for: vector steps written out per block row, and counts taken. */
export interface KernelShape extends BlockCounts {
  unrolled: number;
}

/** Instantiated modules by shape, once per thread; null where WebAssembly SIMD is unavailable. */
const instances = new Map<string, Kernels | null>();

function kernels(shape: KernelShape): Kernels | null {
  const key = `${shape.unrolled}${shape.low ? 'L' : ''}${shape.high ? 'H' : ''}`;
  let instance = instances.get(key);
  if (instance !== undefined) return instance;
  instance = null;
  instances.set(key, null);
  try {
    const module = new WebAssembly.Module(kernelModule(shape));
    const memory = new WebAssembly.Memory({ initial: 2 });
    const exports = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as {
      blocks16: KernelFn;
      blocks8: KernelFn;
    };
    let view = new Uint8Array(memory.buffer);
    instance = {
      memory,
      blocks16: exports.blocks16,
      blocks8: exports.blocks8,
      reserve(size) {
        const pages = Math.ceil(size / 65536) - memory.buffer.byteLength / 65536;
        if (pages > 0) memory.grow(pages);
      },
      bytes() {
        if (view.buffer !== memory.buffer) view = new Uint8Array(memory.buffer);
        return view;
      },
    };
    instances.set(key, instance);
  } catch {
    // No WebAssembly, or no SIMD in this engine: callers keep their JavaScript path.
  }
  return instance;
}

// ---------------------------------------------------------------------------------------------
// Assembling the module (WebAssembly binary format, core spec 5; SIMD opcodes, 0xFD prefix).

/** Unsigned LEB128. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, content: number[]): number[] => [id, ...uleb(content.length), ...content];
const name = (s: string): number[] => [...uleb(s.length), ...[...s].map((c) => c.charCodeAt(0))];

const I32 = 0x7f;
const V128 = 0x7b;
const EMPTY_BLOCK = 0x40;

/** Core and SIMD instructions the kernels use, by their text-format names. */
const simd = (code: number) => [0xfd, ...uleb(code)];
const OP = {
  block: [0x02, EMPTY_BLOCK],
  loop: [0x03, EMPTY_BLOCK],
  end: [0x0b],
  br: (depth: number) => [0x0c, ...uleb(depth)],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  get: (local: number) => [0x20, ...uleb(local)],
  set: (local: number) => [0x21, ...uleb(local)],
  i32Const: (n: number) => [0x41, ...uleb(n)], // small non-negative constants only (LEB128 of n < 64)
  i32Store: (offset: number) => [0x36, 2, ...uleb(offset)],
  i32GeU: [0x4f],
  i32LtU: [0x49],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  i32Mul: [0x6c],
  i32DivU: [0x6e],
  v128Load: (offset: number) => [...simd(0x00), 0, ...uleb(offset)],
  v128Load8x8U: (offset: number) => [...simd(0x02), 0, ...uleb(offset)],
  v128Zero: [...simd(0x0c), ...new Array<number>(16).fill(0)],
  i16x8Splat: simd(0x10),
  i32x4ExtractLane: (lane: number) => [...simd(0x1b), lane],
  i16x8Eq: simd(0x2d),
  i16x8Sub: simd(0x91),
  i16x8MinU: simd(0x97),
  i16x8MaxU: simd(0x99),
  i32x4ExtaddPairwiseI16x8U: simd(0x7f),
  i32x4Add: simd(0xae),
} as const;

// Parameters, then locals, by index.
const SRC = 0;
const WIDTH = 1;
const ROWS = 2;
const FX = 3;
const LO = 4;
const HI = 5;
const DST = 6;
const O = 7; // output column
const OUT_W = 8;
const LAST = 9; // byte address just past the column's last row
const X = 10; // byte address of the current pixels
const END = 11; // byte address just past the current block row (looped steps only)
const ROW_BYTES = 12;
const BLOCK_BYTES = 13;
const AT = 14; // byte address of this column's results
const V_LO = 15;
const V_HI = 16;
const ACC = 17;
const CL = 18;
const CH = 19;
const V = 20;

/** Sum of the four i32 lanes of local `v`. */
function lanesSum(v: number): number[] {
  return [
    ...OP.get(v),
    ...OP.i32x4ExtractLane(0),
    ...OP.get(v),
    ...OP.i32x4ExtractLane(1),
    ...OP.i32Add,
    ...OP.get(v),
    ...OP.i32x4ExtractLane(2),
    ...OP.i32Add,
    ...OP.get(v),
    ...OP.i32x4ExtractLane(3),
    ...OP.i32Add,
  ];
}

/**
 * (src, width, rows, fx, lo, hi, dst): for each column block o of `rows` rows of `width` pixels at
 * `src`, writes S, cL, cH as i32 at dst + 12·o. `bytes` per pixel: 2 (eight per v128.load) or 1
 * (eight per v128.load8x8_u, widened to 16 bits). `unrolled` steps of eight pixels are written out
 * per block row; they loop when the block is wider (fx > 8·unrolled, then `unrolled` is 1). A count
 * the shape leaves out stays 0.
 */
function kernelBody(bytes: 1 | 2, { unrolled, low, high }: KernelShape): number[] {
  const load = bytes === 2 ? OP.v128Load : OP.v128Load8x8U;
  const perStep = 8 * bytes;
  const scale = (local: number) => (bytes === 2 ? [...OP.get(local), ...OP.i32Const(2), ...OP.i32Mul] : OP.get(local));
  // Eight pixels at x + offset into the accumulators.
  const step = (offset: number) => [
    // m = max(v, lo) equals lo exactly when v ≤ lo; c = min(m, hi) equals hi exactly when v ≥ hi
    // (lo < hi). x86 has no unsigned 16-bit ≤, so these equalities are cheaper than le_u/ge_u.
    ...[...OP.get(X), ...load(offset), ...OP.get(V_LO), ...OP.i16x8MaxU, ...OP.set(V)],
    // Comparisons give all-ones (−1) lanes: subtracting them counts.
    ...(low ? [...OP.get(CL), ...OP.get(V), ...OP.get(V_LO), ...OP.i16x8Eq, ...OP.i16x8Sub, ...OP.set(CL)] : []),
    ...[...OP.get(V), ...OP.get(V_HI), ...OP.i16x8MinU, ...OP.set(V)],
    ...(high ? [...OP.get(CH), ...OP.get(V), ...OP.get(V_HI), ...OP.i16x8Eq, ...OP.i16x8Sub, ...OP.set(CH)] : []),
    ...[...OP.get(ACC), ...OP.get(V), ...OP.i32x4ExtaddPairwiseI16x8U, ...OP.i32x4Add, ...OP.set(ACC)],
  ];
  const steps = Array.from({ length: unrolled }, (_, k) => step(k * perStep)).flat();
  // One block row: the written-out steps, looping over the row while the block is wider than them.
  const blockRow =
    unrolled > 1
      ? steps
      : [
          ...[...OP.get(X), ...OP.get(BLOCK_BYTES), ...OP.i32Add, ...OP.set(END)],
          ...OP.loop,
          ...steps,
          ...[...OP.get(X), ...OP.i32Const(perStep), ...OP.i32Add, ...OP.set(X)],
          ...[...OP.get(X), ...OP.get(END), ...OP.i32LtU, ...OP.brIf(0)],
          ...OP.end,
          // back to the row's start
          ...[...OP.get(X), ...OP.get(BLOCK_BYTES), ...OP.i32Sub, ...OP.set(X)],
        ];
  const code = [
    ...[...OP.get(LO), ...OP.i16x8Splat, ...OP.set(V_LO)],
    ...[...OP.get(HI), ...OP.i16x8Splat, ...OP.set(V_HI)],
    ...[...scale(WIDTH), ...OP.set(ROW_BYTES)],
    ...[...scale(FX), ...OP.set(BLOCK_BYTES)],
    ...[...OP.get(WIDTH), ...OP.get(FX), ...OP.i32DivU, ...OP.set(OUT_W)],
    ...[...OP.i32Const(0), ...OP.set(O)],
    ...OP.block,
    ...OP.loop, // columns
    ...[...OP.get(O), ...OP.get(OUT_W), ...OP.i32GeU, ...OP.brIf(1)],
    ...[...OP.v128Zero, ...OP.set(ACC), ...OP.v128Zero, ...OP.set(CL), ...OP.v128Zero, ...OP.set(CH)],
    // x = src + o·blockBytes, then a row further each time round; the rows end at x + rows·rowBytes
    ...[...OP.get(SRC), ...OP.get(O), ...OP.get(BLOCK_BYTES), ...OP.i32Mul, ...OP.i32Add, ...OP.set(X)],
    ...[...OP.get(X), ...OP.get(ROWS), ...OP.get(ROW_BYTES), ...OP.i32Mul, ...OP.i32Add, ...OP.set(LAST)],
    ...OP.loop, // rows
    ...blockRow,
    ...[...OP.get(X), ...OP.get(ROW_BYTES), ...OP.i32Add, ...OP.set(X)],
    ...[...OP.get(X), ...OP.get(LAST), ...OP.i32LtU, ...OP.brIf(0)],
    ...OP.end,
    // at = dst + 12·o; store S, cL, cH
    ...[...OP.get(DST), ...OP.get(O), ...OP.i32Const(12), ...OP.i32Mul, ...OP.i32Add, ...OP.set(AT)],
    ...[...OP.get(AT), ...lanesSum(ACC), ...OP.i32Store(0)],
    ...[...OP.get(CL), ...OP.i32x4ExtaddPairwiseI16x8U, ...OP.set(V)],
    ...[...OP.get(AT), ...lanesSum(V), ...OP.i32Store(4)],
    ...[...OP.get(CH), ...OP.i32x4ExtaddPairwiseI16x8U, ...OP.set(V)],
    ...[...OP.get(AT), ...lanesSum(V), ...OP.i32Store(8)],
    ...[...OP.get(O), ...OP.i32Const(1), ...OP.i32Add, ...OP.set(O), ...OP.br(0)],
    ...OP.end,
    ...OP.end,
    ...OP.end, // function
  ];
  const locals = vec([
    [...uleb(AT - O + 1), I32],
    [...uleb(V - V_LO + 1), V128],
  ]);
  const body = [...locals, ...code];
  return [...uleb(body.length), ...body];
}

/** The module's bytes for a shape: imports env.memory, exports blocks16 and blocks8. */
export function kernelModule(shape: KernelShape = { unrolled: 1, low: true, high: true }): Uint8Array<ArrayBuffer> {
  const params = new Array<number>(DST + 1).fill(I32);
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([[0x60, ...vec(params.map((p) => [p])), ...vec([])]])),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, ...uleb(1)]])),
    ...section(3, vec([uleb(0), uleb(0)])),
    ...section(
      7,
      vec([
        [...name('blocks16'), 0x00, ...uleb(0)],
        [...name('blocks8'), 0x00, ...uleb(1)],
      ]),
    ),
    ...section(10, vec([kernelBody(2, shape), kernelBody(1, shape)])),
  ]);
}
