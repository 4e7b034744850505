/**
 * The AI result as a DICOM Comprehensive SR (SPEC R3; PS3.3 A.35.3, SOP Class
 * 1.2.840.10008.5.1.4.1.1.88.33), in the source scan's study, referencing the source instance in
 * the Current Requested Procedure Evidence Sequence and in an IMAGE content item. The tree:
 *
 *   CONTAINER  (LN 18748-4) "Diagnostic Imaging Report", SEPARATE
 *     CONTAINS TEXT  (DCM 111001) Algorithm Name      = model name
 *     CONTAINS TEXT  (DCM 111003) Algorithm Version   = model version
 *     CONTAINS IMAGE (DCM 121112) Source of Measurement → the source instance
 *     CONTAINS NUM   (99SCANFLOW <label>) "<label> probability" in UCUM "1", one per label
 *     CONTAINS CODE  (DCM 121071) Finding             = the top finding (or "No finding")
 *     CONTAINS TEXT  (99SCANFLOW priority) Priority   = HIGH / ROUTINE
 *     CONTAINS TEXT  (99SCANFLOW uncertain) Uncertain = Yes / No
 *     CONTAINS TEXT  (DCM 121106) Comment             = the decision-support disclaimer
 *
 * VerificationFlag is UNVERIFIED: the content is a model's output, not a clinician's attestation.
 * Label codes use a private coding scheme designator (PS3.16 8.2: "99" prefix). Pure: no I/O.
 */
import { createHash } from 'node:crypto';
import dcmjs from 'dcmjs';
import type { ReportAi } from './model.ts';

export const COMPREHENSIVE_SR = '1.2.840.10008.5.1.4.1.1.88.33';
const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
/** Scanflow's implementation class UID (a UUID-derived 2.25 root, PS3.5 B.2). */
const IMPLEMENTATION_CLASS_UID = '2.25.110819316815906526633466718092335617847';

export interface SrInput {
  /** Identifies this analysis: the SR's UIDs derive from it, so the same result gives the same SR. */
  analysisKey: string;
  ai: ReportAi;
  patient: { name: string | null; identifier: string; birthDate: string | null; sex: string | null };
  source: {
    studyInstanceUid: string;
    seriesInstanceUid: string;
    sopInstanceUid: string;
    sopClassUid: string;
    studyDate: string | null;
    modality: string | null;
  };
  /** When the AI result was recorded (ISO 8601). */
  recordedAt: string;
  organisation: string;
}

/** A UID under 2.25 (PS3.5 B.2) derived from a name: at most 44 characters. */
export function derivedUid(name: string): string {
  const hex = createHash('sha256').update(name).digest('hex').slice(0, 32);
  return `2.25.${BigInt(`0x${hex}`).toString()}`;
}

const code = (value: string, scheme: string, meaning: string) => [
  { CodeValue: value, CodingSchemeDesignator: scheme, CodeMeaning: meaning.slice(0, 64) },
];

const text = (concept: ReturnType<typeof code>, value: string) => ({
  RelationshipType: 'CONTAINS',
  ValueType: 'TEXT',
  ConceptNameCodeSequence: concept,
  TextValue: value,
});

/** DICOM DA (YYYYMMDD) and TM (HHMMSS) from an ISO 8601 time, in UTC. */
function daTm(iso: string): { date: string; time: string } {
  const t = new Date(iso).toISOString();
  return { date: t.slice(0, 10).replace(/-/g, ''), time: t.slice(11, 19).replace(/:/g, '') };
}

