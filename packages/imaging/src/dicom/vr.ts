/**
 * Value Representations, PS3.5 section 6.2 (table 6.2-1), and the explicit-VR element header
 * layouts of PS3.5 section 7.1.2: these VRs carry two reserved bytes and a 32-bit length, all
 * others a 16-bit length.
 */
export const VALID_VRS: ReadonlySet<string> = new Set([
  'AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FD', 'FL', 'IS', 'LO', 'LT', 'OB', 'OD', 'OF', 'OL', 'OV', 'OW',
  'PN', 'SH', 'SL', 'SQ', 'SS', 'ST', 'SV', 'TM', 'UC', 'UI', 'UL', 'UN', 'UR', 'US', 'UT', 'UV',
]); // prettier-ignore

export const LONG_LENGTH_VRS: ReadonlySet<string> = new Set([
  'OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV',
]); // prettier-ignore

/** True when the two bytes at `offset` spell a VR of PS3.5 table 6.2-1. */
export function isVrAt(bytes: Uint8Array, offset: number): boolean {
  const a = bytes[offset];
  const b = bytes[offset + 1];
  if (a === undefined || b === undefined) return false;
  return VALID_VRS.has(String.fromCharCode(a, b));
}
