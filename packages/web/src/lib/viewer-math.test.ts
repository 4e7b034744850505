import { describe, expect, it } from 'vitest';
import {
  FIT,
  applyLut,
  dragWindow,
  imageToScreen,
  presetWindow,
  previewLut,
  screenToImage,
  transformOf,
  zoomAt,
} from './viewer-math.ts';

describe('windows', () => {
  it('gives CT presets in HU and relative ones inside the automatic window elsewhere', () => {
    expect(presetWindow('lung', 'CT', null)).toEqual({ center: -600, width: 1500 });
    expect(presetWindow('auto', 'CT', { center: 1, width: 2 })).toBeNull();
    const automatic = { center: 500, width: 1000 }; // values 0..1000
    expect(presetWindow('lung', 'CR', automatic)).toEqual({ center: 350, width: 600 });
    expect(presetWindow('bone', null, automatic)).toEqual({ center: 720, width: 500 });
    expect(presetWindow('soft', 'DX', null)).toBeNull();
  });

  it('widens the window to the right and raises the level downwards', () => {
    expect(dragWindow({ center: 1000, width: 2560 }, 64, 32)).toEqual({ center: 1320, width: 3840 });
    // Never narrower than one step.
    expect(dragWindow({ center: 0, width: 256 }, -1000, 0).width).toBe(1);
  });

  it('previews a narrower window as more contrast on the 8-bit grey levels', () => {
    const same = previewLut({ center: 100, width: 200 }, { center: 100, width: 200 });
    expect([same[0], same[128], same[255]]).toEqual([0, 128, 255]);
    const narrower = previewLut({ center: 100, width: 200 }, { center: 100, width: 100 });
    expect(narrower[0]).toBe(0); // below the new window: black
    expect(narrower[255]).toBe(255); // above: white
    expect(narrower[128]).toBe(129); // the middle stays in the middle
    expect(narrower[96]! < 128 - 32).toBe(true); // and contrast doubles around it
    const pixels = new Uint8ClampedArray([0, 128, 255, 200]);
    const out = new Uint8ClampedArray(4);
    applyLut(pixels, narrower, out);
    expect([...out]).toEqual([0, 129, 255, 200]);
  });
});

describe('view transform', () => {
  const image = { width: 200, height: 100 };
  const viewport = { width: 400, height: 400 };

  it('fits the image and maps screen to image and back', () => {
    const t = transformOf(FIT, image, viewport);
    expect(t.scale).toBe(2);
    expect(t.origin).toEqual({ x: 0, y: 100 });
    expect(screenToImage({ x: 200, y: 200 }, FIT, image, viewport)).toEqual({ x: 100, y: 50 });
    expect(imageToScreen({ x: 100, y: 50 }, FIT, image, viewport)).toEqual({ x: 200, y: 200 });
  });

  it('zooms about the pointer, keeping the point under it still', () => {
    const anchor = { x: 100, y: 150 };
    const before = screenToImage(anchor, FIT, image, viewport);
    const zoomed = zoomAt(FIT, 2, anchor, image, viewport);
    expect(zoomed.zoom).toBe(2);
    const after = screenToImage(anchor, zoomed, image, viewport);
    expect(after.x).toBeCloseTo(before.x);
    expect(after.y).toBeCloseTo(before.y);
    // Zooming back out to 1 recentres.
    expect(zoomAt(zoomed, 0.1, anchor, image, viewport)).toEqual(FIT);
  });
});
