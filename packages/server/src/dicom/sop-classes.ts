/**
 * What the listener accepts at association: Verification (C-ECHO) and the image storage SOP
 * classes hospitals commonly send (PS3.4 annex B.5), in the transfer syntaxes @scanflow/imaging
 * decodes. Anything else is declined per presentation context, so a sender learns at association
 * which of its instances cannot be taken rather than after sending them.
 */
import { SUPPORTED_TRANSFER_SYNTAXES } from '@scanflow/imaging';

export const VERIFICATION_SOP_CLASS = '1.2.840.10008.1.1';
export const APPLICATION_CONTEXT = '1.2.840.10008.3.1.1.1';
const IMPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2';

export const STORAGE_SOP_CLASSES: ReadonlyMap<string, string> = new Map([
  ['1.2.840.10008.5.1.4.1.1.1', 'Computed Radiography Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.1.1', 'Digital X-Ray Image Storage - For Presentation'],
  ['1.2.840.10008.5.1.4.1.1.1.1.1', 'Digital X-Ray Image Storage - For Processing'],
  ['1.2.840.10008.5.1.4.1.1.1.2', 'Digital Mammography X-Ray Image Storage - For Presentation'],
  ['1.2.840.10008.5.1.4.1.1.1.2.1', 'Digital Mammography X-Ray Image Storage - For Processing'],
  ['1.2.840.10008.5.1.4.1.1.1.3', 'Digital Intra-Oral X-Ray Image Storage - For Presentation'],
  ['1.2.840.10008.5.1.4.1.1.2', 'CT Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.2.1', 'Enhanced CT Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.3.1', 'Ultrasound Multi-frame Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.4', 'MR Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.4.1', 'Enhanced MR Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.6.1', 'Ultrasound Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.7', 'Secondary Capture Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.7.1', 'Multi-frame Single Bit Secondary Capture Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.7.2', 'Multi-frame Grayscale Byte Secondary Capture Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.7.3', 'Multi-frame Grayscale Word Secondary Capture Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.7.4', 'Multi-frame True Color Secondary Capture Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.12.1', 'X-Ray Angiographic Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.12.2', 'X-Ray Radiofluoroscopic Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.13.1.3', 'Breast Tomosynthesis Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.20', 'Nuclear Medicine Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.77.1.4', 'VL Photographic Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.128', 'Positron Emission Tomography Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.481.1', 'RT Image Storage'],
]);

export interface ContextDecision {
  /** 0 acceptance, 3 abstract syntax not supported, 4 no proposed transfer syntax supported. */
  result: 0 | 3 | 4;
  transferSyntax: string;
}

/**
 * The answer to one proposed presentation context: the first proposed transfer syntax we decode
 * (the sender lists its preference first, typically the file's own encoding, so instances are
 * stored as they were made).
 */
export function decideContext(abstractSyntax: string, transferSyntaxes: readonly string[]): ContextDecision {
  if (abstractSyntax !== VERIFICATION_SOP_CLASS && !STORAGE_SOP_CLASSES.has(abstractSyntax)) {
    return { result: 3, transferSyntax: IMPLICIT_VR_LITTLE_ENDIAN };
  }
  const chosen = transferSyntaxes.find((ts) => SUPPORTED_TRANSFER_SYNTAXES.has(ts));
  return chosen ? { result: 0, transferSyntax: chosen } : { result: 4, transferSyntax: IMPLICIT_VR_LITTLE_ENDIAN };
}
