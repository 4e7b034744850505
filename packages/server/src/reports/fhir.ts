/**
 * The report as a FHIR R4 Bundle (SPEC R3), built from the report model and the issued PDF:
 *
 *   Patient            name, identifier (the hospital's MRN or Scanflow's record id), birth date, sex
 *   ImagingStudy       the scan (DICOM study/series/instance UIDs when it came as DICOM)
 *   Device             the AI model (name and version), referenced by each Observation
 *   Observation × n    one per AI label: the probability as a Quantity (UCUM "1"), status
 *                      preliminary (decision support), the model as `device` and `method`
 *   MedicationRequest  one per prescription item (R4 orders one medication per request)
 *   DiagnosticReport   status final, conclusion (the doctor's impression), presentedForm (the PDF)
 *
 * A `collection` Bundle with urn:uuid references (R4 §2.36 Bundle; references resolved inside
 * the Bundle by fullUrl). Pure: no I/O.
 */
import { createHash } from 'node:crypto';
import type { ReportModel } from './model.ts';

type Resource = Record<string, unknown> & { resourceType: string; id: string };

/** A UUID derived from the report and a name, so the same report always gives the same Bundle. */
function stableId(reportId: string, name: string): string {
  const h = createHash('sha256').update(`${reportId}:${name}`).digest('hex');
  // RFC 9562 layout with version 8 (custom) and the RFC variant bits.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const GENDER: Record<string, string> = { M: 'male', F: 'female', O: 'other', U: 'unknown' };

/** FHIR `date` from 1975-01-31 or 19750131. */
function fhirDate(value: string | null): string | undefined {
  const digits = value?.replace(/-/g, '') ?? '';
  return /^\d{8}$/.test(digits) ? `${digits.slice(0, 4)}-${digits.slice(4, 6)}-${digits.slice(6, 8)}` : undefined;
}

const ref = (resource: Resource) => ({ reference: `urn:uuid:${resource.id}` });

export function buildFhirBundle(model: ReportModel, pdf: Buffer): Record<string, unknown> {
  const id = (name: string) => stableId(model.reportId, name);
  const scan = model.scan;
  const gender = model.patient.sex ? GENDER[model.patient.sex.toUpperCase()] : undefined;
  const birthDate = fhirDate(model.patient.birthDate);
  const patient: Resource = {
    resourceType: 'Patient',
    id: id('patient'),
    identifier: [{ system: 'urn:scanflow:patient-identifier', value: model.patient.identifier }],
    ...(model.patient.name ? { name: [{ text: model.patient.name }] } : {}),
    ...(gender ? { gender } : {}),
    ...(birthDate ? { birthDate } : {}),
  };
  const subject = ref(patient);
  const started = fhirDate(scan.acquiredOn) ?? scan.receivedAt;
  const modality = scan.modality
    ? [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: scan.modality }]
    : undefined;
  const dicom = scan.dicom;
  const study: Resource = {
    resourceType: 'ImagingStudy',
    id: id('study'),
    identifier: [
      ...(dicom?.studyInstanceUid ? [{ system: 'urn:dicom:uid', value: `urn:oid:${dicom.studyInstanceUid}` }] : []),
      { system: 'urn:scanflow:scan', value: scan.id },
    ],
    status: 'available',
    subject,
    started,
    ...(modality ? { modality } : {}),
    numberOfSeries: 1,
    numberOfInstances: 1,
    ...(dicom?.seriesInstanceUid
      ? {
          series: [
            {
              uid: dicom.seriesInstanceUid,
              modality: modality?.[0] ?? { system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'OT' },
              numberOfInstances: 1,
              ...(scan.bodyPart ? { bodySite: { display: scan.bodyPart } } : {}),
              ...(dicom.sopInstanceUid && dicom.sopClassUid
                ? {
                    instance: [
                      {
                        uid: dicom.sopInstanceUid,
                        sopClass: { system: 'urn:ietf:rfc:3986', code: `urn:oid:${dicom.sopClassUid}` },
                      },
                    ],
                  }
                : {}),
            },
          ],
        }
      : {}),
  };

  const ai = model.ai;
  const device: Resource | null = ai
    ? {
        resourceType: 'Device',
        id: id('device'),
        deviceName: [{ name: ai.model.name, type: 'model-name' }],
        version: [{ value: ai.model.version }],
        type: { text: 'AI decision-support model (not a diagnosis)' },
      }
    : null;
  const observations: Resource[] = (ai?.labels ?? []).map((label) => ({
    resourceType: 'Observation',
    id: id(`observation:${label.id}`),
    // Preliminary: a model's output for a clinician to review, never a final result by itself.
    status: 'preliminary',
    code: {
      coding: [{ system: 'urn:scanflow:ai-label', code: label.id, display: label.display }],
      text: label.display,
    },
    subject,
    effectiveDateTime: scan.receivedAt,
    valueQuantity: { value: label.probability, unit: 'probability', system: 'http://unitsofmeasure.org', code: '1' },
    ...(ai!.topFinding?.id === label.id
      ? { interpretation: [{ text: ai!.uncertain ? 'Top finding (uncertain)' : 'Top finding' }] }
      : {}),
    method: { text: `${ai!.model.name} ${ai!.model.version}` },
    device: ref(device!),
    derivedFrom: [ref(study)],
    note: [{ text: ai!.disclaimer }],
  }));
  const medications: Resource[] = (model.prescription?.items ?? []).map((item, index) => ({
    resourceType: 'MedicationRequest',
    id: id(`medication:${index}`),
    status: 'active',
    intent: 'order',
    medicationCodeableConcept: { text: item.drug },
    subject,
    authoredOn: model.signOffs.find((s) => s.action === 'complete')?.at ?? model.issuedAt,
    dosageInstruction: [
      {
        text: `${item.dose} ${item.route}, ${item.frequency}, for ${item.duration}`,
        route: { text: item.route },
        timing: { code: { text: item.frequency } },
        ...(item.notes ? { patientInstruction: item.notes } : {}),
      },
    ],
    ...(model.prescription?.notes ? { note: [{ text: model.prescription.notes }] } : {}),
  }));
  const report: Resource = {
    resourceType: 'DiagnosticReport',
    id: id('report'),
    identifier: [{ system: 'urn:scanflow:report-verification-code', value: model.verification.code }],
    status: 'final',
    category: [
      {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'RAD', display: 'Radiology' }],
      },
    ],
    code: { coding: [{ system: 'http://loinc.org', code: '18748-4', display: 'Diagnostic imaging study' }] },
    subject,
    effectiveDateTime: started,
    issued: model.issuedAt,
    performer: [{ display: model.organisation.name }],
    result: observations.map(ref),
    imagingStudy: [ref(study)],
    ...(model.findings ? { conclusion: model.findings.impression ?? model.findings.findings } : {}),
    presentedForm: [
      {
        contentType: 'application/pdf',
        language: 'en',
        data: pdf.toString('base64'),
        size: pdf.length,
        // FHIR R4 Attachment.hash is the SHA-1 of the data, base64.
        hash: createHash('sha1').update(pdf).digest('base64'),
        title: `Imaging report ${model.verification.code}`,
        creation: model.issuedAt,
      },
    ],
  };
  const resources = [report, patient, study, ...(device ? [device] : []), ...observations, ...medications];
  return {
    resourceType: 'Bundle',
    id: id('bundle'),
    type: 'collection',
    timestamp: model.issuedAt,
    entry: resources.map((resource) => ({ fullUrl: `urn:uuid:${resource.id}`, resource })),
  };
}
