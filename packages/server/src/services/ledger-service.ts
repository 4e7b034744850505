/**
 * The tamper-evident log (SPEC L1–L4), wired into the server: an asynchronous sequencer turns
 * every audit event into a leaf of its organisation's RFC 9162 log (events with no organisation
 * go to the 'system' log), checkpoints are signed with each log's Ed25519 key in the C2SP format
 * at LEDGER_CHECKPOINT_SECONDS and on demand, and pushed to the configured witnesses
 * (c2sp.org/tlog-witness add-checkpoint) whose cosignatures are stored beside them. The same node
 * can be a witness for other nodes' logs (`addCheckpoint`).
 *
 * Reads take the caller's transaction, so an organisation's administrators read their own log
 * through row-level security; the in-memory trees (ledger/trees.ts) answer roots and proofs.
 * `findReportByHash` / `findReportByCode` are the lookups the report verification endpoint uses.
 */
import {
  addCheckpoint as witnessAddCheckpoint,
  bytesEqual,
  formatAddCheckpointRequest,
  hashLeaf,
  openCheckpoint,
  parseAddCheckpointRequest,
  parseCanonical,
  parseVerifierKey,
  signCheckpoint,
  type LedgerEntry,
  type NoteSigner,
  type NoteVerifier,
  type WitnessState,
} from '@scanflow/ledger';
import { AppError, isUuid, notFound } from '@scanflow/domain';
import { AuditLog } from '../audit/audit-log.ts';
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/database.ts';
import { withSystem } from '../db/scope.ts';
import { SYSTEM_LOG } from '../ledger/entries.ts';
import { checkpointLine, entryLine, headerLine } from '../ledger/export-format.ts';
import { loadOrCreateSigner } from '../ledger/keys.ts';
import { sequenceOnce } from '../ledger/sequencer.ts';
import { LedgerGapError, LogTrees } from '../ledger/trees.ts';
import { FieldCipher } from '../storage/field-cipher.ts';

export { SYSTEM_LOG };

export interface CheckpointView {
  logId: string;
  origin: string;
  size: number;
  /** Base64, as in the checkpoint note. */
  rootHash: string;
  /** The signed note with every stored witness cosignature line. */
  note: string;
  createdAt: string;
  cosignatures: { witness: string; cosignedAt: string }[];
}

export interface EntryView {
  logId: string;
  index: number;
  /** The parsed entry; null when the stored bytes are not a canonical entry (tampered). */
  entry: LedgerEntry | null;
  /** Base64 of the canonical bytes. */
  data: string;
  /** Hex of SHA-256(0x00 || data). */
  leafHash: string;
}

export interface LoggedReport extends EntryView {
  origin: string;
  /** The first checkpoint that includes the entry, or null until one is signed. */
  checkpoint: CheckpointView | null;
  /** RFC 9162 inclusion proof (base64 hashes) of the entry in that checkpoint's tree. */
  inclusionProof: string[] | null;
}

export interface Lifecycle {
  stop(): Promise<void>;
}

const SEQUENCE_BATCH = 5_000;
const WITNESS_TIMEOUT_MS = 5_000;
// Any constant shared by every Scanflow process: the seed of the hash of an origin that names a witness's lock.
const WITNESS_LOCK_ID = 7_246_031_913;

const b64 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
const hex = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

interface CheckpointRow {
  log_id: string;
  size: number;
  root_hash: Uint8Array;
  note: string;
  created_at: Date;
}

const instances = new WeakMap<AppContext, LedgerService>();

/** The one ledger service of a context (the HTTP app and the background work share its trees). */
export function ledgerFor(ctx: AppContext): LedgerService {
  let service = instances.get(ctx);
  if (!service) {
    service = new LedgerService(ctx);
    instances.set(ctx, service);
  }
  return service;
}

