/**
 * Shared annotations (SPEC C2) over the viewer: arrows, ellipses and length measurements in the
 * image's own pixel coordinates, saved with the case and kept current for everyone through the live
 * channel. Lengths show the server's measurement (mm where the pixel spacing is known, else px);
 * while drawing, the domain's own `measure` previews it.
 */
import { useEffect, useState, type KeyboardEvent, type PointerEvent } from 'react';
import { measure, type GeometryInput, type Point } from '@scanflow/domain';
import { api } from '../api/client.ts';
import { useLiveEvents } from '../api/live.ts';
import type { Annotation } from '../api/types.ts';
import { messageOf } from '../lib/format.ts';
import { imageToScreen, transformOf } from '../lib/viewer-math.ts';
import type { ViewerGeometry, ViewerTool } from './ScanViewer.tsx';
import { Alert } from './ui.tsx';

export const ANNOTATION_TOOLS: ViewerTool[] = [
  { id: 'arrow', label: 'Arrow' },
  { id: 'ellipse', label: 'Ellipse' },
  { id: 'length', label: 'Measure' },
];

type Kind = Annotation['kind'];

export interface AnnotationsState {
  items: Annotation[];
  error: string | null;
  create: (geometry: GeometryInput, frame: number, label: string) => void;
  remove: (annotation: Annotation) => void;
}

