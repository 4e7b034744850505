/**
 * The scan viewer. The server decodes the image (DICOM and the rest) and applies the window, so
 * the browser gets an 8-bit PNG of one frame; this draws it with zoom and pan, lets the reader
 * change window/level by dragging, with presets or by typing, and steps through frames.
 *
 * Keyboard (on the focused image): + and − zoom, 0 fits, arrow keys pan, Page Up/Down change frame.
 */
import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent, type PointerEvent } from 'react';
import { ApiError, api } from '../api/client.ts';
import type { ScanSummary } from '../api/types.ts';
import { messageOf } from '../lib/format.ts';

interface WindowLevel {
  center: number;
  width: number;
}

/** Common CT windows (centre/width in HU). Other modalities use the file's window or an automatic one. */
const CT_PRESETS: { name: string; window: WindowLevel }[] = [
  { name: 'Soft tissue', window: { center: 40, width: 400 } },
  { name: 'Lung', window: { center: -600, width: 1500 } },
  { name: 'Bone', window: { center: 400, width: 1800 } },
  { name: 'Brain', window: { center: 40, width: 80 } },
];

const DISPLAY_SIZE = 1024;
const MIN_ZOOM = 1;
const MAX_ZOOM = 16;

const round = (n: number) => Math.round(n * 10) / 10;