export class LedgerService {
  private readonly trees: LogTrees;
  private readonly seedCipher: FieldCipher;
  private readonly signers = new Map<string, Promise<NoteSigner>>();
  private readonly witnesses: { url: string; verifier: NoteVerifier; verifierKey: string }[];
  /** Logs that grew since their last checkpoint in this process. */
  private readonly dirty = new Set<string>();
  /** Logs found with unsigned entries at start, signed after the ones growing now. */
  private readonly backlog = new Set<string>();

  constructor(private readonly ctx: AppContext) {
    this.trees = new LogTrees();
    // The lookup key is not used: this cipher only seals seeds.
    this.seedCipher = new FieldCipher(ctx.keys.ledgerSeedKey, ctx.keys.ledgerAddressKey);
    this.witnesses = ctx.config.ledgerWitnesses.map((w) => ({
      url: w.url,
      verifier: parseVerifierKey(w.verifierKey),
      verifierKey: w.verifierKey,
    }));
  }

  originOf(logId: string): string {
    return `${this.ctx.config.ledgerOrigin}/${logId}`;
  }

  // A key is stored under its kind and name: the name (a log's origin) is part of what it signs.
  private signer(kind: 'log' | 'witness', name: string): Promise<NoteSigner> {
    const key = `${kind}:${name}`;
    let signer = this.signers.get(key);
    if (!signer) {
      signer = loadOrCreateSigner(this.ctx.db, this.seedCipher, kind, key, name);
      signer.catch(() => this.signers.delete(key));
      this.signers.set(key, signer);
    }
    return signer;
  }

  /** The log's signer; its key is generated the first time it is needed. */
  logSigner(logId: string): Promise<NoteSigner> {
    return this.signer('log', this.originOf(logId));
  }

  /** This node's witness cosigner. */
  witnessCosigner(): Promise<NoteSigner> {
    return this.signer('witness', this.ctx.config.ledgerWitnessName);
  }

  /** The log's signed-note verifier key, if the log exists (an organisation, or the system log). */
  async verifierKey(logId: string): Promise<string | null> {
    if (logId !== SYSTEM_LOG) {
      const uuid = isUuid(logId);
      const { rows } = uuid
        ? await withSystem(this.ctx.db, (tx) => tx.query('SELECT 1 FROM organisations WHERE id = $1', [logId]))
        : { rows: [] };
      if (rows.length === 0) return null;
    }
    return (await this.logSigner(logId)).verifierKey;
  }

  // ---- sequencing and checkpoints ----

