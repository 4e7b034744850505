/**
 * Decode time per transfer syntax and size (issue 3, "Measured"): 512² 16-bit, 2048² 16-bit and a
 * 20-frame 512² series, each transcoded with DCMTK (and JPEG 2000 / HTJ2K with dcmjs-codecs), decoded
 * in-process by @scanflow/imaging, plus the 256-px thumbnail rendition. Mean of 3 runs after a
 * warm-up. BENCH_ONLY=decode npm run bench runs it alone.
 */
import { benchDecode, decodeTable } from '@scanflow/imaging/bench';

export async function run(): Promise<{ table: string; json: unknown }> {
  const rows = await benchDecode(Number(process.env.BENCH_DECODE_RUNS ?? 3));
  return { table: decodeTable(rows), json: rows };
}
