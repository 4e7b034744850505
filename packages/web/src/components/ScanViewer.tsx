/**
 * The scan viewer: the server's rendition of a frame drawn on a canvas at full resolution, with
 * window/level (drag, presets, typed values), zoom about the pointer (wheel, buttons, keys), pan,
 * frames, and the AI heatmap laid over it with on/off and opacity.
 *
 * Window/level: the server applies a window to the stored values (HU for CT, raw values otherwise)
 * and sends 8-bit grey levels. While the reader drags, the new window is previewed at once on the
 * shown grey levels (viewer-math `previewLut`); when they let go, the server's rendition under the
 * new window replaces the preview, so the final picture comes from the full bit depth.
 *
 * Keyboard, on the focused image: + and − zoom, 0 fits, arrows pan, Page Up/Down (and Home/End)
 * change frame, [ and ] narrow and widen the window, H toggles the heatmap, R resets.
 */
import {
  useEffect,
  useLayoutEffect,
  useRef,
  useState,
  type FormEvent,
  type KeyboardEvent,
  type ReactNode,
} from 'react';
import type { PointerEvent as ReactPointerEvent } from 'react';
import type { ScanSummary } from '../api/types.ts';
import { useHeatmap, useRendition } from '../lib/useRendition.ts';
import {
  FIT,
  MAX_ZOOM,
  MIN_ZOOM,
  PRESETS,
  applyLut,
  dragWindow,
  presetWindow,
  previewLut,
  sameWindow,
  screenToImage,
  transformOf,
  zoomAt,
  type Point,
  type Preset,
  type Size,
  type View,
  type WindowLevel,
} from '../lib/viewer-math.ts';

/** Images up to this size load at full resolution on their own; larger ones on request or zoom. */
const AUTO_FULL_LIMIT = 4096;
const round = (n: number) => Math.round(n * 10) / 10;

/** What an overlay (annotations) needs to place itself over the image, and the pointer mode it owns. */
export interface ViewerGeometry {
  image: Size;
  viewport: Size;
  view: View;
  /** The frame shown (0-based). */
  frame: number;
  /** Image coordinates of a pointer event on the viewport. */
  toImage: (event: { clientX: number; clientY: number }) => Point;
}

export interface ViewerTool {
  id: string;
  label: string;
}

interface Props {
  scan: ScanSummary;
  /** Extra pointer modes (annotation drawing): while one is selected, `overlay` handles the pointer. */
  tools?: ViewerTool[];
  overlay?: (geometry: ViewerGeometry, tool: string | null) => ReactNode;
}

/** 'window', 'pan', or the id of one of the extra tools. */
type Mode = string;

