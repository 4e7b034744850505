/**
 * The web app (issue 7, "Measured"), in Debian's headless Chromium against the real server
 * (in-process, PGlite; the browser is its own process):
 *
 * - first load: bytes transferred (the encoded sizes of every response, from the DevTools
 *   protocol) and time to interactive, cold (a new browser context, nothing cached) and warm, for
 *   the sign-in page and for a doctor's worklist (session already stored); the app's JavaScript
 *   gzipped (target < 500 KB);
 * - a status change reaching another browser: a doctor verifies a case over HTTP; we time from
 *   sending the request to the case appearing in a pharmacist's open queue (a MutationObserver in
 *   that page notes the moment), through the live channel. BENCH_WEB_CHANGES (default 20) changes.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { chromium, type Browser, type Page } from 'playwright-core';
import { recordAiResult } from '../packages/server/src/services/scan-service.ts';
import { bearer, createUser, multipart, startTestApp } from '../packages/server/test/harness.ts';
import { pngBytes } from '../packages/server/test/fixtures.ts';
import { WEB_ROOT, ensureWebBuilt } from '../packages/web/scripts/ensure-built.ts';
import { storeSession } from '../packages/web/test/stored-session.ts';
import { percentile, round } from './stats.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHANGES = Number(process.env.BENCH_WEB_CHANGES ?? 20);
const LOADS = 5;

interface Load {
  bytes: number;
  requests: number;
  interactiveMs: number;
}

/** Loads `path` in a page, counting the bytes on the wire until `ready` resolves. */
async function load(page: Page, url: string, ready: (page: Page) => Promise<unknown>): Promise<Load> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  let bytes = 0;
  let requests = 0;
  cdp.on('Network.loadingFinished', (event: { encodedDataLength: number }) => {
    bytes += event.encodedDataLength;
    requests++;
  });
  const started = performance.now();
  await page.goto(url);
  await ready(page);
  const interactiveMs = performance.now() - started;
  await cdp.detach();
  return { bytes, requests, interactiveMs };
}

function summarise(loads: Load[]) {
  const times = loads.map((l) => l.interactiveMs).sort((a, b) => a - b);
  return {
    bytes: loads[0]!.bytes,
    requests: loads[0]!.requests,
    interactiveP50ms: round(percentile(times, 50)),
    interactiveMaxMs: round(times.at(-1)!),
  };
}

