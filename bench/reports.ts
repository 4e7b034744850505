/**
 * `BENCH_ONLY=reports npm run bench`: report generation and delivery on this machine.
 *
 *   PDF generation     p50/p99 of rendering a report with a 1024² display image and an AI
 *                      heatmap (the worker's render step; target p50 < 150 ms), plain and encrypted
 *   delivery           messages/s through the SMTP mailer (STARTTLS, pooled) to a local
 *                      smtp-server, each carrying a protected report PDF
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { renderReportPdf } from '../packages/server/src/reports/layout.ts';
import { sampleImages, sampleModel } from '../packages/server/src/reports/sample.ts';
import { createMailer } from '../packages/server/src/services/mailer.ts';
import { selfSignedCertificate } from '../packages/server/test/tls.ts';
import { percentile, round } from './stats.ts';

const RENDERS = Number(process.env.BENCH_REPORT_RENDERS ?? 60);
const MESSAGES = Number(process.env.BENCH_REPORT_MESSAGES ?? 200);

async function timeRenders(render: () => Promise<Buffer>): Promise<{ p50: number; p99: number; bytes: number }> {
  let bytes = 0;
  for (let i = 0; i < 3; i++) bytes = (await render()).length; // warm-up: fonts parsed, code compiled
  const times: number[] = [];
  for (let i = 0; i < RENDERS; i++) {
    const start = performance.now();
    await render();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { p50: round(percentile(times, 50)), p99: round(percentile(times, 99)), bytes };
}

async function deliveryThroughput(pdf: Buffer): Promise<{ messages: number; perSecond: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'scanflow-bench-smtp-'));
  try {
    const tls = selfSignedCertificate(dir);
    let received = 0;
    const server = new SMTPServer({
      key: tls.key,
      cert: tls.cert,
      authOptional: true,
      disabledCommands: ['AUTH'],
      logger: false,
      onData(stream, _session, callback) {
        stream.on('data', () => undefined);
        stream.on('end', () => {
          received++;
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.server.address() as AddressInfo).port;
    const mailer = createMailer({
      smtpUrl: `smtp://127.0.0.1:${port}`,
      smtpRequireTls: true,
      smtpFrom: 'Scanflow <bench@scanflow.invalid>',
      smtpCaFile: tls.certPath,
    })!;
    const start = performance.now();
    await Promise.all(
      Array.from({ length: MESSAGES }, (_, i) =>
        mailer.send({
          to: `patient-${i}@example.test`,
          subject: 'Your imaging report is ready',
          text: 'A report is attached.',
          attachments: [{ filename: 'report.pdf', content: pdf, contentType: 'application/pdf' }],
        }),
      ),
    );
    const seconds = (performance.now() - start) / 1000;
    mailer.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (received !== MESSAGES) throw new Error(`the server received ${received} of ${MESSAGES} messages`);
    return { messages: MESSAGES, perSecond: round(MESSAGES / seconds) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<{ table: string; json: unknown }> {
  const images = await sampleImages(1024);
  const model = sampleModel();
  const plain = await timeRenders(() => renderReportPdf(model, images));
  const encrypted = await timeRenders(() =>
    renderReportPdf(model, images, { userPassword: '19750131', ownerPassword: 'bench-owner-password' }),
  );
  const protectedPdf = await renderReportPdf(model, images, {
    userPassword: '19750131',
    ownerPassword: 'x'.repeat(16),
  });
  const delivery = await deliveryThroughput(protectedPdf);
  const table = [
    '| report (1024² image + heatmap, 2 pages) | p50 ms | p99 ms | PDF KiB |',
    '| --- | --- | --- | --- |',
    `| PDF generation | ${plain.p50} | ${plain.p99} | ${round(plain.bytes / 1024)} |`,
    `| PDF generation, AES-256 (for e-mail) | ${encrypted.p50} | ${encrypted.p99} | ${round(encrypted.bytes / 1024)} |`,
    '',
    '| delivery to a local smtp-server (STARTTLS, pool of 3) | messages | messages/s |',
    '| --- | --- | --- |',
    `| protected report PDF attached | ${delivery.messages} | ${delivery.perSecond} |`,
  ].join('\n');
  return { table, json: { renders: RENDERS, plain, encrypted, delivery } };
}
