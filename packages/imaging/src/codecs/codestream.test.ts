import { describe, expect, it } from 'vitest';
import { ImagingError } from '../errors.ts';
import { codestreamSize } from './codestream.ts';

interface Siz {
  xsiz: number;
  ysiz: number;
  xo?: number;
  yo?: number;
  xt: number;
  yt: number;
  xto?: number;
  yto?: number;
}

/** SOC, then a SIZ segment for one 16-bit component (T.800 A.5.1), as an encoder writes it. */
function mainHeader(s: Siz): Uint8Array {
  const bytes = new Uint8Array(4 + 2 + 38 + 3);
  const v = new DataView(bytes.buffer);
  v.setUint16(0, 0xff4f);
  v.setUint16(2, 0xff51);
  v.setUint16(4, 38 + 3); // Lsiz
  v.setUint16(6, 0x4000); // Rsiz: HTJ2K capabilities
  const fields = [s.xsiz, s.ysiz, s.xo ?? 0, s.yo ?? 0, s.xt, s.yt, s.xto ?? 0, s.yto ?? 0];
  fields.forEach((value, i) => v.setUint32(8 + 4 * i, value));
  v.setUint16(40, 1); // Csiz
  bytes.set([15, 1, 1], 42); // Ssiz (16-bit unsigned), XRsiz, YRsiz
  return bytes;
}

const refusal = (s: Siz): string => {
  try {
    codestreamSize('htj2k', mainHeader(s));
  } catch (error) {
    expect(error).toBeInstanceOf(ImagingError);
    return (error as Error).message;
  }
  throw new Error('accepted');
};

describe('codestreamSize for JPEG 2000', () => {
  it('reads the image size from SIZ, wherever the image sits on the reference grid', () => {
    expect(codestreamSize('htj2k', mainHeader({ xsiz: 20, ysiz: 24, xt: 20, yt: 24 }))).toEqual({
      width: 20,
      height: 24,
      components: 1,
    });
    const far = 0x46_0000;
    const placed = { xsiz: far + 20, ysiz: far + 24, xo: far, yo: far, xt: 64, yt: 64, xto: far, yto: far };
    expect(codestreamSize('jpeg2000', mainHeader(placed))).toMatchObject({ width: 20, height: 24 });
  });

  it('refuses a tile grid that T.800 forbids, before a decoder walks it', () => {
    // The fuzzer's find: a 20-sample-wide image 4.5 million samples from a tile grid that starts
    // at 0 with 20-sample tiles. The HTJ2K decoder looped over the empty tiles without end.
    const far = 0x46_0000;
    expect(refusal({ xsiz: far + 20, ysiz: 24, xo: far, xt: 20, yt: 24 })).toMatch(/impossible tile grid/);
    expect(refusal({ xsiz: 20, ysiz: 24, xt: 0, yt: 24 })).toMatch(/impossible tile grid/);
    expect(refusal({ xsiz: 20, ysiz: 24, xo: 4, xto: 5, xt: 20, yt: 24 })).toMatch(/impossible tile grid/);
    expect(refusal({ xsiz: 4096, ysiz: 4096, xt: 8, yt: 8 })).toMatch(/262144 tiles; a codestream has at most 65535/);
  });
});
