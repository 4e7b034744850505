// Public API of @scanflow/ledger: the pure core of the tamper-evident log (L1, L2). See README.md
// for the map from RFC 9162 and C2SP sections to these functions.

export type { LedgerEntry, LedgerScalar } from './canonical.ts';
export {
  CanonicalError,
  LIMITS,
  canonicalBytes,
  canonicalJson,
  entryLeafHash,
  parseCanonical,
  validateEntry,
} from './canonical.ts';

export type { MerkleAccumulator, MerkleTree, ProofResult, SubtreeSource } from './merkle.ts';
export {
  HASH_SIZE,
  bytesEqual,
  consistencyProof,
  createMerkleAccumulator,
  createMerkleTree,
  emptyRoot,
  hashChildren,
  hashLeaf,
  inclusionProof,
  rootFromInclusionProof,
  rootFromLeafHashes,
  sha256,
  verifyConsistency,
  verifyInclusion,
} from './merkle.ts';

export type {
  Checkpoint,
  Note,
  NoteSignature,
  NoteSigner,
  NoteVerifier,
  OpenCheckpointResult,
  OpenNoteResult,
  VerifiedSignature,
} from './checkpoint.ts';
export {
  MAX_SIGNATURES,
  NoteError,
  SIG_TYPE_COSIGNATURE_V1,
  SIG_TYPE_ED25519,
  addSignatures,
  cosignCheckpoint,
  cosignatureMessage,
  cosignatureTimestamp,
  createCosigner,
  createNoteSigner,
  createNoteVerifier,
  ed25519PrivateKeyFromSeed,
  ed25519PublicKeyFromRaw,
  ed25519RawPublicKey,
  ed25519SeedFromPrivateKey,
  formatCheckpoint,
  formatNote,
  formatVerifierKey,
  generateEd25519Seed,
  isUsableEd25519PublicKey,
  isValidKeyName,
  keyId,
  openCheckpoint,
  openNote,
  parseCheckpoint,
  parseNote,
  parseVerifierKey,
  signCheckpoint,
  signNote,
} from './checkpoint.ts';

export type {
  LogVerifier,
  VerifiedCheckpoint,
  VerifyFailure,
  VerifyLogInput,
  VerifyOptions,
  VerifyReport,
} from './verify.ts';
export { createLogVerifier, verifyLog, verifyLogAsync } from './verify.ts';

export type { AddCheckpointResult, WitnessDecision, WitnessRefusal, WitnessRefuse, WitnessState } from './witness.ts';
export {
  MAX_PROOF_HASHES,
  addCheckpoint,
  decideCosign,
  formatAddCheckpointRequest,
  parseAddCheckpointRequest,
} from './witness.ts';
