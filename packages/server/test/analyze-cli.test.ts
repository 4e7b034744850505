/**
 * `scanflow analyze`, spawned as a user runs it: the shipped demo phantoms through the shipped
 * model, without a server or database; the probabilities must be those the reference pipeline
 * recorded in the demo set's index.json; broken inputs are reported one by one without stopping
 * the others.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { dicomBytes } from './fixtures.ts';
import { runScanflow } from './harness.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DEMO = join(ROOT, 'models/chest-xray-phantom/demo');
const work = mkdtempSync(join(tmpdir(), 'scanflow-analyze-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const analyze = (args: string[]) => runScanflow(['analyze', ...args], { LOG_LEVEL: 'silent' });

interface DemoIndex {
  items: Array<{ file: string; truth: string[]; probabilities: Record<string, number> }>;
}

describe('scanflow analyze', () => {
  it('prints one JSON line per file: the shipped demo phantoms, a DICOM, and the failures, in order', async () => {
    const index = JSON.parse(readFileSync(join(DEMO, 'index.json'), 'utf8')) as DemoIndex;
    const dicom = join(work, 'chest.dcm');
    writeFileSync(dicom, dicomBytes({ rows: 512, columns: 512 }));
    const text = join(work, 'notes.txt');
    writeFileSync(text, 'not an image');
    const files = [
      ...index.items.map((item) => join(ROOT, 'models/chest-xray-phantom', item.file)),
      dicom,
      join(work, 'missing.png'),
      text,
    ];
    const heatmaps = join(work, 'heatmaps');

    const { code, stdout, stderr } = await analyze(['--json', '--heatmaps', heatmaps, ...files]);
    expect(code, stderr).toBe(1);
    const results = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(results.map((r) => [r.file, r.ok])).toEqual(files.map((f, i) => [f, i < files.length - 2]));

    index.items.forEach((item, i) => {
      const r = results[i];
      expect(r.model.name).toBe('chest-xray-phantom');
      for (const label of r.labels) {
        expect(Math.abs(label.probability - item.probabilities[label.id]!), `${item.file} ${label.id}`).toBeLessThan(
          2e-3,
        );
      }
      // A single drawn finding is the top finding; the normal phantom reads "No finding".
      if (item.truth.length <= 1) expect(r.topFinding?.id ?? null, item.file).toBe(item.truth[0] ?? null);
      else expect(item.truth, item.file).toContain(r.topFinding.id);
      expect(r.disclaimer).toMatch(/not a diagnosis/);
      expect(existsSync(r.heatmap.heatmap) && existsSync(r.heatmap.overlay)).toBe(true);
    });
    const overlay = await sharp(results[0].heatmap.overlay).metadata();
    expect([overlay.format, overlay.channels]).toEqual(['png', 4]);
    expect(results[index.items.length]).toMatchObject({
      ok: true,
      image: { width: 512, height: 512, format: 'dicom' },
    });

    expect(results.at(-2).error).toBe('no such file');
    expect(results.at(-1).error).toMatch(/not a recognised image/);
    expect(stderr).toContain(`${join(work, 'missing.png')}: no such file`);
    expect(stderr).toContain('2 of 9 files could not be analysed');
  });

  it('prints readable JSON without --json, and refuses a missing argument or an unknown model', async () => {
    const one = await analyze([join(DEMO, '05-pneumothorax.png')]);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toContain('\n  "file": ');
    expect(JSON.parse(one.stdout).topFinding.id).toBe('pneumothorax');

    const none = await analyze([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/Usage: scanflow analyze FILE/);

    const unknown = await analyze(['--model', 'no-such-model', join(DEMO, '01-normal.png')]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no-such-model/);
  });

  it('stops a decode that overruns its deadline, reports that file and goes on to the next', async () => {
    // Decoding runs in a worker thread that is stopped at the deadline: no 2048² DICOM decodes in
    // 1 ms, so this stands in for a file that would hang a decoder.
    const big = join(work, 'big.dcm');
    writeFileSync(big, dicomBytes({ rows: 2048, columns: 2048 }));
    const slow = await analyze(['--json', '--decode-timeout-ms', '1', big, join(work, 'missing.png')]);
    expect(slow.code, slow.stderr).toBe(1);
    const results = slow.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(results).toEqual([
      { file: big, ok: false, error: 'Decoding took longer than 1 ms and was stopped.' },
      { file: join(work, 'missing.png'), ok: false, error: 'no such file' },
    ]);
    // With the default deadline the same file is read.
    const read = await analyze(['--json', big]);
    expect(read.code, read.stderr).toBe(0);
    expect(JSON.parse(read.stdout)).toMatchObject({ ok: true, image: { width: 2048, height: 2048 } });

    const bad = await analyze(['--decode-timeout-ms', 'soon', big]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--decode-timeout-ms must be a whole number/);
  });
});