export function buildAiStructuredReport(input: SrInput): Buffer {
  const { ai, source } = input;
  const srSeries = derivedUid(`${input.analysisKey}:sr-series`);
  const srInstance = derivedUid(`${input.analysisKey}:sr-instance`);
  const content = daTm(input.recordedAt);
  const dob = input.patient.birthDate?.replace(/-/g, '') ?? '';
  const sex = input.patient.sex?.toUpperCase() ?? '';
  const dataset = {
    SpecificCharacterSet: 'ISO_IR 192',
    SOPClassUID: COMPREHENSIVE_SR,
    SOPInstanceUID: srInstance,
    StudyInstanceUID: source.studyInstanceUid,
    SeriesInstanceUID: srSeries,
    Modality: 'SR',
    SeriesNumber: '900',
    InstanceNumber: '1',
    PatientName: input.patient.name ?? '',
    PatientID: input.patient.identifier.slice(0, 64),
    PatientBirthDate: /^\d{8}$/.test(dob) ? dob : '',
    PatientSex: ['M', 'F', 'O'].includes(sex) ? sex : '',
    StudyDate: source.studyDate ?? '',
    StudyTime: '',
    ReferringPhysicianName: '',
    StudyID: '',
    AccessionNumber: '',
    Manufacturer: 'Scanflow',
    InstitutionName: input.organisation.slice(0, 64),
    SeriesDescription: 'AI pre-read (decision support)',
    ContentDate: content.date,
    ContentTime: content.time,
    ReferencedPerformedProcedureStepSequence: [],
    PerformedProcedureCodeSequence: [],
    ValueType: 'CONTAINER',
    ConceptNameCodeSequence: code('18748-4', 'LN', 'Diagnostic Imaging Report'),
    ContinuityOfContent: 'SEPARATE',
    CompletionFlag: 'COMPLETE',
    VerificationFlag: 'UNVERIFIED',
    CurrentRequestedProcedureEvidenceSequence: [
      {
        StudyInstanceUID: source.studyInstanceUid,
        ReferencedSeriesSequence: [
          {
            SeriesInstanceUID: source.seriesInstanceUid,
            ReferencedSOPSequence: [
              { ReferencedSOPClassUID: source.sopClassUid, ReferencedSOPInstanceUID: source.sopInstanceUid },
            ],
          },
        ],
      },
    ],
    ContentSequence: [
      text(code('111001', 'DCM', 'Algorithm Name'), ai.model.name),
      text(code('111003', 'DCM', 'Algorithm Version'), ai.model.version),
      {
        RelationshipType: 'CONTAINS',
        ValueType: 'IMAGE',
        ConceptNameCodeSequence: code('121112', 'DCM', 'Source of Measurement'),
        ReferencedSOPSequence: [
          { ReferencedSOPClassUID: source.sopClassUid, ReferencedSOPInstanceUID: source.sopInstanceUid },
        ],
      },
      ...ai.labels.map((label) => ({
        RelationshipType: 'CONTAINS',
        ValueType: 'NUM',
        ConceptNameCodeSequence: code(label.id.slice(0, 16), '99SCANFLOW', `${label.display} probability`),
        MeasuredValueSequence: [
          {
            // DS holds at most 16 characters.
            NumericValue: label.probability.toFixed(6),
            MeasurementUnitsCodeSequence: code('1', 'UCUM', 'no units'),
          },
        ],
      })),
      {
        RelationshipType: 'CONTAINS',
        ValueType: 'CODE',
        ConceptNameCodeSequence: code('121071', 'DCM', 'Finding'),
        ConceptCodeSequence: ai.topFinding
          ? code(ai.topFinding.id.slice(0, 16), '99SCANFLOW', ai.topFinding.display)
          : code('no_finding', '99SCANFLOW', 'No finding'),
      },
      text(code('priority', '99SCANFLOW', 'Priority'), ai.priority),
      text(code('uncertain', '99SCANFLOW', 'Uncertain'), ai.uncertain ? 'Yes' : 'No'),
      text(code('121106', 'DCM', 'Comment'), ai.disclaimer),
    ],
  };
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: COMPREHENSIVE_SR,
    MediaStorageSOPInstanceUID: srInstance,
    TransferSyntaxUID: EXPLICIT_VR_LITTLE_ENDIAN,
    ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: 'SCANFLOW_1',
  };
  const { DicomDict, DicomMetaDictionary } = (
    dcmjs as unknown as {
      data: {
        DicomDict: new (meta: unknown) => { dict: unknown; write(): ArrayBuffer };
        DicomMetaDictionary: { denaturalizeDataset(dataset: unknown): unknown };
      };
    }
  ).data;
  const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = DicomMetaDictionary.denaturalizeDataset(dataset);
  return Buffer.from(dict.write());
}
