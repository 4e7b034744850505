import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  NoteError,
  SIG_TYPE_COSIGNATURE_V1,
  addSignatures,
  cosignCheckpoint,
  cosignatureMessage,
  cosignatureTimestamp,
  createCosigner,
  createNoteSigner,
  createNoteVerifier,
  ed25519RawPublicKey,
  ed25519SeedFromPrivateKey,
  formatCheckpoint,
  formatVerifierKey,
  generateEd25519Seed,
  isUsableEd25519PublicKey,
  keyId,
  openCheckpoint,
  openNote,
  parseCheckpoint,
  parseNote,
  parseVerifierKey,
  signCheckpoint,
  signNote,
} from './checkpoint.ts';
import { createMerkleTree, hashLeaf } from './merkle.ts';

// golang.org/x/mod/sumdb/note example (note.go package documentation, note_test.go).
const GO_SKEY_MATERIAL = 'AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz'; // 0x01 || seed
const GO_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_NOTE =
  GO_TEXT +
  '\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';
const goSeed = new Uint8Array(Buffer.from(GO_SKEY_MATERIAL, 'base64').subarray(1));

function seed(byte: number): Uint8Array {
  return new Uint8Array(32).fill(byte);
}

describe('signed-note interoperability with Go sumdb/note', () => {
  it('signs the Go example byte for byte (Ed25519 is deterministic)', () => {
    const signer = createNoteSigner('PeterNeumann', goSeed);
    expect(signer.verifierKey).toBe(GO_VKEY);
    expect(signNote(GO_TEXT, [signer])).toBe(GO_NOTE);
  });

  it('opens the Go example with its verifier key', () => {
    const r = openNote(GO_NOTE, [parseVerifierKey(GO_VKEY)]);
    expect(r).toMatchObject({ ok: true, text: GO_TEXT, verified: [{ name: 'PeterNeumann', keyId: 0xc74f20a3 }] });
    expect(openNote(new TextEncoder().encode(GO_NOTE), [parseVerifierKey(GO_VKEY)]).ok).toBe(true);
  });

  it('rejects a changed text', () => {
    expect(openNote(GO_NOTE.replace('cryptography', 'cryptographY'), [parseVerifierKey(GO_VKEY)]).ok).toBe(false);
  });

  it('accepts the transparency-dev/formats verifier keys, including a cosignature/v1 key', () => {
    expect(parseVerifierKey('TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6').name).toBe('TEST');
    const w = parseVerifierKey('remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2');
    expect(w.sigType).toBe(SIG_TYPE_COSIGNATURE_V1);
  });

  it('rejects mangled verifier keys', () => {
    const bad = [
      'PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW', // wrong key ID
      'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T', // bad base64
      'PeterNeumann+c74f20a3', // missing part
      'Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW', // space in name
      'rekor.sigstore.dev+12345678+AwEB', // unknown type, short key
      'PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW', // upper-case hex
    ];
    for (const k of bad) expect(() => parseVerifierKey(k), k).toThrow(NoteError);
  });
});

describe('public key checks', () => {
  const hx = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
  const identity = new Uint8Array(32);
  identity[0] = 1;
  const pMinus1 = new Uint8Array(32).fill(0xff);
  pMinus1[0] = 0xec;
  pMinus1[31] = 0x7f;
  const p = Uint8Array.from(pMinus1);
  p[0] = 0xed;
  // Small-order points (libsodium's ge25519_has_small_order list) and a non-canonical encoding.
  const unusable: [string, Uint8Array][] = [
    ['all zeros (order 4)', new Uint8Array(32)],
    ['identity (order 1)', identity],
    ['order 8', hx('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05')],
    ['order 8', hx('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a')],
    ['p - 1 (order 2)', pMinus1],
    ['y = p, not canonical', p],
  ];
  it.each(unusable)('rejects %s', (_name, key) => {
    expect(isUsableEd25519PublicKey(key)).toBe(false);
    expect(() => createNoteVerifier('k', key)).toThrow(NoteError);
  });

  it('accepts the base point and generated keys', () => {
    expect(isUsableEd25519PublicKey(hx('5866666666666666666666666666666666666666666666666666666666666666'))).toBe(true);
    for (let i = 0; i < 20; i++) {
      const raw = ed25519RawPublicKey(generateKeyPairSync('ed25519').publicKey);
      expect(isUsableEd25519PublicKey(raw)).toBe(true);
      expect(parseVerifierKey(formatVerifierKey('k', raw)).publicKey).toEqual(raw);
    }
  });

  it('an all-zero verifier key, which OpenSSL would let an all-zero signature pass, is refused', () => {
    expect(() => parseVerifierKey(formatVerifierKey('log', new Uint8Array(32)))).toThrow(NoteError);
  });
});