/** The case's annotations, loaded once and then changed by the live channel (and by this user). */
export function useAnnotations(scanId: string, enabled: boolean): AnnotationsState {
  const [items, setItems] = useState<Annotation[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const upsert = (annotation: Annotation) =>
    setItems((list) => {
      const others = list.filter((a) => a.id !== annotation.id);
      const current = list.find((a) => a.id === annotation.id);
      // An older version (a late echo) never replaces a newer one.
      if (current && current.version > annotation.version) return list;
      return annotation.deleted ? others : [...others, annotation];
    });

  useEffect(() => {
    if (!enabled) return undefined;
    let live = true;
    api.annotations(scanId).then(
      (r) => live && setItems(r.items),
      (err: unknown) => live && setError(messageOf(err)),
    );
    return () => {
      live = false;
    };
  }, [scanId, enabled, tick]);

  useLiveEvents((event) => {
    if (event.kind === 'annotation.changed' && event.data.scanId === scanId) upsert(event.data.annotation);
    if (event.kind === 'reset') setTick((t) => t + 1);
  });

  return {
    items,
    error,
    create: (geometry, frame, label) => {
      setError(null);
      api
        .createAnnotation(scanId, { geometry, frame, ...(label.trim() ? { label: label.trim() } : {}) })
        .then(upsert, (err: unknown) => setError(messageOf(err)));
    },
    remove: (annotation) => {
      setError(null);
      api.deleteAnnotation(annotation).then(upsert, (err: unknown) => setError(messageOf(err)));
    },
  };
}

function geometryFrom(kind: Kind, a: Point, b: Point): GeometryInput {
  if (kind === 'ellipse') {
    return {
      kind,
      center: { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 },
      radiusX: Math.abs(b.x - a.x) / 2,
      radiusY: Math.abs(b.y - a.y) / 2,
    };
  }
  return { kind, from: a, to: b };
}

const clampTo = (p: Point, size: { width: number; height: number }): Point => ({
  x: Math.min(size.width, Math.max(0, p.x)),
  y: Math.min(size.height, Math.max(0, p.y)),
});

const formatMeasurement = (m: { value: number; unit: 'mm' | 'px' } | null) =>
  m ? `${m.value.toFixed(1)} ${m.unit === 'mm' ? 'mm' : 'px (no pixel spacing)'}` : '';

/** The SVG drawn over the image; with a drawing tool selected it also takes the pointer. */
export function AnnotationOverlay({
  geometry,
  tool,
  state,
  label,
  pixelSpacing,
}: {
  geometry: ViewerGeometry;
  tool: string | null;
  state: AnnotationsState;
  label: string;
  pixelSpacing: [number, number] | null;
}) {
  const [draft, setDraft] = useState<{ kind: Kind; from: Point; to: Point } | null>(null);
  const { image, viewport, view, frame } = geometry;
  const toScreen = (p: Point) => imageToScreen(p, view, image, viewport);
  const { scale } = transformOf(view, image, viewport);

  const onPointerDown = (event: PointerEvent<SVGSVGElement>) => {
    if (!tool || event.button !== 0) return;
    event.stopPropagation();
    event.currentTarget.setPointerCapture(event.pointerId);
    const at = clampTo(geometry.toImage(event), image);
    setDraft({ kind: tool as Kind, from: at, to: at });
  };
  const onPointerMove = (event: PointerEvent<SVGSVGElement>) => {
    if (draft) setDraft({ ...draft, to: clampTo(geometry.toImage(event), image) });
  };
  const finish = () => {
    if (!draft) return;
    setDraft(null);
    // A click without a drag is not a shape.
    if (Math.hypot(draft.to.x - draft.from.x, draft.to.y - draft.from.y) * scale < 4) return;
    state.create(geometryFrom(draft.kind, draft.from, draft.to), frame, label);
  };
  const onPointerUp = finish;

  // The same drawing by keyboard: a cursor moved with the arrow keys (Shift for larger steps),
  // Enter to start the mark and Enter again to finish it, Escape to cancel.
  const [cursor, setCursor] = useState<Point | null>(null);
  const [focused, setFocused] = useState(false);
  const onKeyDown = (event: KeyboardEvent<SVGSVGElement>) => {
    if (!tool) return;
    const at = cursor ?? { x: image.width / 2, y: image.height / 2 };
    const step = Math.max(1, Math.round(Math.max(image.width, image.height) / 100)) * (event.shiftKey ? 10 : 1);
    const moves: Record<string, Point> = {
      ArrowLeft: { x: -step, y: 0 },
      ArrowRight: { x: step, y: 0 },
      ArrowUp: { x: 0, y: -step },
      ArrowDown: { x: 0, y: step },
    };
    const move = moves[event.key];
    if (move) {
      const next = clampTo({ x: at.x + move.x, y: at.y + move.y }, image);
      setCursor(next);
      if (draft) setDraft({ ...draft, to: next });
    } else if (event.key === 'Enter') {
      if (draft) finish();
      else setDraft({ kind: tool as Kind, from: at, to: at });
    } else if (event.key === 'Escape' && draft) {
      setDraft(null);
    } else {
      return; // zoom, frames and the rest stay the viewer's
    }
    event.preventDefault();
    event.stopPropagation();
  };
  const shownCursor = tool && focused ? (cursor ?? { x: image.width / 2, y: image.height / 2 }) : null;

  const shapes = state.items.filter((a) => a.frame === frame);
  const draftGeometry = draft ? geometryFrom(draft.kind, draft.from, draft.to) : null;
  const draftMeasurement =
    draft?.kind === 'length'
      ? measure(
          { kind: 'length', from: draft.from, to: draft.to },
          { width: image.width, height: image.height, pixelSpacing },
        )
      : null;

  return (
    <svg
      className={`annotation-layer${tool ? ' drawing' : ''}`}
      width={viewport.width}
      height={viewport.height}
      data-testid="annotation-layer"
      {...(tool
        ? {
            tabIndex: 0,
            role: 'application',
            'aria-label': `Draw ${tool === 'length' ? 'a length measurement' : `an ${tool}`}: arrow keys move the cursor (Shift for larger steps), Enter starts the mark and Enter again finishes it, Escape cancels`,
          }
        : { 'aria-hidden': true })}
      onKeyDown={onKeyDown}
      onFocus={() => setFocused(true)}
      onBlur={() => setFocused(false)}
      onPointerDown={onPointerDown}
      onPointerMove={onPointerMove}
      onPointerUp={onPointerUp}
      onPointerCancel={() => setDraft(null)}
    >
      {shapes.map((a) => (
        <Shape
          key={a.id}
          geometry={a.geometry}
          toScreen={toScreen}
          scale={scale}
          caption={[a.label, formatMeasurement(a.measurement)].filter(Boolean).join(' · ')}
          id={a.id}
        />
      ))}
      {shownCursor && (
        <g className="annotation-cursor" data-testid="annotation-cursor">
          <line
            x1={toScreen(shownCursor).x - 8}
            y1={toScreen(shownCursor).y}
            x2={toScreen(shownCursor).x + 8}
            y2={toScreen(shownCursor).y}
          />
          <line
            x1={toScreen(shownCursor).x}
            y1={toScreen(shownCursor).y - 8}
            x2={toScreen(shownCursor).x}
            y2={toScreen(shownCursor).y + 8}
          />
        </g>
      )}
      {draftGeometry && (
        <Shape
          geometry={draftGeometry}
          toScreen={toScreen}
          scale={scale}
          caption={formatMeasurement(draftMeasurement)}
          draft
        />
      )}
    </svg>
  );
}

function Shape({
  geometry,
  toScreen,
  scale,
  caption,
  draft = false,
  id,
}: {
  geometry: GeometryInput;
  toScreen: (p: Point) => Point;
  scale: number;
  caption: string;
  draft?: boolean;
  id?: string;
}) {
  const className = `annotation annotation-${geometry.kind}${draft ? ' draft' : ''}`;
  if (geometry.kind === 'ellipse' && geometry.center && geometry.radiusX !== undefined) {
    const c = toScreen(geometry.center);
    const rx = geometry.radiusX * scale;
    const ry = (geometry.radiusY ?? geometry.radiusX) * scale;
    return (
      <g className={className} data-annotation-id={id}>
        <ellipse cx={c.x} cy={c.y} rx={rx} ry={ry} />
        {caption && (
          <text x={c.x + rx + 4} y={c.y}>
            {caption}
          </text>
        )}
      </g>
    );
  }
  if (!geometry.from || !geometry.to) return null;
  const a = toScreen(geometry.from);
  const b = toScreen(geometry.to);
  const angle = Math.atan2(b.y - a.y, b.x - a.x);
  const head = (side: number) => ({
    x: b.x - 12 * Math.cos(angle + side * 0.45),
    y: b.y - 12 * Math.sin(angle + side * 0.45),
  });
  const [left, right] = [head(1), head(-1)];
  const tick = (p: Point) => {
    const nx = -Math.sin(angle) * 6;
    const ny = Math.cos(angle) * 6;
    return <line x1={p.x - nx} y1={p.y - ny} x2={p.x + nx} y2={p.y + ny} />;
  };
  return (
    <g className={className} data-annotation-id={id}>
      <line x1={a.x} y1={a.y} x2={b.x} y2={b.y} />
      {geometry.kind === 'arrow' ? (
        <polygon points={`${b.x},${b.y} ${left.x},${left.y} ${right.x},${right.y}`} />
      ) : (
        <>
          {tick(a)}
          {tick(b)}
        </>
      )}
      {caption && (
        <text x={(a.x + b.x) / 2 + 6} y={(a.y + b.y) / 2 - 6}>
          {caption}
        </text>
      )}
    </g>
  );
}

const KIND_NAME: Record<Kind, string> = { arrow: 'Arrow', ellipse: 'Ellipse', length: 'Length' };

/** The annotations as text (who drew what, and the measurements), with removal of one's own. */
export function AnnotationList({
  state,
  userId,
  label,
  onLabel,
  canDraw,
}: {
  state: AnnotationsState;
  userId: string;
  label: string;
  onLabel: (text: string) => void;
  canDraw: boolean;
}) {
  return (
    <section className="card annotations" aria-labelledby="annotations-title">
      <h2 id="annotations-title">Annotations</h2>
      {canDraw && (
        <p className="small muted">
          Choose Arrow, Ellipse or Measure above the image and drag on it. Everyone working on the case sees them.
        </p>
      )}
      {canDraw && (
        <div className="field">
          <label htmlFor="annotation-label">Label for the next mark (optional)</label>
          <input id="annotation-label" value={label} maxLength={500} onChange={(e) => onLabel(e.target.value)} />
        </div>
      )}
      {state.error && <Alert>{state.error}</Alert>}
      {state.items.length === 0 ? (
        <p className="muted">No annotations yet.</p>
      ) : (
        <ul className="plain-list" aria-label="Annotations on this scan">
          {state.items.map((a) => (
            <li key={a.id} data-annotation-id={a.id}>
              <strong>{KIND_NAME[a.kind]}</strong>
              {a.label ? ` “${a.label}”` : ''}
              {a.measurement ? ` · ${formatMeasurement(a.measurement)}` : ''} · {a.author.name}
              {a.frame > 0 ? ` · frame ${a.frame + 1}` : ''}{' '}
              {a.author.id === userId && (
                <button type="button" className="link-button" onClick={() => state.remove(a)}>
                  Remove<span className="visually-hidden"> this {KIND_NAME[a.kind].toLowerCase()}</span>
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
