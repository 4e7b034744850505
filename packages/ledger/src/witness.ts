// Witness decision logic, after c2sp.org/tlog-witness "add-checkpoint": a witness keeps, per log
// origin, the latest checkpoint it cosigned, and cosigns a new one only if a consistency proof
// (RFC 9162 §2.1.4) shows it extends that one. Pure: the caller loads the state, calls this, and
// persists the new state atomically with returning the cosignature (tlog-witness warns that a
// non-atomic check-then-store lets two requests roll the witness back).

import { formatNote, openCheckpoint, parseNote } from './checkpoint.ts';
import type { Checkpoint, NoteSigner, NoteVerifier } from './checkpoint.ts';
import { HASH_SIZE, bytesEqual, verifyConsistency } from './merkle.ts';

/** What a witness remembers about one log: the latest checkpoint it cosigned. */
export interface WitnessState {
  readonly origin: string;
  readonly size: number;
  readonly rootHash: Uint8Array;
}

/**
 * Why a witness refuses. Each maps to the tlog-witness HTTP status in `httpStatus`.
 * - `unknown-origin` (404): the witness does not follow this log.
 * - `bad-signature` (403): no valid signature by the log's key.
 * - `bad-request` (400): old size larger than the checkpoint, or more than 63 proof hashes.
 * - `conflict` (409): the old size is not the size the witness last cosigned; retry with
 *   `currentSize`.
 * - `split-view` (409, and raise an alert): the log signed a checkpoint of the same size as the
 *   witnessed one with a different root, or a smaller tree than already witnessed. Either is
 *   signed evidence that the log showed different histories to different parties.
 * - `bad-proof` (422): the consistency proof does not verify (MAY be logged as evidence).
 */
export type WitnessRefusal =
  'unknown-origin' | 'bad-signature' | 'bad-request' | 'conflict' | 'split-view' | 'bad-proof';

export type WitnessDecision =
  | { readonly decision: 'cosign'; readonly state: WitnessState }
  | {
      readonly decision: 'refuse';
      readonly reason: WitnessRefusal;
      readonly httpStatus: 400 | 403 | 404 | 409 | 422;
      /** True for evidence of a split view: alert an operator and keep the signed checkpoint. */
      readonly splitView: boolean;
      readonly detail: string;
      /** For `conflict`: the size the witness last cosigned. */
      readonly currentSize?: number;
    };

/** tlog-witness "add-checkpoint": the client MUST NOT send more than 63 proof lines. */
export const MAX_PROOF_HASHES = 63;

const STATUS = {
  'unknown-origin': 404,
  'bad-signature': 403,
  'bad-request': 400,
  conflict: 409,
  'split-view': 409,
  'bad-proof': 422,
} as const;

export type WitnessRefuse = Extract<WitnessDecision, { decision: 'refuse' }>;

function refuse(reason: WitnessRefusal, detail: string, currentSize?: number): WitnessRefuse {
  return {
    decision: 'refuse',
    reason,
    httpStatus: STATUS[reason],
    splitView: reason === 'split-view',
    detail,
    ...(currentSize === undefined ? {} : { currentSize }),
  };
}

/**
 * Decides whether to cosign `next`, already known to be signed by the log, given the witness's
 * state for its origin (undefined if it never cosigned one: the first checkpoint is then trusted
 * on first use, with an empty proof) and a consistency proof from the last cosigned size.
 * `oldSize` is the size the client believes the witness is at (tlog-witness "old" line); it
 * defaults to the witness's own, for callers that fetch the proof after reading the state.
 */
export function decideCosign(
  last: WitnessState | undefined,
  next: Checkpoint,
  proof: readonly Uint8Array[],
  oldSize: number = last?.size ?? 0,
): WitnessDecision {
  if (last !== undefined && last.origin !== next.origin) {
    return refuse('unknown-origin', `state is for ${last.origin}, checkpoint is for ${next.origin}`);
  }
  const lastSize = last?.size ?? 0;
  // Split-view evidence first: whatever the client claims about old sizes, a validly signed
  // checkpoint that contradicts what this witness already cosigned must raise the alarm.
  if (last !== undefined) {
    if (next.size < last.size) {
      return refuse(
        'split-view',
        `log signed size ${next.size}, smaller than the ${last.size} already cosigned`,
        last.size,
      );
    }
    if (next.size === last.size && !bytesEqual(next.rootHash, last.rootHash)) {
      return refuse('split-view', `log signed two different roots for size ${next.size}`, last.size);
    }
  }
  if (!Number.isSafeInteger(oldSize) || oldSize < 0 || oldSize > next.size) {
    return refuse('bad-request', `old size ${oldSize} is not between 0 and ${next.size}`);
  }
  if (proof.length > MAX_PROOF_HASHES) return refuse('bad-request', `more than ${MAX_PROOF_HASHES} proof hashes`);
  if (oldSize !== lastSize) {
    return refuse('conflict', `old size ${oldSize} is not the last cosigned size ${lastSize}`, lastSize);
  }
  if (last === undefined) {
    // tlog-witness: the proof MUST be empty if the old size is zero.
    if (proof.length !== 0) return refuse('bad-proof', 'proof must be empty from size 0');
  } else {
    const c = verifyConsistency(last.size, next.size, last.rootHash, next.rootHash, proof);
    if (!c.ok) return refuse('bad-proof', `consistency proof from ${last.size} to ${next.size}: ${c.reason}`);
  }
  return {
    decision: 'cosign',
    state: { origin: next.origin, size: next.size, rootHash: Uint8Array.from(next.rootHash) },
  };
}

