import { describe, expect, it } from 'vitest';
import { geometryProblems, measure, parsePixelSpacing, toGeometry, type ImageExtent } from './annotations.ts';

const image: ImageExtent = { width: 100, height: 50, pixelSpacing: null };

describe('annotation geometry', () => {
  it('accepts shapes inside the image', () => {
    expect(geometryProblems({ kind: 'arrow', from: { x: 0, y: 0 }, to: { x: 100, y: 50 } }, image)).toEqual([]);
    expect(geometryProblems({ kind: 'ellipse', center: { x: 50, y: 25 }, radiusX: 10, radiusY: 25 }, image)).toEqual(
      [],
    );
  });

  it('names each problem: outside, non-finite, degenerate', () => {
    expect(geometryProblems({ kind: 'length', from: { x: -1, y: 0 }, to: { x: 5, y: 60 } }, image)).toEqual([
      'from (-1, 0) lies outside the 100×50 image',
      'to (5, 60) lies outside the 100×50 image',
    ]);
    expect(geometryProblems({ kind: 'arrow', from: { x: Number.NaN, y: 0 }, to: { x: 1, y: 1 } }, image)).toEqual([
      'from must have finite x and y',
    ]);
    expect(geometryProblems({ kind: 'length', from: { x: 3, y: 3 }, to: { x: 3, y: 3 } }, image)).toEqual([
      'A length needs two different points',
    ]);
    expect(geometryProblems({ kind: 'ellipse', center: { x: 95, y: 25 }, radiusX: 10, radiusY: 5 }, image)).toEqual([
      'The ellipse extends outside the image',
    ]);
    expect(
      geometryProblems({ kind: 'ellipse', center: { x: 50, y: 25 }, radiusX: 0, radiusY: Infinity }, image),
    ).toEqual(['radiusX must be a positive finite number', 'radiusY must be a positive finite number']);
  });
});

describe('length measurement', () => {
  const length = { kind: 'length', from: { x: 0, y: 0 }, to: { x: 30, y: 40 } } as const;

  it('is in pixels without a pixel spacing', () => {
    expect(measure(length, image)).toEqual({ value: 50, unit: 'px' });
  });

  it('is in millimetres with one, rows scaling y and columns scaling x', () => {
    expect(measure(length, { ...image, pixelSpacing: [0.5, 0.5] })).toEqual({ value: 25, unit: 'mm' });
    expect(measure(length, { ...image, pixelSpacing: [1, 0.1] })).toEqual({ value: 40.11, unit: 'mm' });
  });

  it('measures nothing for arrows and ellipses', () => {
    expect(measure({ kind: 'arrow', from: { x: 0, y: 0 }, to: { x: 1, y: 1 } }, image)).toBeNull();
  });

  it('reads DICOM Pixel Spacing text, refusing nonsense', () => {
    expect(parsePixelSpacing('0.143\\0.143')).toEqual([0.143, 0.143]);
    expect(parsePixelSpacing('0\\1')).toBeNull();
    expect(parsePixelSpacing('abc')).toBeNull();
    expect(parsePixelSpacing(null)).toBeNull();
  });
});

describe('a shape as sent', () => {
  it('keeps only the fields of its kind', () => {
    const p = { x: 1, y: 2 };
    expect(toGeometry({ kind: 'arrow', from: p, to: p, radiusX: 3 })).toEqual({ kind: 'arrow', from: p, to: p });
    expect(toGeometry({ kind: 'ellipse', center: p, radiusX: 3, radiusY: 4, to: p })).toEqual({
      kind: 'ellipse',
      center: p,
      radiusX: 3,
      radiusY: 4,
    });
  });

  it('names what is missing', () => {
    expect(() => toGeometry({ kind: 'ellipse', center: { x: 1, y: 1 } })).toThrow(
      'An ellipse needs center, radiusX, radiusY',
    );
    expect(() => toGeometry({ kind: 'length', from: { x: 1, y: 1 } })).toThrow('A length needs from, to');
  });
});
