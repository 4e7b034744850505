/**
 * Report tests' helpers: a ward (patient with a Tamil and Devanagari name, doctor, pharmacist,
 * admin), a case taken through the whole lifecycle over the API (upload, AI result, verify,
 * complete, approve), and a job worker that runs only the report jobs of the test's organisation.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { JobWorker } from '../src/jobs/worker.ts';
import { recordAiResult } from '../src/services/scan-service.ts';
import { reportJobHandlers } from '../src/services/report-jobs.ts';
import { UserService } from '../src/services/user-service.ts';
import type { Heatmap } from '@scanflow/inference';
import type { AiResult } from '../src/repositories/scans.ts';
import {
  bearer,
  createUser,
  multipart,
  signIn,
  uniqueEmail,
  uniqueSlug,
  type TestApp,
  type TestUser,
} from './harness.ts';
import { dicomBytes, pngBytes } from './fixtures.ts';
import { withSystem } from '../src/db/scope.ts';
import { sampleModel } from '../src/reports/sample.ts';

export const PATIENT_NAME = 'தமிழ்ச்செல்வி प्रिया';
export const PATIENT_DOB = '1975-01-31';

export interface Ward {
  org: string;
  patient: TestUser;
  doctor: TestUser;
  pharmacist: TestUser;
  admin: TestUser;
}

/** A patient account (with a name in Tamil and Devanagari script) and the clinicians. */
export async function createWard(t: TestApp): Promise<Ward> {
  const org = uniqueSlug('rep');
  const email = uniqueEmail('patient');
  const password = `pw-${randomUUID()}`;
  const created = await new UserService(t.ctx).createAsOperator({
    organisation: org,
    email,
    name: PATIENT_NAME,
    role: 'patient',
    password,
    dateOfBirth: PATIENT_DOB,
  });
  const session = await signIn(t, email, password, null);
  const record = await withSystem(t.ctx.db, (tx) =>
    tx.query<{ id: string }>('SELECT id FROM patients WHERE user_id = $1', [created.userId]),
  );
  const patient: TestUser = {
    id: created.userId,
    orgId: created.orgId,
    email,
    password,
    role: 'patient',
    totpSecret: null,
    patientId: record.rows[0]!.id,
    ...session,
  };
  const [doctor, pharmacist, admin] = await Promise.all([
    createUser(t, org, 'doctor'),
    createUser(t, org, 'pharmacist'),
    createUser(t, org, 'admin'),
  ]);
  return { org, patient, doctor, pharmacist, admin };
}

export const FINDINGS = 'A 9 mm rounded opacity in the right upper zone. No pleural effusion.';
export const IMPRESSION = 'Solitary pulmonary nodule; CT chest recommended.';

/** A Grad-CAM grid like the AI worker keeps (16×16 cells, a hot spot upper left of centre). */
function heatmapGrid(): Heatmap {
  const size = 16;
  const values = new Float32Array(size * size);
  for (let i = 0; i < values.length; i++) {
    values[i] = Math.max(0, 1 - Math.hypot((i % size) - 5, Math.floor(i / size) - 6) / 4);
  }
  return { label: 'nodule', width: size, height: size, values };
}

async function transition(t: TestApp, user: TestUser, id: string, body: Record<string, unknown>) {
  const current = await t.app.inject({ method: 'GET', url: `/api/v1/scans/${id}`, headers: bearer(user) });
  expect(current.statusCode, current.body).toBe(200);
  return t.app.inject({
    method: 'POST',
    url: `/api/v1/scans/${id}/transitions`,
    payload: { ...body, version: current.json().version },
    headers: bearer(user),
  });
}

/**
 * A case through upload, AI result (with heatmap), doctor's findings and pharmacist's
 * prescription, stopping before the admin's approval.
 */
export async function caseReadyForApproval(
  t: TestApp,
  ward: Ward,
  options: { format?: 'dicom' | 'png'; findings?: string } = {},
): Promise<string> {
  const file =
    options.format === 'png'
      ? { name: 'chest.png', bytes: await pngBytes(96, 96, 5) }
      : { name: 'chest.dcm', bytes: dicomBytes({ rows: 96, columns: 96 }) };
  const body = multipart([file], { patientId: ward.patient.patientId! });
  const upload = await t.app.inject({
    method: 'POST',
    url: '/api/v1/scans',
    payload: body.payload,
    headers: { ...body.headers, ...bearer(ward.doctor) },
  });
  expect(upload.statusCode, upload.body).toBe(201);
  const id = upload.json().scans[0].id as string;
  const sample = sampleModel().ai!;
  const ai: AiResult = {
    model: sample.model,
    labels: sample.labels.slice(0, 3),
    topFinding: sample.topFinding,
    uncertain: sample.uncertain,
    priorityScore: sample.priorityScore,
    priority: sample.priority,
    disclaimer: sample.disclaimer,
    heatmap: { label: 'nodule' },
  };
  await recordAiResult(t.ctx, { orgId: ward.patient.orgId, scanId: id }, ai, {
    heatmap: { grid: heatmapGrid(), method: 'gradcam' },
  });
  const verified = await transition(t, ward.doctor, id, {
    action: 'verify',
    findings: options.findings ?? FINDINGS,
    impression: IMPRESSION,
  });
  expect(verified.statusCode, verified.body).toBe(200);
  const completed = await transition(t, ward.pharmacist, id, {
    action: 'complete',
    prescription: sampleModel().prescription,
  });
  expect(completed.statusCode, completed.body).toBe(200);
  return id;
}

export async function approve(t: TestApp, ward: Ward, id: string) {
  return transition(t, ward.admin, id, { action: 'approve' });
}

/** A worker for the report jobs of these organisations only (test files share one database). */
export function reportWorker(t: TestApp, orgIds: string[]): JobWorker {
  const silent = { warn: () => undefined, error: () => undefined };
  return new JobWorker(t.ctx.db, reportJobHandlers(t.ctx), silent, {
    concurrency: 1,
    pollMs: 50,
    leaseSeconds: 60,
    orgIds,
  });
}

/** An approved case whose report the worker has issued. */
export async function issuedCase(t: TestApp, ward: Ward, options: { format?: 'dicom' | 'png' } = {}): Promise<string> {
  const id = await caseReadyForApproval(t, ward, options);
  const approved = await approve(t, ward, id);
  expect(approved.statusCode, approved.body).toBe(200);
  await reportWorker(t, [ward.patient.orgId]).drain();
  return id;
}
