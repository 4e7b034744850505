/**
 * The viewer's arithmetic, free of the DOM: windows (centre/width), presets, the look-up table that
 * previews a new window on an 8-bit rendition while the server renders the real one, and the view
 * transform (fit, zoom about a point, pan) between image pixels and screen pixels.
 */

export interface WindowLevel {
  center: number;
  width: number;
}

export interface Preset {
  id: 'lung' | 'bone' | 'soft' | 'auto';
  name: string;
}

export const PRESETS: readonly Preset[] = [
  { id: 'auto', name: 'Auto' },
  { id: 'lung', name: 'Lung' },
  { id: 'soft', name: 'Soft tissue' },
  { id: 'bone', name: 'Bone' },
];

/** Standard CT windows in Hounsfield units. */
const CT_WINDOWS: Record<Exclude<Preset['id'], 'auto'>, WindowLevel> = {
  lung: { center: -600, width: 1500 },
  soft: { center: 40, width: 400 },
  bone: { center: 400, width: 1800 },
};

/**
 * Projection radiographs (CR, DX, plain PNG/JPEG) have no calibrated units, so their presets are
 * placed inside the automatic window (the image's robust value range): lung detail in the darker
 * part, bone in the brighter part, soft tissue across the middle (MONOCHROME2: brighter = denser).
 */
const RELATIVE_WINDOWS: Record<Exclude<Preset['id'], 'auto'>, { at: number; span: number }> = {
  lung: { at: 0.35, span: 0.6 },
  soft: { at: 0.5, span: 0.8 },
  bone: { at: 0.72, span: 0.5 },
};

/**
 * The window a preset asks for, or null for "auto" (the file's window or the server's automatic one).
 * CT gets the HU windows; anything else a window relative to `automatic`, if known.
 */
export function presetWindow(
  id: Preset['id'],
  modality: string | null,
  automatic: WindowLevel | null,
): WindowLevel | null {
  if (id === 'auto') return null;
  if (modality === 'CT') return CT_WINDOWS[id];
  if (!automatic) return null;
  const low = automatic.center - automatic.width / 2;
  const { at, span } = RELATIVE_WINDOWS[id];
  return { center: low + at * automatic.width, width: span * automatic.width };
}

/**
 * Dragging changes the window as in most PACS viewers: right widens it (less contrast), down raises
 * the level (darker). One screen pixel moves it by 1/256 of the window it started from.
 */
export function dragWindow(start: WindowLevel, dx: number, dy: number): WindowLevel {
  const step = Math.max(start.width / 256, 0.01);
  return { center: start.center + dy * step, width: Math.max(step, start.width + dx * step * 2) };
}

/**
 * A 256-entry table that turns an 8-bit rendition made with window `rendered` into an approximation
 * of the same image under window `wanted` (DICOM PS3.3 C.11.2.1.2 linear window, applied to the
 * values the 8-bit grey levels stand for). Outside `rendered` the values were clipped, so the
 * preview is exact only inside it; the server's rendition under `wanted` replaces it.
 */
export function previewLut(rendered: WindowLevel, wanted: WindowLevel): Uint8ClampedArray {
  const lut = new Uint8ClampedArray(256);
  const fromLow = rendered.center - rendered.width / 2;
  const toLow = wanted.center - wanted.width / 2;
  for (let grey = 0; grey < 256; grey++) {
    const value = fromLow + (grey / 255) * rendered.width;
    lut[grey] = Math.round(((value - toLow) / wanted.width) * 255);
  }
  return lut;
}

/** Applies a grey-level table to RGBA pixels (each colour channel; alpha untouched). */
export function applyLut(source: Uint8ClampedArray, lut: Uint8ClampedArray, target: Uint8ClampedArray): void {
  for (let i = 0; i < source.length; i += 4) {
    target[i] = lut[source[i]!]!;
    target[i + 1] = lut[source[i + 1]!]!;
    target[i + 2] = lut[source[i + 2]!]!;
    target[i + 3] = source[i + 3]!;
  }
}

export const sameWindow = (a: WindowLevel | null, b: WindowLevel | null) =>
  a === b || (a !== null && b !== null && Math.abs(a.center - b.center) < 1e-6 && Math.abs(a.width - b.width) < 1e-6);

// ---------------------------------------------------------------- view transform

export const MIN_ZOOM = 1;
export const MAX_ZOOM = 32;

export interface Size {
  width: number;
  height: number;
}

export interface Point {
  x: number;
  y: number;
}

/** Zoom 1 fits the whole image in the viewport; pan is in screen pixels from the centred position. */
export interface View {
  zoom: number;
  pan: Point;
}

export const FIT: View = { zoom: 1, pan: { x: 0, y: 0 } };

export const clampZoom = (zoom: number) => Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, zoom));

/** Screen pixels per image pixel, and where image pixel (0,0) lands on the screen. */
export function transformOf(view: View, image: Size, viewport: Size): { scale: number; origin: Point } {
  const fit = Math.min(viewport.width / image.width, viewport.height / image.height);
  const scale = fit * view.zoom;
  return {
    scale,
    origin: {
      x: (viewport.width - image.width * scale) / 2 + view.pan.x,
      y: (viewport.height - image.height * scale) / 2 + view.pan.y,
    },
  };
}

export function screenToImage(point: Point, view: View, image: Size, viewport: Size): Point {
  const { scale, origin } = transformOf(view, image, viewport);
  return { x: (point.x - origin.x) / scale, y: (point.y - origin.y) / scale };
}

export function imageToScreen(point: Point, view: View, image: Size, viewport: Size): Point {
  const { scale, origin } = transformOf(view, image, viewport);
  return { x: origin.x + point.x * scale, y: origin.y + point.y * scale };
}

/** Zooms by `factor` keeping the image point under `anchor` (a screen point) where it is. */
export function zoomAt(view: View, factor: number, anchor: Point, image: Size, viewport: Size): View {
  const zoom = clampZoom(view.zoom * factor);
  if (zoom === MIN_ZOOM) return FIT;
  const under = screenToImage(anchor, view, image, viewport);
  const next: View = { zoom, pan: view.pan };
  const moved = imageToScreen(under, next, image, viewport);
  return { zoom, pan: { x: view.pan.x + anchor.x - moved.x, y: view.pan.y + anchor.y - moved.y } };
}
