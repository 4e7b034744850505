// Signed notes and checkpoints, in the formats of the C2SP specifications that Go's sumdb,
// Sigstore and the transparency-dev witnesses use, so their tools can read our checkpoints:
//   - c2sp.org/signed-note       (note text, signature lines, key IDs, verifier keys)
//   - c2sp.org/tlog-checkpoint   (the checkpoint note body)
//   - c2sp.org/tlog-cosignature  (timestamped Ed25519 witness cosignatures, "cosignature/v1")
// Section names below refer to the headings of those documents.

import { createPrivateKey, createPublicKey, randomBytes, sign as edSign, verify as edVerify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { HASH_SIZE, sha256 } from './merkle.ts';

/** signed-note "Signature types": Ed25519 note signatures. */
export const SIG_TYPE_ED25519 = 0x01;
/** signed-note "Signature types": timestamped Ed25519 witness cosignatures (tlog-cosignature). */
export const SIG_TYPE_COSIGNATURE_V1 = 0x04;

/** signed-note "Format": verifiers MUST accept at least 16; Go's note.Open caps at 100. */
export const MAX_SIGNATURES = 100;

const EM_DASH_PREFIX = '\u2014 ';
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Thrown for malformed input to the signing and formatting functions. */
export class NoteError extends Error {
  override name = 'NoteError';
}

// ---------------------------------------------------------------------------------------------
// Bytes helpers.

function toBase64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}

/** Strict RFC 4648 §4 base64 (with padding): Buffer's decoder alone accepts junk, so round-trip. */
function fromBase64(s: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) return undefined;
  const b = Buffer.from(s, 'base64');
  if (b.toString('base64') !== s) return undefined;
  return new Uint8Array(b);
}

function u32be(b: Uint8Array, off = 0): number {
  return (((b[off] ?? 0) << 24) >>> 0) + ((b[off + 1] ?? 0) << 16) + ((b[off + 2] ?? 0) << 8) + (b[off + 3] ?? 0);
}

function concat(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Keys.

// DER prefixes of RFC 8410 Ed25519 keys, so raw 32-byte keys can become KeyObjects without a
// dependency: SubjectPublicKeyInfo and PKCS #8 OneAsymmetricKey for id-Ed25519 (1.3.101.112).
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

// Edwards25519 (RFC 8032 §5.1) constants for the public-key check below.
const P = 2n ** 255n - 19n;
const D = (-121665n * modPow(121666n, P - 2n)) % P;
const SQRT_M1 = modPow(2n, (P - 1n) / 4n);

function mod(a: bigint): bigint {
  const r = a % P;
  return r < 0n ? r + P : r;
}

function modPow(b: bigint, e: bigint): bigint {
  let r = 1n;
  let x = ((b % P) + P) % P;
  for (let k = e; k > 0n; k >>= 1n) {
    if (k & 1n) r = (r * x) % P;
    x = (x * x) % P;
  }
  return r;
}

/**
 * Whether 32 bytes are a key a verifier should accept: a canonical encoding (y < p) of a point on
 * the curve (RFC 8032 §5.1.3 decoding) that is not of small order. OpenSSL accepts small-order
 * keys, and with one (e.g. all zeros) a forged all-zero signature verifies; Go's sumdb/note
 * rejects such verifier keys too.
 */
export function isUsableEd25519PublicKey(raw: Uint8Array): boolean {
  if (raw.length !== 32) return false;
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(raw[i] ?? 0);
  const sign = y >> 255n;
  y &= (1n << 255n) - 1n;
  if (y >= P) return false;
  // RFC 8032 §5.1.3 step 2-4: recover x from y.
  const u = mod(y * y - 1n);
  const v = mod(D * y * y + 1n);
  let x = mod(u * modPow(v, 3n) * modPow(u * modPow(v, 7n), (P - 5n) / 8n));
  const vx2 = mod(v * x * x);
  if (vx2 === mod(-u)) x = mod(x * SQRT_M1);
  else if (vx2 !== u) return false;
  if (x === 0n && sign === 1n) return false;
  if ((x & 1n) !== sign) x = P - x;
  // Small order means [8]A is the identity (0, 1). Affine doubling on -x² + y² = 1 + d·x²·y²,
  // whose denominators 1 ± d·x²·y² never vanish (the addition law is complete, d non-square).
  for (let i = 0; i < 3; i++) {
    const dxy = mod(D * x * x * y * y);
    const x2 = mod(2n * x * y * modPow(1n + dxy, P - 2n));
    const y2 = mod((y * y + x * x) * modPow(1n - dxy + P, P - 2n));
    x = x2;
    y = y2;
  }
  return !(x === 0n && y === 1n);
}

/** The KeyObject of a raw 32-byte Ed25519 public key (RFC 8032 encoding). */
export function ed25519PublicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new NoteError('an Ed25519 public key is 32 bytes');
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
}

