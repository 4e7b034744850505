/**
 * The tamper-evident log wired into the server (SPEC L1): every audit event becomes a leaf, signed
 * checkpoints, proofs checked against an implementation of RFC 9162 written here from the RFC's
 * text, the export, and `scanflow ledger verify` catching each attack on the stored log.
 */
import { createHash, createPublicKey, verify as edVerify } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withSystem } from '../src/db/scope.ts';
import { ledgerFor } from '../src/services/ledger-service.ts';
import { bearer, createUser, multipart, startTestApp, uniqueSlug, type TestApp, type TestUser } from './harness.ts';
import { pngBytes } from './fixtures.ts';
import { exportLog, runLedgerCli } from './ledger-helpers.ts';

let t: TestApp;
let work: string;
beforeAll(async () => {
  t = await startTestApp({ LEDGER_ORIGIN: 'ledger.test' });
  work = mkdtempSync(join(tmpdir(), 'scanflow-ledger-'));
});
afterAll(async () => t?.close());

// ---- RFC 9162 §2.1, written from the RFC's text, independent of @scanflow/ledger ----
const H = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();
const largestPowerOfTwoBelow = (n: number) => 2 ** Math.floor(Math.log2(n - 1));
/** §2.1.1 MTH(D[n]). */
function mth(d: Buffer[]): Buffer {
  if (d.length === 0) return H();
  if (d.length === 1) return H(Buffer.from([0]), d[0]!);
  const k = largestPowerOfTwoBelow(d.length);
  return H(Buffer.from([1]), mth(d.slice(0, k)), mth(d.slice(k)));
}
/** §2.1.3.1 PATH(m, D[n]). */
function path(m: number, d: Buffer[]): Buffer[] {
  if (d.length === 1) return [];
  const k = largestPowerOfTwoBelow(d.length);
  return m < k ? [...path(m, d.slice(0, k)), mth(d.slice(k))] : [...path(m - k, d.slice(k)), mth(d.slice(0, k))];
}
/** §2.1.4.1 SUBPROOF(m, D[n], b). */
function subproof(m: number, d: Buffer[], b: boolean): Buffer[] {
  if (m === d.length) return b ? [] : [mth(d)];
  const k = largestPowerOfTwoBelow(d.length);
  return m <= k
    ? [...subproof(m, d.slice(0, k), b), mth(d.slice(k))]
    : [...subproof(m - k, d.slice(k), false), mth(d.slice(0, k))];
}

/** c2sp.org/signed-note, checked by hand: the text, the signature line, Ed25519 over the text. */
function checkNoteSignature(note: string, verifierKey: string): void {
  const [name, idHex, b64] = [
    verifierKey.split('+')[0]!,
    verifierKey.split('+')[1]!,
    verifierKey.split('+').slice(2).join('+'),
  ];
  const key = Buffer.from(b64, 'base64');
  expect(key[0]).toBe(0x01);
  const split = note.indexOf('\n\n');
  const text = note.slice(0, split + 1);
  const line = note
    .slice(split + 2)
    .split('\n')
    .find((l) => l.startsWith(`\u2014 ${name} `))!;
  const sig = Buffer.from(line.split(' ')[2]!, 'base64');
  expect(sig.subarray(0, 4).toString('hex')).toBe(idHex);
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), key.subarray(1)]);
  expect(
    edVerify(null, Buffer.from(text), createPublicKey({ key: spki, format: 'der', type: 'spki' }), sig.subarray(4)),
  ).toBe(true);
}

const api = (user: TestUser, method: 'GET' | 'POST', url: string) =>
  t.app.inject({ method, url: `/api/v1/ledger${url}`, headers: bearer(user) });

async function orgWithActivity(): Promise<{ admin: TestUser; doctor: TestUser; patient: TestUser; sha256: string }> {
  const org = uniqueSlug('ledger');
  const admin = await createUser(t, org, 'admin');
  const doctor = await createUser(t, org, 'doctor');
  const patient = await createUser(t, org, 'patient');
  const body = multipart([{ name: 'x.png', bytes: await pngBytes(20, 20, Math.floor(Math.random() * 1e6)) }]);
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/v1/scans',
    payload: body.payload,
    headers: { ...body.headers, ...bearer(patient) },
  });
  expect(res.statusCode).toBe(201);
  for (let i = 0; i < 5; i++) await t.app.inject({ method: 'GET', url: '/api/v1/scans', headers: bearer(doctor) });
  return { admin, doctor, patient, sha256: res.json().scans[0].sha256 };
}