  /** Appends every waiting audit event to its log; returns how many. */
  async sequenceNow(): Promise<number> {
    // PGlite has one connection: smaller batches, and a turn for waiting requests between them,
    // keep a backlog from starving the API.
    const limit = this.ctx.db.kind === 'pglite' ? SEQUENCE_BATCH / 5 : SEQUENCE_BATCH;
    let total = 0;
    for (;;) {
      const batch = await sequenceOnce(this.ctx.db, this.ctx.keys.ledgerAddressKey, limit);
      for (const log of batch.logs) this.dirty.add(log);
      total += batch.appended;
      if (batch.appended < limit) return total;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /**
   * Signs a checkpoint of the log as it stands (after sequencing what waits), unless the latest
   * one already covers every entry, then asks the witnesses to cosign. Before signing, the node
   * checks that its tree still has the root of its latest checkpoint: it never signs over a log
   * whose signed history changed.
   */
  async checkpointNow(logId: string): Promise<CheckpointView | null> {
    await this.sequenceNow();
    this.dirty.delete(logId);
    const { tree, last } = await withSystem(this.ctx.db, async (tx) => ({
      tree: await this.trees.synced(tx, logId).catch((error: unknown) => error as Error),
      last: await latestCheckpointRow(tx, logId),
    }));
    if (tree instanceof LedgerGapError) return this.raiseTamperAlert(logId, tree.message);
    if (tree instanceof Error) throw tree;
    if (last && Number(last.size) > tree.size) {
      await this.raiseTamperAlert(logId, `stored log has ${tree.size} entries, its checkpoint ${last.size}`);
    }
    if (last && !bytesEqual(tree.root(Number(last.size)), last.root_hash)) {
      await this.raiseTamperAlert(logId, `entries no longer match checkpoint ${last.size}`);
    }
    if (tree.size === 0) return null;
    if (!last || Number(last.size) < tree.size) {
      const size = tree.size;
      const rootHash = tree.root(size);
      const note = signCheckpoint({ origin: this.originOf(logId), size, rootHash }, await this.logSigner(logId));
      await withSystem(this.ctx.db, (tx) =>
        tx.query(
          `INSERT INTO ledger_checkpoints (log_id, size, root_hash, note) VALUES ($1, $2, $3, $4)
           ON CONFLICT (log_id, size) DO NOTHING`,
          [logId, size, rootHash, note],
        ),
      );
      await this.requestCosignatures(logId, size);
    }
    return withSystem(this.ctx.db, (tx) => this.latestCheckpoint(tx, logId));
  }

  private async raiseTamperAlert(logId: string, detail: string): Promise<never> {
    await withSystem(this.ctx.db, (tx) =>
      tx.query(
        `INSERT INTO alerts (org_id, kind, resource_type, resource_id, details) VALUES ($1, $2, 'ledger', $3, $4)`,
        [logId === SYSTEM_LOG ? null : logId, 'ledger.tamper_detected', logId, JSON.stringify({ detail })],
      ),
    );
    throw new AppError('integrity_failure', `The log's stored history changed (${detail}); refusing to sign it`);
  }

  /** Checkpoints every log that grew here, plus (at start) every log with unsigned entries. */
  async checkpointGrownLogs(): Promise<void> {
    await this.sequenceNow();
    for (const logId of [...this.dirty, ...[...this.backlog].filter((id) => !this.dirty.has(id))]) {
      this.backlog.delete(logId);
      try {
        await this.checkpointNow(logId);
      } catch {
        // Recorded as an alert by checkpointNow; the other logs still get their checkpoints.
      }
    }
  }

  /** Runs the sequencer continuously and signs checkpoints at the configured interval. */
  start(log: { warn(obj: object, msg: string): void }): Lifecycle {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    let running: Promise<void> = Promise.resolve();
    let lastCheckpoint = Date.now();
    const seconds = this.ctx.config.ledgerCheckpointSeconds;
    const tick = async () => {
      try {
        const appended = await this.sequenceNow();
        if (seconds > 0 && Date.now() - lastCheckpoint >= seconds * 1000) {
          lastCheckpoint = Date.now();
          await this.checkpointGrownLogs();
        }
        if (appended > 0) this.ctx.signals.emit('ledger-appended', appended);
      } catch (error) {
        log.warn({ err: error }, 'ledger sequencer pass failed');
      }
      if (!stopped) {
        timer = setTimeout(() => {
          running = tick();
        }, 100);
      }
    };
    running = this.markUnsignedLogs().then(tick);
    return {
      async stop() {
        stopped = true;
        if (timer) clearTimeout(timer);
        await running;
      },
    };
  }

  /** Logs whose newest entries are not covered by a checkpoint yet (after a restart). */
  private async markUnsignedLogs(): Promise<void> {
    const { rows } = await withSystem(this.ctx.db, (tx) =>
      // A loose index scan: one probe per log instead of reading every entry.
      tx.query<{ id: string }>(
        `WITH RECURSIVE logs AS (
           SELECT min(log_id) AS id FROM ledger_entries
           UNION ALL SELECT (SELECT min(log_id) FROM ledger_entries WHERE log_id > logs.id) FROM logs WHERE logs.id IS NOT NULL)
         SELECT id FROM logs
          WHERE id IS NOT NULL
            AND (SELECT e.leaf_index + 1 FROM ledger_entries e WHERE e.log_id = logs.id ORDER BY e.leaf_index DESC LIMIT 1)
              > COALESCE((SELECT c.size FROM ledger_checkpoints c WHERE c.log_id = logs.id ORDER BY c.size DESC LIMIT 1), 0)`,
      ),
    );
    for (const row of rows) this.backlog.add(row.id);
  }

  // ---- witnesses: this node's logs asking others ----

  private async requestCosignatures(logId: string, size: number): Promise<void> {
    await Promise.all(this.witnesses.map((w) => this.requestCosignature(logId, size, w)));
  }

  private async requestCosignature(
    logId: string,
    size: number,
    witness: { url: string; verifier: NoteVerifier },
  ): Promise<void> {
    const name = witness.verifier.name;
    const { note, oldSize } = await withSystem(this.ctx.db, async (tx) => {
      const cp = await tx.query<{ note: string }>(
        `SELECT note FROM ledger_checkpoints WHERE log_id = $1 AND size = $2`,
        [logId, size],
      );
      const old = await tx.query<{ size: number | null }>(
        `SELECT max(size) AS size FROM ledger_cosignatures WHERE log_id = $1 AND witness_name = $2`,
        [logId, name],
      );
      return { note: cp.rows[0]!.note, oldSize: Number(old.rows[0]?.size ?? 0) };
    });
    const tree = await withSystem(this.ctx.db, (tx) => this.trees.synced(tx, logId));
    const send = (from: number) =>
      fetch(`${witness.url}/add-checkpoint`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        body: formatAddCheckpointRequest(from, tree.consistencyProof(from, size), note),
        signal: AbortSignal.timeout(WITNESS_TIMEOUT_MS),
      });
    let outcome: { status: number; body: string };
    try {
      let response = await send(oldSize);
      // tlog-witness: 409 with text/x.tlog.size names the size the witness is at; retry from it.
      if (response.status === 409 && response.headers.get('content-type')?.startsWith('text/x.tlog.size')) {
        const at = Number((await response.text()).trim());
        response = Number.isSafeInteger(at) && at >= 0 && at <= size ? await send(at) : response;
      }
      outcome = { status: response.status, body: await response.text() };
    } catch (error) {
      outcome = { status: 0, body: (error as Error).message };
    }
    const logVerifier = parseVerifierKey((await this.logSigner(logId)).verifierKey);
    const opened =
      outcome.status === 200 ? openCheckpoint(note + outcome.body, [logVerifier], [witness.verifier]) : null;
    if (opened?.ok && opened.cosignatures.some((c) => c.name === name)) {
      await withSystem(this.ctx.db, (tx) =>
        tx.query(
          `INSERT INTO ledger_cosignatures (log_id, size, witness_name, signature_line) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING`,
          [logId, size, name, outcome.body],
        ),
      );
      return;
    }
    await withSystem(this.ctx.db, (tx) =>
      tx.query(
        `INSERT INTO alerts (org_id, kind, resource_type, resource_id, details, evidence)
         VALUES ($1, 'ledger.witness_refused', 'ledger', $2, $3, $4)`,
        [
          logId === SYSTEM_LOG ? null : logId,
          logId,
          JSON.stringify({ witness: name, size, status: outcome.status }),
          outcome.body.slice(0, 2000),
        ],
      ),
    );
  }

  // ---- this node as a witness for others ----

  /** Follows another node's log: its checkpoints may now be cosigned here. */
  async followLog(verifierKey: string): Promise<string> {
    const origin = parseVerifierKey(verifierKey).name;
    await withSystem(this.ctx.db, (tx) =>
      tx.query(`INSERT INTO witness_logs (origin, verifier_key) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [
        origin,
        verifierKey,
      ]),
    );
    return origin;
  }

  /**
   * c2sp.org/tlog-witness add-checkpoint: cosign a followed log's checkpoint only if it is
   * consistent with the last one cosigned here; a split view (same size, other root; or a smaller
   * tree) or a bad proof is refused, kept as evidence and raised as an alert. The decision and
   * the new state commit together under a per-origin lock.
   */
  async addCheckpoint(
    body: string,
    clientAddress: string | null,
  ): Promise<{ status: number; contentType: string; body: string }> {
    const request = parseAddCheckpointRequest(body);
    if (!request.ok) throw new AppError('bad_request', `Malformed add-checkpoint request: ${request.reason}`);
    const origin = request.note.split('\n')[0] ?? '';
    const cosigner = await this.witnessCosigner();
    return withSystem(this.ctx.db, async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, ${WITNESS_LOCK_ID}))`, [origin]);
      const followed = await tx.query<{ verifier_key: string }>(
        `SELECT verifier_key FROM witness_logs WHERE origin = $1`,
        [origin],
      );
      if (!followed.rows[0]) throw notFound(`A followed log with origin ${JSON.stringify(origin.slice(0, 100))}`);
      const last = await tx.query<{ size: number; root_hash: Uint8Array }>(
        `SELECT size, root_hash FROM witness_checkpoints WHERE origin = $1 ORDER BY size DESC LIMIT 1`,
        [origin],
      );
      const state: WitnessState | undefined = last.rows[0]
        ? { origin, size: Number(last.rows[0].size), rootHash: new Uint8Array(last.rows[0].root_hash) }
        : undefined;
      const result = witnessAddCheckpoint({
        note: request.note,
        oldSize: request.oldSize,
        proof: request.proof,
        origin,
        logKeys: [parseVerifierKey(followed.rows[0].verifier_key)],
        state,
        cosigner,
      });
      const audit = (outcome: 'success' | 'denied', details: Record<string, string | number | boolean>) =>
        AuditLog.recordIn(tx, {
          orgId: null,
          actorUserId: null,
          actorRole: 'system',
          action: 'ledger.witness_cosign',
          resourceType: 'ledger',
          resourceId: origin.slice(0, 256),
          outcome,
          clientAddress,
          details,
        });
      if (result.decision === 'cosign') {
        await tx.query(
          `INSERT INTO witness_checkpoints (origin, size, root_hash, note) VALUES ($1, $2, $3, $4)
           ON CONFLICT (origin, size) DO NOTHING`,
          [origin, result.state.size, result.state.rootHash, result.cosigned],
        );
        await audit('success', { size: result.state.size });
        return { status: 200, contentType: 'text/plain; charset=utf-8', body: result.signatureLines };
      }
      const evidence = result.splitView || result.reason === 'bad-proof';
      if (evidence) {
        await tx.query(
          `INSERT INTO alerts (org_id, kind, resource_type, resource_id, details, evidence)
           VALUES (NULL, $1, 'ledger', $2, $3, $4)`,
          [
            result.splitView ? 'witness.split_view' : 'witness.bad_proof',
            origin,
            JSON.stringify({ detail: result.detail, witnessedSize: state?.size ?? 0 }),
            request.note,
          ],
        );
      }
      await audit('denied', { refusal: result.reason, splitView: result.splitView });
      if (result.reason === 'conflict') {
        return { status: 409, contentType: 'text/x.tlog.size', body: `${result.currentSize ?? 0}\n` };
      }
      return {
        status: result.httpStatus,
        contentType: 'application/json; charset=utf-8',
        body: JSON.stringify({
          error: { code: result.splitView ? 'split_view' : result.reason.replace('-', '_'), message: result.detail },
        }),
      };
    });
  }