describe('tlog-cosignature', () => {
  it('reads the timestamp of the transparency-dev/formats vector', () => {
    const raw = Buffer.from(
      'ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJXORmnFBOBA==',
      'base64',
    );
    const sig = { name: 'w', keyId: raw.readUInt32BE(0), signature: new Uint8Array(raw.subarray(4)) };
    expect(cosignatureTimestamp(sig)).toBe(1727964367);
  });

  it('parses the example of the tlog-cosignature spec: key ID, then u64 time, then a 64-byte signature', () => {
    const note =
      'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n' +
      '\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n' +
      '\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n';
    const parsed = parseNote(note);
    if (!parsed.ok) throw new Error(parsed.reason);
    const [log, w] = parsed.note.signatures;
    expect(log?.signature).toHaveLength(64);
    expect(w?.keyId).toBe(0x8d66cf3f);
    // The spec's example signed message uses "time 1679315147".
    expect(cosignatureTimestamp(w!)).toBe(1679315147);
    expect(parseCheckpoint(parsed.note.text)).toMatchObject({ ok: true, checkpoint: { size: 20852163 } });
  });

  it('key IDs use signature type 0x04, so the same key has distinct IDs', () => {
    const s = createNoteSigner('w.example/1', seed(3));
    const c = createCosigner('w.example/1', seed(3), () => 1);
    expect(c.keyId).toBe(keyId('w.example/1', 0x04, s.publicKey));
    expect(c.keyId).not.toBe(s.keyId);
    expect(c.verifierKey).toBe(formatVerifierKey('w.example/1', s.publicKey, 0x04));
  });

  it('signs cosignature/v1 || time || body and verifies with the timestamp', () => {
    const log = createNoteSigner('log.example/a', seed(1));
    const witness = createCosigner('witness.example/w1', seed(2), () => 1679315147);
    const body = formatCheckpoint({ origin: 'log.example/a', size: 3, rootHash: new Uint8Array(32) });
    const note = cosignCheckpoint(
      signCheckpoint({ origin: 'log.example/a', size: 3, rootHash: new Uint8Array(32) }, log),
      witness,
    );
    const lines = note.split('\n');
    expect(lines.filter((l) => l.startsWith('\u2014 '))).toHaveLength(2);

    const opened = openCheckpoint(note, [parseVerifierKey(log.verifierKey)], [parseVerifierKey(witness.verifierKey)]);
    expect(opened).toMatchObject({
      ok: true,
      text: body,
      logSignatures: [{ name: 'log.example/a' }],
      cosignatures: [{ name: 'witness.example/w1', timestamp: 1679315147, sigType: 4 }],
    });

    // The signed message is exactly the one of tlog-cosignature "Ed25519 signed message".
    expect(cosignatureMessage(body, 1679315147)).toBe(`cosignature/v1\ntime 1679315147\n${body}`);
    const parsed = parseNote(note);
    if (!parsed.ok) throw new Error(parsed.reason);
    const line = parsed.note.signatures[1]!;
    expect(line.signature).toHaveLength(8 + 64);
    expect(cosignatureTimestamp(line)).toBe(1679315147);
  });

  it('a cosignature does not verify as a plain note signature, nor with a changed timestamp', () => {
    const witness = createCosigner('w', seed(2), () => 100);
    const note = signNote('hello\n', [witness]);
    const plain = createNoteVerifier('w', witness.publicKey, 0x01);
    expect(openNote(note, [plain]).ok).toBe(false); // different key ID: ignored, so none verify
    const parsed = parseNote(note);
    if (!parsed.ok) throw new Error(parsed.reason);
    const sig = parsed.note.signatures[0]!;
    const tampered = Uint8Array.from(sig.signature);
    tampered[7] = 101;
    const v = parseVerifierKey(witness.verifierKey);
    expect(v.verify('hello\n', tampered).ok).toBe(false);
    expect(v.verify('hello\n', sig.signature)).toEqual({ ok: true, timestamp: 100 });
  });
});