async function logKeyOf(orgId: string): Promise<string> {
  const res = await t.app.inject({ method: 'GET', url: `/.well-known/scanflow-ledger-keys/${orgId}` });
  expect(res.statusCode).toBe(200);
  return res.json().verifierKey;
}

async function allEntries(admin: TestUser, size: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let i = 0; i < size; i++) {
    const res = await api(admin, 'GET', `/entries/${i}`);
    expect(res.statusCode).toBe(200);
    out.push(Buffer.from(res.json().data, 'base64'));
  }
  return out;
}

describe('the log of an organisation', () => {
  it('appends every audit event, signs checkpoints, and proves inclusion and consistency per RFC 9162', async () => {
    const { admin, sha256 } = await orgWithActivity();
    const first = await api(admin, 'POST', '/checkpoints');
    expect(first.statusCode).toBe(200);
    const cp1 = first.json();
    const key = await logKeyOf(admin.orgId);
    expect(cp1.origin).toBe(`ledger.test/${admin.orgId}`);
    checkNoteSignature(cp1.note, key);
    expect(cp1.note.split('\n').slice(0, 3)).toEqual([cp1.origin, String(cp1.size), cp1.rootHash]);

    // Every audit event of the organisation is a leaf, in seq order, naming identifiers only.
    const events = await withSystem(t.ctx.db, (tx) =>
      tx.query<{ seq: number; action: string }>(`SELECT seq, action FROM audit_events WHERE org_id = $1 ORDER BY seq`, [
        admin.orgId,
      ]),
    );
    const leaves = await allEntries(admin, cp1.size);
    const entries = leaves.map((b) => JSON.parse(b.toString('utf8')));
    expect(entries.map((e) => e.extra.auditSeq).slice(0, events.rows.length)).toEqual(
      events.rows.slice(0, cp1.size).map((r) => Number(r.seq)),
    );
    entries.forEach((e, i) => expect(e.seq).toBe(i));
    // The scan's SHA-256 is a leaf (its ingest event's details).
    expect(entries.some((e) => e.extra.sha256 === sha256)).toBe(true);
    expect(JSON.stringify(entries)).not.toContain('Ünïcødé');
    expect(JSON.stringify(entries)).not.toContain(admin.email);

    // The root is MTH over the entries' bytes.
    expect(mth(leaves).toString('base64')).toBe(cp1.rootHash);
    // Inclusion proofs equal PATH(m, D[n]) for every entry.
    for (let m = 0; m < cp1.size; m++) {
      const res = await api(admin, 'GET', `/proofs/inclusion?index=${m}&size=${cp1.size}`);
      expect(res.statusCode).toBe(200);
      expect(res.json().proof).toEqual(path(m, leaves).map((h) => h.toString('base64')));
    }

    // More activity, a second checkpoint, and the consistency proof between the two.
    await api(admin, 'GET', '/checkpoints');
    await api(admin, 'GET', '/checkpoints');
    const cp2 = (await api(admin, 'POST', '/checkpoints')).json();
    expect(cp2.size).toBeGreaterThan(cp1.size);
    const leaves2 = await allEntries(admin, cp2.size);
    expect(mth(leaves2).toString('base64')).toBe(cp2.rootHash);
    const consistency = await api(admin, 'GET', `/proofs/consistency?from=${cp1.size}&to=${cp2.size}`);
    expect(consistency.statusCode).toBe(200);
    expect(consistency.json().proof).toEqual(subproof(cp1.size, leaves2, true).map((h) => h.toString('base64')));

    const list = (await api(admin, 'GET', '/checkpoints')).json().items;
    expect(list.map((c: { size: number }) => c.size).slice(0, 2)).toEqual([cp2.size, cp1.size]);
    const latest = (await api(admin, 'GET', '/checkpoints/latest')).json();
    expect(latest.size).toBe(cp2.size);
  });

  it('answers bad requests with 4xx and keeps each organisation to its own log', async () => {
    const { admin, doctor } = await orgWithActivity();
    const other = await orgWithActivity();
    await api(admin, 'POST', '/checkpoints');
    expect((await api(doctor, 'GET', '/checkpoints/latest')).statusCode).toBe(403);
    expect((await api(doctor, 'GET', '/export')).statusCode).toBe(403);
    expect((await api(doctor, 'POST', '/checkpoints')).statusCode).toBe(403);
    expect((await api(admin, 'GET', '/entries/999999')).statusCode).toBe(404);
    expect((await api(admin, 'GET', '/entries/-1')).statusCode).toBe(400);
    expect((await api(admin, 'GET', '/proofs/inclusion?index=0&size=999999')).statusCode).toBe(404);
    expect((await api(admin, 'GET', '/proofs/inclusion?index=abc')).statusCode).toBe(400);
    expect((await api(admin, 'GET', '/proofs/consistency?from=99999')).statusCode).toBe(404);
    // The other organisation has no checkpoint yet and sees none of ours.
    expect((await api(other.admin, 'GET', '/checkpoints/latest')).statusCode).toBe(404);
    const theirs = (await api(other.admin, 'GET', '/entries/0')).json();
    expect(theirs.entry.orgId).toBe(other.admin.orgId);
    expect((await t.app.inject({ method: 'GET', url: '/.well-known/scanflow-ledger-keys/nope' })).statusCode).toBe(404);
    // Reads of the log are themselves audited.
    await t.ctx.audit.record({ orgId: null, actorUserId: null, actorRole: null, action: 'noop', outcome: 'success' });
    const audited = await withSystem(t.ctx.db, (tx) =>
      tx.query(`SELECT 1 FROM audit_events WHERE org_id = $1 AND action = 'ledger.read'`, [admin.orgId]),
    );
    expect(audited.rows.length).toBeGreaterThan(0);
  });

  it('signs checkpoints on its own at LEDGER_CHECKPOINT_SECONDS', async () => {
    const timed = await startTestApp({ LEDGER_CHECKPOINT_SECONDS: '1' });
    try {
      const admin = await createUser(timed, uniqueSlug('timed'), 'admin');
      const lifecycle = ledgerFor(timed.ctx).start({ warn: () => undefined });
      try {
        const deadline = Date.now() + 40_000;
        let size = 0;
        while (Date.now() < deadline && size === 0) {
          await new Promise((r) => setTimeout(r, 250));
          const { rows } = await withSystem(timed.ctx.db, (tx) =>
            tx.query<{ size: number }>(`SELECT max(size) AS size FROM ledger_checkpoints WHERE log_id = $1`, [
              admin.orgId,
            ]),
          );
          size = Number(rows[0]?.size ?? 0);
        }
        expect(size).toBeGreaterThan(0);
      } finally {
        await lifecycle.stop();
      }
    } finally {
      await timed.close();
    }
  });
});

