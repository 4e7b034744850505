// Offline replay verification of a whole log.
//
// The database's refusal to update or delete log rows is a convenience, not the security
// argument: this verifier trusts only the log's public key(s). It recomputes the RFC 9162 tree
// from the entries, checks every stored checkpoint's signature (c2sp.org/signed-note), that its
// root equals the recomputed root at its size, and that successive checkpoints are consistent
// (RFC 9162 §2.1.4), and names the first thing that does not verify, in log order.
//
// What it can and cannot say: a changed, deleted, inserted or reordered entry changes every root
// from its position on, so the first checkpoint after it fails; the entry lies between the last
// good checkpoint and that one (`suspectFrom`..`size`). When the entry's own `seq` no longer
// matches its position, or its bytes are not canonical, the entry itself is named. A truncated
// log is caught by any checkpoint larger than the log; truncating the checkpoints as well is
// caught only against a checkpoint held elsewhere (a witness's), passed in `checkpoints` or as
// `minTreeSize`, which is why witnesses exist.

import { CanonicalError, canonicalBytes, parseCanonical } from './canonical.ts';
import type { LedgerEntry } from './canonical.ts';
import { openCheckpoint } from './checkpoint.ts';
import type { Checkpoint, NoteVerifier, VerifiedSignature } from './checkpoint.ts';
import { bytesEqual, createMerkleTree, hashLeaf, verifyConsistency } from './merkle.ts';

export interface VerifyOptions {
  /** Signed checkpoint notes, as stored (any order; they are checked in order of size). */
  readonly checkpoints: readonly string[];
  /** The log's key(s); a checkpoint needs a valid signature by one of them. */
  readonly logKeys: readonly NoteVerifier[];
  /** If given, every checkpoint's origin line must equal it. */
  readonly origin?: string;
  /** Known witnesses' cosigning keys. */
  readonly witnessKeys?: readonly NoteVerifier[];
  /** Valid cosignatures each checkpoint needs (default 0). */
  readonly witnessQuorum?: number;
  /** The log must have at least this many entries (e.g. the size a witness last cosigned). */
  readonly minTreeSize?: number;
}

export interface VerifyLogInput extends VerifyOptions {
  /** Entries in log order, as canonical bytes (from an export) or as entries. */
  readonly entries: Iterable<Uint8Array | LedgerEntry>;
}

export type VerifyFailure =
  | {
      readonly kind: 'entry';
      /** Index (= expected seq) of the first entry that does not verify. */
      readonly index: number;
      readonly reason: string;
    }
  | {
      readonly kind: 'checkpoint';
      /** Position of the checkpoint in the input `checkpoints` array. */
      readonly index: number;
      /** The tree size it claims, when it could be read. */
      readonly size?: number;
      readonly reason: string;
      /**
       * For a root mismatch: the altered entry is at or after this index (the size of the last
       * checkpoint that verified) and before `size`.
       */
      readonly suspectFrom?: number;
    }
  | { readonly kind: 'log'; readonly reason: string };

export interface VerifiedCheckpoint {
  readonly index: number;
  readonly checkpoint: Checkpoint;
  readonly cosignatures: readonly VerifiedSignature[];
}

export interface VerifyReport {
  readonly ok: boolean;
  /** The first failure in log order, when not ok. */
  readonly failure?: VerifyFailure;
  /** Entries read (stops at the first entry failure). */
  readonly entriesRead: number;
  /** Root recomputed over the entries read. */
  readonly root: Uint8Array;
  /** Checkpoints that verified, in order of size. */
  readonly verified: readonly VerifiedCheckpoint[];
  /** Entries after the largest verified checkpoint (not yet covered by a signature). */
  readonly uncheckpointed: number;
}

interface Pending {
  readonly index: number;
  readonly checkpoint: Checkpoint;
  readonly cosignatures: readonly VerifiedSignature[];
}

/**
 * Incremental form of `verifyLog`, for entries that arrive one at a time (a database cursor, an
 * HTTP stream): `push` each entry in order and stop at the first failure it returns; `finish`
 * gives the report. Memory is the tree's 64 bytes per entry, not the entries.
 */
export interface LogVerifier {
  /** Feeds the next entry; returns the failure once one is known (further pushes are ignored). */
  push(item: Uint8Array | LedgerEntry): VerifyFailure | undefined;
  /** Ends the replay and reports. */
  finish(): VerifyReport;
}

