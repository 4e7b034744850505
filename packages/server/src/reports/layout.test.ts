/**
 * The PDF layout, checked with poppler (pdftotext, pdftoppm, pdfinfo, pdffonts) and qpdf: the
 * same model gives the same bytes, both paper sizes, page numbers, nothing outside the page with
 * very long text, Tamil and Devanagari fonts embedded (the PNGs under test-artifacts/reports/ are
 * for a person to look at), and AES-256 encryption that needs the password.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { renderReportPdf } from './layout.ts';
import { sampleImages, sampleModel } from './sample.ts';

const work = mkdtempSync(join(tmpdir(), 'scanflow-report-'));
const ARTIFACTS = fileURLToPath(new URL('../../../../test-artifacts/reports/', import.meta.url));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function save(name: string, pdf: Buffer): string {
  const path = join(work, name);
  writeFileSync(path, pdf);
  return path;
}

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' });

/** Page count and size from pdfinfo. */
function info(path: string): { pages: number; width: number; height: number } {
  const out = run('pdfinfo', [path]);
  const size = /Page size:\s+([\d.]+) x ([\d.]+)/.exec(out)!;
  return { pages: Number(/Pages:\s+(\d+)/.exec(out)![1]), width: Number(size[1]), height: Number(size[2]) };
}

/** Saves each page as PNG under test-artifacts/reports/ for review. */
function savePngs(path: string, prefix: string): string[] {
  mkdirSync(ARTIFACTS, { recursive: true });
  const out = join(work, prefix);
  run('pdftoppm', ['-r', '80', '-png', path, out]);
  const pages = readdirSync(work).filter((f) => f.startsWith(`${prefix}-`) && f.endsWith('.png'));
  for (const page of pages) copyFileSync(join(work, page), join(ARTIFACTS, page));
  return pages;
}

const long = (sentence: string, times: number) => Array.from({ length: times }, () => sentence).join(' ');