export function ScanViewer({ scan, tools = [], overlay }: Props) {
  const image: Size = { width: scan.width, height: scan.height };
  const [frame, setFrame] = useState(0);
  const [requested, setRequested] = useState<WindowLevel | null>(null);
  const [preview, setPreview] = useState<WindowLevel | null>(null);
  const [fullRequested, setFullRequested] = useState(false);
  const [view, setView] = useState<View>(FIT);
  const [mode, setMode] = useState<Mode>('window');
  const [typed, setTyped] = useState({ center: '', width: '' });
  const [showHeatmap, setShowHeatmap] = useState(true);
  const [opacity, setOpacity] = useState(0.5);
  const [viewport, setViewport] = useState<Size>({ width: 0, height: 0 });
  const [automatic, setAutomatic] = useState<WindowLevel | null>(null);

  const large = Math.max(scan.width, scan.height) > AUTO_FULL_LIMIT;
  const wantFull = !large || fullRequested || view.zoom > 1.5;
  const { rendition, loading, problem } = useRendition(scan.id, image, frame, requested, wantFull);
  // Fetched again when a re-run records a new analysis.
  const heatmap = useHeatmap(
    scan.id,
    scan.ai?.heatmap ? `${scan.ai.analysisVersion ?? 0}:${scan.ai.heatmap.label}` : null,
  );

  const box = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const drag = useRef<{ x: number; y: number; pan: Point; window: WindowLevel | null } | null>(null);
  // The shown rendition's grey levels, read once per rendition for previews.
  const pixels = useRef<{ of: ImageBitmap; data: ImageData; scratch: OffscreenCanvas } | null>(null);

  // The default window (file or automatic) is what relative presets are placed in.
  useEffect(() => {
    if (rendition?.window && !requested && rendition.windowSource !== 'request') setAutomatic(rendition.window);
  }, [rendition, requested]);

  useEffect(() => {
    const shown = rendition?.window;
    if (shown) setTyped({ center: String(round(shown.center)), width: String(round(shown.width)) });
  }, [rendition?.window?.center, rendition?.window?.width]);

  // The server's rendition under the window asked for ends the preview (unless a drag goes on).
  useEffect(() => {
    if (preview && !drag.current && rendition && sameWindow(rendition.asked, preview)) setPreview(null);
  }, [rendition, preview]);

  useLayoutEffect(() => {
    const element = box.current;
    if (!element) return undefined;
    const measure = () => setViewport({ width: element.clientWidth, height: element.clientHeight });
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  // Draw: the image (previewed under a new window if one is pending), then the heatmap.
  useEffect(() => {
    const element = canvas.current;
    if (!element || !rendition || viewport.width === 0) return;
    const dpr = window.devicePixelRatio || 1;
    element.width = Math.round(viewport.width * dpr);
    element.height = Math.round(viewport.height * dpr);
    const ctx = element.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, viewport.width, viewport.height);
    const { scale, origin } = transformOf(view, image, viewport);
    // Past 2 screen pixels per image pixel, show the pixels as they are (no smoothing).
    ctx.imageSmoothingEnabled = (scale * rendition.bitmap.width) / image.width < 2;
    const source = previewSource(rendition.bitmap, rendition.window, preview, pixels);
    ctx.drawImage(source, origin.x, origin.y, image.width * scale, image.height * scale);
    if (heatmap && showHeatmap) {
      ctx.imageSmoothingEnabled = true;
      ctx.globalAlpha = opacity;
      ctx.drawImage(heatmap, origin.x, origin.y, image.width * scale, image.height * scale);
      ctx.globalAlpha = 1;
    }
  }, [rendition, preview, view, viewport, heatmap, showHeatmap, opacity, image.width, image.height]);

  // Wheel: zoom about the pointer; on a multi-frame scan the wheel scrolls frames and Ctrl+wheel zooms.
  useEffect(() => {
    const element = box.current;
    if (!element) return undefined;
    const onWheel = (event: WheelEvent) => {
      event.preventDefault();
      if (scan.frames > 1 && !event.ctrlKey && !event.metaKey) {
        stepFrame(event.deltaY > 0 ? 1 : -1);
        return;
      }
      const rect = element.getBoundingClientRect();
      const anchor = { x: event.clientX - rect.left, y: event.clientY - rect.top };
      setView((v) => zoomAt(v, event.deltaY < 0 ? 1.2 : 1 / 1.2, anchor, image, sizeOf(element)));
    };
    element.addEventListener('wheel', onWheel, { passive: false });
    return () => element.removeEventListener('wheel', onWheel);
  }, [scan.frames, image.width, image.height]);

  const stepFrame = (delta: number) => setFrame((f) => Math.min(scan.frames - 1, Math.max(0, f + delta)));
  const zoomCentre = (factor: number) =>
    setView((v) => zoomAt(v, factor, { x: viewport.width / 2, y: viewport.height / 2 }, image, viewport));
  const shownWindow = preview ?? rendition?.window ?? null;
  const applyWindow = (next: WindowLevel | null) => {
    setPreview(next && rendition?.window ? roundWindow(next) : null);
    setRequested(next ? roundWindow(next) : null);
  };
  const reset = () => {
    setView(FIT);
    applyWindow(null);
  };

  const onPointerDown = (event: ReactPointerEvent<HTMLDivElement>) => {
    if (event.button !== 0 || (mode !== 'window' && mode !== 'pan')) return;
    event.currentTarget.setPointerCapture(event.pointerId);
    drag.current = { x: event.clientX, y: event.clientY, pan: view.pan, window: shownWindow };
  };
  const onPointerMove = (event: ReactPointerEvent<HTMLDivElement>) => {
    const start = drag.current;
    if (!start) return;
    const dx = event.clientX - start.x;
    const dy = event.clientY - start.y;
    if (mode === 'pan' || !start.window) {
      setView((v) => ({ ...v, pan: { x: start.pan.x + dx, y: start.pan.y + dy } }));
    } else {
      setPreview(roundWindow(dragWindow(start.window, dx, dy)));
    }
  };
  const onPointerUp = () => {
    const start = drag.current;
    drag.current = null;
    if (start && mode === 'window' && preview) setRequested(preview);
  };

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    const panStep = 40;
    const pan = (x: number, y: number) => setView((v) => ({ ...v, pan: { x: v.pan.x + x, y: v.pan.y + y } }));
    switch (event.key) {
      case '+':
      case '=':
        zoomCentre(1.25);
        break;
      case '-':
      case '_':
        zoomCentre(0.8);
        break;
      case '0':
        setView(FIT);
        break;
      case 'ArrowLeft':
        pan(panStep, 0);
        break;
      case 'ArrowRight':
        pan(-panStep, 0);
        break;
      case 'ArrowUp':
        pan(0, panStep);
        break;
      case 'ArrowDown':
        pan(0, -panStep);
        break;
      case 'PageDown':
        stepFrame(1);
        break;
      case 'PageUp':
        stepFrame(-1);
        break;
      case 'Home':
        setFrame(0);
        break;
      case 'End':
        setFrame(scan.frames - 1);
        break;
      case '[':
      case ']':
        if (shownWindow) applyWindow({ ...shownWindow, width: shownWindow.width * (event.key === '[' ? 0.8 : 1.25) });
        break;
      case 'h':
      case 'H':
        setShowHeatmap((v) => !v);
        break;
      case 'r':
      case 'R':
        reset();
        break;
      default:
        return;
    }
    event.preventDefault();
  };

  const applyTyped = (event: FormEvent) => {
    event.preventDefault();
    const center = Number(typed.center);
    const width = Number(typed.width);
    if (typed.center.trim() !== '' && Number.isFinite(center) && Number.isFinite(width) && width > 0) {
      applyWindow({ center, width });
    }
  };

  const choosePreset = (id: Preset['id']) => applyWindow(presetWindow(id, scan.modality, automatic));
  const windowNote = preview
    ? 'preview'
    : rendition?.windowSource === 'request'
      ? 'set'
      : (rendition?.windowSource ?? '');
  const alt = `${scan.modality ?? scan.format.toUpperCase()} scan${scan.bodyPart ? ` of the ${scan.bodyPart.toLowerCase()}` : ''}, frame ${frame + 1} of ${scan.frames}`;
  const geometry: ViewerGeometry = {
    image,
    viewport,
    view,
    frame,
    toImage: (event) => {
      const rect = box.current?.getBoundingClientRect() ?? { left: 0, top: 0 };
      return screenToImage({ x: event.clientX - rect.left, y: event.clientY - rect.top }, view, image, viewport);
    },
  };
  const tool = tools.some((t) => t.id === mode) ? mode : null;

  return (
    <figure className="scan-image">
      <div className="viewer-toolbar" role="toolbar" aria-label="Image tools">
        <button type="button" onClick={() => zoomCentre(0.8)} aria-label="Zoom out" disabled={view.zoom <= MIN_ZOOM}>
          −
        </button>
        <span className="viewer-zoom" aria-live="polite" data-testid="zoom-level">
          {Math.round(view.zoom * 100)}%
        </span>
        <button type="button" onClick={() => zoomCentre(1.25)} aria-label="Zoom in" disabled={view.zoom >= MAX_ZOOM}>
          +
        </button>
        <button type="button" onClick={() => setView(FIT)}>
          Fit
        </button>
        <button type="button" onClick={reset}>
          Reset
        </button>
        <span className="viewer-sep" aria-hidden="true" />
        <span role="group" aria-label="Drag mode" className="viewer-modes">
          <button type="button" aria-pressed={mode === 'window'} onClick={() => setMode('window')}>
            Window
          </button>
          <button type="button" aria-pressed={mode === 'pan'} onClick={() => setMode('pan')}>
            Pan
          </button>
          {tools.map((t) => (
            <button key={t.id} type="button" aria-pressed={mode === t.id} onClick={() => setMode(t.id)}>
              {t.label}
            </button>
          ))}
        </span>
        <span className="viewer-sep" aria-hidden="true" />
        <span role="group" aria-label="Window presets" className="viewer-presets">
          {PRESETS.map((p) => (
            <button
              key={p.id}
              type="button"
              onClick={() => choosePreset(p.id)}
              disabled={p.id !== 'auto' && scan.modality !== 'CT' && !automatic}
              title={
                p.id === 'auto'
                  ? 'The window in the file, else an automatic one'
                  : scan.modality === 'CT'
                    ? 'Standard CT window (HU)'
                    : 'Placed inside the automatic window (this image has no calibrated units)'
              }
            >
              {p.name}
            </button>
          ))}
        </span>
        {large && (
          <button type="button" aria-pressed={wantFull} onClick={() => setFullRequested((f) => !f)}>
            Full resolution
          </button>
        )}
        {heatmap && (
          <>
            <span className="viewer-sep" aria-hidden="true" />
            <button type="button" aria-pressed={showHeatmap} onClick={() => setShowHeatmap((v) => !v)}>
              AI heatmap
            </button>
            <label htmlFor={`heatmap-opacity-${scan.id}`} className="heatmap-opacity">
              Opacity
              <input
                id={`heatmap-opacity-${scan.id}`}
                type="range"
                min={0}
                max={1}
                step={0.05}
                value={opacity}
                disabled={!showHeatmap}
                onChange={(e) => setOpacity(Number(e.target.value))}
              />
            </label>
          </>
        )}
      </div>
      <div
        ref={box}
        className={`viewer-viewport mode-${tool ? 'draw' : mode}`}
        style={{ aspectRatio: `${scan.width} / ${scan.height}` }}
        tabIndex={0}
        role="group"
        aria-roledescription="image viewer"
        aria-label="Scan image. Plus and minus zoom, arrow keys pan, Page Up and Page Down change frame, square brackets change the window, H toggles the heatmap, R resets."
        onKeyDown={onKeyDown}
        onPointerDown={onPointerDown}
        onPointerMove={onPointerMove}
        onPointerUp={onPointerUp}
        onPointerCancel={onPointerUp}
        onDoubleClick={() => setView(FIT)}
      >
        <canvas
          ref={canvas}
          role="img"
          aria-label={alt}
          data-testid="scan-canvas"
          data-rendered-width={rendition?.bitmap.width ?? ''}
          data-frame={rendition?.frame ?? ''}
          data-heatmap={heatmap ? (showHeatmap ? 'on' : 'off') : 'none'}
          hidden={!rendition}
        />
        {rendition && overlay?.(geometry, tool)}
        {!rendition &&
          (problem ? (
            <div
              className="scan-image-placeholder"
              role="img"
              aria-label="Image preview not available"
              data-testid="scan-image-placeholder"
            >
              <span>{problem.unavailable ? 'Image preview not available' : 'The image could not be shown'}</span>
              <span className="small">{problem.message}</span>
            </div>
          ) : (
            <div className="scan-image-placeholder" role="status">
              Loading image…
            </div>
          ))}
        {loading && rendition && <span className="viewer-busy">Updating…</span>}
      </div>
      {rendition && problem && (
        <p className="viewer-problem" role="alert">
          {problem.message}
        </p>
      )}
      <div className="viewer-status">
        <span data-testid="window-label">
          {shownWindow ? `L ${round(shownWindow.center)} · W ${round(shownWindow.width)}` : 'Window: —'}
          {windowNote && <span className="muted"> ({windowNote})</span>}
        </span>
        <form className="wl-form" onSubmit={applyTyped} aria-label="Window level">
          <label htmlFor={`wl-center-${scan.id}`}>Level</label>
          <input
            id={`wl-center-${scan.id}`}
            inputMode="decimal"
            value={typed.center}
            onChange={(e) => setTyped({ ...typed, center: e.target.value })}
          />
          <label htmlFor={`wl-width-${scan.id}`}>Width</label>
          <input
            id={`wl-width-${scan.id}`}
            inputMode="decimal"
            value={typed.width}
            onChange={(e) => setTyped({ ...typed, width: e.target.value })}
          />
          <button type="submit">Apply</button>
        </form>
      </div>
      {scan.frames > 1 && (
        <div className="frame-control">
          <label htmlFor={`frame-${scan.id}`}>
            Frame {frame + 1} of {scan.frames}
          </label>
          <input
            id={`frame-${scan.id}`}
            type="range"
            min={0}
            max={scan.frames - 1}
            value={frame}
            onChange={(e) => setFrame(Number(e.target.value))}
          />
        </div>
      )}
      <figcaption className="small">
        {scan.width}×{scan.height}
        {rendition && !rendition.full ? ` (shown at ${rendition.bitmap.width}×${rendition.bitmap.height})` : ''}
        {scan.frames > 1 ? ` · ${scan.frames} frames` : ''} · {scan.mediaType}
        {scan.integrity === 'mismatch' && <strong className="integrity-bad"> · Integrity check failed</strong>}
        {heatmap && showHeatmap && scan.ai?.heatmap && (
          <span data-testid="heatmap-caption">
            {' '}
            · AI heatmap for{' '}
            {scan.ai.topFinding?.id === scan.ai.heatmap.label
              ? scan.ai.topFinding.display
              : scan.ai.heatmap.label.replace(/_/g, ' ')}
            : where the model looked (decision support, not a diagnosis)
          </span>
        )}
      </figcaption>
    </figure>
  );
}

const roundWindow = (w: WindowLevel): WindowLevel => ({ center: round(w.center), width: round(w.width) });

const sizeOf = (element: HTMLElement): Size => ({ width: element.clientWidth, height: element.clientHeight });

/** The bitmap as is, or its grey levels remapped to preview `wanted` (see the file comment). */
function previewSource(
  bitmap: ImageBitmap,
  rendered: WindowLevel | null,
  wanted: WindowLevel | null,
  cache: { current: { of: ImageBitmap; data: ImageData; scratch: OffscreenCanvas } | null },
): CanvasImageSource {
  if (!wanted || !rendered || sameWindow(wanted, roundWindow(rendered))) return bitmap;
  if (cache.current?.of !== bitmap) {
    const scratch = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = scratch.getContext('2d', { willReadFrequently: true });
    if (!ctx) return bitmap;
    ctx.drawImage(bitmap, 0, 0);
    cache.current = { of: bitmap, data: ctx.getImageData(0, 0, bitmap.width, bitmap.height), scratch };
  }
  const { data, scratch } = cache.current;
  const out = new ImageData(data.width, data.height);
  applyLut(data.data, previewLut(rendered, wanted), out.data);
  scratch.getContext('2d')?.putImageData(out, 0, 0);
  return scratch;
}
