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
  // Csiz follows Xsiz, Ysiz, XOsiz, YOsiz, XTsiz, YTsiz, XTOsiz, YTOsiz (T.800 A.5.1).
  const components = v.getUint16(at + 40);
  return { width: xsiz - xo, height: ysiz - yo, components };
}