/** The KeyObject of a raw 32-byte Ed25519 private key seed (RFC 8032 §5.1.5). */
export function ed25519PrivateKeyFromSeed(seed: Uint8Array): KeyObject {
  if (seed.length !== 32) throw new NoteError('an Ed25519 seed is 32 bytes');
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

/** A fresh random Ed25519 seed (RFC 8032 §5.1.5): what a node stores, encrypted, as its key. */
export function generateEd25519Seed(): Uint8Array {
  return new Uint8Array(randomBytes(32));
}

/** The 32-byte seed of an Ed25519 private KeyObject (the last 32 bytes of its PKCS #8 form). */
export function ed25519SeedFromPrivateKey(key: KeyObject): Uint8Array {
  if (key.type !== 'private' || key.asymmetricKeyType !== 'ed25519') throw new NoteError('need an Ed25519 private key');
  const der = key.export({ format: 'der', type: 'pkcs8' });
  return new Uint8Array(der.subarray(der.length - 32));
}

/** The raw 32-byte public key of an Ed25519 KeyObject (public or private). */
export function ed25519RawPublicKey(key: KeyObject): Uint8Array {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  if (pub.asymmetricKeyType !== 'ed25519') throw new NoteError('not an Ed25519 key');
  const der = pub.export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - 32));
}

/** signed-note "Signatures": key names are non-empty, with no Unicode spaces and no '+'. */
export function isValidKeyName(name: string): boolean {
  // \s covers the Unicode White_Space characters; controls are forbidden in notes anyway.
  return name.length > 0 && !/[\s+]/u.test(name) && !/\p{Cc}/u.test(name);
}

/**
 * signed-note "Signatures": key ID = SHA-256(key name || 0x0A || signature type || public key)[:4],
 * read as a big-endian uint32.
 */
export function keyId(name: string, sigType: number, publicKey: Uint8Array): number {
  return u32be(sha256(encoder.encode(name), Uint8Array.of(0x0a, sigType), publicKey));
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

/** signed-note "Verifier keys": `<name>+<hex key ID>+<base64(signature type || public key)>`. */
export function formatVerifierKey(name: string, publicKey: Uint8Array, sigType = SIG_TYPE_ED25519): string {
  if (!isValidKeyName(name)) throw new NoteError(`invalid key name ${JSON.stringify(name)}`);
  return `${name}+${hex8(keyId(name, sigType, publicKey))}+${toBase64(concat(Uint8Array.of(sigType), publicKey))}`;
}

// ---------------------------------------------------------------------------------------------
// Signers and verifiers.

/** Something that produces one signature line for a note. */
export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  readonly sigType: number;
  /** Raw 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** The verifier key string others configure to check this signer. */
  readonly verifierKey: string;
  /** Signature bytes over the note text (without the 4-byte key ID). */
  sign(text: string): Uint8Array;
}

/** A known key: signatures whose name and key ID match it are checked with it. */
export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  readonly sigType: number;
  readonly publicKey: Uint8Array;
  /**
   * Checks `sig` (without the key ID) over the note text. For cosignatures, also returns the
   * signed timestamp.
   */
  verify(text: string, sig: Uint8Array): { ok: true; timestamp?: number } | { ok: false };
}

function privateKeyOf(key: KeyObject | Uint8Array): KeyObject {
  const k = key instanceof Uint8Array ? ed25519PrivateKeyFromSeed(key) : key;
  if (k.type !== 'private' || k.asymmetricKeyType !== 'ed25519') throw new NoteError('need an Ed25519 private key');
  return k;
}

