import { createRequire } from 'node:module';
import dcmjsCodecs from 'dcmjs-codecs';
import { corrupt } from '../errors.ts';

/**
 * The WebAssembly decoders of dcmjs-codecs (libjpeg-turbo 8/12/16-bit, CharLS, OpenJPEG). Called
 * directly per frame rather than through its Transcoder, which lacks JPEG Extended: the native
 * decoder itself handles 12-bit JPEG and matches DCMTK's dcmdjpeg bit for bit.
 *
 * A failed decode can leave the module's heap leaked or, after a trap, unusable, so after any
 * failure the module is released and re-created (about 30 ms) before the next call.
 */
const { NativeCodecs, Context } = dcmjsCodecs;
const require = createRequire(import.meta.url);

let ready: Promise<void> | null = null;

export function initCodecs(): Promise<void> {
  ready ??= NativeCodecs.initializeAsync({
    webAssemblyModulePathOrUrl: require.resolve('dcmjs-codecs/build/dcmjs-native-codecs.wasm'),
  }).catch((err: unknown) => {
    ready = null;
    throw err;
  });
  return ready;
}

function reset(): void {
  try {
    NativeCodecs.release();
  } catch {
    // already unusable; a new instance is created on the next call
  }
  ready = null;
}

export type WasmCodec = 'jpeg' | 'jpeg-ls' | 'jpeg2000' | 'htj2k';

export interface FrameGeometry {
  rows: number;
  columns: number;
  bitsAllocated: number;
  bitsStored: number;
  samplesPerPixel: number;
  pixelRepresentation: number;
  photometricInterpretation: string;
}

const NAMES: Record<WasmCodec, string> = {
  jpeg: 'JPEG',
  'jpeg-ls': 'JPEG-LS',
  jpeg2000: 'JPEG 2000',
  htj2k: 'High-Throughput JPEG 2000',
};

/**
 * Decodes one frame to little-endian, sample-interleaved bytes, with the codestream's components
 * unconverted (colour conversion is the caller's decision). Initialises the module on first use.
 */
export async function decodeWithWasm(
  codec: WasmCodec,
  encoded: Uint8Array,
  geometry: FrameGeometry,
): Promise<Uint8Array> {
  await initCodecs();
  const context = new Context({
    width: geometry.columns,
    height: geometry.rows,
    bitsAllocated: geometry.bitsAllocated,
    bitsStored: geometry.bitsStored,
    samplesPerPixel: geometry.samplesPerPixel,
    pixelRepresentation: geometry.pixelRepresentation,
    planarConfiguration: 0,
    photometricInterpretation: geometry.photometricInterpretation,
    encodedBuffer: encoded,
  });
  let decoded: Uint8Array | undefined;
  try {
    const out =
      codec === 'jpeg'
        ? NativeCodecs.decodeJpeg(context, { convertColorspaceToRgb: false })
        : codec === 'jpeg-ls'
          ? NativeCodecs.decodeJpegLs(context, {})
          : codec === 'htj2k'
            ? NativeCodecs.decodeHtJpeg2000(context, {})
            : NativeCodecs.decodeJpeg2000(context, {});
    decoded = out.getDecodedBuffer();
  } catch (err) {
    reset();
    const detail = err instanceof Error ? err.message.replace(/^.*::/, '').trim() : '';
    throw corrupt(`The ${NAMES[codec]} pixel data could not be decoded${detail ? `: ${detail}` : ''}.`, err);
  }
  if (!decoded) {
    reset();
    throw corrupt(`The ${NAMES[codec]} pixel data decoded to nothing.`);
  }
  return decoded.slice();
}