// poppler and layout on a shared 2-core machine: allow more than the unit default of 5 s.
describe('report layout', { timeout: 30_000 }, () => {
  it('renders the same model to the same bytes, and a different approval time to different ones', async () => {
    const images = await sampleImages();
    const model = sampleModel();
    const first = await renderReportPdf(model, images);
    const second = await renderReportPdf(structuredClone(model), images);
    expect(first.subarray(0, 5).toString()).toBe('%PDF-');
    expect(second.equals(first)).toBe(true);
    const later = await renderReportPdf({ ...model, issuedAt: '2026-11-23T03:15:43.123Z' }, images);
    expect(later.equals(first)).toBe(false);
    const path = save('sample.pdf', first);
    expect(run('pdfinfo', [path])).toMatch(/CreationDate:.*2026/);
    savePngs(path, 'sample-a4');
  });

  it('lays out A4 and Letter, with page numbers and the verification code on every page', async () => {
    const images = await sampleImages();
    for (const [size, width, height] of [
      ['A4', 595, 842],
      ['LETTER', 612, 792],
    ] as const) {
      const path = save(`size-${size}.pdf`, await renderReportPdf(sampleModel({}, size), images));
      const pdf = info(path);
      expect(Math.round(pdf.width)).toBe(width);
      expect(Math.round(pdf.height)).toBe(height);
      const text = run('pdftotext', ['-layout', path, '-']);
      for (let page = 1; page <= pdf.pages; page++) expect(text).toContain(`Page ${page} of ${pdf.pages}`);
      expect(text).toContain('K7Q2M-9XW4D');
      for (const heading of ['Patient', 'Scan', 'AI pre-read', 'Doctor’s findings', 'Prescription', 'Sign-offs']) {
        expect(text).toContain(heading);
      }
      for (const label of ['Nodule', 'Consolidation', 'Pleural effusion', 'Pneumothorax', 'Cardiomegaly']) {
        expect(text).toContain(label);
      }
      expect(text).toContain('87.3 %');
      expect(text).toContain('chest-xray-phantom 1.1.0');
      expect(text).toMatch(/not a diagnosis/);
      expect(text).toContain('Amoxicillin');
      if (size === 'LETTER') savePngs(path, 'sample-letter');
    }
  });

  it('flows very long notes, many labels and many prescription items onto further pages without overflow', async () => {
    const images = await sampleImages();
    const base = sampleModel();
    const labels = Array.from({ length: 80 }, (_, i) => ({
      id: `label_${i}`,
      display: `Finding number ${i} with a rather long descriptive name that needs wrapping ${'x'.repeat(i % 7)}`,
      probability: (i % 100) / 100,
    }));
    const model = sampleModel({
      ai: { ...base.ai!, labels },
      findings: {
        findings: long('The lungs are clear with no focal consolidation, effusion or pneumothorax.', 400),
        impression: `${'Unbroken'.repeat(120)} ${long('Impression text.', 200)}`,
      },
      prescription: {
        items: Array.from({ length: 20 }, (_, i) => ({
          drug: `Medicine with a very long proprietary name number ${i}`,
          dose: '500 mg',
          route: 'oral' as const,
          frequency: 'three times daily after meals',
          duration: '7 days',
          notes: long('Take with plenty of water.', 20),
        })),
        notes: long('Review in two weeks.', 100),
      },
    });
    const path = save('long.pdf', await renderReportPdf(model, images));
    const pdf = info(path);
    expect(pdf.pages).toBeGreaterThan(5);
    // Every word's box lies inside the page (pdftotext -bbox gives each word's coordinates).
    const boxes = run('pdftotext', ['-bbox', path, '-']);
    const words = [...boxes.matchAll(/xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)"/g)];
    expect(words.length).toBeGreaterThan(5000);
    for (const [, xMin, yMin, xMax, yMax] of words) {
      expect(Number(xMin)).toBeGreaterThanOrEqual(49);
      expect(Number(yMin)).toBeGreaterThanOrEqual(49);
      expect(Number(xMax)).toBeLessThanOrEqual(pdf.width - 49);
      expect(Number(yMax)).toBeLessThanOrEqual(pdf.height - 49);
    }
    const text = run('pdftotext', [path, '-']);
    expect(text).toContain(`Page ${pdf.pages} of ${pdf.pages}`);
    expect(text).toContain('Finding number 79');
    expect(text).toMatch(/proprietary\s+name\s+number\s+19/);
    savePngs(path, 'long');
  }, 60_000);

  it('embeds fonts for Tamil and Devanagari names and shapes them', async () => {
    const path = save('scripts.pdf', await renderReportPdf(sampleModel(), { image: null, heatmap: null }));
    const fonts = run('pdffonts', [path]);
    expect(fonts).toMatch(/NotoSansTamil-Regular\s+CID TrueType\s+Identity-H\s+yes\s+yes/);
    expect(fonts).toMatch(/NotoSansDevanagari-Regular\s+CID TrueType\s+Identity-H\s+yes\s+yes/);
    // Crop the patient block at high resolution so the shaping can be checked by eye.
    mkdirSync(ARTIFACTS, { recursive: true });
    run(
      'pdftoppm',
      ['-r', '200', '-png', '-f', '1', '-l', '1', '-x', '0', '-y', '300', '-W', '1654', '-H', '300', path].concat([
        join(ARTIFACTS, 'scripts-patient'),
      ]),
    );
    expect(readdirSync(ARTIFACTS).some((f) => f.startsWith('scripts-patient'))).toBe(true);
  });

  it('encrypts with AES-256 so that the file opens only with the password', async () => {
    const model = sampleModel();
    const pdf = await renderReportPdf(
      model,
      { image: null, heatmap: null },
      {
        userPassword: '19750131',
        ownerPassword: 'owner-secret-not-the-date',
      },
    );
    const path = save('locked.pdf', pdf);
    const check = spawnSync('qpdf', ['--show-encryption', path], { encoding: 'utf8' });
    expect(check.stdout + check.stderr).toMatch(/incorrect password/i);
    const shown = run('qpdf', ['--password=19750131', '--show-encryption', path]);
    // AES-256 (AESV3), security handler revision 5: the one pdfkit writes (PDF 1.7 extension level 3).
    expect(shown).toMatch(/R = 5/);
    expect(shown).toMatch(/file encryption method: AESv3/);
    expect(shown).not.toMatch(/Incorrect password/);
    const wrong = spawnSync('pdftotext', ['-upw', '19750130', path, '-'], { encoding: 'utf8' });
    expect(wrong.status).not.toBe(0);
    const text = run('pdftotext', ['-upw', '19750131', path, '-']);
    expect(text).toContain(model.verification.code);
    expect(text).toContain('MRN-004211');
  });
});