/** signed-note "Ed25519 signatures": a log (or any note) signer, signature type 0x01. */
export function createNoteSigner(name: string, privateKey: KeyObject | Uint8Array): NoteSigner {
  if (!isValidKeyName(name)) throw new NoteError(`invalid key name ${JSON.stringify(name)}`);
  const key = privateKeyOf(privateKey);
  const publicKey = ed25519RawPublicKey(key);
  return {
    name,
    keyId: keyId(name, SIG_TYPE_ED25519, publicKey),
    sigType: SIG_TYPE_ED25519,
    publicKey,
    verifierKey: formatVerifierKey(name, publicKey, SIG_TYPE_ED25519),
    sign: (text) => new Uint8Array(edSign(null, encoder.encode(text), key)),
  };
}

/** tlog-cosignature "Ed25519 signed message": `cosignature/v1\ntime <t>\n` || note body. */
export function cosignatureMessage(text: string, timestamp: number): string {
  return `cosignature/v1\ntime ${timestamp}\n${text}`;
}

const MAX_TIMESTAMP = 2n ** 63n - 1n;

/**
 * tlog-cosignature: a witness cosigner, signature type 0x04. Its signature is the
 * `timestamped_signature` struct: u64 big-endian timestamp || 64-byte Ed25519 signature.
 * `now` returns POSIX seconds; injectable so tests and replays are deterministic.
 */
export function createCosigner(
  name: string,
  privateKey: KeyObject | Uint8Array,
  now: () => number = () => Math.floor(Date.now() / 1000),
): NoteSigner {
  if (!isValidKeyName(name)) throw new NoteError(`invalid key name ${JSON.stringify(name)}`);
  const key = privateKeyOf(privateKey);
  const publicKey = ed25519RawPublicKey(key);
  return {
    name,
    keyId: keyId(name, SIG_TYPE_COSIGNATURE_V1, publicKey),
    sigType: SIG_TYPE_COSIGNATURE_V1,
    publicKey,
    verifierKey: formatVerifierKey(name, publicKey, SIG_TYPE_COSIGNATURE_V1),
    sign(text: string): Uint8Array {
      const t = now();
      if (!Number.isSafeInteger(t) || t < 0) throw new NoteError(`invalid timestamp ${t}`);
      const sig = edSign(null, encoder.encode(cosignatureMessage(text, t)), key);
      const out = new Uint8Array(8 + sig.length);
      new DataView(out.buffer).setBigUint64(0, BigInt(t), false);
      out.set(sig, 8);
      return out;
    },
  };
}

/** A verifier for a raw Ed25519 public key of the given signature type (0x01 or 0x04). */
export function createNoteVerifier(name: string, publicKey: Uint8Array, sigType = SIG_TYPE_ED25519): NoteVerifier {
  if (!isValidKeyName(name)) throw new NoteError(`invalid key name ${JSON.stringify(name)}`);
  if (sigType !== SIG_TYPE_ED25519 && sigType !== SIG_TYPE_COSIGNATURE_V1) {
    throw new NoteError(`unsupported signature type 0x${sigType.toString(16).padStart(2, '0')}`);
  }
  if (!isUsableEd25519PublicKey(publicKey)) throw new NoteError('not a usable Ed25519 public key');
  const key = ed25519PublicKeyFromRaw(publicKey);
  const pk = Uint8Array.from(publicKey);
  const id = keyId(name, sigType, pk);
  if (sigType === SIG_TYPE_ED25519) {
    return {
      name,
      keyId: id,
      sigType,
      publicKey: pk,
      verify: (text, sig) => ({ ok: sig.length === 64 && edVerify(null, encoder.encode(text), key, sig) }),
    };
  }
  return {
    name,
    keyId: id,
    sigType,
    publicKey: pk,
    verify(text, sig) {
      if (sig.length !== 8 + 64) return { ok: false };
      const t = new DataView(sig.buffer, sig.byteOffset, sig.byteLength).getBigUint64(0, false);
      // tlog-cosignature "Format": the timestamp MUST NOT exceed 2^63 - 1.
      if (t > MAX_TIMESTAMP || t > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false };
      const timestamp = Number(t);
      const ok = edVerify(null, encoder.encode(cosignatureMessage(text, timestamp)), key, sig.subarray(8));
      return ok ? { ok: true, timestamp } : { ok: false };
    },
  };
}