// ---- attacks on the stored log, each caught by `scanflow ledger verify` ----

/** Runs SQL as the database owner with the append-only triggers bypassed (SET LOCAL: this transaction only). */
async function asOwner(sql: string, params: unknown[] = []): Promise<void> {
  await withSystem(t.ctx.db, async (tx) => {
    await tx.query(`SET LOCAL session_replication_role = replica`);
    await tx.query(sql, params);
  });
}

/** Exports the log as the operator's CLI would, then runs `scanflow ledger verify` on the file. */
async function verifyExport(orgId: string, extraArgs: string[] = []): Promise<{ code: number; output: string }> {
  const file = join(work, `${orgId}-${Date.now()}.jsonl`);
  const logKey = await exportLog(t, orgId, file);
  return cli(['verify', '--export', file, '--log-key', logKey, ...extraArgs]);
}

const cli = runLedgerCli;

async function loggedOrg(): Promise<{ admin: TestUser; size: number; firstSize: number }> {
  const { admin } = await orgWithActivity();
  const cp1 = (await api(admin, 'POST', '/checkpoints')).json();
  for (let i = 0; i < 3; i++) await api(admin, 'GET', '/checkpoints');
  const cp2 = (await api(admin, 'POST', '/checkpoints')).json();
  expect(cp2.size).toBeGreaterThan(cp1.size);
  return { admin, size: cp2.size, firstSize: cp1.size };
}

