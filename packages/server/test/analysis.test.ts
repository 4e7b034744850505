/**
 * Versioned AI analyses, re-runs, the model endpoint, the worklist's maximum-wait ceiling and the
 * unopened-urgent-case alert — against the real app, the real worker and the shipped model.
 * Time is moved by writing old timestamps into rows, never by sleeping.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackgroundWork, type BackgroundWork } from '../src/background.ts';
import { withSystem } from '../src/db/scope.ts';
import type { AiResult } from '../src/repositories/scans.ts';
import { recordAiResult } from '../src/services/scan-service.ts';
import { raiseUrgentUnopenedAlerts, URGENT_UNOPENED_ACTION } from '../src/services/urgent-alerts.ts';
import { HEATMAP_MAX_SIDE } from '@scanflow/inference';
import { bearer, createUser, multipart, startTestApp, uniqueSlug, type TestApp, type TestUser } from './harness.ts';
import { dicomBytes, pngBytes } from './fixtures.ts';

let t: TestApp;
let background: BackgroundWork;
let org: string;
let patient: TestUser;
let doctor: TestUser;
let pharmacist: TestUser;
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

beforeAll(async () => {
  // Worklist pages are not cached here: tests rewrite timestamps behind the app's back.
  t = await startTestApp({ WORKLIST_CACHE_MS: '0' });
  org = uniqueSlug('analysis');
  patient = await createUser(t, org, 'patient');
  doctor = await createUser(t, org, 'doctor');
  pharmacist = await createUser(t, org, 'pharmacist');
  // This worker serves only this organisation: other tests' scans stay where they put them.
  background = await startBackgroundWork(t.ctx, silent, { pollMs: 200, orgIds: [patient.orgId] });
});
afterAll(async () => {
  await background?.stop();
  await t?.close();
});

const get = (user: TestUser, url: string) => t.app.inject({ method: 'GET', url, headers: bearer(user) });
const post = (user: TestUser, url: string) => t.app.inject({ method: 'POST', url, headers: bearer(user) });

async function upload(user: TestUser, file: { name: string; bytes: Buffer }): Promise<string> {
  const body = multipart([file]);
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/v1/scans',
    payload: body.payload,
    headers: { ...body.headers, ...bearer(user) },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().scans[0].id as string;
}

/** Polls `probe` until it gives a value (null: not yet). */
async function waitFor<T>(what: string, probe: () => Promise<T | null>): Promise<NonNullable<T>> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== null && value !== undefined) return value;
    if (Date.now() - started > 30_000) throw new Error(`${what}: not within 30 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('versioned analyses', () => {
  let scanId: string;

  it('records the pre-read as version 1 with every label, its thresholds, the model and both heatmaps', async () => {
    scanId = await upload(patient, { name: 'chest.dcm', bytes: dicomBytes({ rows: 256, columns: 256 }) });
    const analysis = (
      await waitFor('analysis', async () => {
        const res = await get(doctor, `/api/v1/scans/${scanId}/analysis`);
        return res.statusCode === 200 ? res : null;
      })
    ).json();
    expect(analysis).toMatchObject({
      scanId,
      version: 1,
      current: true,
      model: background.model,
      requestedBy: null,
      thresholds: { uncertain: 0.75, high: 0.85 },
    });
    expect(analysis.disclaimer).toMatch(/not a diagnosis/);
    expect(analysis.labels.map((l: { id: string }) => l.id)).toEqual([
      'nodule',
      'consolidation',
      'pleural_effusion',
      'pneumothorax',
      'cardiomegaly',
    ]);
    for (const label of analysis.labels) {
      expect(label.threshold).toBe(analysis.thresholds.labels[label.id]);
      expect(label.positive).toBe(label.probability >= label.threshold);
    }
    const highest = Math.max(...analysis.labels.map((l: { probability: number }) => l.probability));
    expect(analysis.confidence).toBeCloseTo(analysis.topFinding ? analysis.topFinding.probability : 1 - highest, 5);
    expect(analysis.uncertain).toBe(analysis.confidence < 0.75);
    for (const stage of ['read', 'decode', 'preprocess', 'infer', 'explain']) {
      expect(analysis.timings[stage], stage).toBeGreaterThanOrEqual(0);
    }
    expect(analysis.versions).toHaveLength(1);

    const grey = await get(doctor, analysis.heatmap.heatmapUrl);
    expect(grey.statusCode).toBe(200);
    const greyInfo = await sharp(grey.rawPayload).metadata();
    expect([greyInfo.channels, greyInfo.width, greyInfo.height]).toEqual([1, HEATMAP_MAX_SIDE, HEATMAP_MAX_SIDE]);
    const overlay = await get(doctor, analysis.heatmap.overlayUrl);
    expect(overlay.statusCode).toBe(200);
    expect((await sharp(overlay.rawPayload).metadata()).channels).toBe(4);
    expect(overlay.headers['x-heatmap-label']).toBe(analysis.heatmap.label);
    // Kept as the model's grid, not as pictures: both are drawn from it on request, the same bytes each time.
    const kept = await t.ctx.db.query<{
      grid: { label: string; width: number; height: number; values: number[] };
      grey: string | null;
      colour: string | null;
    }>(
      `SELECT heatmap_grid AS grid, heatmap_sha256 AS grey, overlay_sha256 AS colour FROM analyses WHERE scan_id = $1`,
      [scanId],
    );
    const { grid, grey: greyBlob, colour } = kept.rows[0]!;
    expect([grid.label, grid.width, grid.height, grid.values.length]).toEqual([analysis.heatmap.label, 16, 16, 256]);
    expect([greyBlob, colour]).toEqual([null, null]);
    expect((await get(doctor, analysis.heatmap.overlayUrl)).rawPayload.equals(overlay.rawPayload)).toBe(true);
    const current = await get(doctor, `/api/v1/scans/${scanId}/heatmap`);
    expect(current.rawPayload.equals(overlay.rawPayload)).toBe(true);

    const { rows } = await t.ctx.db.query<{ n: number; current: boolean }>(
      `SELECT array_length(a.embedding, 1) AS n, s.analysis_id = a.id AS current
         FROM analyses a JOIN scans s ON s.id = a.scan_id WHERE a.scan_id = $1`,
      [scanId],
    );
    expect(rows).toEqual([{ n: expect.any(Number), current: true }]);
    expect(rows[0]!.n).toBeGreaterThan(0);
  });

  it('lets a doctor re-run it: a new version, the earlier one unchanged, the case left where it was', async () => {
    const before = (await get(doctor, `/api/v1/scans/${scanId}`)).json();
    const first = (await get(doctor, `/api/v1/scans/${scanId}/analysis`)).json();
    const overlayBefore = await get(doctor, `/api/v1/scans/${scanId}/heatmap`);
    // "The current run's overlay" is asked for again each time; unchanged, it answers 304.
    expect(overlayBefore.headers['cache-control']).toBe('private, no-cache');
    const unchanged = await t.app.inject({
      method: 'GET',
      url: `/api/v1/scans/${scanId}/heatmap`,
      headers: { ...bearer(doctor), 'if-none-match': String(overlayBefore.headers.etag) },
    });
    expect([unchanged.statusCode, unchanged.rawPayload.length]).toEqual([304, 0]);

    const rerun = await post(doctor, `/api/v1/scans/${scanId}/analysis`);
    expect(rerun.statusCode, rerun.body).toBe(202);
    expect(rerun.json()).toMatchObject({ scanId, status: 'queued' });

    const second = (
      await waitFor('version 2', async () => {
        const res = await get(doctor, `/api/v1/scans/${scanId}/analysis`);
        return res.json().version === 2 ? res : null;
      })
    ).json();
    expect(second).toMatchObject({ current: true, requestedBy: doctor.id });
    expect(second.versions.map((v: { version: number; current: boolean }) => [v.version, v.current])).toEqual([
      [2, true],
      [1, false],
    ]);
    // Same image, same model: the same probabilities, recorded again rather than overwritten.
    expect(second.labels).toEqual(first.labels);
    const old = (await get(doctor, `/api/v1/scans/${scanId}/analysis?version=1`)).json();
    expect({ ...old, versions: undefined }).toEqual({ ...first, current: false, versions: undefined });
    const pinned = await get(doctor, `/api/v1/scans/${scanId}/analysis/overlay?version=1`);
    expect([pinned.statusCode, pinned.headers['cache-control']]).toEqual([200, 'private, max-age=86400, immutable']);
    // A browser holding the first run's overlay gets the second's: the ETag it sends is out of date.
    const overlayAfter = await t.app.inject({
      method: 'GET',
      url: `/api/v1/scans/${scanId}/heatmap`,
      headers: { ...bearer(doctor), 'if-none-match': String(overlayBefore.headers.etag) },
    });
    expect([overlayAfter.statusCode, overlayAfter.headers['x-analysis-version']]).toEqual([200, '2']);
    expect(overlayAfter.headers.etag).not.toBe(overlayBefore.headers.etag);

    const after = (await get(doctor, `/api/v1/scans/${scanId}`)).json();
    expect(after.status).toBe('AI_ANALYZED');
    expect(after.statusSince).toBe(before.statusSince); // its waiting time goes on
    expect(after.ai.analysisVersion).toBe(2);
    expect(after.timeline.map((e: { action: string }) => e.action)).toEqual(['upload', 'record_ai', 'ai_rerun']);

    const audit = await t.ctx.db.query<{ action: string; actor_user_id: string | null; details: unknown }>(
      `SELECT action, actor_user_id, details FROM audit_events
        WHERE resource_id = $1 AND action IN ('scan.reanalyse', 'scan.ai_result') ORDER BY seq`,
      [scanId],
    );
    expect(audit.rows.map((r) => [r.action, r.actor_user_id])).toEqual([
      ['scan.ai_result', null],
      ['scan.reanalyse', doctor.id],
      ['scan.ai_result', null],
    ]);
    expect(audit.rows[2]!.details).toMatchObject({ analysisVersion: 2, requestedBy: doctor.id });

    // Open case views hear of the new result (a status event with the same status), but the case
    // is not announced as a new urgent one.
    const live = await t.ctx.db.query<{ kind: string; status: string }>(
      `SELECT kind, data->>'status' AS status FROM live_events WHERE data->>'scanId' = $1 ORDER BY id`,
      [scanId],
    );
    const statusEvents = live.rows.filter((r) => r.kind === 'scan.status').map((r) => r.status);
    expect(statusEvents.slice(-2)).toEqual(['AI_ANALYZED', 'AI_ANALYZED']);
    expect(live.rows.filter((r) => r.kind === 'scan.urgent').length).toBeLessThanOrEqual(1);
  });

  it('refuses re-runs to everyone but doctors, and a second one while the first is queued', async () => {
    expect((await post(pharmacist, `/api/v1/scans/${scanId}/analysis`)).statusCode).toBe(403);
    expect((await post(patient, `/api/v1/scans/${scanId}/analysis`)).statusCode).toBe(403);
    const outsider = await createUser(t, uniqueSlug('other'), 'doctor');
    expect((await post(outsider, `/api/v1/scans/${scanId}/analysis`)).statusCode).toBe(404);
    expect((await get(outsider, `/api/v1/scans/${scanId}/analysis`)).statusCode).toBe(404);

    // A scan of an organisation no worker serves here: its re-run stays queued.
    const idle = uniqueSlug('idle');
    const [idlePatient, idleDoctor] = await Promise.all([
      createUser(t, idle, 'patient'),
      createUser(t, idle, 'doctor'),
    ]);
    const id = await upload(idlePatient, { name: 'a.png', bytes: await pngBytes(32, 32, 77) });
    expect((await post(idleDoctor, `/api/v1/scans/${id}/analysis`)).json().error.code).toBe('conflict'); // PENDING_AI
    await recordAiResult(t.ctx, { orgId: idleDoctor.orgId, scanId: id }, aiResult(0.3));
    expect((await post(idleDoctor, `/api/v1/scans/${id}/analysis`)).statusCode).toBe(202);
    const again = await post(idleDoctor, `/api/v1/scans/${id}/analysis`);
    expect(again.statusCode).toBe(409);
    expect(again.json().error.message).toMatch(/queued already/);
  });

  it('answers 404 for a version that does not exist and 400 for a malformed one', async () => {
    expect((await get(doctor, `/api/v1/scans/${scanId}/analysis?version=99`)).statusCode).toBe(404);
    expect((await get(doctor, `/api/v1/scans/${scanId}/analysis?version=zero`)).statusCode).toBe(400);
    expect((await get(doctor, `/api/v1/scans/${scanId}/analysis/embedding`)).statusCode).toBe(400);
    // The patient reads their own scan's analysis (decision support shown with their case).
    expect((await get(patient, `/api/v1/scans/${scanId}/analysis`)).statusCode).toBe(200);
  });
});

describe('GET /models', () => {
  it('describes the active model with its card', async () => {
    const res = await get(patient, '/api/v1/models');
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.active).toMatchObject({
      id: 'chest-xray-phantom',
      name: background.model.name,
      version: background.model.version,
      explanation: 'gradcam',
      uncertainThreshold: 0.75,
      priority: { highThreshold: 0.85 },
    });
    expect(body.active.labels).toHaveLength(5);
    expect(body.active.card).toMatch(/not for clinical use/i);
    expect(body.models.map((m: { id: string }) => m.id)).toContain('chest-xray-phantom');
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/models' })).statusCode).toBe(401);
  });
});

function aiResult(priorityScore: number): AiResult {
  return {
    model: { name: 'test-model', version: '1' },
    labels: [{ id: 'nodule', display: 'Nodule', probability: priorityScore, threshold: 0.5 }],
    topFinding: priorityScore >= 0.5 ? { id: 'nodule', display: 'Nodule', probability: priorityScore } : null,
    uncertain: false,
    priorityScore,
    priority: priorityScore >= 0.85 ? 'HIGH' : 'ROUTINE',
    disclaimer: 'Decision support only.',
  };
}

/** A case analysed `minutesAgo` minutes ago (its status_since moved back), in an org no worker serves. */
async function analysedCase(owner: TestUser, priorityScore: number, minutesAgo: number): Promise<string> {
  const id = await upload(owner, { name: 'w.png', bytes: await pngBytes(16, 16, Math.floor(Math.random() * 1e9)) });
  await recordAiResult(t.ctx, { orgId: owner.orgId, scanId: id }, aiResult(priorityScore));
  await withSystem(t.ctx.db, (tx) =>
    tx.query(`UPDATE scans SET status_since = now() - make_interval(mins => $2::int) WHERE id = $1`, [id, minutesAgo]),
  );
  return id;
}

describe('worklist maximum-wait ceiling (WORKLIST_MAX_WAIT_MINUTES, default 60)', () => {
  it('puts a ROUTINE case that waited past the ceiling with the HIGH cases, on one page and across pages', async () => {
    const ward = uniqueSlug('ward');
    const [owner, reader] = await Promise.all([createUser(t, ward, 'patient'), createUser(t, ward, 'doctor')]);
    const routineFresh = await analysedCase(owner, 0.2, 5);
    const highRecent = await analysedCase(owner, 0.95, 2);
    const routineOverdue = await analysedCase(owner, 0.3, 90);
    const highOlder = await analysedCase(owner, 0.9, 10);
    const routineWaiting = await analysedCase(owner, 0.4, 45);
    const expected = [routineOverdue, highOlder, highRecent, routineWaiting, routineFresh];

    const page = (await get(reader, '/api/v1/scans?limit=50')).json();
    expect(page.items.map((s: { id: string }) => s.id)).toEqual(expected);

    for (const limit of [1, 2, 3]) {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const next: { items: { id: string }[]; nextCursor: string | null } = (
          await get(reader, `/api/v1/scans?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
        ).json();
        seen.push(...next.items.map((s: { id: string }) => s.id));
        cursor = next.nextCursor;
      } while (cursor);
      expect(seen, `pages of ${limit}`).toEqual(expected);
    }
    // Filtering by priority still means the AI's priority, not the queue group.
    const high = (await get(reader, '/api/v1/scans?priority=HIGH')).json();
    expect(high.items.map((s: { id: string }) => s.id)).toEqual([highOlder, highRecent]);
  });

  it('keeps a paging session on the cutoff its first page used, which travels in the cursor', async () => {
    const ward = uniqueSlug('ward');
    const [owner, reader] = await Promise.all([createUser(t, ward, 'patient'), createUser(t, ward, 'doctor')]);
    const high = await analysedCase(owner, 0.95, 1);
    const a = await analysedCase(owner, 0.2, 50);
    const b = await analysedCase(owner, 0.2, 40);
    const first = (await get(reader, '/api/v1/scans?limit=1')).json();
    expect(first.items.map((s: { id: string }) => s.id)).toEqual([high]);
    const cursor = JSON.parse(Buffer.from(first.nextCursor, 'base64url').toString('utf8'));
    expect(Date.now() - Date.parse(cursor.cutoff)).toBeGreaterThanOrEqual(60 * 60_000);
    expect(Date.now() - Date.parse(cursor.cutoff)).toBeLessThan(61 * 60_000);

    // A session that began 30 minutes "later" (its cutoff 30 minutes before now): a and b have
    // passed that ceiling, so after a the session continues with b, then high — its own order.
    const row = (await get(reader, `/api/v1/scans/${a}`)).json();
    const later = { rank: 0, at: row.statusSince, id: a, cutoff: new Date(Date.now() - 30 * 60_000).toISOString() };
    const token = Buffer.from(JSON.stringify(later)).toString('base64url');
    const rest = (await get(reader, `/api/v1/scans?limit=5&cursor=${token}`)).json();
    expect(rest.items.map((s: { id: string }) => s.id)).toEqual([b, high]);
    expect((await get(reader, '/api/v1/scans?cursor=bm90LWEtY3Vyc29y')).statusCode).toBe(400);
  });
});

