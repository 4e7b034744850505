/**
 * Browser tests: the built web app, served by the real Scanflow server (in-process, PGlite),
 * driven in Debian's Chromium through playwright-core. Each test gets its own organisation and
 * browser context. Screenshots go to test-artifacts/screenshots/ (look at them).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { brotliDecompressSync, gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { generate } from 'otplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  bearer,
  createUser,
  multipart,
  startTestApp,
  tamperBlob,
  uniqueSlug,
  type TestApp,
  type TestUser,
} from '../../server/test/harness.ts';
import { dicomBytes, pngBytes } from '../../server/test/fixtures.ts';
import { imageDataset, part10, text } from '../../imaging/src/testing/dicom-writer.ts';
import sharp from 'sharp';
import { startBackgroundWork } from '../../server/src/background.ts';
import { recordAiResult } from '../../server/src/services/scan-service.ts';
import { WEB_ROOT, ensureWebBuilt } from '../scripts/ensure-built.ts';
import { storeSession } from './stored-session.ts';

const DEMO_SCANS = fileURLToPath(new URL('../../../models/chest-xray-phantom/demo/', import.meta.url));
const SCREENSHOTS = fileURLToPath(new URL('../../../test-artifacts/screenshots/', import.meta.url));
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const CHROMIUM = '/usr/bin/chromium';
// CI installs Chromium (.ci/run); elsewhere the browser tests are skipped when it is missing.
const haveBrowser = existsSync(CHROMIUM) || process.env.CI === 'true';
const LAPTOP = { width: 1366, height: 900 };
const TABLET = { width: 820, height: 1180 };

let t: TestApp;
let baseUrl: string;
let browser: Browser;
const contexts: BrowserContext[] = [];
/** Pages opened by the running test, photographed if it fails. */
let testPages: Page[] = [];

