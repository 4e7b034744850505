import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  consistencyProof,
  createMerkleAccumulator,
  createMerkleTree,
  emptyRoot,
  hashLeaf,
  inclusionProof,
  rootFromInclusionProof,
  rootFromLeafHashes,
  verifyConsistency,
  verifyInclusion,
} from './merkle.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

// RFC 6962 test vectors, as used by transparency-dev/merkle (testonly/constants.go and
// proof/verify_test.go) and google/certificate-transparency-go.
const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(
  unhex,
);
const ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
// [leaf index (0-based), tree size, audit path]; the Go file numbers leaves from 1.
const INCLUSION: [number, number, string[]][] = [
  [0, 1, []],
  [
    0,
    8,
    [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  ],
  [
    5,
    8,
    [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  ],
  [2, 3, ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125']],
  [
    1,
    5,
    [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  ],
];
const CONSISTENCY: [number, number, string[]][] = [
  [1, 1, []],
  [
    1,
    8,
    [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  ],
  [
    6,
    8,
    [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  ],
  [
    2,
    5,
    [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  ],
  [
    6,
    7,
    [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  ],
];

// ---------------------------------------------------------------------------------------------
// An independent reference written straight from the RFC 9162 §2.1 text, recursive and slow, with
// its own hashing: used to cross-check the production code on every pair of sizes.
function H(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}
function refK(n: number): number {
  let k = 1;
  while (k << 1 < n) k <<= 1;
  return k;
}
function refMTH(d: Uint8Array[]): Uint8Array {
  if (d.length === 0) return H();
  if (d.length === 1) return H(Uint8Array.of(0), d[0]!);
  const k = refK(d.length);
  return H(Uint8Array.of(1), refMTH(d.slice(0, k)), refMTH(d.slice(k)));
}
function refPATH(m: number, d: Uint8Array[]): Uint8Array[] {
  if (d.length === 1) return [];
  const k = refK(d.length);
  return m < k
    ? [...refPATH(m, d.slice(0, k)), refMTH(d.slice(k))]
    : [...refPATH(m - k, d.slice(k)), refMTH(d.slice(0, k))];
}
function refSUBPROOF(m: number, d: Uint8Array[], b: boolean): Uint8Array[] {
  const n = d.length;
  if (m === n) return b ? [] : [refMTH(d)];
  const k = refK(n);
  return m <= k
    ? [...refSUBPROOF(m, d.slice(0, k), b), refMTH(d.slice(k))]
    : [...refSUBPROOF(m - k, d.slice(k), false), refMTH(d.slice(0, k))];
}
const refPROOF = (m: number, d: Uint8Array[]): Uint8Array[] => refSUBPROOF(m, d, true);

function flip(b: Uint8Array, bit: number): Uint8Array {
  const c = Uint8Array.from(b);
  c[bit >> 3]! ^= 1 << (bit & 7);
  return c;
}

function dataFor(n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => new TextEncoder().encode(`leaf ${i}`));
}

describe('RFC 6962 test vectors', () => {
  it('leaf hash and empty root', () => {
    expect(hex(emptyRoot())).toBe(ROOTS[0]);
    expect(hex(hashLeaf(LEAVES[0]!))).toBe(ROOTS[1]);
  });

  it('roots for sizes 0..8 from the tree, the accumulator and the one-shot function', () => {
    const tree = createMerkleTree();
    const acc = createMerkleAccumulator();
    expect(hex(tree.root())).toBe(ROOTS[0]);
    expect(hex(acc.root())).toBe(ROOTS[0]);
    LEAVES.forEach((leaf, i) => {
      tree.append(hashLeaf(leaf));
      acc.append(hashLeaf(leaf));
      expect(hex(tree.root())).toBe(ROOTS[i + 1]);
      expect(hex(acc.root())).toBe(ROOTS[i + 1]);
      expect(hex(rootFromLeafHashes(LEAVES.slice(0, i + 1).map(hashLeaf)))).toBe(ROOTS[i + 1]);
    });
    for (let n = 0; n <= 8; n++) expect(hex(tree.root(n))).toBe(ROOTS[n]);
  });

  it('inclusion proofs match and verify', () => {
    const tree = createMerkleTree(LEAVES.map(hashLeaf));
    for (const [index, size, path] of INCLUSION) {
      expect(tree.inclusionProof(index, size).map(hex)).toEqual(path);
      const r = verifyInclusion(index, size, hashLeaf(LEAVES[index]!), path.map(unhex), unhex(ROOTS[size]!));
      expect(r).toEqual({ ok: true });
    }
  });

  it('consistency proofs match and verify', () => {
    const tree = createMerkleTree(LEAVES.map(hashLeaf));
    for (const [size1, size2, proof] of CONSISTENCY) {
      expect(tree.consistencyProof(size1, size2).map(hex)).toEqual(proof);
      const r = verifyConsistency(size1, size2, unhex(ROOTS[size1]!), unhex(ROOTS[size2]!), proof.map(unhex));
      expect(r).toEqual({ ok: true });
    }
  });

  it('rejects the corruptions that transparency-dev/merkle probes', () => {
    const some = unhex('abacaba000000000000000000000000000000000000000000060061e00123456');
    for (const [index, size, pathHex] of INCLUSION.filter(([, , p]) => p.length > 0)) {
      const path = pathHex.map(unhex);
      const root = unhex(ROOTS[size]!);
      const leaf = hashLeaf(LEAVES[index]!);
      const bad: [number, number, Uint8Array, Uint8Array[], Uint8Array][] = [
        [index - 1, size, leaf, path, root],
        [index + 1, size, leaf, path, root],
        [index ^ 2, size, leaf, path, root],
        [index, size * 2, leaf, path, root],
        [index, Math.floor(size / 2), leaf, path, root],
        [index, size, new TextEncoder().encode('WrongLeaf'), path, root],
        [index, size, leaf, path, emptyRoot()],
        [index, size, leaf, path, some],
        [index, size, leaf, [...path, new Uint8Array(0)], root],
        [index, size, leaf, [...path, root], root],
        [index, size, leaf, [new Uint8Array(0), ...path], root],
        [index, size, leaf, [root, ...path], root],
        [index, size, leaf, path.slice(0, -1), root],
      ];
      for (const [i, s, l, p, r] of bad) expect(verifyInclusion(i, s, l, p, r).ok).toBe(false);
    }
    for (const [size1, size2, proofHex] of CONSISTENCY.filter(([, , p]) => p.length > 0)) {
      const proof = proofHex.map(unhex);
      const r1 = unhex(ROOTS[size1]!);
      const r2 = unhex(ROOTS[size2]!);
      const bad: [number, number, Uint8Array, Uint8Array, Uint8Array[]][] = [
        [size1 - 1, size2, r1, r2, proof],
        [size1 + 1, size2, r1, r2, proof],
        [size1 ^ 2, size2, r1, r2, proof],
        [size1, size2 * 2, r1, r2, proof],
        [size1, Math.floor(size2 / 2), r1, r2, proof],
        [size1, size2, new TextEncoder().encode('WrongRoot'), r2, proof],
        [size1, size2, r1, new TextEncoder().encode('WrongRoot'), proof],
        [size1, size2, r2, r1, proof],
        [size1, size2, r1, r2, []],
        [size1, size2, r1, r2, [...proof, new Uint8Array(0)]],
        [size1, size2, r1, r2, [...proof, r1]],
        [size1, size2, r1, r2, [...proof, r2]],
        [size1, size2, r1, r2, [new Uint8Array(0), ...proof]],
        [size1, size2, r1, r2, [r1, ...proof]],
        [size1, size2, r1, r2, [r2, ...proof]],
        [size1, size2, r1, r2, [proof[0]!, ...proof]],
        [size1, size2, r1, r2, proof.slice(0, -1)],
      ];
      for (const [s1, s2, a, b, p] of bad) expect(verifyConsistency(s1, s2, a, b, p).ok).toBe(false);
    }
  });

  it('handles the edge cases of transparency-dev/merkle TestVerifyConsistency', () => {
    const r1 = new TextEncoder().encode("don't care 1");
    const r2 = new TextEncoder().encode("don't care 2");
    const e = emptyRoot();
    const cases: [number, number, Uint8Array, Uint8Array, Uint8Array[], boolean][] = [
      [0, 0, r1, r2, [], false],
      [1, 1, r1, r2, [], false],
      [0, 0, r1, r1, [], true],
      [0, 1, r1, r2, [], true],
      [1, 1, r2, r2, [], true],
      [1, 0, r1, r2, [], false],
      [2, 1, r1, r2, [], false],
      [1, 2, r1, r2, [], false],
      [0, 0, e, r2, [], false],
      [1, 1, e, r2, [], false],
      [0, 0, e, e, [e], false],
      [0, 1, e, e, [e], false],
      [1, 1, e, e, [e], false],
    ];
    for (const [s1, s2, a, b, p, want] of cases) expect(verifyConsistency(s1, s2, a, b, p).ok).toBe(want);
  });

  it('rejects inclusion for an index outside the tree', () => {
    const some = hashLeaf(new Uint8Array(1));
    for (const [i, s] of [
      [0, 0],
      [1, 0],
      [2, 1],
    ] as const) {
      expect(verifyInclusion(i, s, some, [], some).ok).toBe(false);
    }
    expect(rootFromInclusionProof(0, 1, some, [])).toEqual({ ok: true, root: some });
    expect(verifyInclusion(0, 1, some, [], new Uint8Array(0)).ok).toBe(false);
  });
});

describe('against the RFC text reference, all sizes up to 64', () => {
  const N = 64;
  const data = dataFor(N);
  const tree = createMerkleTree(data.map(hashLeaf));

  it('roots agree for every size', () => {
    for (let n = 0; n <= N; n++) expect(hex(tree.root(n))).toBe(hex(refMTH(data.slice(0, n))));
  });

  it('every inclusion proof equals PATH and verifies; any single-bit change fails', () => {
    for (let n = 1; n <= N; n++) {
      const root = tree.root(n);
      for (let m = 0; m < n; m++) {
        const proof = tree.inclusionProof(m, n);
        expect(proof.map(hex)).toEqual(refPATH(m, data.slice(0, n)).map(hex));
        const leaf = hashLeaf(data[m]!);
        expect(verifyInclusion(m, n, leaf, proof, root).ok).toBe(true);
        // Flip one bit in each proof element (a varying bit, to cover whole bytes across cases),
        // in the leaf hash and in the root.
        proof.forEach((p, i) => {
          const bad = proof.slice();
          bad[i] = flip(p, (m * 7 + i * 13) % 256);
          expect(verifyInclusion(m, n, leaf, bad, root).ok).toBe(false);
        });
        expect(verifyInclusion(m, n, flip(leaf, m % 256), proof, root).ok).toBe(false);
        expect(verifyInclusion(m, n, leaf, proof, flip(root, n % 256)).ok).toBe(false);
        if (n > 1) expect(verifyInclusion((m + 1) % n, n, leaf, proof, root).ok).toBe(false);
      }
    }
  }, 60_000);

  it('every consistency proof equals PROOF and verifies; any single-bit change fails', () => {
    for (let n = 1; n <= N; n++) {
      const root2 = tree.root(n);
      for (let m = 1; m <= n; m++) {
        const root1 = tree.root(m);
        const proof = tree.consistencyProof(m, n);
        if (m < n) expect(proof.map(hex)).toEqual(refPROOF(m, data.slice(0, n)).map(hex));
        else expect(proof).toEqual([]);
        expect(verifyConsistency(m, n, root1, root2, proof).ok).toBe(true);
        if (m === n) continue;
        proof.forEach((p, i) => {
          const bad = proof.slice();
          bad[i] = flip(p, (m * 11 + i * 5 + n) % 256);
          expect(verifyConsistency(m, n, root1, root2, bad).ok).toBe(false);
        });
        expect(verifyConsistency(m, n, flip(root1, 3), root2, proof).ok).toBe(false);
        expect(verifyConsistency(m, n, root1, flip(root2, 200), proof).ok).toBe(false);
      }
    }
  }, 60_000);

  it('exhaustively: every single-bit change of every proof element fails (sizes up to 12)', () => {
    const accepted: string[] = [];
    for (let n = 2; n <= 12; n++) {
      const root2 = tree.root(n);
      for (let m = 0; m < n; m++) {
        const leaf = hashLeaf(data[m]!);
        const proof = tree.inclusionProof(m, n);
        const c = m > 0 ? tree.consistencyProof(m, n) : [];
        const root1 = tree.root(m);
        for (let i = 0; i < proof.length; i++) {
          for (let bit = 0; bit < 256; bit++) {
            const bad = proof.slice();
            bad[i] = flip(proof[i]!, bit);
            if (verifyInclusion(m, n, leaf, bad, root2).ok) accepted.push(`inclusion ${m}/${n} [${i}] bit ${bit}`);
          }
        }
        for (let i = 0; i < c.length; i++) {
          for (let bit = 0; bit < 256; bit++) {
            const bad = c.slice();
            bad[i] = flip(c[i]!, bit);
            if (verifyConsistency(m, n, root1, root2, bad).ok)
              accepted.push(`consistency ${m}->${n} [${i}] bit ${bit}`);
          }
        }
      }
    }
    expect(accepted).toEqual([]);
  }, 60_000);

  it('proofs work on a plain SubtreeSource over an array of leaf hashes', () => {
    const hashes = data.map(hashLeaf);
    const source = { size: hashes.length, hash: (a: number, b: number) => rootFromLeafHashes(hashes.slice(a, b)) };
    expect(inclusionProof(5, 37, source).map(hex)).toEqual(tree.inclusionProof(5, 37).map(hex));
    expect(consistencyProof(13, 50, source).map(hex)).toEqual(tree.consistencyProof(13, 50).map(hex));
  });
});

describe('accumulator', () => {
  it('resumes from a persisted frontier and agrees with the tree', () => {
    const data = dataFor(100);
    const acc = createMerkleAccumulator();
    for (let i = 0; i < 37; i++) acc.append(hashLeaf(data[i]!));
    const resumed = createMerkleAccumulator(acc.size, acc.frontier());
    for (let i = 37; i < 100; i++) resumed.append(hashLeaf(data[i]!));
    expect(hex(resumed.root())).toBe(hex(refMTH(data)));
    expect(resumed.frontier()).toHaveLength(3); // 100 = 64 + 32 + 4
  });

  it('refuses a frontier of the wrong shape', () => {
    expect(() => createMerkleAccumulator(3, [hashLeaf(new Uint8Array(0))])).toThrow(RangeError);
    expect(() => createMerkleAccumulator(1, [new Uint8Array(31)])).toThrow(RangeError);
  });
});

describe('scale', () => {
  it('builds 100k leaves and answers proofs for arbitrary sizes quickly', () => {
    const n = 100_000;
    const tree = createMerkleTree();
    const acc = createMerkleAccumulator();
    const leaf = new Uint8Array(8);
    const view = new DataView(leaf.buffer);
    for (let i = 0; i < n; i++) {
      view.setUint32(4, i);
      const h = hashLeaf(leaf);
      tree.append(h);
      acc.append(h);
    }
    expect(hex(tree.root())).toBe(hex(acc.root()));
    const t0 = performance.now();
    for (const [m, size] of [
      [0, n],
      [n - 1, n],
      [12_345, 77_777],
      [65_535, 65_537],
    ] as const) {
      const root = tree.root(size);
      const proof = tree.inclusionProof(m, size);
      expect(verifyInclusion(m, size, tree.leafHash(m), proof, root).ok).toBe(true);
      const c = tree.consistencyProof(m + 1, size);
      expect(verifyConsistency(m + 1, size, tree.root(m + 1), root, c).ok).toBe(true);
    }
    // Generous bound: the point is O(log² n), not O(n) (which would take ~100 ms each).
    expect(performance.now() - t0).toBeLessThan(500);
  }, 60_000);
});