/** Parses a verifier key string (signed-note "Verifier keys"), checking its key ID. */
export function parseVerifierKey(vkey: string): NoteVerifier {
  const parts = vkey.split('+');
  // The base64 part may itself contain '+', so re-join everything after the second separator.
  if (parts.length < 3) throw new NoteError('a verifier key is <name>+<key ID>+<key>');
  const [name = '', idHex = '', ...rest] = parts;
  const material = fromBase64(rest.join('+'));
  if (!isValidKeyName(name)) throw new NoteError(`invalid key name ${JSON.stringify(name)}`);
  if (!/^[0-9a-f]{8}$/.test(idHex)) throw new NoteError('key ID must be 8 lower-case hex digits');
  if (material === undefined || material.length < 2) throw new NoteError('key material is not valid base64');
  const sigType = material[0] ?? 0;
  const publicKey = material.subarray(1);
  if (publicKey.length !== 32) throw new NoteError('an Ed25519 public key is 32 bytes');
  let v: NoteVerifier;
  try {
    v = createNoteVerifier(name, publicKey, sigType);
  } catch (e) {
    throw e instanceof NoteError ? e : new NoteError(`unusable public key: ${String(e)}`);
  }
  if (hex8(v.keyId) !== idHex) throw new NoteError('key ID does not match the key');
  return v;
}

// ---------------------------------------------------------------------------------------------
// Notes.

export interface NoteSignature {
  readonly name: string;
  readonly keyId: number;
  /** The signature bytes after the key ID. */
  readonly signature: Uint8Array;
}

export interface Note {
  /** The signed text, ending in a newline. */
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

function checkText(text: string): void {
  // signed-note "Format": text ends in a newline, and notes contain no ASCII controls but \n.
  if (!text.endsWith('\n')) throw new NoteError('note text must end with a newline');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0009\u000b-\u001f]/.test(text)) throw new NoteError('note text contains a control character');
}

function signatureLine(s: NoteSignature): string {
  const idBytes = new Uint8Array(4);
  new DataView(idBytes.buffer).setUint32(0, s.keyId, false);
  return `${EM_DASH_PREFIX}${s.name} ${toBase64(concat(idBytes, s.signature))}\n`;
}

/** signed-note "Format": text, a blank line, then one line per signature. */
export function formatNote(note: Note): string {
  checkText(note.text);
  if (note.signatures.length === 0) throw new NoteError('a signed note needs at least one signature');
  return `${note.text}\n${note.signatures.map(signatureLine).join('')}`;
}

/**
 * Parses a signed note without verifying it. Returns a reason instead of throwing, because the
 * input is untrusted.
 */
export function parseNote(input: string | Uint8Array): { ok: true; note: Note } | { ok: false; reason: string } {
  let s: string;
  if (typeof input === 'string') {
    s = input;
  } else {
    try {
      s = decoder.decode(input);
    } catch {
      return { ok: false, reason: 'note is not valid UTF-8' };
    }
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0009\u000b-\u001f]/.test(s)) return { ok: false, reason: 'note contains a control character' };
  if (/[\uD800-\uDFFF]/u.test(s)) return { ok: false, reason: 'note is not valid Unicode' };
  // The text is separated from the signatures by the last empty line.
  const split = s.lastIndexOf('\n\n');
  if (split < 0) return { ok: false, reason: 'note has no signature block' };
  const text = s.slice(0, split + 1);
  const block = s.slice(split + 2);
  if (block.length === 0 || !block.endsWith('\n')) return { ok: false, reason: 'malformed signature block' };
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) return { ok: false, reason: `more than ${MAX_SIGNATURES} signatures` };
  const signatures: NoteSignature[] = [];
  for (const line of lines) {
    if (!line.startsWith(EM_DASH_PREFIX)) return { ok: false, reason: 'signature line must start with an em dash' };
    const rest = line.slice(EM_DASH_PREFIX.length);
    const sp = rest.indexOf(' ');
    const name = sp < 0 ? '' : rest.slice(0, sp);
    const b64 = sp < 0 ? '' : rest.slice(sp + 1);
    if (!isValidKeyName(name)) return { ok: false, reason: 'malformed signature line' };
    const raw = fromBase64(b64);
    // Four bytes of key ID and at least one byte of signature.
    if (raw === undefined || raw.length < 5) return { ok: false, reason: 'malformed signature line' };
    signatures.push({ name, keyId: u32be(raw), signature: raw.subarray(4) });
  }
  return { ok: true, note: { text, signatures } };
}

