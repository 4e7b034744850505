import { describe, expect, it } from 'vitest';
import { backoffMs } from './live.ts';

describe('live channel reconnection', () => {
  it('backs off exponentially from half a second to thirty, with jitter either side', () => {
    const middle = () => 0.5;
    expect([0, 1, 2, 3, 6, 10].map((n) => backoffMs(n, middle))).toEqual([500, 1000, 2000, 4000, 30_000, 30_000]);
    expect(backoffMs(2, () => 0)).toBe(1500);
    expect(backoffMs(2, () => 1)).toBe(2500);
  });
});