describe('ledger verify', () => {
  it('passes an untouched log, and the database refuses changes through its triggers and privileges', async () => {
    const { admin, size } = await loggedOrg();
    const ok = await verifyExport(admin.orgId);
    expect(ok.output).toContain(`OK: ledger.test/${admin.orgId}: ${size} entries, 2 checkpoint(s) verified`);
    expect(ok.code).toBe(0);
    await expect(
      withSystem(t.ctx.db, (tx) =>
        tx.query(`UPDATE ledger_entries SET entry = entry WHERE log_id = $1`, [admin.orgId]),
      ),
    ).rejects.toThrow(/append-only/);
    await expect(
      withSystem(t.ctx.db, (tx) => tx.query(`DELETE FROM ledger_checkpoints WHERE log_id = $1`, [admin.orgId])),
    ).rejects.toThrow(/append-only/);
    await expect(withSystem(t.ctx.db, (tx) => tx.query(`TRUNCATE ledger_cosignatures`))).rejects.toThrow(/append-only/);
    await expect(
      withSystem(t.ctx.db, async (tx) => {
        await tx.query(`SET LOCAL ROLE scanflow_app`);
        await tx.query(`DELETE FROM ledger_entries WHERE log_id = $1`, [admin.orgId]);
      }),
    ).rejects.toThrow(/permission denied/);
  });

  it('catches one changed byte in an old entry', async () => {
    const { admin } = await loggedOrg();
    // Flip a byte inside a string value, keeping the JSON valid and canonical: only the tree notices.
    await asOwner(
      `UPDATE ledger_entries SET entry = convert_to(replace(convert_from(entry, 'UTF8'), '"outcome":"success"', '"outcome":"successX"'), 'UTF8')
        WHERE log_id = $1 AND leaf_index = 1`,
      [admin.orgId],
    );
    const res = await verifyExport(admin.orgId);
    expect(res.code).toBe(1);
    expect(res.output).toMatch(
      /FAILED at checkpoint 0 \(size \d+\): root does not match the entries: an entry in \[0, \d+\)/,
    );
  });

  it('catches a deleted entry', async () => {
    const { admin } = await loggedOrg();
    await asOwner(`DELETE FROM ledger_entries WHERE log_id = $1 AND leaf_index = 2`, [admin.orgId]);
    const res = await verifyExport(admin.orgId);
    expect(res.code).toBe(1);
    expect(res.output).toContain('FAILED at entry 2: expected seq 2, found seq 3');
  });

  it('catches two entries swapped, even with their positions rewritten to match', async () => {
    const { admin } = await loggedOrg();
    const swap = (a: number, b: number) =>
      asOwner(
        `UPDATE ledger_entries e SET entry = convert_to(
           regexp_replace(convert_from(o.entry, 'UTF8'), '"seq":[0-9]+', '"seq":' || e.leaf_index), 'UTF8')
           FROM ledger_entries o
          WHERE e.log_id = $1 AND o.log_id = $1 AND ((e.leaf_index = $2 AND o.leaf_index = $3) OR (e.leaf_index = $3 AND o.leaf_index = $2))`,
        [admin.orgId, a, b],
      );
    await swap(3, 4);
    const res = await verifyExport(admin.orgId);
    expect(res.code).toBe(1);
    expect(res.output).toMatch(/FAILED at checkpoint 0 .*root does not match/);
  });

  it('catches a truncated log, and truncation of the checkpoints too against a checkpoint held elsewhere', async () => {
    const { admin, size } = await loggedOrg();
    const witnessed = (await api(admin, 'GET', '/checkpoints/latest')).json().note as string;
    await asOwner(`DELETE FROM ledger_entries WHERE log_id = $1 AND leaf_index >= $2`, [admin.orgId, size - 2]);
    const res = await verifyExport(admin.orgId);
    expect(res.code).toBe(1);
    expect(res.output).toContain(`log truncated: checkpoint of size ${size} but only ${size - 2} entries`);
    // The owner also removes the checkpoints that would betray it …
    await asOwner(`DELETE FROM ledger_checkpoints WHERE log_id = $1 AND size >= $2`, [admin.orgId, size - 2]);
    expect((await verifyExport(admin.orgId)).code).toBe(0);
    // … but a checkpoint kept elsewhere (a witness's, an auditor's earlier export) still catches it.
    const file = join(work, `witnessed-${admin.orgId}.note`);
    writeFileSync(file, witnessed);
    const caught = await verifyExport(admin.orgId, ['--checkpoint', file]);
    expect(caught.code).toBe(1);
    expect(caught.output).toContain('log truncated');
  });

  it('refuses to sign over a log whose signed history changed, and raises an alert', async () => {
    const { admin } = await loggedOrg();
    await asOwner(
      `UPDATE ledger_entries SET entry = convert_to(replace(convert_from(entry, 'UTF8'), '"outcome":"success"', '"outcome":"failure"'), 'UTF8')
        WHERE log_id = $1 AND leaf_index = 1`,
      [admin.orgId],
    );
    // A node that (re)builds its tree from the tampered database (a restart: a fresh service)
    // notices before it signs again.
    const restarted = ledgerFor({ ...t.ctx });
    await expect(restarted.checkpointNow(admin.orgId)).rejects.toThrow(/history changed/);
    const alerts = await t.app.inject({ method: 'GET', url: '/api/v1/admin/alerts', headers: bearer(admin) });
    expect(alerts.json().items.map((a: { kind: string }) => a.kind)).toContain('ledger.tamper_detected');
  });
});