/** Signs `text` with each signer and formats the note. */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  checkText(text);
  return formatNote({
    text,
    signatures: signers.map((s) => ({ name: s.name, keyId: s.keyId, signature: s.sign(text) })),
  });
}

/**
 * Adds signatures by `signers` to an existing note, keeping those already there (a signer's
 * earlier line with the same name and key ID is replaced). The existing signatures are not
 * verified here: callers that co-sign must have opened the note first.
 */
export function addSignatures(note: string, signers: readonly NoteSigner[]): string {
  const parsed = parseNote(note);
  if (!parsed.ok) throw new NoteError(parsed.reason);
  const { text } = parsed.note;
  const fresh = signers.map((s) => ({ name: s.name, keyId: s.keyId, signature: s.sign(text) }));
  const kept = parsed.note.signatures.filter((o) => !fresh.some((f) => f.name === o.name && f.keyId === o.keyId));
  return formatNote({ text, signatures: [...kept, ...fresh] });
}

export interface VerifiedSignature {
  readonly name: string;
  readonly keyId: number;
  readonly sigType: number;
  /** POSIX seconds, for timestamped cosignatures. */
  readonly timestamp?: number;
}

export type OpenNoteResult =
  { ok: true; text: string; verified: VerifiedSignature[]; unknown: NoteSignature[] } | { ok: false; reason: string };

/**
 * Verifies a note against known keys, following signed-note "Signatures": signatures from unknown
 * keys (name and key ID not both matching) are ignored; a known key's signature that fails
 * rejects the whole note; and at least one known signature must verify.
 */
export function openNote(input: string | Uint8Array, verifiers: readonly NoteVerifier[]): OpenNoteResult {
  const parsed = parseNote(input);
  if (!parsed.ok) return parsed;
  const { text, signatures } = parsed.note;
  const verified: VerifiedSignature[] = [];
  const unknown: NoteSignature[] = [];
  for (const sig of signatures) {
    const v = verifiers.find((k) => k.name === sig.name && k.keyId === sig.keyId);
    if (v === undefined) {
      unknown.push(sig);
      continue;
    }
    const r = v.verify(text, sig.signature);
    if (!r.ok) return { ok: false, reason: `invalid signature by ${sig.name}+${hex8(sig.keyId)}` };
    // A repeated line by one key adds nothing; keep the first, as Go's note.Open does.
    if (verified.some((x) => x.name === v.name && x.keyId === v.keyId)) continue;
    verified.push({
      name: v.name,
      keyId: v.keyId,
      sigType: v.sigType,
      ...(r.timestamp === undefined ? {} : { timestamp: r.timestamp }),
    });
  }
  if (verified.length === 0) return { ok: false, reason: 'no signature by a known key' };
  return { ok: true, text, verified, unknown };
}

// ---------------------------------------------------------------------------------------------
// Checkpoints.

/** tlog-checkpoint "Note text": origin, tree size, root hash, optional extension lines. */
export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly rootHash: Uint8Array;
  readonly extensions?: readonly string[];
}

/** The checkpoint note text (body), ending in a newline. */
export function formatCheckpoint(cp: Checkpoint): string {
  if (cp.origin.length === 0 || cp.origin.includes('\n')) throw new NoteError('origin must be one non-empty line');
  if (!Number.isSafeInteger(cp.size) || cp.size < 0) throw new NoteError('size must be a non-negative safe integer');
  if (cp.rootHash.length !== HASH_SIZE) throw new NoteError('root hash must be 32 bytes');
  const ext = cp.extensions ?? [];
  for (const e of ext) {
    // Extension lines, if any, MUST be non-empty.
    if (e.length === 0 || e.includes('\n')) throw new NoteError('extension lines must be non-empty single lines');
  }
  const text = [cp.origin, String(cp.size), toBase64(cp.rootHash), ...ext].join('\n') + '\n';
  checkText(text);
  return text;
}

