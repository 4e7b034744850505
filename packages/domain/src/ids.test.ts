import { describe, expect, it } from 'vitest';
import { isCanonicalUuid, isUuid } from './ids.ts';

describe('UUID text', () => {
  const id = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';

  it('accepts the text form, in either case only where a client may write it', () => {
    expect([isUuid(id), isCanonicalUuid(id)]).toEqual([true, true]);
    expect([isUuid(id.toUpperCase()), isCanonicalUuid(id.toUpperCase())]).toEqual([true, false]);
  });

  it('refuses anything around or instead of it', () => {
    for (const bad of ['', id.slice(1), `${id}'`, `${id}\n'; DROP TABLE scans; --`, 'x'.repeat(36)]) {
      expect([isUuid(bad), isCanonicalUuid(bad)], bad).toEqual([false, false]);
    }
  });
});
