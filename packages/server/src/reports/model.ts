/**
 * The report model: everything a report shows, as plain data. The layout (layout.ts) turns it into
 * PDF bytes, FHIR (fhir.ts) and DICOM SR (dicom-sr.ts) into their standards; none of them reads a
 * database. The model is stored (encrypted) with the report so the same PDF can be rendered again.
 */
import { createHash } from 'node:crypto';
import type { Prescription } from '@scanflow/domain';

export type PageSize = 'A4' | 'LETTER';

export interface ReportLabel {
  id: string;
  display: string;
  probability: number;
}

export interface ReportAi {
  model: { name: string; version: string };
  labels: ReportLabel[];
  topFinding: ReportLabel | null;
  uncertain: boolean;
  priority: 'HIGH' | 'ROUTINE';
  priorityScore: number;
  disclaimer: string;
  /** The label the heatmap explains, when there is one. */
  heatmapLabel: string | null;
}

export interface SignOff {
  /** The lifecycle action: record_ai, verify, complete, approve, send_back, upload. */
  action: string;
  role: string;
  /** The person's name; null for the system (the AI pre-read). */
  name: string | null;
  at: string;
}

export interface ReportModel {
  reportId: string;
  version: number;
  pageSize: PageSize;
  /** The approval time (ISO 8601): the PDF's creation date and document ID derive from it. */
  issuedAt: string;
  organisation: { name: string };
  patient: {
    name: string | null;
    /** The hospital's patient ID (MRN) when known, else Scanflow's patient record id. */
    identifier: string;
    birthDate: string | null;
    sex: string | null;
  };
  scan: {
    id: string;
    modality: string | null;
    bodyPart: string | null;
    /** DICOM Study Date (YYYYMMDD) when the scan came as DICOM. */
    acquiredOn: string | null;
    receivedAt: string;
    source: string;
    sha256: string;
    /** Non-personal DICOM identifiers (study, series, SOP instance and class UIDs). */
    dicom: {
      studyInstanceUid?: string;
      seriesInstanceUid?: string;
      sopInstanceUid?: string;
      sopClassUid?: string;
    } | null;
  };
  ai: ReportAi | null;
  findings: { findings: string; impression: string | null } | null;
  prescription: Prescription | null;
  signOffs: SignOff[];
  verification: {
    code: string;
    /** Where anyone can check the code (the QR code points here). */
    url: string;
    /** SHA-256 of the model's canonical JSON: a PDF cannot print its own file hash, so the page
     * shows this fingerprint, and the file's hash is what the log records under the code. */
    contentSha256: string;
  };
}

/** The images drawn into the report, kept as blobs beside it. */
export interface ReportImages {
  /** An 8-bit display rendition of the scan (PNG). */
  image: Buffer | null;
  /** The AI heatmap overlay (RGBA PNG, any size: it is stretched over the image). */
  heatmap: Buffer | null;
}

/** JSON with object keys sorted, so equal models give equal bytes. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The fingerprint printed on the report: the model's content with the fingerprint left blank. */
export function contentFingerprint(model: ReportModel): string {
  const blank = { ...model, verification: { ...model.verification, contentSha256: '' } };
  return createHash('sha256').update(canonicalJson(blank)).digest('hex');
}