export function ScanImage({ scan }: { scan: ScanSummary }) {
  const [frame, setFrame] = useState(0);
  const [requested, setRequested] = useState<WindowLevel | null>(null);
  const [fullResolution, setFullResolution] = useState(false);
  const [url, setUrl] = useState<string | null>(null);
  const [applied, setApplied] = useState<{ window: WindowLevel | null; source: string | null; size: string } | null>(
    null,
  );
  const [loading, setLoading] = useState(true);
  const [problem, setProblem] = useState<{ message: string; unavailable: boolean } | null>(null);
  const [zoom, setZoom] = useState(1);
  const [pan, setPan] = useState({ x: 0, y: 0 });
  const [mode, setMode] = useState<'window' | 'pan'>('window');
  const [dragWindow, setDragWindow] = useState<WindowLevel | null>(null);
  const [typed, setTyped] = useState({ center: '', width: '' });
  // The AI heatmap (Grad-CAM of the top finding) laid over the image, if the model made one.
  const heatmapInfo = scan.ai?.heatmap ?? null;
  const [heatmapUrl, setHeatmapUrl] = useState<string | null>(null);
  const [showHeatmap, setShowHeatmap] = useState(true);
  const [heatmapOpacity, setHeatmapOpacity] = useState(0.6);

  useEffect(() => {
    if (!heatmapInfo) return undefined;
    let objectUrl: string | null = null;
    let cancelled = false;
    api.heatmap(scan.id).then(
      (blob) => {
        if (cancelled) return;
        objectUrl = URL.createObjectURL(blob);
        setHeatmapUrl(objectUrl);
      },
      () => setHeatmapUrl(null),
    );
    return () => {
      cancelled = true;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [scan.id, heatmapInfo?.sha256]);
  const viewport = useRef<HTMLDivElement>(null);
  const drag = useRef<{ x: number; y: number; pan: { x: number; y: number }; window: WindowLevel | null } | null>(null);
  const large = Math.max(scan.width, scan.height) > DISPLAY_SIZE;
  // Large images come down-sampled for a quick first look, at full resolution when asked for or zoomed in.
  const full = fullResolution || zoom > 1.5;

  useEffect(() => {
    let live = true;
    let objectUrl: string | null = null;
    setLoading(true);
    api
      .rendition(scan.id, {
        frame,
        ...(full || !large ? {} : { maxSize: DISPLAY_SIZE }),
        ...(requested ? { wc: round(requested.center), ww: round(requested.width) } : {}),
      })
      .then(
        (rendition) => {
          if (!live) return;
          objectUrl = URL.createObjectURL(rendition.blob);
          setUrl(objectUrl);
          setProblem(null);
          setApplied({
            window: rendition.window,
            source: rendition.windowSource,
            size: rendition.width && rendition.height ? `${rendition.width}×${rendition.height}` : '',
          });
          if (rendition.window) {
            setTyped({ center: String(round(rendition.window.center)), width: String(round(rendition.window.width)) });
          }
        },
        (err: unknown) => {
          if (!live) return;
          // 404 from a server without renditions, 415/422 for an image it cannot draw.
          const unavailable = err instanceof ApiError && [404, 415, 501].includes(err.status);
          setProblem({ message: messageOf(err), unavailable });
        },
      )
      .finally(() => {
        if (live) setLoading(false);
      });
    return () => {
      live = false;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [scan.id, frame, requested, full, large]);

  // Wheel zoom needs a non-passive listener to keep the page from scrolling.
  useEffect(() => {
    const element = viewport.current;
    if (!element) return;
    const onWheel = (event: WheelEvent) => {
      event.preventDefault();
      setZoom((z) => clampZoom(z * (event.deltaY < 0 ? 1.2 : 1 / 1.2)));
    };
    element.addEventListener('wheel', onWheel, { passive: false });
    return () => element.removeEventListener('wheel', onWheel);
  }, []);

  const clampZoom = (z: number) => Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, z));
  const zoomBy = (factor: number) => {
    const next = clampZoom(zoom * factor);
    setZoom(next);
    if (next === 1) setPan({ x: 0, y: 0 });
  };
  const fit = () => {
    setZoom(1);
    setPan({ x: 0, y: 0 });
  };

  const onPointerDown = (event: PointerEvent<HTMLDivElement>) => {
    if (event.button !== 0) return;
    event.currentTarget.setPointerCapture(event.pointerId);
    drag.current = { x: event.clientX, y: event.clientY, pan, window: applied?.window ?? null };
  };
  const onPointerMove = (event: PointerEvent<HTMLDivElement>) => {
    const start = drag.current;
    if (!start) return;
    const dx = event.clientX - start.x;
    const dy = event.clientY - start.y;
    if (mode === 'pan' || !start.window) {
      setPan({ x: start.pan.x + dx, y: start.pan.y + dy });
    } else {
      // Right widens the window (less contrast), down raises the centre (darker), as in most viewers.
      const step = Math.max(start.window.width / 256, 0.01);
      setDragWindow({
        center: start.window.center + dy * step,
        width: Math.max(step, start.window.width + dx * step * 2),
      });
    }
  };
  const onPointerUp = () => {
    drag.current = null;
    if (dragWindow) {
      setRequested(dragWindow);
      setDragWindow(null);
    }
  };

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    const key = event.key;
    const panStep = 40;
    if (key === '+' || key === '=') zoomBy(1.25);
    else if (key === '-' || key === '_') zoomBy(0.8);
    else if (key === '0') fit();
    else if (key === 'ArrowLeft') setPan((p) => ({ ...p, x: p.x + panStep }));
    else if (key === 'ArrowRight') setPan((p) => ({ ...p, x: p.x - panStep }));
    else if (key === 'ArrowUp') setPan((p) => ({ ...p, y: p.y + panStep }));
    else if (key === 'ArrowDown') setPan((p) => ({ ...p, y: p.y - panStep }));
    else if (key === 'PageDown') setFrame((f) => Math.min(scan.frames - 1, f + 1));
    else if (key === 'PageUp') setFrame((f) => Math.max(0, f - 1));
    else return;
    event.preventDefault();
  };

  const applyTyped = (event: FormEvent) => {
    event.preventDefault();
    const center = Number(typed.center);
    const width = Number(typed.width);
    if (Number.isFinite(center) && Number.isFinite(width) && width > 0) setRequested({ center, width });
  };

  const shown = dragWindow ?? applied?.window ?? null;
  const source = dragWindow ? 'adjusting' : applied?.source === 'request' ? 'set' : (applied?.source ?? '');
  const alt = `${scan.modality ?? scan.format.toUpperCase()} scan${scan.bodyPart ? ` of the ${scan.bodyPart.toLowerCase()}` : ''}, frame ${frame + 1} of ${scan.frames}`;
  const isCt = scan.modality === 'CT';

  return (
    <figure className="scan-image">
      <div className="viewer-toolbar" role="toolbar" aria-label="Image tools">
        <button type="button" onClick={() => zoomBy(0.8)} aria-label="Zoom out" disabled={zoom <= MIN_ZOOM}>
          −
        </button>
        <span className="viewer-zoom" aria-live="polite">
          {Math.round(zoom * 100)}%
        </span>
        <button type="button" onClick={() => zoomBy(1.25)} aria-label="Zoom in" disabled={zoom >= MAX_ZOOM}>
          +
        </button>
        <button type="button" onClick={fit}>
          Fit
        </button>
        <span className="viewer-sep" aria-hidden="true" />
        <button type="button" aria-pressed={mode === 'window'} onClick={() => setMode('window')}>
          Drag: window
        </button>
        <button type="button" aria-pressed={mode === 'pan'} onClick={() => setMode('pan')}>
          Drag: pan
        </button>
        <label className="visually-hidden" htmlFor="wl-preset">
          Window preset
        </label>
        <select
          id="wl-preset"
          value=""
          onChange={(e) => {
            const value = e.target.value;
            if (value === 'auto') setRequested(null);
            const preset = CT_PRESETS.find((p) => p.name === value);
            if (preset) setRequested(preset.window);
          }}
        >
          <option value="" disabled>
            Window preset…
          </option>
          <option value="auto">Default (file or automatic)</option>
          {isCt &&
            CT_PRESETS.map((p) => (
              <option key={p.name} value={p.name}>
                {p.name} (L {p.window.center} / W {p.window.width})
              </option>
            ))}
        </select>
        {large && (
          <button type="button" aria-pressed={full} onClick={() => setFullResolution((f) => !f)}>
            Full resolution
          </button>
        )}
        {heatmapUrl && (
          <>
            <span className="viewer-sep" aria-hidden="true" />
            <button type="button" aria-pressed={showHeatmap} onClick={() => setShowHeatmap((v) => !v)}>
              AI heatmap
            </button>
            <label htmlFor="heatmap-opacity" className="heatmap-opacity">
              Opacity
              <input
                id="heatmap-opacity"
                type="range"
                min={0}
                max={1}
                step={0.05}
                value={heatmapOpacity}
                disabled={!showHeatmap}
                onChange={(e) => setHeatmapOpacity(Number(e.target.value))}
              />
            </label>
          </>
        )}
      </div>
      <div
        ref={viewport}
        className={`viewer-viewport mode-${mode}`}
        style={{ aspectRatio: `${scan.width} / ${scan.height}` }}
        tabIndex={0}
        role="group"
        aria-roledescription="image viewer"
        aria-label="Scan image. Use plus and minus to zoom, arrow keys to pan, and drag to adjust the window."
        onKeyDown={onKeyDown}
        onPointerDown={onPointerDown}
        onPointerMove={onPointerMove}
        onPointerUp={onPointerUp}
        onPointerCancel={onPointerUp}
        onDoubleClick={fit}
      >
        {url ? (
          <img
            src={url}
            alt={alt}
            data-testid="scan-image"
            draggable={false}
            style={{ transform: `translate(${pan.x}px, ${pan.y}px) scale(${zoom})` }}
          />
        ) : problem ? (
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
        )}
        {url && heatmapUrl && showHeatmap && (
          <img
            className="heatmap-overlay"
            src={heatmapUrl}
            alt=""
            data-testid="heatmap-overlay"
            draggable={false}
            style={{ opacity: heatmapOpacity, transform: `translate(${pan.x}px, ${pan.y}px) scale(${zoom})` }}
          />
        )}
        {loading && url && <span className="viewer-busy">Updating…</span>}
      </div>
      {url && problem && (
        <p className="viewer-problem" role="alert">
          {problem.message}
        </p>
      )}
      <div className="viewer-status">
        <span data-testid="window-label">
          {shown ? `L ${round(shown.center)} · W ${round(shown.width)}` : 'Window: —'}
          {source && <span className="muted"> ({source})</span>}
        </span>
        <form className="wl-form" onSubmit={applyTyped} aria-label="Window level">
          <label htmlFor="wl-center">Level</label>
          <input
            id="wl-center"
            inputMode="decimal"
            value={typed.center}
            onChange={(e) => setTyped({ ...typed, center: e.target.value })}
          />
          <label htmlFor="wl-width">Width</label>
          <input
            id="wl-width"
            inputMode="decimal"
            value={typed.width}
            onChange={(e) => setTyped({ ...typed, width: e.target.value })}
          />
          <button type="submit">Apply</button>
        </form>
      </div>
      {scan.frames > 1 && (
        <div className="frame-control">
          <label htmlFor="frame">
            Frame {frame + 1} of {scan.frames}
          </label>
          <input
            id="frame"
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
        {applied?.size && applied.size !== `${scan.width}×${scan.height}` ? ` (shown at ${applied.size})` : ''}
        {scan.frames > 1 ? ` · ${scan.frames} frames` : ''} · {scan.mediaType}
        {scan.integrity === 'mismatch' && <strong className="integrity-bad"> · Integrity check failed</strong>}
        {heatmapUrl && showHeatmap && heatmapInfo && (
          <span data-testid="heatmap-caption">
            {' '}
            · AI heatmap for{' '}
            {scan.ai?.topFinding?.id === heatmapInfo.label ? scan.ai.topFinding.display : labelName(heatmapInfo.label)}:
            where the model looked (decision support, not a diagnosis)
          </span>
        )}
      </figcaption>
    </figure>
  );
}

function labelName(id: string): string {
  return id.replace(/_/g, ' ');
}
