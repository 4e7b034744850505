// RFC 9162 (Certificate Transparency v2) Merkle tree hashing and proofs.
//
// The tree is the RFC 6962 / RFC 9162 §2.1.1 Merkle Tree Hash (MTH) over SHA-256 with domain
// separated leaf and node hashes, so any third party can check our roots and proofs with the
// RFCs' own algorithms (and with Go's transparency-dev/merkle, which we test against).
//
// Sizes and indices are JavaScript numbers restricted to safe integers. Bit operations in JS are
// 32-bit, so the proof algorithms use arithmetic (`% 2`, `Math.floor(x / 2)`) instead of `&`/`>>`
// to stay correct beyond 2^31 entries.

import * as nodeCrypto from 'node:crypto';

/** Length in bytes of every hash in the tree (SHA-256). */
export const HASH_SIZE = 32;

// One-shot `crypto.hash` (Node >= 20.12) is about a quarter faster than a createHash object for
// 65-byte inputs, and hashing dominates appends and replays; fall back on older Node 20.
const oneShot: ((data: Uint8Array) => Uint8Array) | undefined =
  typeof nodeCrypto.hash === 'function' ? (data) => nodeCrypto.hash('sha256', data, 'buffer') : undefined;

function digest(data: Uint8Array): Uint8Array {
  const d = oneShot !== undefined ? oneShot(data) : nodeCrypto.createHash('sha256').update(data).digest();
  // A view, not a copy: the digest buffer is fresh and ours alone.
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** SHA-256 over the concatenation of `parts`. */
export function sha256(...parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return digest(parts[0] as Uint8Array);
  let n = 0;
  for (const p of parts) n += p.length;
  const buf = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    buf.set(p, o);
    o += p.length;
  }
  return digest(buf);
}

let leafInput = new Uint8Array(1024);

/** RFC 9162 §2.1.1: MTH({d(0)}) = HASH(0x00 || d(0)). */
export function hashLeaf(data: Uint8Array): Uint8Array {
  // Reuse one input buffer: allocating an off-heap buffer per leaf costs more than the hash.
  if (leafInput.length < 1 + data.length) leafInput = new Uint8Array(Math.max(2 * leafInput.length, 1 + data.length));
  leafInput[0] = 0x00;
  leafInput.set(data, 1);
  return digest(leafInput.subarray(0, 1 + data.length));
}

// Scratch buffer for interior nodes; safe to reuse because hashing is synchronous.
const nodeInput = new Uint8Array(1 + 2 * HASH_SIZE);

/** RFC 9162 §2.1.1: HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n])). */
export function hashChildren(left: Uint8Array, right: Uint8Array): Uint8Array {
  if (left.length !== HASH_SIZE || right.length !== HASH_SIZE) {
    // Only proof verification can see other lengths, and it rejects them first; stay general.
    return sha256(Uint8Array.of(0x01), left, right);
  }
  nodeInput[0] = 0x01;
  nodeInput.set(left, 1);
  nodeInput.set(right, 1 + HASH_SIZE);
  return digest(nodeInput);
}

/** RFC 9162 §2.1.1: the hash of an empty list is the hash of an empty string. */
export function emptyRoot(): Uint8Array {
  return sha256();
}

/** Constant-time-ish byte equality; timing does not matter for public hashes, length does. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

function assertSize(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${what} must be a non-negative safe integer, got ${n}`);
}

/** The largest power of two strictly smaller than n (n >= 2): the split point k of RFC 9162 §2.1.1. */
export function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  if (n < 1) return false;
  while (n % 2 === 0) n /= 2;
  return n === 1;
}

/**
 * Computes MTH(D[start:end]) given any leaf range. RFC 9162 §2.1.1 defines the hash of a list by
 * splitting at the largest power of two below its length; `complete(level, index)` may return the
 * cached hash of the complete subtree covering leaves [index·2^level, (index+1)·2^level), which
 * lets callers with a cache answer in O(log n) hashes instead of O(n).
 */
function rangeHash(
  start: number,
  end: number,
  complete: (level: number, index: number) => Uint8Array | undefined,
): Uint8Array {
  const n = end - start;
  if (n === 0) return emptyRoot();
  if (isPowerOfTwo(n) && start % n === 0) {
    const level = Math.log2(n);
    const cached = complete(level, start / n);
    if (cached !== undefined) return cached;
  }
  if (n === 1) throw new RangeError(`leaf ${start} is not available`);
  const k = largestPowerOfTwoBelow(n);
  return hashChildren(rangeHash(start, start + k, complete), rangeHash(start + k, end, complete));
}

/**
 * A source of subtree hashes over a log's leaves. Generation of proofs only needs MTH of ranges
 * that the RFC's recursion visits; implementations answer from whatever they cache.
 */
