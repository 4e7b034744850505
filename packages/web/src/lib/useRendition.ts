/**
 * Loads what the viewer draws: the server's 8-bit rendition of one frame under one window (decoded
 * into an ImageBitmap), and the AI heatmap. Large images come progressively: a quick down-sampled
 * rendition the first time, then the full-size one.
 */
import { useEffect, useRef, useState } from 'react';
import { ApiError, api } from '../api/client.ts';
import { messageOf } from './format.ts';
import type { WindowLevel } from './viewer-math.ts';

/** Longest side of the quick first look at a large image. */
export const PREVIEW_SIZE = 1024;

export interface LoadedRendition {
  bitmap: ImageBitmap;
  /** The window the server applied (null for images without one, e.g. colour). */
  window: WindowLevel | null;
  windowSource: string | null;
  frame: number;
  /** The window asked for (null: the default), which `window` answers. */
  asked: WindowLevel | null;
  /** True when this is the image's full resolution. */
  full: boolean;
}

export interface RenditionState {
  rendition: LoadedRendition | null;
  loading: boolean;
  problem: { message: string; unavailable: boolean } | null;
}

async function load(scanId: string, frame: number, window: WindowLevel | null, maxSize?: number) {
  const r = await api.rendition(scanId, {
    frame,
    ...(maxSize ? { maxSize } : {}),
    ...(window ? { wc: Math.round(window.center * 10) / 10, ww: Math.round(window.width * 10) / 10 } : {}),
  });
  return { bitmap: await createImageBitmap(r.blob), window: r.window, windowSource: r.windowSource };
}

export function useRendition(
  scanId: string,
  size: { width: number; height: number },
  frame: number,
  window: WindowLevel | null,
  wantFull: boolean,
): RenditionState {
  const [state, setState] = useState<RenditionState>({ rendition: null, loading: true, problem: null });
  const large = Math.max(size.width, size.height) > PREVIEW_SIZE;
  // The quick look is worth it for a new frame; a new window is previewed on the shown image instead.
  const shownFrame = useRef<number | null>(null);

  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    const show = (r: Awaited<ReturnType<typeof load>>, full: boolean) => {
      if (!live) return r.bitmap.close();
      setState((s) => {
        // The earlier bitmap is no longer drawn.
        if (s.rendition && s.rendition.bitmap !== r.bitmap) s.rendition.bitmap.close();
        return { rendition: { ...r, frame, asked: window, full }, loading: !full && wantFull, problem: null };
      });
      shownFrame.current = frame;
    };
    void (async () => {
      try {
        if (large && (!wantFull || shownFrame.current !== frame))
          show(await load(scanId, frame, window, PREVIEW_SIZE), false);
        if (!large || wantFull) show(await load(scanId, frame, window), true);
        if (live) setState((s) => ({ ...s, loading: false }));
      } catch (err) {
        if (!live) return;
        // 404 from a server without renditions, 415/422 for an image it cannot draw.
        const unavailable = err instanceof ApiError && [404, 415, 501].includes(err.status);
        setState((s) => ({ ...s, loading: false, problem: { message: messageOf(err), unavailable } }));
      }
    })();
    return () => {
      live = false;
    };
  }, [scanId, frame, window?.center, window?.width, wantFull, large]);

  return state;
}

/**
 * The AI heatmap (an RGBA PNG) as a bitmap, or null when the scan has none or it cannot be read.
 * `analysis` names the analysis it belongs to (null: none), so that a new one is fetched anew.
 */
export function useHeatmap(scanId: string, analysis: string | null): ImageBitmap | null {
  const [bitmap, setBitmap] = useState<ImageBitmap | null>(null);
  useEffect(() => {
    if (!analysis) return undefined;
    let live = true;
    api
      .heatmap(scanId)
      .then((blob) => createImageBitmap(blob))
      .then(
        (b) => (live ? setBitmap(b) : b.close()),
        () => live && setBitmap(null),
      );
    return () => {
      live = false;
    };
  }, [scanId, analysis]);
  return bitmap;
}