beforeAll(async () => {
  if (!haveBrowser) return;
  // The server registers the static route only if dist exists when it starts: build first.
  await ensureWebBuilt();
  mkdirSync(SCREENSHOTS, { recursive: true });
  t = await startTestApp();
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const address = t.app.server.address();
  if (!address || typeof address === 'string') throw new Error('no server address');
  baseUrl = `http://127.0.0.1:${address.port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}, 180_000);

afterEach(async (context) => {
  if (context.task.result?.state === 'fail') {
    const name = context.task.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60);
    await Promise.all(testPages.map((p, i) => shot(p, `FAILED-${name}-${i}`).catch(() => undefined)));
  }
  testPages = [];
});

afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => undefined);
  await browser?.close();
  await t?.close();
});

async function newPage(viewport = LAPTOP): Promise<Page> {
  const context = await browser.newContext({ viewport, baseURL: baseUrl });
  contexts.push(context);
  const page = await context.newPage();
  testPages.push(page);
  page.setDefaultTimeout(15_000);
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  (page as Page & { problems?: string[] }).problems = problems;
  return page;
}

const shot = (page: Page, name: string) => page.screenshot({ path: `${SCREENSHOTS}${name}.png`, fullPage: true });

/** The viewer canvas's RGBA at image pixel (x, y) of the scan, as the reader sees it (at fit zoom). */
async function pixelAt(page: Page, x: number, y: number): Promise<number[]> {
  return page.getByTestId('scan-canvas').evaluate(
    (element, point) => {
      const canvas = element as HTMLCanvasElement;
      const viewer = canvas.parentElement!;
      const image = viewer.style.aspectRatio.split('/').map(Number) as [number, number];
      const scale = Math.min(canvas.width / image[0], canvas.height / image[1]);
      const left = (canvas.width - image[0] * scale) / 2;
      const top = (canvas.height - image[1] * scale) / 2;
      const data = canvas
        .getContext('2d')!
        .getImageData(Math.floor(left + (point.x + 0.5) * scale), Math.floor(top + (point.y + 0.5) * scale), 1, 1).data;
      return [...data];
    },
    { x, y },
  );
}

async function signIn(page: Page, user: TestUser): Promise<void> {
  await page.goto('/');
  await page.getByLabel('E-mail address').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Puts a session the harness already signed in straight into the browser's storage. */
async function useSession(page: Page, user: TestUser): Promise<void> {
  await page.goto('/');
  await storeSession(page, user);
  await page.reload();
}

async function uploadAs(patient: TestUser, bytes: Buffer, name: string): Promise<string> {
  const body = multipart([{ name, bytes }]);
  const response = await t.app.inject({
    method: 'POST',
    url: '/api/v1/scans',
    headers: { ...bearer(patient), ...body.headers },
    payload: body.payload,
  });
  expect(response.statusCode, response.body).toBe(201);
  return response.json<{ scans: { id: string }[] }>().scans[0]!.id;
}

function aiResult(priority: 'HIGH' | 'ROUTINE', top: number) {
  return {
    model: { name: 'scanflow-cxr', version: '0.3.1' },
    labels: [
      { id: 'pneumothorax', display: 'Pneumothorax', probability: top },
      { id: 'effusion', display: 'Pleural effusion', probability: 0.21 },
      { id: 'normal', display: 'No finding', probability: 0.08 },
    ],
    topFinding: { id: 'pneumothorax', display: 'Pneumothorax', probability: top },
    uncertain: top < 0.6,
    priorityScore: top,
    priority,
    disclaimer: 'AI output supports clinical judgement and is not a diagnosis.',
  };
}

/**
 * One of the model's demonstration phantoms as a DICOM file: the 16-bit PNG holds 12-bit values
 * times 16; the DICOM stores them as 12 bits in 16, with the window index.json gives and a pixel
 * spacing of 0.3 mm, so that measurements come out in millimetres.
 */
async function phantomDicom(name: string): Promise<Buffer> {
  const index = JSON.parse(readFileSync(`${DEMO_SCANS}index.json`, 'utf8')) as {
    items: { file: string; window: { center: number; width: number } }[];
  };
  const item = index.items.find((i) => i.file === `demo/${name}.png`)!;
  const { data, info } = await sharp(readFileSync(`${DEMO_SCANS}${name}.png`))
    .toColourspace('grey16') // else sharp hands back 8 bits
    .raw({ depth: 'ushort' })
    .toBuffer({ resolveWithObject: true });
  const stored = new Uint16Array(info.width * info.height);
  for (let i = 0; i < stored.length; i++) stored[i] = data.readUInt16LE(i * 2) >> 4;
  const dataset = imageDataset({
    rows: info.height,
    columns: info.width,
    bitsAllocated: 16,
    bitsStored: 12,
    pixels: new Uint8Array(stored.buffer),
    extra: [
      text(0x00280030, 'DS', '0.3\\0.3'),
      text(0x00281050, 'DS', String(item.window.center / 16)),
      text(0x00281051, 'DS', String(item.window.width / 16)),
    ],
  });
  return Buffer.from(part10(dataset));
}

describe('the built app', () => {
  it('keeps its JavaScript under 500 KB gzipped', async () => {
    await ensureWebBuilt();
    const assets = `${WEB_ROOT}dist/assets/`;
    const js = readdirSync(assets).filter((f) => f.endsWith('.js'));
    const gzipped = js.reduce((n, f) => n + gzipSync(readFileSync(`${assets}${f}`)).length, 0);
    expect(js.length).toBeGreaterThan(0);
    expect(gzipped).toBeLessThan(500 * 1024);
  });

  it('is sent compressed to browsers that accept it, and plain to those that do not', async () => {
    await ensureWebBuilt();
    const t = await startTestApp();
    try {
      const assets = `${WEB_ROOT}dist/assets/`;
      const file = readdirSync(assets).find((f) => f.endsWith('.js'))!;
      const original = readFileSync(`${assets}${file}`);
      const compressed = await t.app.inject({
        url: `/assets/${file}`,
        headers: { 'accept-encoding': 'br, gzip' },
      });
      expect(compressed.statusCode).toBe(200);
      expect(compressed.headers['content-encoding']).toBe('br');
      expect(compressed.rawPayload.length).toBeLessThan(original.length / 2);
      expect(brotliDecompressSync(compressed.rawPayload).equals(original)).toBe(true);
      const plain = await t.app.inject({ url: `/assets/${file}`, headers: { 'accept-encoding': 'identity' } });
      expect(plain.headers['content-encoding']).toBeUndefined();
      expect(plain.rawPayload.equals(original)).toBe(true);
    } finally {
      await t.close();
    }
  });
});

describe.skipIf(!haveBrowser)('web app in Chromium', () => {
  it('a patient signs in, uploads a PNG by drag and drop, sees it listed; a fake PNG is refused with its message', async () => {
    const org = uniqueSlug();
    const patient = await createUser(t, org, 'patient');
    const page = await newPage();
    await signIn(page, patient);
    await expect.poll(() => page.getByRole('heading', { name: 'My scans' }).isVisible()).toBe(true);

    // Drop a real PNG onto the drop zone.
    const png = (await pngBytes(96, 96, 3)).toString('base64');
    const dataTransfer = await page.evaluateHandle((b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], 'chest.png', { type: 'image/png' }));
      return dt;
    }, png);
    await page.getByTestId('dropzone').dispatchEvent('drop', { dataTransfer });
    await page.locator('li.upload-done[data-file="chest.png"]').waitFor();
    await page.locator('ul[aria-label="My scans"] li.scan-card').first().waitFor();
    expect(await page.locator('li.scan-card [data-status="PENDING_AI"]').textContent()).toBe('Awaiting AI pre-read');

    // A text file renamed .png, chosen with the file picker, alongside a real DICOM.
    await page.locator('#upload-input').setInputFiles([
      { name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('this is not an image at all\n') },
      { name: 'phantom.dcm', mimeType: 'application/dicom', buffer: dicomBytes() },
    ]);
    const refused = page.locator('li.upload-failed[data-file="notes.png"] .upload-message');
    await refused.waitFor();
    expect(await refused.textContent()).toMatch(/notes\.png/);
    await page.locator('li.upload-done[data-file="phantom.dcm"]').waitFor();
    await expect.poll(() => page.locator('li.scan-card').count()).toBe(2);

    await expect.poll(() => page.locator('li.scan-card .thumb img').count()).toBe(2);
    // The timeline of a scan opens in place.
    await page.locator('li.scan-card details summary').first().click();
    await page.locator('li.scan-card ol.timeline').first().waitFor();
    expect(await page.locator('li.scan-card ol.timeline').first().textContent()).toContain('Uploaded');
    await shot(page, 'patient-dashboard');
    await page.setViewportSize(TABLET);
    await shot(page, 'patient-dashboard-tablet');
    expect((page as Page & { problems?: string[] }).problems).toEqual([]);
  });

  it('a doctor sees the HIGH case at the top of the worklist, reads the AI pre-read and verifies with findings', async () => {
    const org = uniqueSlug();
    const [patient, doctor] = await Promise.all([createUser(t, org, 'patient'), createUser(t, org, 'doctor')]);
    const routine = await uploadAs(patient, await pngBytes(64, 64, 5), 'routine.png');
    const urgent = await uploadAs(patient, dicomBytes({ rows: 64, columns: 64 }), 'urgent.dcm');
    await recordAiResult(t.ctx, { orgId: patient.orgId, scanId: routine }, aiResult('ROUTINE', 0.3));
    // The urgent case's pre-read comes with a Grad-CAM overlay (a hot spot in the upper left).
    const values = new Float32Array(16 * 16);
    values[3 * 16 + 4] = 1;
    values[3 * 16 + 5] = 0.7;
    values[4 * 16 + 4] = 0.6;
    await recordAiResult(
      t.ctx,
      { orgId: patient.orgId, scanId: urgent },
      { ...aiResult('HIGH', 0.91), heatmap: { label: 'pneumothorax' } },
      { heatmap: { grid: { label: 'pneumothorax', width: 16, height: 16, values }, method: 'gradcam' } },
    );

    const page = await newPage();
    await signIn(page, doctor);
    const rows = page.locator('table.worklist tbody tr');
    await expect.poll(() => rows.count()).toBe(2);
    expect(await rows.first().getAttribute('data-scan-id')).toBe(urgent);
    expect(await rows.first().locator('[data-priority]').textContent()).toContain('HIGH');
    expect(await page.getByTestId('count-high').textContent()).toBe('1');
    await shot(page, 'doctor-worklist');

    // A new urgent case arrives while the worklist is open: it appears at the top, announced.
    const later = await uploadAs(patient, await pngBytes(64, 64, 9), 'later.png');
    await recordAiResult(t.ctx, { orgId: patient.orgId, scanId: later }, aiResult('HIGH', 0.97));
    await page.evaluate(() => window.dispatchEvent(new Event('focus')));
    await page.getByText('A new urgent case has arrived.').waitFor();
    await expect.poll(() => rows.count()).toBe(3);
    expect(await rows.nth(2).getAttribute('data-scan-id')).toBe(routine);

    await rows.first().getByRole('link', { name: /Open/ }).click();
    await page.getByRole('heading', { name: 'AI pre-read' }).waitFor();
    expect(await page.locator('.disclaimer').textContent()).toContain('not a diagnosis');
    expect(await page.getByTestId('ai-top-finding').textContent()).toContain('Pneumothorax (91%)');
    expect(await page.locator('.ai-panel').textContent()).toContain('scanflow-cxr');
    // The viewer: the server's rendition on a canvas; a typed window changes the pixels.
    const canvas = page.getByTestId('scan-canvas');
    await expect.poll(() => canvas.getAttribute('data-rendered-width')).toBe('64');
    await page.getByRole('button', { name: 'AI heatmap' }).click(); // off, to read the image itself
    const before = await pixelAt(page, 32, 32);
    await page.getByLabel('Level', { exact: true }).fill('1000');
    await page.getByLabel('Width', { exact: true }).fill('2000');
    await page.getByRole('form', { name: 'Window level' }).getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => page.getByTestId('window-label').textContent()).toBe('L 1000 · W 2000 (set)');
    await expect.poll(() => pixelAt(page, 32, 32)).not.toEqual(before);
    // Zoom by button and by wheel, then fit.
    await page.getByRole('button', { name: 'Zoom in' }).click();
    expect(await page.getByTestId('zoom-level').textContent()).toBe('125%');
    const box = (await page.locator('.viewer-viewport').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.wheel(0, -100);
    await expect.poll(() => page.getByTestId('zoom-level').textContent()).toBe('150%');
    await page.getByRole('button', { name: 'Fit' }).click();
    // Dragging right and down widens the window and raises the level.
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + 64, box.y + box.height / 2 + 32, { steps: 4 });
    await page.mouse.up();
    await expect.poll(() => page.getByTestId('window-label').textContent()).toBe('L 1250 · W 3000 (set)');

    // The AI heatmap lies over the image, labelled as decision support; it can be dimmed and hidden.
    await page.getByRole('button', { name: 'AI heatmap' }).click();
    await expect.poll(() => canvas.getAttribute('data-heatmap')).toBe('on');
    expect(await page.getByTestId('heatmap-caption').textContent()).toContain('decision support');
    const hotSpot = () => pixelAt(page, 18, 14);
    await page.getByLabel('Opacity').fill('0.9');
    const strong = await hotSpot();
    await page.getByLabel('Opacity').fill('0.2');
    await expect.poll(hotSpot).not.toEqual(strong);
    await shot(page, 'doctor-case-heatmap');
    await page.keyboard.press('Tab'); // keyboard: H on the focused viewer toggles it too
    await page.locator('.viewer-viewport').focus();
    await page.keyboard.press('h');
    await expect.poll(() => canvas.getAttribute('data-heatmap')).toBe('off');
    await page.getByRole('button', { name: 'AI heatmap' }).click();
    await expect.poll(() => canvas.getAttribute('data-heatmap')).toBe('on');

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download original' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe(`scan-${urgent}.dcm`);

    await page
      .getByRole('textbox', { name: 'Findings', exact: true })
      .fill('Right apical pneumothorax, about 2 cm rim.');
    await page.getByLabel('Impression').fill('Moderate right pneumothorax.');
    await shot(page, 'doctor-case-view');
    await page.setViewportSize(TABLET);
    await shot(page, 'doctor-case-view-tablet');
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByText('Verified. The case has gone to the pharmacist.').waitFor();
    expect(await page.locator('.case-head [data-status]').textContent()).toBe('Awaiting pharmacist');

    // The pharmacist gets a message for an invalid dose, then completes the prescription.
    const pharmacist = await createUser(t, org, 'pharmacist');
    const rx = await newPage();
    await signIn(rx, pharmacist);
    await rx.locator(`tr[data-scan-id="${urgent}"]`).waitFor();
    await shot(rx, 'pharmacist-queue');
    await rx.setViewportSize(TABLET);
    await shot(rx, 'pharmacist-queue-tablet');
    await rx.setViewportSize(LAPTOP);
    await rx.locator(`tr[data-scan-id="${urgent}"]`).getByRole('link', { name: /Open/ }).click();
    await rx.getByLabel('Drug').fill('Amoxicillin');
    await rx.getByLabel('Dose').fill('lots');
    await rx.getByLabel('Frequency').fill('three times daily');
    await rx.getByLabel('Duration').fill('7 days');
    await rx.getByRole('button', { name: 'Complete' }).click();
    expect(await rx.getByRole('alert').first().textContent()).toContain('must be an amount and a unit');
    await rx.getByLabel('Dose').fill('500 mg');
    await shot(rx, 'pharmacist-case-view');
    await rx.getByRole('button', { name: 'Complete' }).click();
    await rx.getByText('Prescription saved').waitFor();
    expect(await rx.locator('.case-head [data-status]').textContent()).toBe('Awaiting approval');
  });

  it('an admin signs in with a TOTP code, sees the dashboard and approves', async () => {
    const org = uniqueSlug();
    const [patient, admin] = await Promise.all([createUser(t, org, 'patient'), createUser(t, org, 'admin')]);
    const doctor = await createUser(t, org, 'doctor');
    const scanId = await uploadAs(patient, await pngBytes(), 'a.png');
    await recordAiResult(t.ctx, { orgId: patient.orgId, scanId }, aiResult('ROUTINE', 0.4));
    const transition = async (user: TestUser, payload: object) => {
      const version = (
        await t.app.inject({ method: 'GET', url: `/api/v1/scans/${scanId}`, headers: bearer(user) })
      ).json().version;
      const r = await t.app.inject({
        method: 'POST',
        url: `/api/v1/scans/${scanId}/transitions`,
        headers: bearer(user),
        payload: { ...payload, version },
      });
      expect(r.statusCode, r.body).toBe(200);
    };
    await transition(doctor, { action: 'verify', findings: 'Clear lungs.' });
    const pharmacist = await createUser(t, org, 'pharmacist');
    await transition(pharmacist, {
      action: 'complete',
      prescription: {
        items: [{ drug: 'Paracetamol', dose: '1 g', route: 'oral', frequency: 'four times daily', duration: '3 days' }],
      },
    });

    const page = await newPage();
    await signIn(page, admin);
    await page.getByLabel('Authenticator code').waitFor();
    // createUser already spent this step's code (codes never work twice): use the next step's,
    // which the server accepts within its one-step tolerance.
    const code = await generate({ secret: admin.totpSecret!, epoch: Math.floor(Date.now() / 1000) + 30 });
    await page.getByLabel('Authenticator code').fill(code);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await expect
      .poll(() => page.locator('.tile[data-status="PHARMACIST_COMPLETED"] .tile-number').textContent())
      .toBe('1');
    await shot(page, 'admin-dashboard');
    await page.setViewportSize(TABLET);
    await shot(page, 'admin-dashboard-tablet');
    await page.setViewportSize(LAPTOP);

    await page.getByRole('link', { name: 'Approvals', exact: true }).click();
    await page.locator(`tr[data-scan-id="${scanId}"]`).getByRole('link', { name: /Open/ }).click();
    await page.getByRole('heading', { name: 'Prescription', exact: true }).waitFor();
    await shot(page, 'admin-case-view');
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.getByText('Approved. The report is ready.').waitFor();
    // The approved case offers its report (and, for an admin, its delivery).
    await page.getByRole('button', { name: 'Download report (PDF)' }).waitFor();

    await page.getByRole('navigation').getByRole('link', { name: 'Users' }).click();
    await page.locator(`tr[data-user-email="${doctor.email}"]`).waitFor();
    await shot(page, 'admin-users');
    await page.getByRole('link', { name: 'Audit' }).click();
    await page.getByLabel('Outcome').selectOption('success');
    await page.getByLabel('Action').fill('scan.transition');
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => page.locator('table.audit tbody tr').count()).toBeGreaterThanOrEqual(3);
    await shot(page, 'admin-audit');
    // Security signals, integrity alerts and the log's checkpoint, each saying what it has.
    await page.getByRole('navigation').getByRole('link', { name: 'Integrity' }).click();
    await page.getByRole('heading', { name: 'Security and integrity' }).waitFor();
    await page.getByTestId('signals-total').waitFor();
    await page.getByRole('heading', { name: 'Tamper-evident log' }).waitFor();
    await shot(page, 'admin-integrity');
  });

  it("a scan whose stored bytes were tampered with waits in the doctor's integrity review", async () => {
    const org = uniqueSlug();
    const doctor = await createUser(t, org, 'doctor');
    const patient = await createUser(t, org, 'patient');
    const body = multipart([{ name: 'x.png', bytes: await pngBytes(32, 32, 17) }]);
    const up = await t.app.inject({
      method: 'POST',
      url: '/api/v1/scans',
      payload: body.payload,
      headers: { ...body.headers, ...bearer(patient) },
    });
    const { id, sha256 } = up.json().scans[0];
    tamperBlob(t, sha256, { fromEnd: 5, mask: 0x01 });
    expect((await t.app.inject({ url: `/api/v1/scans/${id}/image`, headers: bearer(doctor) })).statusCode).toBe(409);

    const page = await newPage();
    await signIn(page, doctor);
    await page.getByRole('heading', { name: 'Integrity review' }).waitFor();
    await page.locator(`.integrity-review li[data-scan-id="${id}"]`).getByRole('link', { name: /Open/ }).waitFor();
    await shot(page, 'doctor-integrity-review');
  });

  it('an expired session returns to sign-in with a message', async () => {
    const org = uniqueSlug();
    const patient = await createUser(t, org, 'patient');
    const page = await newPage();
    await signIn(page, patient);
    await page.getByRole('heading', { name: 'My scans' }).waitFor();
    // End the session on the server (as expiry or an admin would): the tokens in the browser are now dead.
    const token = await page.evaluate(
      () => (JSON.parse(localStorage.getItem('scanflow.session') ?? '{}') as { accessToken: string }).accessToken,
    );
    const out = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/logout',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(out.statusCode).toBe(204);
    await page.reload();
    await page.getByText('Your session has expired. Please sign in again.').waitFor();
    expect(await page.getByRole('button', { name: 'Sign in' }).isVisible()).toBe(true);
    await shot(page, 'session-expired');
  });

  it('shows a readable message for a wrong password and registers a clinician awaiting verification', async () => {
    const org = uniqueSlug();
    const patient = await createUser(t, org, 'patient');
    const page = await newPage(TABLET);
    await signIn(page, { ...patient, password: 'wrong-password' });
    expect(await page.getByRole('alert').textContent()).toContain('The e-mail address or password is wrong');
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByLabel('Doctor').check();
    await page.getByLabel('Organisation code').fill(org);
    await page.getByLabel('Full name').fill('Dr Ada Test');
    await page.getByLabel('E-mail address').fill(`ada-${org}@example.test`);
    await page.getByLabel('Licence number').fill('GMC-1234567');
    await page.getByLabel('Licensing jurisdiction').fill('UK');
    await page.getByLabel('Password', { exact: true }).fill('a-long-password-1');
    await page.getByLabel('Repeat the password').fill('a-long-password-1');
    await shot(page, 'register-tablet');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText(/An administrator will verify your licence/).waitFor();

    // Signed in before verification: a clear holding page, which lets them in once verified.
    await page.getByRole('link', { name: 'Go to sign in' }).click();
    await signIn(page, { ...patient, email: `ada-${org}@example.test`, password: 'a-long-password-1' });
    await page.getByRole('heading', { name: 'Awaiting verification' }).waitFor();
    const admin = await createUser(t, org, 'admin');
    const pending = await t.app.inject({
      method: 'GET',
      url: '/api/v1/admin/users?pending=true',
      headers: bearer(admin),
    });
    const ada = pending
      .json<{ items: { id: string; email: string }[] }>()
      .items.find((u) => u.email === `ada-${org}@example.test`);
    const verified = await t.app.inject({
      method: 'POST',
      url: `/api/v1/admin/users/${ada!.id}/verify`,
      headers: bearer(admin),
    });
    expect(verified.statusCode, verified.body).toBe(200);
    await page.getByRole('button', { name: 'Check again' }).click();
    await page.getByRole('heading', { name: 'Worklist' }).waitFor();
  });

  it('a user enrols an authenticator from the QR page, signs out, and then needs a code to sign in', async () => {
    const org = uniqueSlug();
    const patient = await createUser(t, org, 'patient');
    const page = await newPage();
    await signIn(page, patient);
    await page.getByRole('heading', { name: 'My scans' }).waitFor();
    await page.getByRole('link', { name: 'Security' }).click();
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    const qr = page.getByRole('img', { name: /QR code/ });
    await qr.waitFor();
    expect(await qr.getAttribute('src')).toMatch(/^data:image\/png;base64,/);
    const secret = (await page.getByTestId('totp-secret').textContent())!.trim();
    await shot(page, 'totp-enrolment');
    await page.getByLabel('Code from the app').fill(await generate({ secret }));
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.getByText('Your authenticator is set up.').waitFor();

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Scanflow' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/');
    await signIn(page, patient);
    await page.getByLabel('Authenticator code').fill('000000');
    await page.getByRole('button', { name: 'Continue' }).click();
    expect(await page.getByRole('alert').textContent()).toMatch(/code/i);
    await page
      .getByLabel('Authenticator code')
      .fill(await generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 }));
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'My scans' }).waitFor();
  });

  /**
   * One patient signed in in two tabs of one browser, the access token made to look expired (so
   * the next request in either tab refreshes first), and every refresh either tab sends, counted.
   * Returns the stored session as it was made to look, for a tab to be handed later.
   */
  async function twoTabsDueToRefresh() {
    const patient = await createUser(t, uniqueSlug(), 'patient');
    const first = await newPage();
    await signIn(first, patient);
    await first.getByRole('heading', { name: 'My scans' }).waitFor();
    const second = await first.context().newPage();
    await second.goto('/');
    await second.getByRole('heading', { name: 'My scans' }).waitFor();
    const expired = await first.evaluate(() => {
      const session = JSON.parse(localStorage.getItem('scanflow.session')!) as { accessExpiresAt: number };
      session.accessExpiresAt = 0;
      const text = JSON.stringify(session);
      localStorage.setItem('scanflow.session', text);
      return text;
    });
    const refreshes: string[] = [];
    for (const p of [first, second]) {
      p.on('response', (r) => {
        if (r.url().endsWith('/api/v1/auth/refresh')) refreshes.push(String(r.status()));
      });
    }
    return { first, second, expired, refreshes };
  }

  // Two successful refreshes here once meant the second tab took the first tab's new access token
  // for its old one: issued within the same second, they were identical. Tokens now carry a unique
  // id, and the client judges "already renewed" by the rotating refresh token.
  it('two tabs with an expired access token refresh once between them and both stay signed in', async () => {
    const { first, second, refreshes } = await twoTabsDueToRefresh();
    await Promise.all([first.reload(), second.reload()]);
    await first.getByRole('heading', { name: 'My scans' }).waitFor();
    await second.getByRole('heading', { name: 'My scans' }).waitFor();
    await expect.poll(() => first.locator('.tile-number').first().textContent()).toBe('0');
    expect(refreshes).toEqual(['200']);
    // And the session still works afterwards in both.
    await second.reload();
    await second.getByRole('heading', { name: 'Upload scans' }).waitFor();
    expect(await second.getByRole('heading', { name: 'Sign in to Scanflow' }).count()).toBe(0);
  });

  it('a tab whose copy of the session lags behind takes the tokens another tab renewed instead of spending the old one', async () => {
    // Chromium propagates localStorage between tabs asynchronously, so a tab can take the refresh
    // lock just after another tab renewed and still read the spent refresh token. Here that lag is
    // made to last: the second tab is given back the session as it was before the first renewed.
    const { first, second, expired, refreshes } = await twoTabsDueToRefresh();
    await first.reload();
    await first.getByRole('heading', { name: 'My scans' }).waitFor();
    await expect.poll(() => refreshes).toEqual(['200']);
    await second.evaluate((text) => localStorage.setItem('scanflow.session', text), expired);
    await second.reload();
    await second.getByRole('heading', { name: 'My scans' }).waitFor();
    await first.reload();
    await first.getByRole('heading', { name: 'My scans' }).waitFor();
    // No second refresh: the spent token was never presented again, so the session lives on.
    expect(refreshes).toEqual(['200']);
    await second.reload();
    await second.getByRole('heading', { name: 'Upload scans' }).waitFor();
    expect(await first.getByRole('heading', { name: 'Sign in to Scanflow' }).count()).toBe(0);
  });

  it('a doctor of another organisation cannot open a case by its URL', async () => {
    const [patient, stranger] = await Promise.all([
      createUser(t, uniqueSlug(), 'patient'),
      createUser(t, uniqueSlug(), 'doctor'),
    ]);
    const scanId = await uploadAs(patient, await pngBytes(), 'mine.png');
    await recordAiResult(t.ctx, { orgId: patient.orgId, scanId }, aiResult('HIGH', 0.9));
    const page = await newPage();
    await signIn(page, stranger);
    await page.getByRole('heading', { name: 'Worklist' }).waitFor();
    await page.goto(`/scans/${scanId}`);
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/not found|not allowed|permission/i);
    expect(await page.locator('.ai-panel').count()).toBe(0);
    // Never a blank page: a malformed case address and an unknown one both say what happened.
    await page.goto('/scans/not-a-scan-id');
    await page.getByRole('alert').waitFor();
    expect((await page.getByRole('alert').textContent())!.length).toBeGreaterThan(5);
    await page.goto('/nowhere');
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();
  });

  it('an admin verifies a registered clinician, disables a user, and a second admin signs in with an e-mailed code', async () => {
    const org = uniqueSlug();
    const [admin, other, patient] = await Promise.all([
      createUser(t, org, 'admin'),
      createUser(t, org, 'admin'),
      createUser(t, org, 'patient'),
    ]);
    const doctorEmail = `new-doctor-${org}@example.test`;
    const registered = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/register',
      payload: {
        organisation: org,
        email: doctorEmail,
        password: 'a-long-password-2',
        name: 'Dr New',
        role: 'doctor',
        licenceNumber: 'L-99',
        licenceJurisdiction: 'UK',
      },
    });
    expect(registered.statusCode, registered.body).toBe(201);

    const page = await newPage();
    await useSession(page, admin);
    await page.getByRole('navigation').getByRole('link', { name: 'Clinicians' }).click();
    const row = page.locator(`tr[data-user-email="${doctorEmail}"]`);
    await row.waitFor();
    await shot(page, 'admin-clinicians');
    await row.getByRole('button', { name: /Verify licence/ }).click();
    await row.getByText('✓ verified').waitFor();

    await page.getByRole('navigation').getByRole('link', { name: 'Users' }).click();
    const patientRow = page.locator(`tr[data-user-email="${patient.email}"]`);
    await patientRow.getByRole('button', { name: /Disable/ }).click();
    await patientRow.getByRole('button', { name: /Yes, disable/ }).click();
    await patientRow.getByText('disabled').waitFor();

    // The fallback second factor: a code by e-mail (read here from the outbox, as the mail would carry it).
    const second = await newPage(TABLET);
    await signIn(second, other);
    await second.getByRole('button', { name: 'No authenticator? E-mail me a code' }).click();
    await second.getByLabel('E-mailed code').waitFor();
    const outbox = await t.app.inject({ method: 'GET', url: '/api/v1/admin/outbox', headers: bearer(admin) });
    const mail = outbox
      .json<{ items: { to: string; body: string }[] }>()
      .items.find((m) => m.to === other.email && /sign-in code/.test(m.body));
    const code = /code is (\d{6})/.exec(mail?.body ?? '')?.[1];
    expect(code).toBeDefined();
    await second.getByLabel('E-mailed code').fill(code!);
    await second.getByRole('button', { name: 'Continue' }).click();
    await second.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await second.getByRole('link', { name: 'Outbox' }).click();
    await second.getByRole('table', { name: 'Outbox' }).waitFor();
    await shot(second, 'admin-outbox-tablet');
  });

  it('an admin whose second factor was reset must enrol a new authenticator before anything else', async () => {
    const org = uniqueSlug();
    const [admin, other] = await Promise.all([createUser(t, org, 'admin'), createUser(t, org, 'admin')]);
    const reset = await t.app.inject({
      method: 'POST',
      url: `/api/v1/admin/users/${other.id}/reset-second-factor`,
      headers: bearer(admin),
    });
    expect(reset.statusCode, reset.body).toBe(200);
    const page = await newPage();
    await signIn(page, other);
    await page.getByText('Administrators must set up an authenticator app').waitFor();
    const secret = (await page.getByTestId('totp-secret').textContent())!.trim();
    await shot(page, 'admin-enrolment-required');
    await page.getByLabel('Code from the app').fill(await generate({ secret }));
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await page.getByRole('navigation').getByRole('link', { name: 'Audit' }).click();
    await page.getByRole('table', { name: 'Audit events' }).waitFor();
  });

  it(
    'the whole flow: a patient uploads a phantom DICOM, a doctor verifies with a second opinion, the pharmacist prescribes, the admin approves, the patient downloads the PDF',
    { timeout: 300_000 },
    async () => {
      const org = uniqueSlug();
      const [patient, doctor, colleague, pharmacist, admin] = await Promise.all([
        createUser(t, org, 'patient'),
        createUser(t, org, 'doctor'),
        createUser(t, org, 'doctor'),
        createUser(t, org, 'pharmacist'),
        createUser(t, org, 'admin'),
      ]);
      // The real AI pre-read and report jobs, for this organisation only.
      const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
      const background = await startBackgroundWork(t.ctx, quiet, { pollMs: 200, orgIds: [patient.orgId] });
      try {
        // The doctor's worklist is open and live before anything arrives.
        const doc = await newPage();
        await useSession(doc, doctor);
        await doc.getByText('Nothing waiting.').waitFor();
        await expect.poll(() => doc.getByTestId('live-status').getAttribute('data-status')).toBe('live');

        // The patient uploads a phantom DICOM (and a text file posing as a PNG, refused with a message).
        const pat = await newPage();
        await signIn(pat, patient);
        await pat.getByRole('heading', { name: 'My scans' }).waitFor();
        await pat.locator('#upload-input').setInputFiles([
          { name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('not an image\n') },
          { name: 'chest.dcm', mimeType: 'application/dicom', buffer: await phantomDicom('05-pneumothorax') },
        ]);
        expect(await pat.locator('li.upload-failed[data-file="notes.png"] .upload-message').textContent()).toMatch(
          /notes\.png/,
        );
        await pat.locator('li.upload-done[data-file="chest.dcm"]').waitFor();
        const card = pat.locator('li.scan-card').first();
        const scanId = (await card.getAttribute('data-scan-id'))!;

        // The AI reads it; the case appears at the top of the doctor's worklist without a reload, HIGH.
        const top = doc.locator('table.worklist tbody tr').first();
        await expect.poll(() => top.getAttribute('data-scan-id'), { timeout: 90_000 }).toBe(scanId);
        expect(await top.locator('[data-priority]').textContent()).toContain('HIGH');
        await doc.getByTestId('toast').first().waitFor();
        await top.getByRole('link', { name: /Open/ }).click();
        expect(await doc.getByTestId('ai-top-finding').textContent()).toContain('Pneumothorax');
        const canvas = doc.getByTestId('scan-canvas');
        await expect.poll(() => canvas.getAttribute('data-heatmap')).toBe('on');
        await doc.getByRole('button', { name: 'AI heatmap' }).click();
        await expect.poll(() => canvas.getAttribute('data-heatmap')).toBe('off');
        await doc.getByRole('button', { name: 'AI heatmap' }).click();
        await expect.poll(() => canvas.getAttribute('data-heatmap')).toBe('on');
        // A measurement on a DICOM with a pixel spacing is in millimetres.
        await doc.getByRole('button', { name: 'Measure', exact: true }).click();
        const box = (await doc.locator('.viewer-viewport').boundingBox())!;
        await doc.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.3);
        await doc.mouse.down();
        await doc.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.3, { steps: 5 });
        await doc.mouse.up();
        const mark = doc.locator('ul[aria-label="Annotations on this scan"] li').first();
        await mark.waitFor();
        expect(await mark.textContent()).toMatch(/Length · \d+(\.\d)? mm/);
        // The same by keyboard: focus the drawing area, Enter, move, Enter.
        await doc.getByRole('application', { name: /Draw a length measurement/ }).focus();
        await doc.getByTestId('annotation-cursor').waitFor();
        await doc.keyboard.press('Enter');
        for (let i = 0; i < 3; i++) await doc.keyboard.press('Shift+ArrowRight');
        await doc.keyboard.press('Enter');
        const marks = doc.locator('ul[aria-label="Annotations on this scan"] li');
        await expect.poll(() => marks.count()).toBe(2);
        expect(await marks.allTextContents()).toEqual(
          expect.arrayContaining([expect.stringMatching(/Length · \d+(\.\d)? mm/)]),
        );

        // A second opinion from a colleague, answered through the chat.
        await doc.getByLabel('Ask a doctor').selectOption(colleague.id);
        await doc.getByRole('button', { name: 'Ask for a second opinion' }).click();
        const col = await newPage();
        await useSession(col, colleague);
        await col.locator(`section.second-opinions li[data-scan-id="${scanId}"]`).getByRole('link').click();
        await col.getByLabel('Your answer').fill('Agree: right pneumothorax.');
        await col.getByRole('button', { name: 'Send answer' }).click();
        await doc.locator('ol.chat-list li').filter({ hasText: 'Agree: right pneumothorax.' }).waitFor();

        await doc.getByRole('textbox', { name: 'Findings', exact: true }).fill('Right pneumothorax.');
        await doc.getByLabel('Impression').fill('Pneumothorax; second opinion concurs.');
        await shot(doc, 'flow-doctor-case');
        await doc.getByRole('button', { name: 'Verify' }).click();
        await doc.getByText('Verified. The case has gone to the pharmacist.').waitFor();

        // The pharmacist: a validation message, then the prescription.
        const rx = await newPage(TABLET);
        await signIn(rx, pharmacist);
        await rx.locator(`tr[data-scan-id="${scanId}"]`).getByRole('link', { name: /Open/ }).click();
        await rx.getByLabel('Drug').fill('Paracetamol');
        await rx.getByLabel('Dose').fill('a lot');
        await rx.getByLabel('Frequency').fill('four times daily');
        await rx.getByLabel('Duration').fill('5 days');
        await rx.getByRole('button', { name: 'Complete' }).click();
        expect(await rx.getByRole('alert').first().textContent()).toMatch(/dose "a lot" must be an amount and a unit/);
        await rx.getByLabel('Dose').fill('1 g');
        await rx.getByRole('button', { name: 'Complete' }).click();
        await rx.getByText('Prescription saved').waitFor();

        // The admin signs in with a TOTP code and approves.
        const adm = await newPage();
        await signIn(adm, admin);
        const code = await generate({ secret: admin.totpSecret!, epoch: Math.floor(Date.now() / 1000) + 30 });
        await adm.getByLabel('Authenticator code').fill(code);
        await adm.getByRole('button', { name: 'Continue' }).click();
        await adm.getByRole('heading', { name: 'Dashboard' }).waitFor();
        await adm.goto(`/scans/${scanId}`);
        await adm.getByRole('heading', { name: 'Prescription', exact: true }).waitFor();
        await adm.getByRole('button', { name: 'Approve' }).click();
        await adm.getByText('Approved. The report is ready.').waitFor();

        // The patient's page shows the report live; the PDF downloads once the report job has made it.
        await card.locator('[data-status="REPORT_READY"]').waitFor({ timeout: 30_000 });
        await expect
          .poll(
            async () => {
              const download = pat.waitForEvent('download', { timeout: 3000 }).catch(() => null);
              await card.getByRole('button', { name: 'Download report (PDF)' }).click();
              return download;
            },
            { timeout: 60_000, interval: 1000 },
          )
          .not.toBeNull();
        const [download] = await Promise.all([
          pat.waitForEvent('download'),
          card.getByRole('button', { name: 'Download report (PDF)' }).click(),
        ]);
        const pdf = readFileSync(await download.path());
        expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
        await shot(pat, 'flow-patient-report');
        for (const p of [doc, pat, col, rx, adm]) expect((p as Page & { problems?: string[] }).problems).toEqual([]);
      } finally {
        await background.stop();
      }
    },
  );

  it('a new urgent case appears at the top of an open worklist live, with a notification, without a reload', async () => {
    const org = uniqueSlug();
    const [patient, doctor] = await Promise.all([createUser(t, org, 'patient'), createUser(t, org, 'doctor')]);
    const routine = await uploadAs(patient, await pngBytes(64, 64, 5), 'routine.png');
    await recordAiResult(t.ctx, { orgId: patient.orgId, scanId: routine }, aiResult('ROUTINE', 0.3));
    const page = await newPage();
    await useSession(page, doctor);
    const rows = page.locator('table.worklist tbody tr');
    await expect.poll(() => rows.count()).toBe(1);
    await expect.poll(() => page.getByTestId('live-status').getAttribute('data-status')).toBe('live');
    // Marks this document: a reload would lose it.
    await page.evaluate(() => Object.assign(window, { sameDocument: true }));

    const urgent = await uploadAs(patient, dicomBytes({ rows: 64, columns: 64 }), 'urgent.dcm');
    await recordAiResult(t.ctx, { orgId: patient.orgId, scanId: urgent }, aiResult('HIGH', 0.95));
    await expect.poll(() => rows.first().getAttribute('data-scan-id')).toBe(urgent);
    expect(await rows.first().locator('[data-priority]').textContent()).toContain('HIGH');
    await page.getByText('A new urgent case has arrived.').first().waitFor();
    const toast = page.getByTestId('toast').first();
    await toast.waitFor();
    expect(await toast.textContent()).toContain('HIGH');
    expect(await page.getByTestId('count-high').textContent()).toBe('1');
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    await shot(page, 'doctor-worklist-live-toast');
    await page.setViewportSize(TABLET);
    await shot(page, 'doctor-worklist-tablet');
    await page.setViewportSize(LAPTOP);
    await toast.getByRole('link', { name: 'Open' }).click();
    await page.getByRole('heading', { name: 'AI pre-read' }).waitFor();
    expect(new URL(page.url()).pathname).toBe(`/scans/${urgent}`);
  });

  it('two doctors discuss a case live: chat, a second opinion asked and answered, a shared measurement', async () => {
    const org = uniqueSlug();
    const [patient, first, second] = await Promise.all([
      createUser(t, org, 'patient'),
      createUser(t, org, 'doctor'),
      createUser(t, org, 'doctor'),
    ]);
    const scanId = await uploadAs(patient, dicomBytes({ rows: 64, columns: 64 }), 'case.dcm');
    await recordAiResult(t.ctx, { orgId: patient.orgId, scanId }, aiResult('HIGH', 0.8));
    const [a, b] = await Promise.all([newPage(), newPage()]);
    await useSession(a, first);
    await useSession(b, second);
    await a.goto(`/scans/${scanId}`);
    await a.getByRole('heading', { name: 'Discussion' }).waitFor();
    await expect.poll(() => a.getByTestId('live-status').getAttribute('data-status')).toBe('live');
    await expect.poll(() => b.getByTestId('live-status').getAttribute('data-status')).toBe('live');

    // The first doctor asks the second, by name, for a second opinion: it appears in the second's worklist live.
    await a.getByLabel('Ask a doctor').selectOption(second.id);
    await a.getByLabel('Question (optional)').fill('Is this a pneumothorax or a skin fold?');
    await a.getByRole('button', { name: 'Ask for a second opinion' }).click();
    await a.getByText(/They will see it in their worklist/).waitFor();
    const request = b.locator(`section.second-opinions li[data-scan-id="${scanId}"]`);
    await request.waitFor();
    expect(await request.textContent()).toContain('skin fold');
    await b.getByTestId('toast').filter({ hasText: 'asks for your second opinion' }).waitFor();
    await shot(b, 'doctor-worklist-second-opinion');

    // The second doctor opens it, chats, and answers; the first sees both without reloading.
    await request.getByRole('link', { name: /Open/ }).click();
    await b.getByRole('heading', { name: 'Discussion' }).waitFor();
    await b.getByLabel('Message').fill('Looking now.');
    await b.getByRole('button', { name: 'Send message' }).click();
    await a.locator('ol.chat-list li').filter({ hasText: 'Looking now.' }).waitFor();
    await b.getByLabel('Your answer').fill('Pneumothorax: the pleural line continues past the rib.');
    await b.getByRole('button', { name: 'Send answer' }).click();
    await a.locator('ol.chat-list li').filter({ hasText: 'pleural line continues' }).waitFor();
    await a.locator('.second-opinion .so-answered').waitFor();

    // A length drawn by the first doctor appears on the second doctor's image, with its measurement.
    await a.getByRole('button', { name: 'Measure', exact: true }).click();
    const box = (await a.locator('.viewer-viewport').boundingBox())!;
    await a.mouse.move(box.x + box.width * 0.25, box.y + box.height / 2);
    await a.mouse.down();
    await a.mouse.move(box.x + box.width * 0.75, box.y + box.height / 2, { steps: 5 });
    await a.mouse.up();
    const item = b.locator('ul[aria-label="Annotations on this scan"] li');
    await item.waitFor();
    expect(await item.textContent()).toMatch(/Length · \d+(\.\d)? (mm|px)/);
    await expect.poll(() => b.locator('[data-testid="annotation-layer"] .annotation-length').count()).toBe(1);
    await shot(a, 'doctor-case-discussion');
    await b.setViewportSize(TABLET);
    await shot(b, 'doctor-case-discussion-tablet');
    // Withdrawn by its author, it disappears for the other doctor too.
    await a.getByRole('button', { name: 'Remove this length' }).click();
    await expect.poll(() => item.count()).toBe(0);
    expect((a as Page & { problems?: string[] }).problems).toEqual([]);
    expect((b as Page & { problems?: string[] }).problems).toEqual([]);
  });

  it('after the live socket drops, the app reconnects and replays the events it missed', async () => {
    const org = uniqueSlug();
    const [patient, first, second] = await Promise.all([
      createUser(t, org, 'patient'),
      createUser(t, org, 'doctor'),
      createUser(t, org, 'doctor'),
    ]);
    const scanId = await uploadAs(patient, await pngBytes(64, 64, 3), 'case.png');
    await recordAiResult(t.ctx, { orgId: patient.orgId, scanId }, aiResult('ROUTINE', 0.4));
    const page = await newPage();
    // Test instrumentation: keep a handle on the page's WebSockets so the test can cut them.
    await page.addInitScript(() => {
      const sockets: WebSocket[] = [];
      const Native = window.WebSocket;
      window.WebSocket = class extends Native {
        constructor(url: string | URL, protocols?: string | string[]) {
          super(url, protocols);
          sockets.push(this);
        }
      };
      Object.assign(window, { testSockets: sockets });
    });
    await useSession(page, first);
    await page.goto(`/scans/${scanId}`);
    await page.getByRole('heading', { name: 'Discussion' }).waitFor();
    const status = page.getByTestId('live-status');
    await expect.poll(() => status.getAttribute('data-status')).toBe('live');
    const chatReads: string[] = [];
    page.on('request', (r) => {
      if (r.url().endsWith(`/scans/${scanId}/messages`) && r.method() === 'GET') chatReads.push(r.url());
    });

    // Cut the connection, and post while it is down.
    await page.evaluate(() => {
      for (const socket of (window as unknown as { testSockets: WebSocket[] }).testSockets) socket.close(4000, 'test');
    });
    await expect.poll(() => status.getAttribute('data-status')).not.toBe('live');
    const posted = await t.app.inject({
      method: 'POST',
      url: `/api/v1/scans/${scanId}/messages`,
      headers: bearer(second),
      payload: { text: 'Sent while you were offline.' },
    });
    expect(posted.statusCode, posted.body).toBe(201);

    // Back on line, the missed message arrives by replay (the chat is not read again), once.
    await expect.poll(() => status.getAttribute('data-status')).toBe('live');
    const missed = page.locator('ol.chat-list li').filter({ hasText: 'Sent while you were offline.' });
    await missed.waitFor();
    expect(await missed.count()).toBe(1);
    expect(chatReads).toEqual([]);
    expect(await page.evaluate(() => (window as unknown as { testSockets: WebSocket[] }).testSockets.length)).toBe(2);
  });

  it('steps through the frames of a multi-frame DICOM by key, wheel and slider', async () => {
    const patient = await createUser(t, uniqueSlug(), 'patient');
    // Three 32×32 8-bit frames: the left half bright in the first, the right half in the second, then the left again.
    const frame = (bright: 'left' | 'right') =>
      Array.from({ length: 32 * 32 }, (_, i) => (i % 32 < 16 === (bright === 'left') ? 220 : 30));
    const pixels = new Uint8Array([...frame('left'), ...frame('right'), ...frame('left')]);
    const file = part10(imageDataset({ rows: 32, columns: 32, frames: 3, bitsAllocated: 8, pixels }));
    const scanId = await uploadAs(patient, Buffer.from(file), 'cine.dcm');
    const page = await newPage();
    await useSession(page, patient);
    await page.goto(`/scans/${scanId}`);
    const canvas = page.getByTestId('scan-canvas');
    await expect.poll(() => canvas.getAttribute('data-frame')).toBe('0');
    const grey = async () => (await pixelAt(page, 8, 16))[0]!;
    await expect.poll(grey).toBeGreaterThan(200);
    const first = await grey();
    await page.locator('.viewer-viewport').focus();
    await page.keyboard.press('PageDown');
    await expect.poll(() => canvas.getAttribute('data-frame')).toBe('1');
    await expect.poll(grey).toBeLessThan(50);
    const box = (await page.locator('.viewer-viewport').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.wheel(0, 100);
    await expect.poll(() => canvas.getAttribute('data-frame')).toBe('2');
    expect(await page.getByText('Frame 3 of 3').isVisible()).toBe(true);
    await page.getByRole('slider', { name: 'Frame 3 of 3' }).fill('0');
    await expect.poll(() => canvas.getAttribute('data-frame')).toBe('0');
    await expect.poll(grey).toBe(first);
  });

  it('shows a 2048² image down-sampled first, then at full resolution on the canvas', async () => {
    const patient = await createUser(t, uniqueSlug(), 'patient');
    const scanId = await uploadAs(patient, await pngBytes(2048, 2048, 4), 'large.png');
    const page = await newPage();
    const sizes: string[] = [];
    page.on('response', (r) => {
      if (r.url().includes('/rendition')) sizes.push(r.headers()['x-image-width'] ?? '');
    });
    await useSession(page, patient);
    await page.goto(`/scans/${scanId}`);
    const canvas = page.getByTestId('scan-canvas');
    await expect.poll(() => canvas.getAttribute('data-rendered-width'), { timeout: 20_000 }).toBe('2048');
    expect(sizes.slice(0, 2)).toEqual(['1024', '2048']);
    expect(await page.locator('figcaption').textContent()).toContain('2048×2048');
    await page.getByTestId('zoom-level').waitFor();
    for (let i = 0; i < 6; i++) await page.getByRole('button', { name: 'Zoom in' }).click();
    expect(await page.getByTestId('zoom-level').textContent()).toBe('381%');
  });
});