  // ---- reads (in the caller's transaction: RLS limits an organisation to its own log) ----

  private async view(tx: Queryable, row: CheckpointRow): Promise<CheckpointView> {
    const { rows } = await tx.query<{ witness_name: string; signature_line: string; cosigned_at: Date }>(
      `SELECT witness_name, signature_line, cosigned_at FROM ledger_cosignatures
        WHERE log_id = $1 AND size = $2 ORDER BY cosigned_at, witness_name`,
      [row.log_id, row.size],
    );
    return {
      logId: row.log_id,
      origin: this.originOf(row.log_id),
      size: Number(row.size),
      rootHash: b64(row.root_hash),
      note: row.note + rows.map((r) => r.signature_line).join(''),
      createdAt: row.created_at.toISOString(),
      cosignatures: rows.map((r) => ({ witness: r.witness_name, cosignedAt: r.cosigned_at.toISOString() })),
    };
  }

  async latestCheckpoint(tx: Queryable, logId: string): Promise<CheckpointView | null> {
    const row = await latestCheckpointRow(tx, logId);
    return row ? this.view(tx, row) : null;
  }

  async checkpointAt(tx: Queryable, logId: string, size: number): Promise<CheckpointView> {
    const { rows } = await tx.query<CheckpointRow>(
      `SELECT log_id, size, root_hash, note, created_at FROM ledger_checkpoints WHERE log_id = $1 AND size = $2`,
      [logId, size],
    );
    if (!rows[0]) throw notFound(`Checkpoint of size ${size}`);
    return this.view(tx, rows[0]);
  }

