/**
 * The Warning header (RFC 7234 5.5, code 299 "miscellaneous persistent warning"), which DICOMweb
 * uses to say what a server ignored (PS3.18 8.3.4.1). The texts may quote the request or a file,
 * so anything but printable ASCII is replaced: a header can never be split or refused.
 */
export function warningHeader(texts: readonly string[]): string {
  return texts.map((text) => `299 scanflow "${text.replace(/[^\x20-\x7e]/g, '?').replace(/["\\]/g, "'")}"`).join(', ');
}
