import { describe, expect, it } from 'vitest';
import { formatBytes, messageOf, percent, waitingSince } from './format.ts';
import { match } from './router.ts';

describe('display helpers', () => {
  it('says how long something has waited', () => {
    const now = Date.parse('2026-01-02T12:00:00Z');
    expect(waitingSince('2026-01-02T11:59:40Z', now)).toBe('just now');
    expect(waitingSince('2026-01-02T11:45:00Z', now)).toBe('15 min');
    expect(waitingSince('2026-01-02T09:55:00Z', now)).toBe('2 h 5 min');
    expect(waitingSince('2025-12-30T10:00:00Z', now)).toBe('3 d 2 h');
    expect(waitingSince(null, now)).toBe('—');
  });

  it('formats sizes and probabilities', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(2048)).toBe('2.0 KB');
    expect(formatBytes(5 * 1024 * 1024)).toBe('5.0 MB');
    expect(percent(0.912)).toBe('91.2%');
    expect(percent(1)).toBe('100%');
  });

  it('shows an error message, or a plain one for anything else thrown', () => {
    expect(messageOf(new Error('The scan changed'))).toBe('The scan changed');
    expect(messageOf('nope')).toMatch(/went wrong/);
  });
});

describe('route matching', () => {
  it('matches parameters and nothing else', () => {
    expect(match('/scans/:id', '/scans/abc')).toEqual({ id: 'abc' });
    expect(match('/scans/:id', '/scans/a%20b')).toEqual({ id: 'a b' });
    expect(match('/scans/:id', '/scans')).toBeNull();
    expect(match('/scans/:id', '/scans/abc/image')).toBeNull();
    expect(match('/admin/users', '/admin/users')).toEqual({});
  });
});
