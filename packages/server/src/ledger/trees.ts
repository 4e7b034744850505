/**
 * Each log's Merkle tree, held in memory (64 bytes per leaf: every complete subtree hash, see
 * `createMerkleTree`), so roots and proofs at any size cost microseconds. A tree is built from
 * the stored entries the first time a log is asked about and then kept up to date by reading only
 * the entries appended since (any process's sequencer may have appended them).
 *
 * Leaf hashes are recomputed from the entries' bytes, never read from `leaf_hash`: what this
 * node signs is what its entries say.
 */
import { createMerkleTree, hashLeaf, type MerkleTree } from '@scanflow/ledger';
import type { Queryable } from '../db/database.ts';

const PAGE = 50_000;

export class LogTrees {
  private readonly trees = new Map<string, MerkleTree>();
  // One sync per log at a time: two concurrent syncs would append the same leaves twice.
  private readonly syncing = new Map<string, Promise<MerkleTree>>();

  /**
   * The log's tree with every entry `tx` can see. It reads in the caller's transaction (an
   * administrator's scope reads only their organisation's log), never a transaction of its own:
   * PGlite has one connection, and a nested transaction would wait for ever.
   */
  synced(tx: Queryable, logId: string): Promise<MerkleTree> {
    const running = this.syncing.get(logId);
    if (running) return running.then(() => this.synced(tx, logId));
    const work = this.catchUp(tx, logId).finally(() => this.syncing.delete(logId));
    this.syncing.set(logId, work);
    return work;
  }

  private async catchUp(tx: Queryable, logId: string): Promise<MerkleTree> {
    let tree = this.trees.get(logId);
    if (!tree) {
      tree = createMerkleTree();
      this.trees.set(logId, tree);
    }
    for (;;) {
      const from = tree.size;
      const { rows } = await tx.query<{ leaf_index: number; entry: Uint8Array }>(
        `SELECT leaf_index, entry FROM ledger_entries WHERE log_id = $1 AND leaf_index >= $2
          ORDER BY leaf_index LIMIT ${PAGE}`,
        [logId, from],
      );
      for (const row of rows) {
        if (Number(row.leaf_index) !== tree.size) {
          // A hole in the stored log: refuse to build (and so to sign) over it.
          throw new LedgerGapError(logId, tree.size);
        }
        tree.append(hashLeaf(row.entry));
      }
      if (rows.length < PAGE) return tree;
    }
  }
}

export class LedgerGapError extends Error {
  constructor(
    readonly logId: string,
    readonly missing: number,
  ) {
    super(`log ${logId} has no entry at leaf index ${missing}`);
  }
}