describe('openNote trust rules (signed-note "Signatures")', () => {
  const a = createNoteSigner('a.example', seed(10));
  const b = createNoteSigner('b.example', seed(11));
  const va = parseVerifierKey(a.verifierKey);
  const vb = parseVerifierKey(b.verifierKey);

  it('ignores unknown keys and needs at least one known signature', () => {
    const note = signNote('text\n', [a, b]);
    expect(openNote(note, [va])).toMatchObject({
      ok: true,
      verified: [{ name: 'a.example' }],
      unknown: [{ name: 'b.example' }],
    });
    expect(openNote(note, [])).toEqual({ ok: false, reason: 'no signature by a known key' });
  });

  it('ignores a key sharing only the name or only the ID', () => {
    const imposter = createNoteSigner('a.example', seed(12)); // same name, different key ID
    expect(openNote(signNote('text\n', [imposter]), [va]).ok).toBe(false);
  });

  it('rejects the whole note when a known key signature fails', () => {
    const good = signNote('text\n', [a, b]);
    // Replace b's signature with one over other text, keeping name and key ID.
    const forged = good.replace(/\u2014 b\.example .*\n/u, signNote('other\n', [b]).split('\n\n')[1]!);
    expect(openNote(forged, [va]).ok).toBe(true);
    expect(openNote(forged, [va, vb]).ok).toBe(false);
  });

  it('rejects malformed notes', () => {
    const good = signNote('text\n', [a]);
    const bad = [
      good.replace('\u2014', '-'), // not an em dash
      good.replace('\n\n', '\n'), // no blank line
      good.slice(0, -1), // no final newline
      good.replace('text', 'te\u0007xt'), // control character
      good.replace('\u2014 a.example ', '\u2014 a.example  '), // bad base64 spacing
      'text\n\n\u2014 a.example AAAA\n', // signature too short
    ];
    for (const n of bad) expect(openNote(n, [va]).ok, JSON.stringify(n)).toBe(false);
    expect(openNote(new Uint8Array([0xff, 0x0a, 0x0a]), [va])).toEqual({
      ok: false,
      reason: 'note is not valid UTF-8',
    });
  });

  it('the text may contain empty lines; the last empty line separates signatures', () => {
    const note = signNote('para one\n\npara two\n', [a]);
    expect(openNote(note, [va])).toMatchObject({ ok: true, text: 'para one\n\npara two\n' });
  });

  it('addSignatures keeps existing lines and replaces a signer’s own', () => {
    const note = signNote('text\n', [a]);
    const both = addSignatures(addSignatures(note, [b]), [b]);
    const parsed = parseNote(both);
    expect(parsed.ok && parsed.note.signatures.map((s) => s.name)).toEqual(['a.example', 'b.example']);
    expect(openNote(both, [va, vb]).ok).toBe(true);
  });

  it('refuses to sign text that is not a valid note text', () => {
    expect(() => signNote('no newline', [a])).toThrow(NoteError);
    expect(() => signNote('tab\there\n', [a])).toThrow(NoteError);
    expect(() => createNoteSigner('has space', seed(1))).toThrow(NoteError);
    expect(() => createNoteSigner('plus+name', seed(1))).toThrow(NoteError);
  });
});

describe('checkpoints (tlog-checkpoint)', () => {
  const tree = createMerkleTree(['a', 'b', 'c'].map((s) => hashLeaf(new TextEncoder().encode(s))));
  const cp = { origin: 'scanflow.example/org_01', size: 3, rootHash: tree.root() };

  it('formats the body as origin, size, base64 root', () => {
    expect(formatCheckpoint(cp)).toBe(`scanflow.example/org_01\n3\n${Buffer.from(tree.root()).toString('base64')}\n`);
    expect(formatCheckpoint({ ...cp, extensions: ['time 17'] }).endsWith('\ntime 17\n')).toBe(true);
  });

  it('parses what it formats, and rejects malformed bodies', () => {
    const text = formatCheckpoint({ ...cp, extensions: ['x y'] });
    expect(parseCheckpoint(text)).toEqual({ ok: true, checkpoint: { ...cp, extensions: ['x y'] } });
    const root = Buffer.from(tree.root()).toString('base64');
    for (const bad of [
      `o\n03\n${root}\n`, // leading zero
      `o\n-1\n${root}\n`,
      `o\n3\n${root}`, // no final newline
      `o\n3\n${root.slice(0, -4)}\n`, // short root
      `\n3\n${root}\n`, // empty origin
      `o\n3\n${root}\n\n`, // empty extension line
      `o\n3\n`,
      `o\n99999999999999999999\n${root}\n`,
    ]) {
      expect(parseCheckpoint(bad).ok, JSON.stringify(bad)).toBe(false);
    }
    expect(parseCheckpoint(`o\n0\n${root}\n`).ok).toBe(true);
  });

  it('signs with a KeyObject and verifies with the published verifier key', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const signer = createNoteSigner(cp.origin, privateKey);
    const note = signCheckpoint(cp, signer);
    const r = openCheckpoint(note, [parseVerifierKey(signer.verifierKey)], [], cp.origin);
    expect(r).toMatchObject({ ok: true, checkpoint: { origin: cp.origin, size: 3 }, cosignatures: [] });
    expect(openCheckpoint(note, [parseVerifierKey(signer.verifierKey)], [], 'other').ok).toBe(false);
  });

  it('a generated seed and a KeyObject give the same signer', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const seedBytes = ed25519SeedFromPrivateKey(privateKey);
    expect(createNoteSigner('k', seedBytes).verifierKey).toBe(createNoteSigner('k', privateKey).verifierKey);
    const s1 = generateEd25519Seed();
    expect(s1).toHaveLength(32);
    expect(createNoteSigner('k', s1).verifierKey).not.toBe(createNoteSigner('k', generateEd25519Seed()).verifierKey);
  });

  it('a witness signature alone does not make a checkpoint valid', () => {
    const w = createCosigner('w', seed(5), () => 1);
    const note = signNote(formatCheckpoint(cp), [w]);
    const log = createNoteSigner(cp.origin, seed(6));
    const r = openCheckpoint(note, [parseVerifierKey(log.verifierKey)], [parseVerifierKey(w.verifierKey)]);
    expect(r).toEqual({ ok: false, reason: 'no valid signature by the log' });
  });
});
