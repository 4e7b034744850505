import { describe, expect, it } from 'vitest';
import { compareWorklist, maxWaitCutoff, queueRank, type WorklistOrderKey } from './worklist.ts';

const now = new Date('2026-11-23T12:00:00Z');
const minutesAgo = (m: number) => new Date(now.getTime() - m * 60_000);
const key = (id: string, priority: 'HIGH' | 'ROUTINE', waitedMinutes: number): WorklistOrderKey => ({
  id,
  priority,
  waitingSince: minutesAgo(waitedMinutes),
});

describe('worklist order with a maximum-wait ceiling', () => {
  const cutoff = maxWaitCutoff(now, 60);

  it('puts HIGH first, and a ROUTINE case that waited past the ceiling with them', () => {
    expect(queueRank(key('a', 'HIGH', 1), cutoff)).toBe(0);
    expect(queueRank(key('b', 'ROUTINE', 59), cutoff)).toBe(1);
    expect(queueRank(key('c', 'ROUTINE', 61), cutoff)).toBe(0);
    expect(queueRank({ priority: null, waitingSince: minutesAgo(90) }, cutoff)).toBe(0);
  });

  it('orders the HIGH group and the rest each by waiting time, longest first, then by id', () => {
    const cases = [
      key('routine-new', 'ROUTINE', 5),
      key('high-new', 'HIGH', 2),
      key('routine-overdue', 'ROUTINE', 120),
      key('high-old', 'HIGH', 30),
      key('routine-old', 'ROUTINE', 45),
      key('routine-old-b', 'ROUTINE', 45),
    ];
    expect(cases.sort((a, b) => compareWorklist(a, b, cutoff)).map((c) => c.id)).toEqual([
      'routine-overdue',
      'high-old',
      'high-new',
      'routine-old',
      'routine-old-b',
      'routine-new',
    ]);
  });

  it('keeps the plain order (HIGH, then waiting time) when the ceiling is far away', () => {
    const far = maxWaitCutoff(now, 10_000);
    const cases = [key('r', 'ROUTINE', 120), key('h', 'HIGH', 1)];
    expect(cases.sort((a, b) => compareWorklist(a, b, far)).map((c) => c.id)).toEqual(['h', 'r']);
  });
});