export function createLogVerifier(input: VerifyOptions): LogVerifier {
  const quorum = input.witnessQuorum ?? 0;
  const witnessKeys = input.witnessKeys ?? [];

  // 1. Signatures and syntax first: they need no entries. A failure here is still reported in
  //    log order below, at the checkpoint's size, unless its size cannot be read at all.
  const pending: Pending[] = [];
  let early: (VerifyFailure & { at: number }) | undefined;
  const note = (f: VerifyFailure, at: number): void => {
    if (early === undefined || at < early.at) early = { ...f, at };
  };
  input.checkpoints.forEach((text, index) => {
    const opened = openCheckpoint(text, input.logKeys, witnessKeys, input.origin);
    if (!opened.ok) {
      note({ kind: 'checkpoint', index, reason: opened.reason }, sizeHint(text));
      return;
    }
    if (opened.cosignatures.length < quorum) {
      note(
        {
          kind: 'checkpoint',
          index,
          size: opened.checkpoint.size,
          reason: `${opened.cosignatures.length} witness cosignature(s), ${quorum} required`,
        },
        opened.checkpoint.size,
      );
      return;
    }
    pending.push({ index, checkpoint: opened.checkpoint, cosignatures: opened.cosignatures });
  });
  // Stable sort by size keeps equal-size checkpoints in stored order.
  pending.sort((a, b) => a.checkpoint.size - b.checkpoint.size);

  // 2. Replay.
  const tree = createMerkleTree();
  const verified: VerifiedCheckpoint[] = [];
  let next = 0; // next pending checkpoint to check
  let lastGood: Pending | undefined;
  const report = (failure: VerifyFailure | undefined): VerifyReport => ({
    ok: failure === undefined,
    ...(failure === undefined ? {} : { failure }),
    entriesRead: tree.size,
    root: tree.root(),
    verified: verified.slice(),
    uncheckpointed: tree.size - (lastGood?.checkpoint.size ?? 0),
  });

  // Checks every pending checkpoint whose size the tree has reached; returns a failure if any.
  const checkReached = (): VerifyFailure | undefined => {
    for (;;) {
      const p = pending[next];
      if (p === undefined || p.checkpoint.size > tree.size) return undefined;
      next += 1;
      if (early !== undefined && early.at <= p.checkpoint.size) return strip(early);
      const { size, rootHash } = p.checkpoint;
      if (!bytesEqual(tree.root(size), rootHash)) {
        const from = lastGood?.checkpoint.size ?? 0;
        if (from === size && lastGood !== undefined) {
          return {
            kind: 'checkpoint',
            index: p.index,
            size,
            reason: `split view: checkpoints ${lastGood.index} and ${p.index} sign different roots for size ${size}`,
          };
        }
        return {
          kind: 'checkpoint',
          index: p.index,
          size,
          suspectFrom: from,
          reason: `root does not match the entries: an entry in [${from}, ${size}) was changed, removed, inserted or reordered`,
        };
      }
      if (lastGood !== undefined) {
        // RFC 9162 §2.1.4: prove the append-only relation between successive checkpoints with
        // the verifier's own algorithm, not just by equality with our recomputation.
        const prev = lastGood.checkpoint;
        const proof = tree.consistencyProof(prev.size, size);
        const c = verifyConsistency(prev.size, size, prev.rootHash, rootHash, proof);
        if (!c.ok) {
          return {
            kind: 'checkpoint',
            index: p.index,
            size,
            reason: `not consistent with the previous checkpoint: ${c.reason}`,
          };
        }
      }
      lastGood = p;
      verified.push({ index: p.index, checkpoint: p.checkpoint, cosignatures: p.cosignatures });
    }
  };

  let failed: VerifyFailure | undefined = checkReached();
  let index = 0;

  const push = (item: Uint8Array | LedgerEntry): VerifyFailure | undefined => {
    if (failed !== undefined) return failed;
    if (early !== undefined && early.at <= index) return (failed = strip(early));
    let bytes: Uint8Array;
    let entry: LedgerEntry;
    try {
      if (item instanceof Uint8Array) {
        entry = parseCanonical(item);
        bytes = item;
      } else {
        entry = item;
        bytes = canonicalBytes(item);
      }
    } catch (e) {
      if (e instanceof CanonicalError) return (failed = { kind: 'entry', index, reason: e.message });
      throw e;
    }
    // The position is part of the entry, so a deletion or a swap that leaves `seq` untouched is
    // named exactly, before any root is compared.
    if (entry.seq !== index) {
      return (failed = { kind: 'entry', index, reason: `expected seq ${index}, found seq ${entry.seq}` });
    }
    tree.append(hashLeaf(bytes));
    index += 1;
    return (failed = checkReached());
  };

  const finish = (): VerifyReport => {
    if (failed !== undefined) return report(failed);
    // After the last entry: checkpoints beyond the log mean it was truncated.
    const beyond = pending[next];
    if (early !== undefined && (beyond === undefined || early.at <= beyond.checkpoint.size)) {
      return report(strip(early));
    }
    if (beyond !== undefined) {
      return report({
        kind: 'checkpoint',
        index: beyond.index,
        size: beyond.checkpoint.size,
        reason: `log truncated: checkpoint of size ${beyond.checkpoint.size} but only ${tree.size} entries`,
      });
    }
    if (input.minTreeSize !== undefined && tree.size < input.minTreeSize) {
      return report({
        kind: 'log',
        reason: `log truncated: ${tree.size} entries, at least ${input.minTreeSize} expected`,
      });
    }
    return report(undefined);
  };

  return { push, finish };
}

/** Replays a log and its checkpoints; see the module comment for what it detects. */
export function verifyLog(input: VerifyLogInput): VerifyReport {
  const v = createLogVerifier(input);
  for (const item of input.entries) if (v.push(item) !== undefined) break;
  return v.finish();
}

/** `verifyLog` over an asynchronous source of entries (a cursor or a streamed export). */
export async function verifyLogAsync(
  input: VerifyOptions & {
    readonly entries: AsyncIterable<Uint8Array | LedgerEntry> | Iterable<Uint8Array | LedgerEntry>;
  },
): Promise<VerifyReport> {
  const v = createLogVerifier(input);
  for await (const item of input.entries) if (v.push(item) !== undefined) break;
  return v.finish();
}

function strip(f: VerifyFailure & { at: number }): VerifyFailure {
  const { at: _at, ...rest } = f;
  return rest;
}

/** Best-effort size of an unverifiable checkpoint, to place its failure in log order. */
function sizeHint(note: string): number {
  const line = note.split('\n')[1];
  return line !== undefined && /^(0|[1-9][0-9]*)$/.test(line) ? Number(line) : -1;
}
