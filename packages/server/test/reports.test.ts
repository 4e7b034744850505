/**
 * Reports end to end (SPEC R1–R3) on the real app and database: issued on approval by the job
 * queued with it, recorded in the audit trail with the PDF's SHA-256 for the ledger, rendered
 * again byte for byte from the stored record, downloaded only by the patient and clinicians with
 * access, verified publicly (by code, by file, with the ledger's inclusion proof, rate limited,
 * and by the CLI), delivered to the outbox without SMTP, and served as FHIR R4 and DICOM SR.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { verifyInclusion } from '@scanflow/ledger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withSystem } from '../src/db/scope.ts';
import { findReport, latestReport } from '../src/repositories/reports.ts';
import { regenerateReport, REPORT_GENERATE_JOB } from '../src/services/report-issuer.ts';
import { reportJobHandlers } from '../src/services/report-jobs.ts';
import { JobWorker } from '../src/jobs/worker.ts';
import { ledgerFor } from '../src/services/ledger-service.ts';
import { bearer, createUser, startTestApp, uniqueSlug, type TestApp } from './harness.ts';
import { fhirValidator } from './fhir-validator.ts';
import {
  approve,
  caseReadyForApproval,
  createWard,
  FINDINGS,
  IMPRESSION,
  issuedCase,
  reportWorker,
  type Ward,
} from './reports-fixtures.ts';

const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/reports/', import.meta.url));
const BIN = fileURLToPath(new URL('../bin/scanflow.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'scanflow-reports-'));

let t: TestApp;
let ward: Ward;
let scanId: string;

beforeAll(async () => {
  t = await startTestApp({ PUBLIC_URL: 'https://scanflow.example' });
  ward = await createWard(t);
  scanId = await issuedCase(t, ward);
});
afterAll(async () => {
  await t?.close();
  rmSync(work, { recursive: true, force: true });
});

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

const setDeliveryCode = (user: { token: string }, code: string | null) =>
  t.app.inject({ method: 'PUT', url: '/api/v1/reports/delivery-code', payload: { code }, headers: bearer(user) });

async function download(user: { token: string }, id = scanId) {
  return t.app.inject({ method: 'GET', url: `/api/v1/scans/${id}/report`, headers: bearer(user) });
}

describe('issuing a report', () => {
  it('queues the report job in the approval transaction and issues the PDF with a report.issued audit event', async () => {
    const id = await caseReadyForApproval(t, ward);
    const approved = await approve(t, ward, id);
    expect(approved.statusCode, approved.body).toBe(200);
    const queued = await withSystem(t.ctx.db, (tx) =>
      tx.query<{ status: string }>(
        `SELECT status FROM jobs WHERE kind = 'report_generate' AND payload->>'scanId' = $1`,
        [id],
      ),
    );
    expect(queued.rows.map((r) => r.status)).toEqual(['queued']);
    // Not yet issued: the download says so rather than failing.
    const early = await download(ward.patient, id);
    expect(early.statusCode).toBe(409);
    expect(early.json().error.message).toMatch(/being generated/);
    // Its deliveries: none yet, which is an answer, not an error.
    const none = await t.app.inject({ url: `/api/v1/scans/${id}/deliveries`, headers: bearer(ward.patient) });
    expect(none.statusCode, none.body).toBe(200);
    expect(none.json().items).toEqual([]);
    // Neither question is an intrusion signal.
    const signals = await t.app.inject({ url: '/api/v1/admin/security-signals', headers: bearer(ward.admin) });
    expect(signals.statusCode, signals.body).toBe(200);
    expect(signals.json().recent.filter((e: { resourceId: string | null }) => e.resourceId === id)).toEqual([]);

    await reportWorker(t, [ward.patient.orgId]).drain();
    const report = (await withSystem(t.ctx.db, (tx) => latestReport(tx, id)))!;
    expect(report.verification_code).toMatch(/^[0-9A-Z]{5}-[0-9A-Z]{5}$/);
    const pdf = await t.ctx.blobs.get(report.pdf_sha256);
    expect(sha256(pdf)).toBe(report.pdf_sha256);
    const events = await withSystem(t.ctx.db, (tx) =>
      tx.query<{ details: Record<string, unknown>; resource_id: string }>(
        `SELECT details, resource_id FROM audit_events WHERE action = 'report.issued' AND details->>'scanId' = $1`,
        [id],
      ),
    );
    expect(events.rows).toHaveLength(1);
    expect(events.rows[0]!.resource_id).toBe(report.id);
    expect(events.rows[0]!.details).toMatchObject({
      sha256: report.pdf_sha256,
      verificationCode: report.verification_code,
    });
    // Issued once: running the job again (a retry after a lost acknowledgement) changes nothing.
    const again = await withSystem(t.ctx.db, (tx) =>
      tx.query(`UPDATE jobs SET status = 'queued' WHERE kind = 'report_generate' AND payload->>'scanId' = $1`, [id]),
    );
    expect(again.rowCount).toBe(1);
    await reportWorker(t, [ward.patient.orgId]).drain();
    const count = await withSystem(t.ctx.db, (tx) =>
      tx.query<{ n: number }>('SELECT count(*)::int AS n FROM reports WHERE scan_id = $1', [id]),
    );
    expect(Number(count.rows[0]!.n)).toBe(1);
  });

  it('contains the case, renders Tamil and Devanagari, and re-renders byte-identically from the stored record', async () => {
    const res = await download(ward.patient);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toBe('application/pdf');
    const pdf = res.rawPayload;
    const report = (await withSystem(t.ctx.db, (tx) => latestReport(tx, scanId)))!;
    expect(res.headers['x-report-sha256']).toBe(report.pdf_sha256);
    expect(sha256(pdf)).toBe(report.pdf_sha256);

    const again = await regenerateReport(t.ctx, report);
    expect(again.equals(pdf)).toBe(true);
    // The heatmap overlay in it, drawn from the analysis's grid at issue, is kept with the report.
    expect(report.heatmap_sha256).toMatch(/^[0-9a-f]{64}$/);
    const overlay = await t.ctx.blobs.get(report.heatmap_sha256!);
    expect(overlay.subarray(1, 4).toString()).toBe('PNG');

    const path = join(work, 'issued.pdf');
    writeFileSync(path, pdf);
    const text = execFileSync('pdftotext', ['-layout', path, '-'], { encoding: 'utf8' });
    for (const expected of [
      report.verification_code,
      FINDINGS.slice(0, 40),
      IMPRESSION,
      'Amoxicillin',
      'chest-xray-phantom 1.1.0',
      '87.3 %',
      'not a diagnosis',
      'Approved for release',
      'https://scanflow.example/api/v1/reports/verify',
      '1975-01-31',
    ]) {
      expect(text).toContain(expected);
    }
    expect(execFileSync('pdffonts', [path], { encoding: 'utf8' })).toMatch(
      /NotoSansTamil[\s\S]*NotoSansDevanagari|NotoSansDevanagari[\s\S]*NotoSansTamil/,
    );
    mkdirSync(ARTIFACTS, { recursive: true });
    execFileSync('pdftoppm', ['-r', '80', '-png', path, join(work, 'e2e')]);
    const pages = readdirSync(work).filter((f) => f.startsWith('e2e') && f.endsWith('.png'));
    expect(pages.length).toBeGreaterThanOrEqual(2);
    for (const page of pages) copyFileSync(join(work, page), join(ARTIFACTS, page));
  });

  it('withholds release of a case whose image failed its integrity check', async () => {
    const flagged = await caseReadyForApproval(t, ward);
    await withSystem(t.ctx.db, (tx) => tx.query(`UPDATE scans SET integrity = 'mismatch' WHERE id = $1`, [flagged]));
    const refused = await approve(t, ward, flagged);
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.code).toBe('integrity_failure');

    // Approved, then the stored bytes change before the report is rendered: no report, flagged.
    const tampered = await caseReadyForApproval(t, ward);
    expect((await approve(t, ward, tampered)).statusCode).toBe(200);
    const { rows } = await withSystem(t.ctx.db, (tx) =>
      tx.query<{ blob_sha256: string }>('SELECT blob_sha256 FROM scans WHERE id = $1', [tampered]),
    );
    const sha = rows[0]!.blob_sha256;
    writeFileSync(join(t.dataDir, 'blobs', sha.slice(0, 2), sha.slice(2, 4), sha), Buffer.from('not the scan'));
    await reportWorker(t, [ward.patient.orgId]).drain();
    const state = await withSystem(t.ctx.db, (tx) =>
      tx.query<{ integrity: string; reports: number; job: string }>(
        `SELECT s.integrity, (SELECT count(*)::int FROM reports r WHERE r.scan_id = s.id) AS reports,
                (SELECT status FROM jobs j WHERE j.kind = 'report_generate' AND j.payload->>'scanId' = $2) AS job
           FROM scans s WHERE s.id = $1`,
        [tampered, tampered],
      ),
    );
    expect(state.rows[0]).toMatchObject({ integrity: 'mismatch', job: 'failed' });
    expect(Number(state.rows[0]!.reports)).toBe(0);
    expect((await download(ward.patient, tampered)).statusCode).toBe(409);

    // Issued, then flagged before the e-mail went: the delivery is withheld too.
    const late = await caseReadyForApproval(t, ward);
    expect((await approve(t, ward, late)).statusCode).toBe(200);
    const issueOnly = reportJobHandlers(t.ctx)[REPORT_GENERATE_JOB]!;
    const silent = { warn: () => undefined, error: () => undefined };
    await new JobWorker(t.ctx.db, { [REPORT_GENERATE_JOB]: issueOnly }, silent, {
      concurrency: 1,
      pollMs: 50,
      leaseSeconds: 60,
      orgIds: [ward.patient.orgId],
    }).drain();
    await withSystem(t.ctx.db, (tx) => tx.query(`UPDATE scans SET integrity = 'mismatch' WHERE id = $1`, [late]));
    await reportWorker(t, [ward.patient.orgId]).drain();
    const withheld = await withSystem(t.ctx.db, (tx) =>
      tx.query<{ status: string; reason: string }>('SELECT status, reason FROM deliveries WHERE scan_id = $1', [late]),
    );
    expect(withheld.rows).toEqual([{ status: 'failed', reason: 'Withheld: the scan failed its integrity check' }]);
  });
});

describe('who may download a report', () => {
  it('allows the patient and clinicians with access, refuses everyone else, and audits each attempt', async () => {
    expect((await download(ward.patient)).statusCode).toBe(200);
    expect((await download(ward.doctor)).statusCode).toBe(200);
    expect((await download(ward.pharmacist)).statusCode).toBe(200);
    expect((await download(ward.admin)).statusCode).toBe(200);
    const otherPatient = await createUser(t, ward.org, 'patient');
    expect((await download(otherPatient)).statusCode).toBe(404);
    const stranger = await createUser(t, uniqueSlug('other'), 'doctor');
    expect((await download(stranger)).statusCode).toBe(404);
    const unverified = await createUser(t, ward.org, 'doctor');
    await withSystem(t.ctx.db, (tx) =>
      tx.query('UPDATE users SET clinician_verified_at = NULL WHERE id = $1', [unverified.id]),
    );
    expect((await download(unverified)).statusCode).toBe(403);
    // Before approval there is nothing to release.
    const pending = await caseReadyForApproval(t, ward);
    expect((await download(ward.patient, pending)).statusCode).toBe(403);
    const bad = await t.app.inject({
      method: 'GET',
      url: '/api/v1/scans/not-a-uuid/report',
      headers: bearer(ward.patient),
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('validation_failed');

    const audit = await withSystem(t.ctx.db, (tx) =>
      tx.query<{ outcome: string; actor_user_id: string; details: Record<string, unknown> | null }>(
        `SELECT outcome, actor_user_id, details FROM audit_events WHERE action = 'report.read' AND resource_id = $1`,
        [scanId],
      ),
    );
    const byActor = (id: string) => audit.rows.filter((r) => r.actor_user_id === id).map((r) => r.outcome);
    expect(byActor(ward.patient.id)).toContain('success');
    expect(byActor(otherPatient.id)).toEqual(['denied']);
    const report = (await withSystem(t.ctx.db, (tx) => latestReport(tx, scanId)))!;
    expect(audit.rows.find((r) => r.outcome === 'success')!.details).toMatchObject({ sha256: report.pdf_sha256 });
  });
});

describe('public verification', () => {
  it('answers by code and by file, says which organisation issued it, and never returns patient data', async () => {
    const report = (await withSystem(t.ctx.db, (tx) => latestReport(tx, scanId)))!;
    const byCode = await t.app.inject({
      method: 'GET',
      url: `/api/v1/reports/verify?code=${report.verification_code.toLowerCase().replace('-', ' ')}`,
    });
    expect(byCode.statusCode, byCode.body).toBe(200);
    expect(byCode.json()).toMatchObject({
      match: true,
      report: { verificationCode: report.verification_code, sha256: report.pdf_sha256, version: 1 },
    });
    const organisation = await withSystem(t.ctx.db, (tx) =>
      tx.query<{ name: string }>('SELECT name FROM organisations WHERE id = $1', [report.org_id]),
    );
    expect(byCode.json().report.organisation).toBe(organisation.rows[0]!.name);
    expect(byCode.body).not.toContain(ward.patient.patientId!);
    expect(byCode.body).not.toContain(scanId);
    expect(byCode.body).not.toContain('1975');

    const pdf = await t.ctx.blobs.get(report.pdf_sha256);
    const byFile = await t.app.inject({
      method: 'POST',
      url: '/api/v1/reports/verify',
      payload: pdf,
      headers: { 'content-type': 'application/pdf' },
    });
    expect(byFile.json()).toMatchObject({ match: true, report: { sha256: report.pdf_sha256 } });

    const changed = Buffer.from(pdf);
    changed[Math.floor(changed.length / 2)]! ^= 1;
    const tamperedFile = await t.app.inject({
      method: 'POST',
      url: '/api/v1/reports/verify',
      payload: changed,
      headers: { 'content-type': 'application/pdf' },
    });
    expect(tamperedFile.json()).toEqual({ match: false, report: null, ledger: null });

    expect((await t.app.inject({ method: 'GET', url: '/api/v1/reports/verify?code=ZZZZZ-ZZZZZ' })).json().match).toBe(
      false,
    );
    const malformed = await t.app.inject({ method: 'GET', url: '/api/v1/reports/verify?code=%27%3B--' });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().error.code).toBe('validation_failed');
    const empty = await t.app.inject({
      method: 'POST',
      url: '/api/v1/reports/verify',
      payload: Buffer.alloc(0),
      headers: { 'content-type': 'application/pdf' },
    });
    expect(empty.statusCode).toBe(400);
    const wrongType = await t.app.inject({
      method: 'POST',
      url: '/api/v1/reports/verify',
      payload: 'x',
      headers: { 'content-type': 'text/plain' },
    });
    expect(wrongType.statusCode).toBe(415);
  });

  it('names the checkpoint that includes the report, with an inclusion proof that verifies', async () => {
    const report = (await withSystem(t.ctx.db, (tx) => latestReport(tx, scanId)))!;
    const ledger = ledgerFor(t.ctx);
    await ledger.sequenceNow();
    await ledger.checkpointNow(report.org_id);
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/reports/verify?code=${report.verification_code}` });
    const answer = res.json();
    expect(answer.ledger, res.body).not.toBeNull();
    expect(answer.ledger.checkpoint).not.toBeNull();
    const leaf = Buffer.from(answer.ledger.leafHash, 'hex');
    const entry = JSON.parse(Buffer.from(answer.ledger.entry, 'base64').toString('utf8'));
    expect(entry).toMatchObject({ action: 'report.issued', extra: { sha256: report.pdf_sha256 } });
    const proof = (answer.ledger.inclusionProof as string[]).map((h) => Buffer.from(h, 'base64'));
    const root = Buffer.from(answer.ledger.checkpoint.rootHash, 'base64');
    expect(verifyInclusion(answer.ledger.index, answer.ledger.checkpoint.size, leaf, proof, root)).toEqual({
      ok: true,
    });
    expect(answer.ledger.checkpoint.note).toContain(answer.ledger.origin);
  });

  it('is checked end to end by `scanflow report verify` against the running server', async () => {
    const report = (await withSystem(t.ctx.db, (tx) => latestReport(tx, scanId)))!;
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const address = t.app.server.address() as { port: number };
    const url = `http://127.0.0.1:${address.port}`;
    const file = join(work, 'cli.pdf');
    writeFileSync(file, await t.ctx.blobs.get(report.pdf_sha256));
    const cli = (args: string[]) =>
      new Promise<{ code: number; out: string }>((resolve) => {
        const child = spawn(process.execPath, [BIN, 'report', 'verify', ...args, '--url', url], { stdio: 'pipe' });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (out += d.toString()));
        child.on('close', (code) => resolve({ code: code ?? -1, out }));
      });
    const ok = await cli([file]);
    expect(ok.out).toContain(`MATCH: report ${report.verification_code}`);
    expect(ok.out).toMatch(/INCLUSION: verified/);
    expect(ok.code, ok.out).toBe(0);
    const byCode = await cli(['--code', report.verification_code]);
    expect(byCode.code, byCode.out).toBe(0);
    const forged = join(work, 'forged.pdf');
    const bytes = await t.ctx.blobs.get(report.pdf_sha256);
    bytes[bytes.length - 10]! ^= 1;
    writeFileSync(forged, bytes);
    const refused = await cli([forged]);
    expect(refused.code).toBe(1);
    expect(refused.out).toContain('NOT FOUND');
    // Three CLI processes, each compiling the command through tsx: slow on a loaded machine.
  }, 240_000);

  it('limits how often one address may ask', async () => {
    const limited = await startTestApp({ VERIFY_RATE_LIMIT_PER_MINUTE: '2' });
    try {
      const ask = () => limited.app.inject({ method: 'GET', url: '/api/v1/reports/verify?code=ZZZZZ-ZZZZZ' });
      expect((await ask()).statusCode).toBe(200);
      expect((await ask()).statusCode).toBe(200);
      const third = await ask();
      expect(third.statusCode).toBe(429);
      expect(third.json().error.code).toBe('rate_limited');
    } finally {
      await limited.close();
    }
  });
});

describe('delivery without SMTP: the outbox', () => {
  it('puts the password-protected PDF in the outbox for admins, and shows status to the patient and admins only', async () => {
    const deliveries = await t.app.inject({
      method: 'GET',
      url: `/api/v1/scans/${scanId}/deliveries`,
      headers: bearer(ward.patient),
    });
    expect(deliveries.statusCode, deliveries.body).toBe(200);
    expect(deliveries.json().items).toMatchObject([{ channel: 'outbox', status: 'sent', attempts: 1, reason: null }]);
    const asAdmin = await t.app.inject({
      method: 'GET',
      url: `/api/v1/scans/${scanId}/deliveries`,
      headers: bearer(ward.admin),
    });
    expect(asAdmin.json().items).toHaveLength(1);
    const asDoctor = await t.app.inject({
      method: 'GET',
      url: `/api/v1/scans/${scanId}/deliveries`,
      headers: bearer(ward.doctor),
    });
    expect(asDoctor.statusCode).toBe(403);

    const outbox = await t.app.inject({ method: 'GET', url: '/api/v1/admin/outbox', headers: bearer(ward.admin) });
    const report = (await withSystem(t.ctx.db, (tx) => latestReport(tx, scanId)))!;
    const message = outbox
      .json()
      .items.find((m: { kind: string; attachment: { name: string } | null }) =>
        m.attachment?.name.includes(report.verification_code),
      );
    expect(message).toMatchObject({ kind: 'report', to: ward.patient.email, subject: 'Your imaging report is ready' });
    // Nothing clinical in the body: no finding, no impression, no medicine, no name.
    for (const clinical of ['Nodule', 'nodule', 'Amoxicillin', 'CT chest', 'தமிழ்'])
      expect(message.body).not.toContain(clinical);
    expect(message.body).toContain(report.verification_code);

    const attachment = await t.app.inject({
      method: 'GET',
      url: `/api/v1/admin/outbox/${message.id}/attachment`,
      headers: bearer(ward.admin),
    });
    expect(attachment.statusCode).toBe(200);
    expect(attachment.headers['content-type']).toBe('application/pdf');
    const path = join(work, 'outbox.pdf');
    writeFileSync(path, attachment.rawPayload);
    expect(spawnSync('pdftotext', [path, '-'], { encoding: 'utf8' }).status).not.toBe(0);
    expect(execFileSync('pdftotext', ['-upw', '19750131', path, '-'], { encoding: 'utf8' })).toContain(
      report.verification_code,
    );
    const forbidden = await t.app.inject({
      method: 'GET',
      url: `/api/v1/admin/outbox/${message.id}/attachment`,
      headers: bearer(ward.doctor),
    });
    expect(forbidden.statusCode).toBe(403);
  });

  it('protects later reports with the delivery code the patient set instead of the date of birth', async () => {
    const tooShort = await setDeliveryCode(ward.patient, 'short');
    expect(tooShort.statusCode).toBe(400);
    const notPatient = await setDeliveryCode(ward.doctor, 'correct-horse-42');
    expect(notPatient.statusCode).toBe(403);
    const set = await setDeliveryCode(ward.patient, 'correct-horse-42');
    expect(set.statusCode, set.body).toBe(204);
    const id = await issuedCase(t, ward);
    const delivery = await withSystem(t.ctx.db, (tx) =>
      tx.query<{ outbox_id: string; report_id: string }>(
        'SELECT outbox_id, report_id FROM deliveries WHERE scan_id = $1',
        [id],
      ),
    );
    const report = (await withSystem(t.ctx.db, (tx) => findReport(tx, delivery.rows[0]!.report_id)))!;
    const file = await t.app.inject({
      method: 'GET',
      url: `/api/v1/admin/outbox/${delivery.rows[0]!.outbox_id}/attachment`,
      headers: bearer(ward.admin),
    });
    const path = join(work, 'coded.pdf');
    writeFileSync(path, file.rawPayload);
    expect(spawnSync('pdftotext', ['-upw', '19750131', path, '-']).status).not.toBe(0);
    expect(execFileSync('pdftotext', ['-upw', 'correct-horse-42', path, '-'], { encoding: 'utf8' })).toContain(
      report.verification_code,
    );
    await setDeliveryCode(ward.patient, null);
  });
});

describe('hospital standards', () => {
  it('serves the report as a FHIR R4 Bundle that validates, with the issued PDF as presentedForm', async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: `/api/v1/scans/${scanId}/fhir`,
      headers: bearer(ward.doctor),
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
    const bundle = res.json();
    const validate = fhirValidator();
    expect(validate(bundle), JSON.stringify(validate.errors?.slice(0, 3))).toBe(true);
    const resource = (type: string) =>
      bundle.entry
        .map((e: { resource: { resourceType: string } }) => e.resource)
        .filter((r: { resourceType: string }) => r.resourceType === type);
    const report = resource('DiagnosticReport')[0];
    expect(report).toMatchObject({ status: 'final', conclusion: IMPRESSION });
    const pdf = (await download(ward.doctor)).rawPayload;
    expect(Buffer.from(report.presentedForm[0].data, 'base64').equals(pdf)).toBe(true);
    expect(resource('Observation')).toHaveLength(3);
    expect(resource('MedicationRequest')[0].medicationCodeableConcept.text).toBe('Amoxicillin');
    expect(resource('Patient')[0]).toMatchObject({ birthDate: '1975-01-31' });
    expect(resource('ImagingStudy')[0].series[0].instance[0].uid).toMatch(/^2\.25\./);
    const other = await createUser(t, ward.org, 'patient');
    expect(
      (await t.app.inject({ method: 'GET', url: `/api/v1/scans/${scanId}/fhir`, headers: bearer(other) })).statusCode,
    ).toBe(404);
  });

  it('serves the AI result as a DICOM Comprehensive SR that DCMTK reads, referencing the source instance', async () => {
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/scans/${scanId}/sr`, headers: bearer(ward.doctor) });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toBe('application/dicom');
    const path = join(work, 'sr.dcm');
    writeFileSync(path, res.rawPayload);
    expect(execFileSync('dcmftest', [path], { encoding: 'utf8' })).toMatch(/^yes:/);
    const dump = spawnSync('dsrdump', ['+Pu', path], { encoding: 'utf8' });
    expect(dump.status, dump.stderr).toBe(0);
    expect(dump.stdout).toContain('Comprehensive SR Document');
    expect(dump.stdout).toContain('Nodule probability');
    const scan = await t.app.inject({ method: 'GET', url: `/api/v1/scans/${scanId}`, headers: bearer(ward.doctor) });
    expect(dump.stdout).toContain(`"${scan.json().dicom.sopInstanceUid}"`);
    const header = execFileSync('dcmdump', ['+P', '0020,000d', path], { encoding: 'utf8' });
    expect(header).toContain(scan.json().dicom.studyInstanceUid);

    const png = await caseReadyForApproval(t, ward, { format: 'png' });
    const noSource = await t.app.inject({
      method: 'GET',
      url: `/api/v1/scans/${png}/sr`,
      headers: bearer(ward.doctor),
    });
    expect(noSource.statusCode).toBe(409);
    expect(noSource.json().error.message).toMatch(/not come as DICOM/);
  });
});
