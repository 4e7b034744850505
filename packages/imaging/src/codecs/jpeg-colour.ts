/**
 * Which colour space a lossy JPEG's three components are in. The codestream, not the DICOM header,
 * is the better witness (PS3.5 8.2.1 expects YBR_FULL_422 but writers often say RGB either way):
 * 1. an Adobe APP14 segment's transform flag (0: RGB, 1 or 2: YCbCr);
 * 2. a JFIF APP0 segment, which implies YCbCr (JFIF 1.02);
 * 3. component identifiers 'R','G','B' (RGB) or 1,2,3 (the JFIF convention for Y, Cb, Cr);
 * 4. otherwise the DICOM Photometric Interpretation decides (`unknown`).
 * This matches DCMTK on files with markers and gets GDCM's mislabelled RGB files right as well.
 */
export function jpegColourSpace(bytes: Uint8Array): 'rgb' | 'ycbcr' | 'unknown' {
  let pos = 2;
  let jfif = false;
  while (pos + 4 <= bytes.length && bytes[pos] === 0xff) {
    const marker = bytes[pos + 1] ?? 0;
    const length = ((bytes[pos + 2] ?? 0) << 8) | (bytes[pos + 3] ?? 0);
    const data = pos + 4;
    if (marker === 0xff) {
      pos += 1; // fill byte
      continue;
    }
    if (marker === 0xee && length >= 14 && ascii(bytes, data, 5) === 'Adobe') {
      const transform = bytes[data + 11];
      if (transform === 0) return 'rgb';
      if (transform === 1 || transform === 2) return 'ycbcr';
    }
    if (marker === 0xe0 && ascii(bytes, data, 4) === 'JFIF') jfif = true;
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      if (jfif) return 'ycbcr';
      const ids = [bytes[data + 6], bytes[data + 9], bytes[data + 12]]; // T.81 B.2.2: P, Y, X, Nf, then (C, H/V, Tq) per component
      if (ids[0] === 0x52 && ids[1] === 0x47 && ids[2] === 0x42) return 'rgb';
      if (ids[0] === 1 && ids[1] === 2 && ids[2] === 3) return 'ycbcr';
      return 'unknown';
    }
    if (marker === 0xda || length < 2) break;
    pos += 2 + length;
  }
  return jfif ? 'ycbcr' : 'unknown';
}

function ascii(bytes: Uint8Array, at: number, n: number): string {
  return String.fromCharCode(...bytes.subarray(at, at + n));
}