/** Parses a checkpoint note text (body). */
export function parseCheckpoint(text: string): { ok: true; checkpoint: Checkpoint } | { ok: false; reason: string } {
  if (!text.endsWith('\n')) return { ok: false, reason: 'checkpoint must end with a newline' };
  const lines = text.slice(0, -1).split('\n');
  const [origin, sizeLine, rootLine, ...extensions] = lines;
  if (origin === undefined || sizeLine === undefined || rootLine === undefined) {
    return { ok: false, reason: 'checkpoint needs origin, size and root hash lines' };
  }
  if (origin.length === 0) return { ok: false, reason: 'empty origin' };
  // Tree size: ASCII decimal with no leading zeroes (unless the tree is empty).
  if (!/^(0|[1-9][0-9]*)$/.test(sizeLine)) return { ok: false, reason: 'malformed tree size' };
  const size = Number(sizeLine);
  if (!Number.isSafeInteger(size)) return { ok: false, reason: 'tree size too large' };
  const rootHash = fromBase64(rootLine);
  if (rootHash === undefined || rootHash.length !== HASH_SIZE) return { ok: false, reason: 'malformed root hash' };
  if (extensions.some((e) => e.length === 0)) return { ok: false, reason: 'empty extension line' };
  return {
    ok: true,
    checkpoint: extensions.length > 0 ? { origin, size, rootHash, extensions } : { origin, size, rootHash },
  };
}

/** Formats and signs a checkpoint. The log's key name SHOULD match the origin (tlog-checkpoint). */
export function signCheckpoint(cp: Checkpoint, signer: NoteSigner): string {
  return signNote(formatCheckpoint(cp), [signer]);
}

/** Adds a witness cosignature (tlog-cosignature) to a signed checkpoint. */
export function cosignCheckpoint(note: string, cosigner: NoteSigner): string {
  if (cosigner.sigType !== SIG_TYPE_COSIGNATURE_V1) throw new NoteError('not a cosignature/v1 signer');
  return addSignatures(note, [cosigner]);
}

export type OpenCheckpointResult =
  | {
      ok: true;
      checkpoint: Checkpoint;
      /** The exact note text that was signed. */
      text: string;
      /** Verified signatures by the log's keys. */
      logSignatures: VerifiedSignature[];
      /** Verified cosignatures by known witnesses. */
      cosignatures: VerifiedSignature[];
    }
  | { ok: false; reason: string };

/**
 * Verifies a signed checkpoint: at least one signature by one of `logKeys` must verify, every
 * signature by a known key (log or witness) must verify, and the body must be a well-formed
 * checkpoint. If `origin` is given, the checkpoint's origin must equal it.
 */
export function openCheckpoint(
  note: string | Uint8Array,
  logKeys: readonly NoteVerifier[],
  witnessKeys: readonly NoteVerifier[] = [],
  origin?: string,
): OpenCheckpointResult {
  const opened = openNote(note, [...logKeys, ...witnessKeys]);
  if (!opened.ok) return opened;
  const isLog = (s: VerifiedSignature): boolean => logKeys.some((k) => k.name === s.name && k.keyId === s.keyId);
  const logSignatures = opened.verified.filter(isLog);
  if (logSignatures.length === 0) return { ok: false, reason: 'no valid signature by the log' };
  const parsed = parseCheckpoint(opened.text);
  if (!parsed.ok) return parsed;
  if (origin !== undefined && parsed.checkpoint.origin !== origin) {
    return { ok: false, reason: `origin ${JSON.stringify(parsed.checkpoint.origin)} is not the expected one` };
  }
  return {
    ok: true,
    checkpoint: parsed.checkpoint,
    text: opened.text,
    logSignatures,
    cosignatures: opened.verified.filter((s) => !isLog(s)),
  };
}

/**
 * tlog-cosignature "Format": reads the timestamp of a cosignature without verifying it (for
 * display; trust it only after `openNote`/`openCheckpoint` verified the line).
 */
export function cosignatureTimestamp(sig: NoteSignature): number | undefined {
  if (sig.signature.length !== 8 + 64) return undefined;
  const t = new DataView(sig.signature.buffer, sig.signature.byteOffset, 8).getBigUint64(0, false);
  return t > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(t);
}
