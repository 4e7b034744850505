/**
 * A received data set becomes a DICOM Part 10 file (PS3.10 7.1) before it is stored: the 128-byte
 * preamble, 'DICM' and a File Meta Information group naming the SOP class and instance, the
 * transfer syntax it arrived in and the AE that sent it. The data set bytes are kept exactly as
 * received (a deflated one stays deflated, as Part 10 stores it), so the hash covers what was sent.
 */

/** Scanflow's implementation class UID (a UUID-derived 2.25 UID) and version name, as sent in A-ASSOCIATE-AC. */
export const IMPLEMENTATION_CLASS_UID = '2.25.279465553993485191778300621262582292351';
export const IMPLEMENTATION_VERSION_NAME = 'SCANFLOW_1';

export function wrapPart10(
  /** The data set as received, in the fragments it arrived in (copied once, here). */
  dataSet: readonly Buffer[],
  ids: { sopClassUid: string; sopInstanceUid: string; transferSyntaxUid: string; sourceAe: string },
): Buffer {
  const elements = Buffer.concat([
    metaElement(0x0001, 'OB', Buffer.from([0, 1])),
    metaElement(0x0002, 'UI', padded(ids.sopClassUid, '\0')),
    metaElement(0x0003, 'UI', padded(ids.sopInstanceUid, '\0')),
    metaElement(0x0010, 'UI', padded(ids.transferSyntaxUid, '\0')),
    metaElement(0x0012, 'UI', padded(IMPLEMENTATION_CLASS_UID, '\0')),
    metaElement(0x0013, 'SH', padded(IMPLEMENTATION_VERSION_NAME, ' ')),
    metaElement(0x0016, 'AE', padded(ids.sourceAe, ' ')),
  ]);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(elements.length, 0);
  return Buffer.concat([
    Buffer.alloc(128),
    Buffer.from('DICM', 'latin1'),
    metaElement(0x0000, 'UL', groupLength),
    elements,
    ...dataSet,
  ]);
}

/** Explicit VR Little Endian: OB has a 4-byte length after two reserved bytes, the others 2 bytes. */
function metaElement(element: number, vr: 'OB' | 'UI' | 'UL' | 'SH' | 'AE', value: Buffer): Buffer {
  const long = vr === 'OB';
  const header = Buffer.alloc(long ? 12 : 8);
  header.writeUInt16LE(0x0002, 0);
  header.writeUInt16LE(element, 2);
  header.write(vr, 4, 2, 'latin1');
  if (long) header.writeUInt32LE(value.length, 8);
  else header.writeUInt16LE(value.length, 6);
  return Buffer.concat([header, value]);
}

function padded(text: string, pad: '\0' | ' '): Buffer {
  return Buffer.from(text.length % 2 ? text + pad : text, 'latin1');
}
