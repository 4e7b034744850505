import { describe, expect, it } from 'vitest';
import {
  CanonicalError,
  canonicalBytes,
  canonicalJson,
  entryLeafHash,
  parseCanonical,
  validateEntry,
} from './canonical.ts';
import type { LedgerEntry } from './canonical.ts';
import { hashLeaf } from './merkle.ts';

const base: LedgerEntry = {
  seq: 7,
  orgId: 'org_01',
  at: '2026-11-23T00:28:50.123Z',
  actorUserId: 'usr_42',
  actorRole: 'radiologist',
  action: 'scan.view',
  resourceType: 'scan',
  resourceId: 'scn_9',
  outcome: 'success',
};

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('canonicalJson', () => {
  it('sorts keys by UTF-16 code units and writes no whitespace', () => {
    expect(canonicalJson(base)).toBe(
      '{"action":"scan.view","actorRole":"radiologist","actorUserId":"usr_42","at":"2026-11-23T00:28:50.123Z",' +
        '"orgId":"org_01","outcome":"success","resourceId":"scn_9","resourceType":"scan","seq":7}',
    );
  });

  it('does not depend on the order the object was built in', () => {
    const reversed = Object.fromEntries(Object.entries(base).reverse()) as unknown as LedgerEntry;
    expect(hex(canonicalBytes(reversed))).toBe(hex(canonicalBytes(base)));
  });

  it('includes optional fields and sorts extra, with nulls and booleans', () => {
    const e: LedgerEntry = {
      ...base,
      actorUserId: null,
      actorRole: null,
      reasonHash: 'a'.repeat(64),
      extra: { z: 1, B: true, a: null, 'ip.hash': 'ff' },
    };
    expect(canonicalJson(e)).toBe(
      '{"action":"scan.view","actorRole":null,"actorUserId":null,"at":"2026-11-23T00:28:50.123Z",' +
        '"extra":{"B":true,"a":null,"ip.hash":"ff","z":1},"orgId":"org_01","outcome":"success",' +
        `"reasonHash":"${'a'.repeat(64)}","resourceId":"scn_9","resourceType":"scan","seq":7}`,
    );
  });

  it('escapes strings as RFC 8785 §3.2.2.2 does and encodes UTF-8', () => {
    const e = { ...base, resourceId: 'a"b\\c\n\u0001\u001f\u007f é 😀 \u2028' };
    const json = canonicalJson(e);
    expect(json).toContain('"resourceId":"a\\"b\\\\c\\n\\u0001\\u001f\u007f é 😀 \u2028"');
    const bytes = canonicalBytes(e);
    // é is two bytes and the emoji four in UTF-8.
    expect(new TextDecoder().decode(bytes)).toBe(json);
    expect(bytes.length).toBe(Buffer.byteLength(json, 'utf8'));
  });

  it('leaf hash is the RFC 9162 leaf hash of the canonical bytes', () => {
    expect(hex(entryLeafHash(base))).toBe(hex(hashLeaf(canonicalBytes(base))));
  });
});

describe('rejections', () => {
  const bad = (patch: Record<string, unknown>): unknown => ({ ...base, ...patch });
  const cases: [string, unknown][] = [
    ['float', bad({ seq: 1.5 })],
    ['NaN', bad({ seq: Number.NaN })],
    ['negative seq', bad({ seq: -1 })],
    ['unsafe integer', bad({ seq: 2 ** 53 })],
    ['float in extra', bad({ extra: { x: 0.1 } })],
    ['Infinity in extra', bad({ extra: { x: Number.POSITIVE_INFINITY } })],
    ['undefined optional', bad({ reasonHash: undefined })],
    ['undefined in extra', bad({ extra: { x: undefined } })],
    ['missing required', (({ action: _a, ...rest }) => rest)(base)],
    ['unknown field (personal data)', bad({ patientName: 'Jane Doe' })],
    ['nested object in extra', bad({ extra: { x: { y: 1 } } })],
    ['array in extra', bad({ extra: { x: [1] } })],
    ['array as extra', bad({ extra: [] })],
    ['object as a string field', bad({ orgId: { id: 1 } })],
    ['null where not allowed', bad({ action: null })],
    ['bigint', bad({ extra: { x: 1n } })],
    ['lone surrogate', bad({ resourceId: 'a\uD800b' })],
    ['overlong string', bad({ resourceId: 'x'.repeat(257) })],
    ['bad extra key', bad({ extra: { 'has space': 1 } })],
    ['__proto__ extra key', bad({ extra: JSON.parse('{"__proto__":1}') as unknown })],
    ['reasonHash not hex', bad({ reasonHash: 'A'.repeat(64) })],
    ['timestamp without ms', bad({ at: '2026-11-23T00:28:50Z' })],
    ['timestamp with offset', bad({ at: '2026-11-23T00:28:50.123+00:00' })],
    ['impossible date', bad({ at: '2026-02-30T00:00:00.000Z' })],
    ['not an object', 'x'],
    ['class instance', new Date()],
  ];
  it.each(cases)('%s', (_name, value) => {
    expect(() => validateEntry(value)).toThrow(CanonicalError);
  });

  it('accepts exactly the real dates (agrees with a Date round trip)', () => {
    for (const y of [1999, 2000, 2024, 2100]) {
      for (let mo = 1; mo <= 13; mo++) {
        for (let d = 0; d <= 32; d++) {
          const at = `${y}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}T23:59:59.999Z`;
          const t = Date.parse(at);
          const real = !Number.isNaN(t) && new Date(t).toISOString() === at;
          if (real) expect(validateEntry({ ...base, at }).at).toBe(at);
          else expect(() => validateEntry({ ...base, at }), at).toThrow(CanonicalError);
        }
      }
    }
    for (const at of ['2026-01-01T24:00:00.000Z', '2026-01-01T00:60:00.000Z', '2026-01-01T00:00:60.000Z']) {
      expect(() => validateEntry({ ...base, at }), at).toThrow(CanonicalError);
    }
  });

  it('accepts the largest safe integer and a null-prototype extra', () => {
    const extra = Object.assign(Object.create(null) as Record<string, number>, { n: Number.MAX_SAFE_INTEGER });
    expect(canonicalJson({ ...base, extra })).toContain(`"extra":{"n":${Number.MAX_SAFE_INTEGER}}`);
  });
});

describe('parseCanonical', () => {
  it('round-trips', () => {
    const e: LedgerEntry = { ...base, extra: { k: 'v', n: 3 } };
    expect(parseCanonical(canonicalBytes(e))).toEqual(e);
  });

  const text = canonicalJson(base);
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
  it.each([
    ['whitespace', text.replace(':', ': ')],
    ['key order', text.replace('{"action":"scan.view",', '{').replace('}', ',"action":"scan.view"}')],
    ['escaped letter', text.replace('scan.view', 'sc\\u0061n.view')],
    ['number spelling', text.replace('"seq":7', '"seq":7.0')],
    ['duplicate key', text.replace('}', ',"seq":7}')],
    ['byte-order mark', '\uFEFF' + text],
    ['not JSON', text.slice(1)],
  ])('rejects non-canonical bytes: %s', (_name, s) => {
    expect(() => parseCanonical(enc(s))).toThrow(CanonicalError);
  });

  it('rejects invalid UTF-8', () => {
    const b = enc(text);
    b[20] = 0xff;
    expect(() => parseCanonical(b)).toThrow(CanonicalError);
  });
});