export interface SubtreeSource {
  /** Number of leaves available. */
  readonly size: number;
  /** MTH(D[start:end]) for 0 <= start <= end <= size. */
  hash(start: number, end: number): Uint8Array;
}

// ---------------------------------------------------------------------------------------------
// Proof generation: RFC 9162 §2.1.3.1 (PATH) and §2.1.4.1 (PROOF / SUBPROOF), written as the
// RFC's recursion over ranges. Offsets are absolute leaf indices so a SubtreeSource can serve them.

/** RFC 9162 §2.1.3.1 PATH(m, D[0:n]): the audit path for leaf `index` in the tree of `size`. */
export function inclusionProof(index: number, size: number, source: SubtreeSource): Uint8Array[] {
  assertSize(index, 'index');
  assertSize(size, 'size');
  if (index >= size) throw new RangeError(`index ${index} is not in a tree of size ${size}`);
  if (size > source.size) throw new RangeError(`size ${size} exceeds the ${source.size} leaves available`);
  // Iterative form of PATH(m, D[start:end]): descend towards m, collecting the sibling of each
  // step; the RFC lists siblings from the leaf upwards, so we reverse at the end.
  let start = 0;
  let end = size;
  const siblings: Uint8Array[] = [];
  while (end - start > 1) {
    const k = largestPowerOfTwoBelow(end - start);
    if (index < start + k) {
      siblings.push(source.hash(start + k, end));
      end = start + k;
    } else {
      siblings.push(source.hash(start, start + k));
      start = start + k;
    }
  }
  return siblings.reverse();
}

/** RFC 9162 §2.1.4.1 PROOF(m, D[0:n]): the consistency proof from `size1` to `size2`. */
export function consistencyProof(size1: number, size2: number, source: SubtreeSource): Uint8Array[] {
  assertSize(size1, 'size1');
  assertSize(size2, 'size2');
  if (size1 > size2) throw new RangeError(`size1 ${size1} is larger than size2 ${size2}`);
  if (size2 > source.size) throw new RangeError(`size ${size2} exceeds the ${source.size} leaves available`);
  // §2.1.4.1 defines PROOF only for 0 < m < n; an empty or equal-size tree needs no proof.
  if (size1 === 0 || size1 === size2) return [];
  // SUBPROOF(m, D[start:end], b), iterative. Nodes are produced from the root downwards, and the
  // RFC orders the final proof from the bottom up, so we collect and reverse.
  const out: Uint8Array[] = [];
  let start = 0;
  let end = size2;
  let b = true;
  const m = size1;
  for (;;) {
    const n = end - start;
    const mm = m - start; // m relative to this subtree
    if (mm === n) {
      // SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) = {MTH(D[m])}
      if (!b) out.push(source.hash(start, end));
      break;
    }
    const k = largestPowerOfTwoBelow(n);
    if (mm <= k) {
      // m <= k: SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
      out.push(source.hash(start + k, end));
      end = start + k;
    } else {
      // m > k: SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
      out.push(source.hash(start, start + k));
      start = start + k;
      b = false;
    }
  }
  return out.reverse();
}

// ---------------------------------------------------------------------------------------------
// Proof verification: RFC 9162 §2.1.3.2 and §2.1.4.2, step by step. They return a reason string
// on failure rather than throwing, so a verifier can report why.

export type ProofResult = { ok: true } | { ok: false; reason: string };

function isHash(h: Uint8Array): boolean {
  return h.length === HASH_SIZE;
}

