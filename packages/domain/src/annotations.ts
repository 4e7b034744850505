/**
 * Shared annotations on a scan (SPEC C2): arrows, ellipses and length measurements, drawn in the
 * image's own pixel coordinates so that every viewer, at any zoom, puts them in the same place.
 * Pure rules: which shapes exist, what makes one valid, and what a length measures.
 */
import { AppError } from './errors.ts';

export const ANNOTATION_KINDS = ['arrow', 'ellipse', 'length'] as const;
export type AnnotationKind = (typeof ANNOTATION_KINDS)[number];

export interface Point {
  x: number;
  y: number;
}

/** arrow: from its tail to its head; length: between two points; ellipse: centre and radii. */
export type Geometry =
  | { kind: 'arrow'; from: Point; to: Point }
  | { kind: 'length'; from: Point; to: Point }
  | { kind: 'ellipse'; center: Point; radiusX: number; radiusY: number };

export interface ImageExtent {
  width: number;
  height: number;
  /** Row and column spacing in mm (DICOM Pixel Spacing), when the image says. */
  pixelSpacing: [number, number] | null;
}

/** A length in the unit the image allows: millimetres with a known pixel spacing, else pixels. */
export interface Measurement {
  value: number;
  unit: 'mm' | 'px';
}

export const MAX_ANNOTATION_LABEL = 500;

/** A shape as a client sends it: one object whose fields depend on its kind. */
export interface GeometryInput {
  kind: AnnotationKind;
  from?: Point | undefined;
  to?: Point | undefined;
  center?: Point | undefined;
  radiusX?: number | undefined;
  radiusY?: number | undefined;
}

/** The shape with exactly the fields its kind uses, or a 400 naming what is missing. */
export function toGeometry(input: GeometryInput): Geometry {
  const need = (names: string[]) =>
    new AppError(
      'validation_failed',
      `A${input.kind === 'arrow' || input.kind === 'ellipse' ? 'n' : ''} ${input.kind} needs ${names.join(', ')}`,
    );
  if (input.kind === 'ellipse') {
    const { center, radiusX, radiusY } = input;
    if (!center || radiusX === undefined || radiusY === undefined) throw need(['center', 'radiusX', 'radiusY']);
    return { kind: 'ellipse', center: { x: center.x, y: center.y }, radiusX, radiusY };
  }
  if (!ANNOTATION_KINDS.includes(input.kind))
    throw new AppError('validation_failed', 'kind must be arrow, ellipse or length');
  const { from, to } = input;
  if (!from || !to) throw need(['from', 'to']);
  return { kind: input.kind, from: { x: from.x, y: from.y }, to: { x: to.x, y: to.y } };
}

const finite = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

function checkPoint(name: string, point: Point, image: ImageExtent, problems: string[]): void {
  if (!finite(point.x) || !finite(point.y)) {
    problems.push(`${name} must have finite x and y`);
    return;
  }
  if (point.x < 0 || point.y < 0 || point.x > image.width || point.y > image.height) {
    problems.push(`${name} (${point.x}, ${point.y}) lies outside the ${image.width}×${image.height} image`);
  }
}

/** Every problem with a shape, for one clear 400; an empty list means it is valid. */
export function geometryProblems(geometry: Geometry, image: ImageExtent): string[] {
  const problems: string[] = [];
  if (geometry.kind === 'ellipse') {
    checkPoint('center', geometry.center, image, problems);
    for (const key of ['radiusX', 'radiusY'] as const) {
      const r = geometry[key];
      if (!finite(r) || r <= 0) problems.push(`${key} must be a positive finite number`);
    }
    if (problems.length === 0) {
      const { center, radiusX, radiusY } = geometry;
      const inside =
        center.x - radiusX >= 0 &&
        center.y - radiusY >= 0 &&
        center.x + radiusX <= image.width &&
        center.y + radiusY <= image.height;
      if (!inside) problems.push('The ellipse extends outside the image');
    }
    return problems;
  }
  checkPoint('from', geometry.from, image, problems);
  checkPoint('to', geometry.to, image, problems);
  if (problems.length === 0 && geometry.from.x === geometry.to.x && geometry.from.y === geometry.to.y) {
    problems.push(`${geometry.kind === 'arrow' ? 'An arrow' : 'A length'} needs two different points`);
  }
  return problems;
}

export function assertValidGeometry(geometry: Geometry, image: ImageExtent): void {
  const problems = geometryProblems(geometry, image);
  if (problems.length > 0) throw new AppError('validation_failed', problems.join('; '), { problems });
}

/** The length a 'length' annotation measures; null for the other kinds. */
export function measure(geometry: Geometry, image: ImageExtent): Measurement | null {
  if (geometry.kind !== 'length') return null;
  const dx = geometry.to.x - geometry.from.x;
  const dy = geometry.to.y - geometry.from.y;
  if (!image.pixelSpacing) return { value: round(Math.hypot(dx, dy)), unit: 'px' };
  // Pixel Spacing is (row spacing, column spacing): vertical first, then horizontal.
  const [rowSpacing, columnSpacing] = image.pixelSpacing;
  return { value: round(Math.hypot(dx * columnSpacing, dy * rowSpacing)), unit: 'mm' };
}

/** Pixel Spacing as DICOM writes it ("0.5\\0.5"), or null when absent or not two positive numbers. */
export function parsePixelSpacing(text: string | null | undefined): [number, number] | null {
  if (!text) return null;
  const parts = text.split('\\').map((p) => Number(p.trim()));
  if (parts.length !== 2 || !parts.every((p) => Number.isFinite(p) && p > 0)) return null;
  return [parts[0]!, parts[1]!];
}

const round = (value: number): number => Math.round(value * 100) / 100;