  /** Checkpoints, newest first; `beforeSize` pages. */
  async listCheckpoints(
    tx: Queryable,
    logId: string,
    q: { limit: number; beforeSize?: number | undefined },
  ): Promise<CheckpointView[]> {
    const { rows } = await tx.query<CheckpointRow>(
      `SELECT log_id, size, root_hash, note, created_at FROM ledger_checkpoints
        WHERE log_id = $1 AND ($2::bigint IS NULL OR size < $2) ORDER BY size DESC LIMIT $3`,
      [logId, q.beforeSize ?? null, q.limit],
    );
    return Promise.all(rows.map((row) => this.view(tx, row)));
  }

  async entry(tx: Queryable, logId: string, index: number): Promise<EntryView> {
    const { rows } = await tx.query<{ entry: Uint8Array }>(
      `SELECT entry FROM ledger_entries WHERE log_id = $1 AND leaf_index = $2`,
      [logId, index],
    );
    if (!rows[0]) throw notFound(`Log entry ${index}`);
    return entryView(logId, index, rows[0].entry);
  }

  /** RFC 9162 §2.1.3 inclusion proof of entry `index` in the checkpoint of `size` (default: latest). */
  async inclusionProof(tx: Queryable, logId: string, index: number, size?: number) {
    const checkpoint =
      size === undefined ? await this.latestCheckpoint(tx, logId) : await this.checkpointAt(tx, logId, size);
    if (!checkpoint) throw notFound('A signed checkpoint');
    if (index >= checkpoint.size) {
      throw new AppError('bad_request', `Entry ${index} is not in the checkpoint of size ${checkpoint.size}`);
    }
    const entry = await this.entry(tx, logId, index);
    const tree = await this.trees.synced(tx, logId);
    return { entry, checkpoint, proof: tree.inclusionProof(index, checkpoint.size).map(b64) };
  }