describe('the ledger command against a running server, and proofs', () => {
  it('verifies through the API (--url) and checks inclusion and consistency proofs from the API and an export', async () => {
    const { admin, firstSize, size } = await loggedOrg();
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const address = t.app.server.address();
    if (!address || typeof address === 'string') throw new Error('no port');
    const base = `http://127.0.0.1:${address.port}`;
    const key = await logKeyOf(admin.orgId);
    const remote = ['--url', base, '--token', admin.token, '--log-key', key];
    const verified = await cli(['verify', ...remote]);
    expect(verified.output).toContain('2 checkpoint(s) verified');
    expect(verified.code).toBe(0);
    const inclusion = await cli(['proof', 'inclusion', '--index', '1', '--size', String(firstSize), ...remote]);
    expect(inclusion.code).toBe(0);
    expect(JSON.parse(inclusion.output)).toMatchObject({
      kind: 'inclusion',
      index: 1,
      size: firstSize,
      verified: true,
    });
    const consistency = await cli(['proof', 'consistency', '--from', String(firstSize), ...remote]);
    expect(consistency.code).toBe(0);
    expect(JSON.parse(consistency.output)).toMatchObject({ from: firstSize, size, verified: true });
    // The same from an export file, offline.
    const file = join(work, `proofs-${admin.orgId}.jsonl`);
    const res = await fetch(`${base}/api/v1/ledger/export`, { headers: bearer(admin) });
    expect(res.headers.get('content-type')).toContain('application/x-ndjson');
    writeFileSync(file, await res.text());
    const offline = await cli(['proof', 'inclusion', '--index', String(size - 1), '--export', file, '--log-key', key]);
    expect(JSON.parse(offline.output)).toMatchObject({ index: size - 1, size, verified: true });
    expect((await cli(['proof', 'inclusion', '--index', '1', '--export', file, '--size', '999999'])).code).toBe(2);
    expect((await cli(['verify'])).code).toBe(2);
    expect((await cli(['verify', '--url', base, '--token', 'not-a-token'])).code).toBe(1);
  });

  it.skipIf(!process.env.TEST_DATABASE_URL)(
    'appends an event whose transaction committed after later ones were sequenced (PostgreSQL)',
    async () => {
      const { admin } = await loggedOrg();
      const { default: pg } = await import('pg');
      const late = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
      await late.connect();
      try {
        await late.query('BEGIN');
        const lateSeq = Number(
          (
            await late.query(
              `INSERT INTO audit_events (org_id, action, outcome) VALUES ($1, 'test.late', 'success') RETURNING seq`,
              [admin.orgId],
            )
          ).rows[0].seq,
        );
        await t.ctx.audit.record({
          orgId: admin.orgId,
          actorUserId: null,
          actorRole: null,
          action: 'test.early',
          outcome: 'success',
        });
        await ledgerFor(t.ctx).sequenceNow();
        await late.query('COMMIT');
        await ledgerFor(t.ctx).sequenceNow();
        const { rows } = await withSystem(t.ctx.db, (tx) =>
          tx.query<{ audit_seq: number; leaf_index: number }>(
            `SELECT audit_seq, leaf_index FROM ledger_entries WHERE log_id = $1 ORDER BY leaf_index DESC LIMIT 2`,
            [admin.orgId],
          ),
        );
        // The late event is the last leaf, after an event with a higher seq.
        expect(Number(rows[0]!.audit_seq)).toBe(lateSeq);
        expect(Number(rows[1]!.audit_seq)).toBeGreaterThan(lateSeq);
        await api(admin, 'POST', '/checkpoints');
        expect((await verifyExport(admin.orgId)).code).toBe(0);
      } finally {
        await late.end();
      }
    },
  );
});
