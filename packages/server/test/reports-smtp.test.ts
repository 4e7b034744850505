/**
 * E-mail delivery of reports (SPEC R2) to a real SMTP server in this process (smtp-server) that
 * offers STARTTLS with a self-signed certificate made for the test: what arrives (envelope,
 * headers, a body with nothing clinical, the attachment's bytes), that the PDF opens only with
 * the patient's password, that temporary refusals are retried with back-off and permanent ones
 * recorded with their reason, and that a server without STARTTLS is refused outright.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withSystem } from '../src/db/scope.ts';
import { latestReport } from '../src/repositories/reports.ts';
import { bearer, createUser, startTestApp, type TestApp } from './harness.ts';
import { selfSignedCertificate } from './tls.ts';
import {
  approve,
  caseReadyForApproval,
  createWard,
  PATIENT_NAME,
  reportWorker,
  type Ward,
} from './reports-fixtures.ts';

interface Received {
  from: string;
  to: string[];
  secure: boolean;
  raw: string;
}

type Mode = 'accept' | 'busy' | 'reject';

const work = mkdtempSync(join(tmpdir(), 'scanflow-smtp-'));

/** An SMTP server in this process; `mode` decides how it answers RCPT TO. */
async function startSmtp(tls: { key: string; cert: string }, options: { noStartTls?: boolean } = {}) {
  const received: Received[] = [];
  const state = { mode: 'accept' as Mode };
  const server = new SMTPServer({
    key: tls.key,
    cert: tls.cert,
    // Without STARTTLS at all: hiding it from EHLO is not enough, as nodemailer with requireTLS
    // tries the command anyway (and smtp-server would accept it).
    authOptional: true,
    disabledCommands: options.noStartTls ? ['AUTH', 'STARTTLS'] : ['AUTH'],
    logger: false,
    onRcptTo(_address, _session, callback) {
      if (state.mode === 'accept') return callback();
      const error = new Error(
        state.mode === 'busy' ? 'Mailbox busy, try again later' : 'No such user here',
      ) as Error & {
        responseCode: number;
      };
      error.responseCode = state.mode === 'busy' ? 451 : 550;
      return callback(error);
    },
    onData(stream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          secure: session.secure,
          raw: Buffer.concat(chunks).toString('latin1'),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return { received, state, port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** The MIME part with this content type: its headers and its decoded body. */
function mimePart(raw: string, type: RegExp): { headers: string; body: Buffer } {
  const boundary = /boundary="?([^";\r\n]+)"?/i.exec(raw)?.[1];
  // A single-part message is its own only part.
  const parts = boundary ? raw.split(`--${boundary}`) : [raw];
  const part = parts.find((p) => type.test(p.slice(0, p.indexOf('\r\n\r\n'))))!;
  const split = part.indexOf('\r\n\r\n');
  const headers = part.slice(0, split);
  const content = part.slice(split + 4);
  if (/Content-Transfer-Encoding: base64/i.test(headers)) {
    return { headers, body: Buffer.from(content.replace(/[\r\n]/g, ''), 'base64') };
  }
  if (/Content-Transfer-Encoding: quoted-printable/i.test(headers)) {
    const decoded = content
      .replace(/=\r\n/g, '')
      .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    return { headers, body: Buffer.from(decoded, 'latin1') };
  }
  return { headers, body: Buffer.from(content, 'latin1') };
}

const headerOf = (raw: string, name: string) => new RegExp(`^${name}: (.*)$`, 'im').exec(raw)?.[1]?.trim();

let tls: ReturnType<typeof selfSignedCertificate>;
let smtp: Awaited<ReturnType<typeof startSmtp>>;
let t: TestApp;
let ward: Ward;

beforeAll(async () => {
  tls = selfSignedCertificate(work);
  smtp = await startSmtp(tls);
  t = await startTestApp({
    SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
    SMTP_CA_FILE: tls.certPath,
    SMTP_FROM: 'Scanflow Reports <reports@hospital.example>',
  });
  ward = await createWard(t);
});
afterAll(async () => {
  await t?.close();
  await smtp?.close();
  rmSync(work, { recursive: true, force: true });
});

/** Approves a case and runs the report jobs once (issue, then the first delivery attempt). */
async function approveAndDeliver(app: TestApp, w: Ward): Promise<string> {
  const id = await caseReadyForApproval(app, w);
  expect((await approve(app, w, id)).statusCode).toBe(200);
  await reportWorker(app, [w.patient.orgId]).drain();
  return id;
}

async function deliveriesOf(app: TestApp, w: Ward, id: string) {
  const res = await app.app.inject({
    method: 'GET',
    url: `/api/v1/scans/${id}/deliveries`,
    headers: bearer(w.patient),
  });
  expect(res.statusCode, res.body).toBe(200);
  return res.json().items as { status: string; attempts: number; reason: string | null; channel: string }[];
}

describe('report e-mail over SMTP with STARTTLS', () => {
  it('arrives over TLS with plain headers, a non-clinical body and the PDF that opens only with the password', async () => {
    smtp.state.mode = 'accept';
    const before = smtp.received.length;
    const id = await approveAndDeliver(t, ward);
    expect(smtp.received.length).toBe(before + 1);
    const mail = smtp.received.at(-1)!;
    expect(mail.secure).toBe(true); // upgraded with STARTTLS before any data was sent
    expect(mail.from).toBe('reports@hospital.example');
    expect(mail.to).toEqual([ward.patient.email]);
    expect(headerOf(mail.raw, 'Subject')).toBe('Your imaging report is ready');
    expect(headerOf(mail.raw, 'To')).toBe(ward.patient.email);
    expect(headerOf(mail.raw, 'From')).toContain('reports@hospital.example');

    const report = (await withSystem(t.ctx.db, (tx) => latestReport(tx, id)))!;
    const text = mimePart(mail.raw, /text\/plain/i).body.toString('utf8');
    expect(text).toContain(report.verification_code);
    expect(text).toMatch(/date of birth/);
    for (const clinical of ['Nodule', 'nodule', 'opacity', 'Amoxicillin', 'CT chest', 'HIGH', PATIENT_NAME]) {
      expect(mail.raw).not.toContain(clinical);
    }
    const attachment = mimePart(mail.raw, /application\/pdf/i);
    expect(attachment.headers).toContain(`report-${report.verification_code}.pdf`);
    expect(attachment.body.subarray(0, 5).toString()).toBe('%PDF-');
    const path = join(work, 'mailed.pdf');
    writeFileSync(path, attachment.body);
    expect(spawnSync('qpdf', ['--show-encryption', path], { encoding: 'utf8' }).stdout).toMatch(/AESv3/);
    expect(spawnSync('pdftotext', [path, '-']).status).not.toBe(0);
    expect(spawnSync('pdftotext', ['-upw', '19750130', path, '-']).status).not.toBe(0);
    const opened = execFileSync('pdftotext', ['-upw', '19750131', path, '-'], { encoding: 'utf8' });
    expect(opened).toContain(report.verification_code);
    expect(opened).toContain('Amoxicillin');
    // The same report inside: decrypted, it is the issued PDF's content, not just any PDF.
    const decrypted = join(work, 'decrypted.pdf');
    execFileSync('qpdf', ['--password=19750131', '--decrypt', path, decrypted]);
    const issuedText = execFileSync('pdftotext', ['-', '-'], {
      input: await t.ctx.blobs.get(report.pdf_sha256),
      encoding: 'utf8',
    });
    expect(execFileSync('pdftotext', [decrypted, '-'], { encoding: 'utf8' })).toBe(issuedText);

    expect(await deliveriesOf(t, ward, id)).toMatchObject([
      { channel: 'email', status: 'sent', attempts: 1, reason: null },
    ]);
  });

  it('retries a temporary refusal with back-off, recording each attempt, until it is accepted', async () => {
    smtp.state.mode = 'busy';
    const before = smtp.received.length;
    const id = await approveAndDeliver(t, ward);
    const [first] = await deliveriesOf(t, ward, id);
    expect(first).toMatchObject({ status: 'queued', attempts: 1 });
    expect(first!.reason).toMatch(/451/);
    expect(first!.reason).not.toContain(ward.patient.email);
    const job = await withSystem(t.ctx.db, (tx) =>
      tx.query<{ status: string; wait: number }>(
        `SELECT status, extract(epoch FROM run_after - now()) AS wait FROM jobs
          WHERE kind = 'report_deliver' AND payload->>'deliveryId' = (SELECT id::text FROM deliveries WHERE scan_id = $1)`,
        [id],
      ),
    );
    expect(job.rows[0]!.status).toBe('queued');
    expect(Number(job.rows[0]!.wait)).toBeGreaterThan(0); // not before its back-off

    smtp.state.mode = 'accept';
    const worker = reportWorker(t, [ward.patient.orgId]);
    const deadline = Date.now() + 15_000;
    while ((await deliveriesOf(t, ward, id))[0]!.status === 'queued' && Date.now() < deadline) {
      await worker.drain();
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(await deliveriesOf(t, ward, id)).toMatchObject([{ status: 'sent', attempts: 2, reason: null }]);
    expect(smtp.received.length).toBe(before + 1);
  });

  it('records a permanent refusal at once, and gives up on temporary ones after the last attempt', async () => {
    smtp.state.mode = 'reject';
    const rejected = await approveAndDeliver(t, ward);
    const [refusal] = await deliveriesOf(t, ward, rejected);
    expect(refusal).toMatchObject({ status: 'failed', attempts: 1 });
    expect(refusal!.reason).toMatch(/550/);
    const audit = await withSystem(t.ctx.db, (tx) =>
      tx.query<{ outcome: string }>(
        `SELECT outcome FROM audit_events WHERE action = 'report.delivery_failed'
            AND resource_id = (SELECT id::text FROM deliveries WHERE scan_id = $1)`,
        [rejected],
      ),
    );
    expect(audit.rows.map((r) => r.outcome)).toEqual(['failure']);

    smtp.state.mode = 'busy';
    const busy = await approveAndDeliver(t, ward);
    // Two attempts in all for this job, so the test need not wait out the whole back-off.
    await withSystem(t.ctx.db, (tx) =>
      tx.query(
        `UPDATE jobs SET max_attempts = 2, run_after = now()
          WHERE kind = 'report_deliver' AND payload->>'deliveryId' = (SELECT id::text FROM deliveries WHERE scan_id = $1)`,
        [busy],
      ),
    );
    await reportWorker(t, [ward.patient.orgId]).drain();
    const [gaveUp] = await deliveriesOf(t, ward, busy);
    expect(gaveUp).toMatchObject({ status: 'failed', attempts: 2 });
    expect(gaveUp!.reason).toMatch(/451/);
    smtp.state.mode = 'accept';
  });
});

describe('the outbox over SMTP', () => {
  it('sends e-mailed sign-in codes through the same outbox, and marks them sent', async () => {
    smtp.state.mode = 'accept';
    const admin = await createUser(t, ward.org, 'admin');
    const login = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: admin.email, password: admin.password },
    });
    const challenge = login.json().challenge as string;
    const before = smtp.received.length;
    const sent = await t.app.inject({ method: 'POST', url: '/api/v1/auth/email-code', payload: { challenge } });
    expect(sent.statusCode, sent.body).toBe(202);
    await reportWorker(t, [ward.patient.orgId]).drain();
    expect(smtp.received.length).toBe(before + 1);
    const mail = smtp.received.at(-1)!;
    expect(mail.secure).toBe(true);
    expect(mail.to).toEqual([admin.email]);
    expect(headerOf(mail.raw, 'Subject')).toBe('Your Scanflow sign-in code');
    const code = /sign-in code is (\d{6})/.exec(mimePart(mail.raw, /text\/plain/i).body.toString('utf8'))?.[1];
    expect(code).toMatch(/^\d{6}$/);
    const verified = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/email-code/verify',
      payload: { challenge, code },
    });
    expect(verified.statusCode, verified.body).toBe(200);
    const outbox = await withSystem(t.ctx.db, (tx) =>
      tx.query<{ status: string }>(
        `SELECT status FROM outbox WHERE org_id = $1 AND kind = 'second-factor-code' ORDER BY created_at DESC LIMIT 1`,
        [admin.orgId],
      ),
    );
    expect(outbox.rows[0]!.status).toBe('sent');
  });
});

describe('STARTTLS required', () => {
  it('refuses to send to a server that does not offer STARTTLS, and says why', async () => {
    const plain = await startSmtp(tls, { noStartTls: true });
    const app = await startTestApp({ SMTP_URL: `smtp://127.0.0.1:${plain.port}`, SMTP_CA_FILE: tls.certPath });
    try {
      const w = await createWard(app);
      const id = await approveAndDeliver(app, w);
      const [delivery] = await deliveriesOf(app, w, id);
      // The server refuses the command with a 5xx: a configuration to fix, not a moment to wait out.
      expect(delivery).toMatchObject({ channel: 'email', status: 'failed', attempts: 1 });
      expect(delivery!.reason).toMatch(/STARTTLS/i);
      expect(plain.received).toHaveLength(0);
    } finally {
      await app.close();
      await plain.close();
    }
  });
});
