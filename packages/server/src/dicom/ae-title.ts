/**
 * PS3.5 6.2, value representation AE: 1 to 16 characters of the default repertoire, no backslash
 * and no control characters; leading and trailing spaces are padding, not part of the title.
 * The same rule as the CHECK on dicom_peers.ae_title (migration 0005).
 */
const AE_TITLE = /^[\x21-\x5b\x5d-\x7e]([\x20-\x5b\x5d-\x7e]{0,14}[\x21-\x5b\x5d-\x7e])?$/;

export function isValidAeTitle(title: string): boolean {
  return AE_TITLE.test(title);
}
