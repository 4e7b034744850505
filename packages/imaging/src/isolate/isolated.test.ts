import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ImagingError } from '../errors.ts';
import { imageDataset, part10 } from '../testing/dicom-writer.ts';
import { createDecodePool, decodeImageIsolated, NotOpenedError } from './isolated.ts';

const LIMITS = { maxPixels: 1_000_000, maxDimension: 4096 };

describe('decodeImageIsolated (worker thread with a hard time limit)', () => {
  it('decodes in a worker and returns typed pixels', async () => {
    const pixels = new Uint8Array(2 * 3 * 2);
    new DataView(pixels.buffer).setUint16(2, 4095, true);
    const image = await decodeImageIsolated(part10(imageDataset({ rows: 2, columns: 3, pixels })), LIMITS, {
      timeoutMs: 20_000,
    });
    expect(image.pixels).toBeInstanceOf(Uint16Array);
    expect(Array.from(image.pixels)).toEqual([0, 4095, 0, 0, 0, 0]);
  }, 30_000);

  it('passes ImagingError back with its code and status', async () => {
    const err = await decodeImageIsolated(new Uint8Array(), LIMITS, { timeoutMs: 20_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImagingError);
    expect(err).toMatchObject({ code: 'corrupt', status: 400, message: 'The file is empty (0 bytes).' });
  }, 30_000);

  it('stops a decode that overruns its time limit', async () => {
    const err = await decodeImageIsolated(part10(imageDataset({ rows: 2, columns: 3 })), LIMITS, {
      timeoutMs: 1,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'too_large', status: 413 });
    expect((err as Error).message).toMatch(/longer than 1 ms/);
  });
});

describe('createDecodePool', () => {
  it('decodes in warm workers, in parallel, and survives a worker that overruns its deadline', async () => {
    const pool = createDecodePool({ size: 2, timeoutMs: 20_000 });
    try {
      const file = (n: number): Uint8Array =>
        part10(imageDataset({ rows: 2, columns: n, pixels: new Uint8Array(4 * n) }));
      const sizes = Array.from({ length: 24 }, (_, i) => i + 1);
      const images = await Promise.all(sizes.map((n) => pool.decode(file(n), LIMITS)));
      expect(images.map((i) => i.width)).toEqual(sizes);
      await expect(pool.decode(new Uint8Array(), LIMITS)).rejects.toMatchObject({ code: 'corrupt', status: 400 });
      const impatient = createDecodePool({ size: 1, timeoutMs: 1 });
      await expect(impatient.decode(file(1), LIMITS)).rejects.toMatchObject({ code: 'too_large' });
      await impatient.close();
      expect((await pool.decode(file(5), LIMITS)).width).toBe(5);
    } finally {
      await pool.close();
    }
  }, 60_000);
});

describe('DecodePool.decodePrepared', () => {
  const prepare = (options: unknown) => ({
    module: new URL('../testing/prepare-sum.ts', import.meta.url).href,
    name: 'sumRows',
    options,
  });

  it('runs the preparation in the worker: the pixels stay there, the result and its arrays come back', async () => {
    const pool = createDecodePool({ size: 1, timeoutMs: 20_000 });
    try {
      const pixels = new Uint8Array(2 * 3 * 2);
      new DataView(pixels.buffer).setUint16(2, 4095, true);
      new DataView(pixels.buffer).setUint16(8, 7, true);
      const bytes = part10(imageDataset({ rows: 2, columns: 3, pixels }));
      const copy = bytes.slice();
      const { image, prepared, prepareMillis } = await pool.decodePrepared<{ sums: Float64Array; scale: number }>(
        copy,
        LIMITS,
        prepare({ scale: 2 }),
        { giveBytes: true },
      );
      expect([image.width, image.height, image.pixels.length]).toEqual([3, 2, 0]);
      // Not even the pixels' buffer comes back (an empty view would carry all of it).
      expect(image.pixels.buffer.byteLength).toBe(0);
      expect(image.pixels).toBeInstanceOf(Uint16Array);
      expect(prepared.scale).toBe(2);
      expect(Array.from(prepared.sums)).toEqual([8190, 14]);
      expect(prepareMillis).toBeGreaterThanOrEqual(0);
      // Given: the buffer moved to the worker.
      expect(copy.byteLength).toBe(0);
      // Not given: the caller keeps it.
      await pool.decodePrepared(bytes, LIMITS, prepare({ scale: 1 }));
      expect(bytes.byteLength).toBeGreaterThan(0);
      // A preparation that throws fails the job as undecodable, and the worker serves the next one.
      await expect(pool.decodePrepared(bytes, LIMITS, prepare({ scale: -1 }))).rejects.toMatchObject({
        code: 'corrupt',
        status: 422,
        message: 'The image could not be prepared: negative scale',
      });
      expect((await pool.decode(bytes, LIMITS)).width).toBe(3);
    } finally {
      await pool.close();
    }
  }, 60_000);

  it('reads a file itself, opens it, and reuses its read buffer from one file to the next', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scanflow-pool-files-'));
    const pool = createDecodePool({ size: 1, timeoutMs: 20_000 });
    const open = {
      module: new URL('../testing/prepare-sum.ts', import.meta.url).href,
      name: 'unXor',
      options: { key: 0x5a },
    };
    // A 12-bit image whose words carry overlay bits above Bits Stored, as files may.
    const sealedImage = (rows: number, columns: number, value: number) => {
      const pixels = new Uint8Array(rows * columns * 2);
      for (let i = 0; i < rows * columns; i++) new DataView(pixels.buffer).setUint16(2 * i, 0xf000 | value, true);
      const file = part10(imageDataset({ rows, columns, pixels, bitsStored: 12 }));
      return Buffer.concat([Buffer.from('XOR1'), Buffer.from(file.map((b) => b ^ 0x5a))]);
    };
    try {
      // Large, then small, then large again: a buffer too small is replaced, a larger one reused.
      const sizes: [number, number, number][] = [
        [40, 30, 7],
        [3, 2, 4095],
        [50, 40, 100],
      ];
      for (const [index, [rows, columns, value]] of sizes.entries()) {
        const file = join(dir, `image-${index}`);
        writeFileSync(file, sealedImage(rows, columns, value));
        const { image, prepared, openMillis } = await pool.decodePrepared<{ sums: Float64Array }>(
          { file },
          LIMITS,
          prepare({ scale: 1 }),
          { open },
        );
        expect([image.width, image.height]).toEqual([columns, rows]);
        expect(Array.from(prepared.sums)).toEqual(new Array<number>(rows).fill(columns * value));
        expect(openMillis).toBeGreaterThanOrEqual(0);
      }
      // A missing file was never opened; one that cannot be read (a folder) is worth a retry.
      await expect(
        pool.decodePrepared({ file: join(dir, 'gone') }, LIMITS, prepare({ scale: 1 }), { open }),
      ).rejects.toBeInstanceOf(NotOpenedError);
      mkdirSync(join(dir, 'folder'));
      const unreadable = pool.decodePrepared({ file: join(dir, 'folder') }, LIMITS, prepare({ scale: 1 }), { open });
      await expect(unreadable).rejects.toThrow(/could not be read/);
      await expect(unreadable).rejects.not.toBeInstanceOf(NotOpenedError);
      // Not what `open` expects: not opened, and the worker goes on.
      writeFileSync(join(dir, 'plain'), part10(imageDataset({ rows: 2, columns: 2, pixels: new Uint8Array(8) })));
      await expect(
        pool.decodePrepared({ file: join(dir, 'plain') }, LIMITS, prepare({ scale: 1 }), { open }),
      ).rejects.toThrow('not an XOR1 file');
      expect(
        (
          await pool.decodePrepared<{ sums: Float64Array }>(
            { file: join(dir, 'image-1') },
            LIMITS,
            prepare({ scale: 2 }),
            { open },
          )
        ).prepared.sums,
      ).toEqual(new Float64Array([2 * 2 * 4095, 2 * 2 * 4095, 2 * 2 * 4095]));
    } finally {
      await pool.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