describe('unopened urgent case alert (URGENT_UNOPENED_MINUTES, default 15)', () => {
  it('raises scan.urgent_unopened once for a HIGH case no doctor opened in time, visible to admins', async () => {
    const ward = uniqueSlug('urgent');
    const [owner, reader, admin] = await Promise.all([
      createUser(t, ward, 'patient'),
      createUser(t, ward, 'doctor'),
      createUser(t, ward, 'admin'),
    ]);
    const unopened = await analysedCase(owner, 0.95, 20);
    const opened = await analysedCase(owner, 0.95, 20);
    const recent = await analysedCase(owner, 0.95, 5);
    const routine = await analysedCase(owner, 0.3, 60);
    expect((await get(reader, `/api/v1/scans/${opened}`)).statusCode).toBe(200);

    await raiseUrgentUnopenedAlerts(t.ctx);
    await raiseUrgentUnopenedAlerts(t.ctx); // once per case
    const { rows } = await t.ctx.db.query<{ resource_id: string; actor_role: string }>(
      `SELECT resource_id, actor_role FROM audit_events WHERE action = $1 AND resource_id = ANY($2::text[])`,
      [URGENT_UNOPENED_ACTION, [unopened, opened, recent, routine]],
    );
    expect(rows).toEqual([{ resource_id: unopened, actor_role: 'system' }]);

    const seen = await get(admin, `/api/v1/audit?action=${URGENT_UNOPENED_ACTION}`);
    expect(seen.statusCode, seen.body).toBe(200);
    const events = JSON.stringify(seen.json());
    expect(events).toContain(unopened);
    expect(events).not.toContain(opened);
  });
});