export type AddCheckpointResult =
  | WitnessRefuse
  | {
      readonly decision: 'cosign';
      readonly state: WitnessState;
      /** The checkpoint with the witness's cosignature line added. */
      readonly cosigned: string;
      /** Only the witness's signature line(s), the tlog-witness response body. */
      readonly signatureLines: string;
    };

/**
 * The whole add-checkpoint step: verify the log's signature, decide, and cosign. `logKeys` are the
 * keys the witness trusts for `origin` (tlog-witness: the witness MUST ignore unknown keys).
 */
export function addCheckpoint(args: {
  readonly note: string;
  readonly oldSize: number;
  readonly proof: readonly Uint8Array[];
  readonly origin: string;
  readonly logKeys: readonly NoteVerifier[];
  readonly state: WitnessState | undefined;
  readonly cosigner: NoteSigner;
}): AddCheckpointResult {
  const parsed = parseNote(args.note);
  if (!parsed.ok) return refuse('bad-request', parsed.reason);
  const opened = openCheckpoint(args.note, args.logKeys);
  if (!opened.ok) {
    // Distinguish a log we do not follow (404) from a bad signature (403).
    const origin = parsed.note.text.split('\n')[0];
    if (origin !== args.origin) return refuse('unknown-origin', `unknown origin ${JSON.stringify(origin)}`);
    return refuse('bad-signature', opened.reason);
  }
  if (opened.checkpoint.origin !== args.origin) {
    return refuse('unknown-origin', `unknown origin ${JSON.stringify(opened.checkpoint.origin)}`);
  }
  const d = decideCosign(args.state, opened.checkpoint, args.proof, args.oldSize);
  if (d.decision === 'refuse') return d;
  const signature = args.cosigner.sign(opened.text);
  const line = { name: args.cosigner.name, keyId: args.cosigner.keyId, signature };
  // Keep the checkpoint's other signatures (log and other witnesses), replacing an older line of
  // this witness, and append ours.
  const kept = parsed.note.signatures.filter((s) => !(s.name === line.name && s.keyId === line.keyId));
  const cosigned = formatNote({ text: opened.text, signatures: [...kept, line] });
  const signatureLines = formatNote({ text: '\n', signatures: [line] }).slice(2);
  return { decision: 'cosign', state: d.state, cosigned, signatureLines };
}

/** tlog-witness "add-checkpoint" request body: `old <size>\n`, proof lines, blank line, checkpoint. */
export function formatAddCheckpointRequest(oldSize: number, proof: readonly Uint8Array[], note: string): string {
  const lines = [`old ${oldSize}`, ...proof.map((h) => Buffer.from(h).toString('base64'))];
  return `${lines.join('\n')}\n\n${note}`;
}

/** Parses a tlog-witness add-checkpoint request body. */
export function parseAddCheckpointRequest(
  body: string,
): { ok: true; oldSize: number; proof: Uint8Array[]; note: string } | { ok: false; reason: string } {
  const split = body.indexOf('\n\n');
  if (split < 0) return { ok: false, reason: 'missing blank line' };
  const [oldLine = '', ...proofLines] = body.slice(0, split).split('\n');
  const m = /^old (0|[1-9][0-9]*)$/.exec(oldLine);
  if (m === null) return { ok: false, reason: 'malformed old size line' };
  const oldSize = Number(m[1]);
  if (!Number.isSafeInteger(oldSize)) return { ok: false, reason: 'old size too large' };
  if (proofLines.length > MAX_PROOF_HASHES) return { ok: false, reason: 'too many proof lines' };
  const proof: Uint8Array[] = [];
  for (const l of proofLines) {
    const b = Buffer.from(l, 'base64');
    if (b.length !== HASH_SIZE || b.toString('base64') !== l) return { ok: false, reason: 'malformed proof line' };
    proof.push(new Uint8Array(b));
  }
  return { ok: true, oldSize, proof, note: body.slice(split + 2) };
}
