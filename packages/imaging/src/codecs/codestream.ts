import { corrupt } from '../errors.ts';
import { readJpegHeader } from '../raster/headers.ts';

/**
 * Reads the frame size a compressed codestream declares, so a frame whose codestream disagrees
 * with the DICOM header (a classic decompression bomb) is refused before any decoder runs.
 */
export interface CodestreamSize {
  width: number;
  height: number;
  components: number;
}

export function codestreamSize(kind: 'jpeg' | 'jpeg-ls' | 'jpeg2000' | 'htj2k', bytes: Uint8Array): CodestreamSize {
  // HTJ2K (ITU-T T.814) keeps the T.800 main header, SIZ included.
  if (kind === 'jpeg2000' || kind === 'htj2k') return j2kSize(bytes);
  // JPEG-LS (ITU-T T.87) uses the T.81 marker syntax with SOF55 (FFF7).
  const h = readJpegHeader(bytes);
  return { width: h.width, height: h.height, components: h.samplesPerPixel };
}

/** A tile index (Isot) is 16 bits and 65535 is reserved, so no codestream has more tiles (T.800 A.4.2). */
const MAX_TILES = 65_535;

/**
 * The tile grid must follow T.800 A.5.1: tiles of at least one sample, the grid's origin at or
 * before the image's, and the first tile reaching into the image. A grid that breaks these can
 * declare a tiny image placed millions of samples from the origin, which the HTJ2K decoder then
 * walks tile by empty tile without end; checking here refuses it before any decoder sees it.
 */
function checkTileGrid(
  xsiz: number,
  ysiz: number,
  xo: number,
  yo: number,
  xt: number,
  yt: number,
  xto: number,
  yto: number,
): void {
  if (xt === 0 || yt === 0 || xto > xo || yto > yo || xt + xto <= xo || yt + yto <= yo) {
    throw corrupt('The JPEG 2000 frame declares an impossible tile grid.');
  }
  const tiles = Math.ceil((xsiz - xto) / xt) * Math.ceil((ysiz - yto) / yt);
  if (tiles > MAX_TILES)
    throw corrupt(`The JPEG 2000 frame declares ${tiles} tiles; a codestream has at most ${MAX_TILES}.`);
}

/** JPEG 2000 codestream (ITU-T T.800 A.5.1): SOC FF4F then SIZ FF51; a JP2 box wrapper is skipped. */
function j2kSize(bytes: Uint8Array): CodestreamSize {
  let at = 0;
  if (bytes[0] !== 0xff || bytes[1] !== 0x4f) {
    // Some writers embed a JP2 file (T.800 annex I); find the codestream's SOC+SIZ.
    const limit = Math.min(bytes.length - 4, 4096);
    at = -1;
    for (let i = 0; i < limit; i++) {
      if (bytes[i] === 0xff && bytes[i + 1] === 0x4f && bytes[i + 2] === 0xff && bytes[i + 3] === 0x51) {
        at = i;
        break;
      }
    }
    if (at < 0) throw corrupt('The JPEG 2000 frame has no codestream header (SOC/SIZ).');
  }
  if (bytes.length < at + 4 + 2 + 2 + 32 + 2 || bytes[at + 2] !== 0xff || bytes[at + 3] !== 0x51) {
    throw corrupt('The JPEG 2000 frame is truncated or has no SIZ marker.');
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const xsiz = v.getUint32(at + 8);
  const ysiz = v.getUint32(at + 12);
  const xo = v.getUint32(at + 16);
  const yo = v.getUint32(at + 20);
  if (xsiz <= xo || ysiz <= yo) throw corrupt('The JPEG 2000 frame declares an empty image.');
  checkTileGrid(
    xsiz,
    ysiz,
    xo,
    yo,
    v.getUint32(at + 24),
    v.getUint32(at + 28),
    v.getUint32(at + 32),
    v.getUint32(at + 36),
  );
  // Csiz follows Xsiz, Ysiz, XOsiz, YOsiz, XTsiz, YTsiz, XTOsiz, YTOsiz (T.800 A.5.1).
  const components = v.getUint16(at + 40);
  return { width: xsiz - xo, height: ysiz - yo, components };
}