export async function run(): Promise<{ table: string; json: unknown }> {
  await ensureWebBuilt();
  const assets = `${WEB_ROOT}dist/assets/`;
  const jsGzipBytes = readdirSync(assets)
    .filter((f) => f.endsWith('.js'))
    .reduce((n, f) => n + gzipSync(readFileSync(`${assets}${f}`)).length, 0);

  const t = await startTestApp();
  let browser: Browser | null = null;
  try {
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const address = t.app.server.address();
    if (!address || typeof address === 'string') throw new Error('no server address');
    const base = `http://127.0.0.1:${address.port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });

    const org = `bench-web-${Date.now()}`;
    const [patient, doctor, pharmacist] = await Promise.all([
      createUser(t, org, 'patient'),
      createUser(t, org, 'doctor'),
      createUser(t, org, 'pharmacist'),
    ]);
    const scanIds: string[] = [];
    for (let i = 0; i < CHANGES + 5; i++) {
      const body = multipart([{ name: `b${i}.png`, bytes: await pngBytes(64, 64, i) }]);
      const r = await t.app.inject({
        method: 'POST',
        url: '/api/v1/scans',
        headers: { ...bearer(patient), ...body.headers },
        payload: body.payload,
      });
      const id = r.json<{ scans: { id: string }[] }>().scans[0]!.id;
      await recordAiResult(
        t.ctx,
        { orgId: patient.orgId, scanId: id },
        {
          model: { name: 'bench', version: '1' },
          labels: [{ id: 'finding', display: 'Finding', probability: 0.5 }],
          topFinding: null,
          uncertain: false,
          priorityScore: 0.2,
          priority: 'ROUTINE',
          disclaimer: 'Decision support, not a diagnosis.',
        },
      );
      scanIds.push(id);
    }

    // First load: the sign-in page, and a doctor's worklist with a stored session; cold and warm.
    const signInCold: Load[] = [];
    const worklistCold: Load[] = [];
    let signInWarm: Load | null = null;
    for (let i = 0; i < LOADS; i++) {
      const context = await browser.newContext({ baseURL: base });
      const page = await context.newPage();
      signInCold.push(await load(page, '/', (p) => p.getByLabel('E-mail address').waitFor()));
      if (i === 0) signInWarm = await load(page, '/', (p) => p.getByLabel('E-mail address').waitFor());
      await context.close();
      const signedIn = await browser.newContext({ baseURL: base });
      const worklistPage = await signedIn.newPage();
      await worklistPage.goto('/healthz'); // the origin, to store the session in, without loading the app
      await storeSession(worklistPage, doctor);
      worklistCold.push(await load(worklistPage, '/', (p) => p.locator('table.worklist tbody tr').first().waitFor()));
      await signedIn.close();
    }

    // A status change reaching another browser through the live channel.
    const context = await browser.newContext({ baseURL: base });
    const queue = await context.newPage();
    await queue.goto('/healthz');
    await storeSession(queue, pharmacist);
    await queue.goto('/');
    await queue.getByRole('heading', { name: 'Prescription queue' }).waitFor();
    await queue.locator('[data-testid="live-status"][data-status="live"]').waitFor();
    await queue.evaluate(() => {
      const seen = new Map<string, number>();
      Object.assign(window, { benchSeen: seen });
      new MutationObserver(() => {
        document.querySelectorAll('table.worklist tbody tr[data-scan-id]').forEach((row) => {
          const id = row.getAttribute('data-scan-id')!;
          if (!seen.has(id)) seen.set(id, Date.now());
        });
      }).observe(document.body, { childList: true, subtree: true });
    });
    const latencies: number[] = [];
    for (const [i, id] of scanIds.slice(0, CHANGES).entries()) {
      const current = await fetch(`${base}/api/v1/scans/${id}`, { headers: bearer(doctor) });
      const { version } = (await current.json()) as { version: number };
      const sent = Date.now();
      const r = await fetch(`${base}/api/v1/scans/${id}/transitions`, {
        method: 'POST',
        headers: { ...bearer(doctor), 'content-type': 'application/json' },
        body: JSON.stringify({ action: 'verify', version, findings: `Bench finding ${i}.` }),
      });
      if (r.status !== 200) throw new Error(`verify answered ${r.status}: ${await r.text()}`);
      await queue.locator(`tr[data-scan-id="${id}"]`).waitFor({ timeout: 30_000 });
      const seenAt = await queue.evaluate(
        (scanId) => (window as unknown as { benchSeen: Map<string, number> }).benchSeen.get(scanId) ?? null,
        id,
      );
      if (seenAt !== null) latencies.push(seenAt - sent);
    }
    await context.close();
    latencies.sort((a, b) => a - b);

    const json = {
      jsGzipBytes,
      signInCold: summarise(signInCold),
      signInWarm: signInWarm && summarise([signInWarm]),
      worklistCold: summarise(worklistCold),
      statusToOtherBrowser: {
        changes: latencies.length,
        p50ms: round(percentile(latencies, 50)),
        p99ms: round(percentile(latencies, 99)),
        maxms: round(latencies.at(-1) ?? Number.NaN),
      },
    };
    const kb = (n: number) => `${round(n / 1024)} KB`;
    const table = [
      `| web app (headless Chromium, in-process server on PGlite) | bytes transferred | requests | time to interactive p50 ms | max ms |`,
      '| --- | --- | --- | --- | --- |',
      `| first load, sign-in page (cold, ${LOADS}×) | ${kb(json.signInCold.bytes)} | ${json.signInCold.requests} | ${json.signInCold.interactiveP50ms} | ${json.signInCold.interactiveMaxMs} |`,
      `| reload, sign-in page (warm cache) | ${kb(json.signInWarm?.bytes ?? 0)} | ${json.signInWarm?.requests ?? 0} | ${json.signInWarm?.interactiveP50ms ?? ''} | ${json.signInWarm?.interactiveMaxMs ?? ''} |`,
      `| first load, doctor's worklist (cold, signed in, ${LOADS}×) | ${kb(json.worklistCold.bytes)} | ${json.worklistCold.requests} | ${json.worklistCold.interactiveP50ms} | ${json.worklistCold.interactiveMaxMs} |`,
      '',
      `App JavaScript, gzipped: ${kb(jsGzipBytes)} (target < 500 KB).`,
      '',
      '| status change → visible in another browser (live channel) | changes | p50 ms | p99 ms | max ms |',
      '| --- | --- | --- | --- | --- |',
      `| doctor verifies over HTTP → row in the pharmacist's open queue | ${json.statusToOtherBrowser.changes} | ${json.statusToOtherBrowser.p50ms} | ${json.statusToOtherBrowser.p99ms} | ${json.statusToOtherBrowser.maxms} |`,
    ].join('\n');
    return { table, json };
  } finally {
    await browser?.close();
    await t.close();
  }
}