  /** RFC 9162 §2.1.4 consistency proof between two checkpoints. */
  async consistencyProof(tx: Queryable, logId: string, from: number, to?: number) {
    const second = to === undefined ? await this.latestCheckpoint(tx, logId) : await this.checkpointAt(tx, logId, to);
    if (!second) throw notFound('A signed checkpoint');
    const first = await this.checkpointAt(tx, logId, from);
    if (first.size > second.size) throw new AppError('bad_request', '`from` must not be larger than `to`');
    const tree = await this.trees.synced(tx, logId);
    return { from: first, to: second, proof: tree.consistencyProof(first.size, second.size).map(b64) };
  }

  /**
   * Writes the export (see ledger/export-format.ts) of one log, streaming the entries. The log's
   * key is fetched by the caller first (`logSigner`), outside the transaction.
   */
  async writeExport(
    tx: Queryable,
    logId: string,
    logKey: string,
    write: (chunk: string) => void | Promise<void>,
  ): Promise<void> {
    await write(
      headerLine({
        logId,
        origin: this.originOf(logId),
        logKeys: [logKey],
        witnessKeys: this.witnesses.map((w) => w.verifierKey),
        exportedAt: new Date().toISOString(),
      }),
    );
    const checkpoints = await tx.query<CheckpointRow>(
      `SELECT log_id, size, root_hash, note, created_at FROM ledger_checkpoints WHERE log_id = $1 ORDER BY size`,
      [logId],
    );
    for (const row of checkpoints.rows) await write(checkpointLine((await this.view(tx, row)).note));
    const page = 10_000;
    for (let from = 0; ; from += page) {
      // Ordered by leaf index, read by position: a deleted row shows as a gap the verifier names.
      const { rows } = await tx.query<{ entry: Uint8Array }>(
        `SELECT entry FROM ledger_entries WHERE log_id = $1 ORDER BY leaf_index OFFSET $2 LIMIT $3`,
        [logId, from, page],
      );
      let chunk = '';
      for (const row of rows) chunk += entryLine(row.entry);
      if (chunk) await write(chunk);
      if (rows.length < page) return;
    }
  }