/** RFC 9162 §2.1.3.2: root computed from an inclusion proof, or a reason it cannot be. */
export function rootFromInclusionProof(
  index: number,
  size: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
): { ok: true; root: Uint8Array } | { ok: false; reason: string } {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || size < 0) {
    return { ok: false, reason: 'index and size must be non-negative safe integers' };
  }
  // Step 1: leaf_index >= tree_size fails.
  if (index >= size) return { ok: false, reason: `index ${index} is not in a tree of size ${size}` };
  if (!isHash(leafHash)) return { ok: false, reason: 'leaf hash has the wrong length' };
  // Step 2-3.
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  // Step 4.
  for (const p of proof) {
    if (!isHash(p)) return { ok: false, reason: 'proof element has the wrong length' };
    if (sn === 0) return { ok: false, reason: 'proof is too long' };
    if (fn % 2 === 1 || fn === sn) {
      r = hashChildren(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // Step 5: sn must be 0, i.e. the path reached the root.
  if (sn !== 0) return { ok: false, reason: 'proof is too short' };
  return { ok: true, root: r };
}

/** RFC 9162 §2.1.3.2: verify that `leafHash` is leaf `index` of the tree of `size` with `root`. */
export function verifyInclusion(
  index: number,
  size: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): ProofResult {
  const got = rootFromInclusionProof(index, size, leafHash, proof);
  if (!got.ok) return got;
  if (!bytesEqual(got.root, root)) return { ok: false, reason: 'computed root does not match' };
  return { ok: true };
}

/** RFC 9162 §2.1.4.2: verify that the tree (size2, root2) extends (size1, root1). */
export function verifyConsistency(
  size1: number,
  size2: number,
  root1: Uint8Array,
  root2: Uint8Array,
  proof: readonly Uint8Array[],
): ProofResult {
  if (!Number.isSafeInteger(size1) || !Number.isSafeInteger(size2) || size1 < 0 || size2 < 0) {
    return { ok: false, reason: 'sizes must be non-negative safe integers' };
  }
  if (size2 < size1) return { ok: false, reason: `size2 ${size2} is smaller than size1 ${size1}` };
  // Edge cases outside the RFC's 0 < m < n: equal sizes need equal roots and no proof; the empty
  // tree is a prefix of every tree (as in transparency-dev/merkle's VerifyConsistency).
  if (size1 === size2) {
    if (proof.length !== 0) return { ok: false, reason: 'proof must be empty for equal sizes' };
    return bytesEqual(root1, root2) ? { ok: true } : { ok: false, reason: 'roots differ at equal size' };
  }
  if (size1 === 0) {
    return proof.length === 0 ? { ok: true } : { ok: false, reason: 'proof must be empty from size 0' };
  }
  if (!isHash(root1) || !isHash(root2)) return { ok: false, reason: 'root has the wrong length' };
  // Step 1: an empty path fails.
  if (proof.length === 0) return { ok: false, reason: 'proof is empty' };
  for (const p of proof) if (!isHash(p)) return { ok: false, reason: 'proof element has the wrong length' };
  // Step 2: if first is an exact power of 2, prepend first_hash.
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : [...proof];
  // Step 3.
  let fn = size1 - 1;
  let sn = size2 - 1;
  // Step 4: right-shift both while LSB(fn) is set.
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // Step 5.
  let fr = path[0] as Uint8Array;
  let sr = fr;
  // Step 6.
  for (let i = 1; i < path.length; i++) {
    const c = path[i] as Uint8Array;
    if (sn === 0) return { ok: false, reason: 'proof is too long' };
    if (fn % 2 === 1 || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // Step 7.
  if (sn !== 0) return { ok: false, reason: 'proof is too short' };
  if (!bytesEqual(fr, root1)) return { ok: false, reason: 'proof does not match the first root' };
  if (!bytesEqual(sr, root2)) return { ok: false, reason: 'proof does not match the second root' };
  return { ok: true };
}

// ---------------------------------------------------------------------------------------------
// Incremental structures.

/**
 * A compact range ("frontier") over leaves [0, size): the roots of the complete subtrees of the
 * binary decomposition of `size`, largest first. It is all a log needs to keep its root current in
 * O(log n) time and space per append (the technique of transparency-dev/merkle `compact.Range`),
 * and it is small enough to persist next to the last checkpoint.
 */
export interface MerkleAccumulator {
  readonly size: number;
  /** Appends one leaf hash (already `hashLeaf`ed). */
  append(leafHash: Uint8Array): void;
  /** MTH of the leaves appended so far. */
  root(): Uint8Array;
  /** Copy of the frontier hashes, largest subtree first, for persisting. */
  frontier(): Uint8Array[];
}

/** Number of set bits in n (safe integers). */
function popcount(n: number): number {
  let c = 0;
  while (n > 0) {
    c += n % 2;
    n = Math.floor(n / 2);
  }
  return c;
}

/**
 * Creates an accumulator, optionally resuming from a persisted `(size, frontier)`. The frontier
 * must have one hash per set bit of `size`.
 */
export function createMerkleAccumulator(size = 0, frontier: readonly Uint8Array[] = []): MerkleAccumulator {
  assertSize(size, 'size');
  if (frontier.length !== popcount(size)) {
    throw new RangeError(`a frontier for size ${size} has ${popcount(size)} hashes, got ${frontier.length}`);
  }
  for (const h of frontier) if (!isHash(h)) throw new RangeError('frontier hash has the wrong length');
  // Kept smallest-subtree-last, like the binary digits of size read from the most significant bit.
  const stack: Uint8Array[] = frontier.map((h) => Uint8Array.from(h));
  let n = size;
  return {
    get size() {
      return n;
    },
    append(leafHash: Uint8Array): void {
      if (!isHash(leafHash)) throw new RangeError('leaf hash has the wrong length');
      // Adding a leaf is binary increment: each trailing 1 bit of n merges two equal subtrees.
      let node: Uint8Array = Uint8Array.from(leafHash);
      let m = n;
      while (m % 2 === 1) {
        node = hashChildren(stack.pop() as Uint8Array, node);
        m = Math.floor(m / 2);
      }
      stack.push(node);
      n += 1;
    },
    root(): Uint8Array {
      if (stack.length === 0) return emptyRoot();
      // MTH splits at the largest power of two, which is the first frontier subtree, so the root
      // is the right fold of the frontier.
      let r = stack[stack.length - 1] as Uint8Array;
      for (let i = stack.length - 2; i >= 0; i--) r = hashChildren(stack[i] as Uint8Array, r);
      return r;
    },
    frontier(): Uint8Array[] {
      return stack.map((h) => Uint8Array.from(h));
    },
  };
}

/**
 * An in-memory, append-only Merkle tree that stores every complete subtree hash, level by level,
 * in contiguous buffers (2n hashes, 64 bytes per leaf). Appends cost amortised O(1) hashes; the
 * root at any earlier size and any proof cost O(log² n) hashes at most, because only the
 * right-edge subtrees of a tree size are not stored.
 */
export interface MerkleTree extends SubtreeSource {
  append(leafHash: Uint8Array): void;
  /** MTH of the first `size` leaves (default: all). */
  root(size?: number): Uint8Array;
  /** Hash of leaf `index` (already `hashLeaf`ed). */
  leafHash(index: number): Uint8Array;
  inclusionProof(index: number, size?: number): Uint8Array[];
  consistencyProof(size1: number, size2?: number): Uint8Array[];
}

interface Level {
  buf: Uint8Array;
  count: number;
}

function levelPush(level: Level, h: Uint8Array): void {
  const need = (level.count + 1) * HASH_SIZE;
  if (need > level.buf.length) {
    const grown = new Uint8Array(Math.max(need, level.buf.length * 2, 64 * HASH_SIZE));
    grown.set(level.buf.subarray(0, level.count * HASH_SIZE));
    level.buf = grown;
  }
  level.buf.set(h, level.count * HASH_SIZE);
  level.count += 1;
}

function levelGet(level: Level, index: number): Uint8Array {
  return level.buf.subarray(index * HASH_SIZE, (index + 1) * HASH_SIZE);
}

/** Builds a tree from leaf hashes (each the `hashLeaf` of an entry). */
export function createMerkleTree(leafHashes: Iterable<Uint8Array> = []): MerkleTree {
  const levels: Level[] = [];
  const levelAt = (k: number): Level => {
    let l = levels[k];
    if (l === undefined) {
      l = { buf: new Uint8Array(0), count: 0 };
      levels[k] = l;
    }
    return l;
  };
  const complete = (level: number, index: number): Uint8Array | undefined => {
    const l = levels[level];
    return l !== undefined && index < l.count ? Uint8Array.from(levelGet(l, index)) : undefined;
  };
  const size = (): number => levels[0]?.count ?? 0;

  const tree: MerkleTree = {
    get size() {
      return size();
    },
    append(leafHash: Uint8Array): void {
      if (!isHash(leafHash)) throw new RangeError('leaf hash has the wrong length');
      let k = 0;
      let l = levelAt(0);
      levelPush(l, leafHash);
      // A right child completes its parent: hash upwards while the new node's index is odd.
      while (l.count % 2 === 0) {
        const parent = hashChildren(levelGet(l, l.count - 2), levelGet(l, l.count - 1));
        k += 1;
        l = levelAt(k);
        levelPush(l, parent);
      }
    },
    hash(start: number, end: number): Uint8Array {
      assertSize(start, 'start');
      assertSize(end, 'end');
      if (start > end || end > size()) throw new RangeError(`range [${start}, ${end}) is outside [0, ${size()})`);
      return rangeHash(start, end, complete);
    },
    root(n = size()): Uint8Array {
      return tree.hash(0, n);
    },
    leafHash(index: number): Uint8Array {
      assertSize(index, 'index');
      if (index >= size()) throw new RangeError(`leaf ${index} is not in a tree of size ${size()}`);
      return Uint8Array.from(levelGet(levelAt(0), index));
    },
    inclusionProof(index: number, n = size()): Uint8Array[] {
      return inclusionProof(index, n, tree);
    },
    consistencyProof(size1: number, size2 = size()): Uint8Array[] {
      return consistencyProof(size1, size2, tree);
    },
  };
  for (const h of leafHashes) tree.append(h);
  return tree;
}

/** RFC 9162 §2.1.1 MTH over leaf hashes, without keeping the tree (O(n) time, O(log n) space). */
export function rootFromLeafHashes(leafHashes: Iterable<Uint8Array>): Uint8Array {
  const acc = createMerkleAccumulator();
  for (const h of leafHashes) acc.append(h);
  return acc.root();
}