  // ---- report verification (issue 6 calls these from its /verify endpoint) ----

  /** The `report.issued` leaf whose details carried this SHA-256 (hex), with its proof. */
  findReportByHash(sha256: string): Promise<LoggedReport | null> {
    if (!/^[0-9a-f]{64}$/.test(sha256)) return Promise.resolve(null);
    return this.findReport('content_sha256', sha256);
  }

  /** The `report.issued` leaf whose details carried this verification code, with its proof. */
  findReportByCode(code: string): Promise<LoggedReport | null> {
    return this.findReport('verification_code', code.slice(0, 64));
  }

  private async findReport(
    column: 'content_sha256' | 'verification_code',
    value: string,
  ): Promise<LoggedReport | null> {
    return withSystem(this.ctx.db, async (tx) => {
      const { rows } = await tx.query<{ log_id: string; leaf_index: number; entry: Uint8Array }>(
        `SELECT log_id, leaf_index, entry FROM ledger_entries WHERE ${column} = $1 ORDER BY sequenced_at, leaf_index`,
        [value],
      );
      const row = rows
        .map((r) => ({ r, view: entryView(r.log_id, Number(r.leaf_index), r.entry) }))
        .find(({ view }) => view.entry?.action === 'report.issued');
      if (!row) return null;
      const index = row.view.index;
      const cp = await tx.query<CheckpointRow>(
        `SELECT log_id, size, root_hash, note, created_at FROM ledger_checkpoints
          WHERE log_id = $1 AND size > $2 ORDER BY size LIMIT 1`,
        [row.r.log_id, index],
      );
      const checkpoint = cp.rows[0] ? await this.view(tx, cp.rows[0]) : null;
      const tree = checkpoint ? await this.trees.synced(tx, row.r.log_id) : null;
      return {
        ...row.view,
        origin: this.originOf(row.r.log_id),
        checkpoint,
        inclusionProof: checkpoint && tree ? tree.inclusionProof(index, checkpoint.size).map(b64) : null,
      };
    });
  }
}

async function latestCheckpointRow(tx: Queryable, logId: string): Promise<CheckpointRow | null> {
  const { rows } = await tx.query<CheckpointRow>(
    `SELECT log_id, size, root_hash, note, created_at FROM ledger_checkpoints WHERE log_id = $1 ORDER BY size DESC LIMIT 1`,
    [logId],
  );
  return rows[0] ?? null;
}

function entryView(logId: string, index: number, bytes: Uint8Array): EntryView {
  let entry: LedgerEntry | null = null;
  try {
    entry = parseCanonical(bytes);
  } catch {
    // Stored bytes that are not a canonical entry: shown as they are; `ledger verify` names them.
  }
  // The leaf hash is recomputed from the bytes shown, never read from the stored column.
  return { logId, index, entry, data: b64(bytes), leafHash: hex(hashLeaf(bytes)) };
}
