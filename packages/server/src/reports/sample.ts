/**
 * A synthetic report model and images (no patient data), for the layout's tests and the
 * benchmark: the same inputs the report service assembles from a real case.
 */
import sharp from 'sharp';
import { contentFingerprint, type PageSize, type ReportImages, type ReportModel } from './model.ts';

export function sampleModel(overrides: Partial<ReportModel> = {}, pageSize: PageSize = 'A4'): ReportModel {
  const model: ReportModel = {
    reportId: '5f0c3c1e-8a4b-4c59-9d55-0d8f2f8a1b11',
    version: 1,
    pageSize,
    issuedAt: '2026-11-23T03:15:42.123Z',
    organisation: { name: 'St. Example Teaching Hospital — Radiology' },
    patient: { name: 'தமிழ்ச்செல்வி (प्रिया) Ünïcødé', identifier: 'MRN-004211', birthDate: '1975-01-31', sex: 'F' },
    scan: {
      id: '0b1d5e7a-3c2f-4e8a-9b6d-7f0e1a2b3c4d',
      modality: 'DX',
      bodyPart: 'CHEST',
      acquiredOn: '20261120',
      receivedAt: '2026-11-20T09:12:00.000Z',
      source: 'dicom',
      sha256: 'a'.repeat(64),
      dicom: {
        studyInstanceUid: '2.25.1',
        seriesInstanceUid: '2.25.2',
        sopInstanceUid: '2.25.3',
        sopClassUid: '1.2.840.10008.5.1.4.1.1.1.1',
      },
    },
    ai: {
      model: { name: 'chest-xray-phantom', version: '1.1.0' },
      labels: [
        { id: 'nodule', display: 'Nodule', probability: 0.873 },
        { id: 'consolidation', display: 'Consolidation', probability: 0.121 },
        { id: 'pleural_effusion', display: 'Pleural effusion', probability: 0.054 },
        { id: 'pneumothorax', display: 'Pneumothorax', probability: 0.012 },
        { id: 'cardiomegaly', display: 'Cardiomegaly', probability: 0.301 },
      ],
      topFinding: { id: 'nodule', display: 'Nodule', probability: 0.873 },
      uncertain: false,
      priority: 'HIGH',
      priorityScore: 0.81,
      disclaimer:
        'Decision support only: the AI result is not a diagnosis and must be reviewed by a qualified clinician.',
      heatmapLabel: 'Nodule',
    },
    findings: {
      findings: 'A 9 mm rounded opacity in the right upper zone. No pleural effusion. Heart size normal.',
      impression: 'Solitary pulmonary nodule; CT chest recommended.',
    },
    prescription: {
      items: [
        {
          drug: 'Amoxicillin',
          dose: '500 mg',
          route: 'oral',
          frequency: 'three times daily',
          duration: '7 days',
          notes: 'Take with food.',
        },
      ],
      notes: 'Review in two weeks.',
    },
    signOffs: [
      { action: 'upload', role: 'doctor', name: 'Dr. अनीता शर्मा', at: '2026-11-20T09:12:00.000Z' },
      { action: 'record_ai', role: 'system', name: null, at: '2026-11-20T09:12:03.000Z' },
      { action: 'verify', role: 'doctor', name: 'Dr. அருண் குமார்', at: '2026-11-21T10:00:00.000Z' },
      { action: 'complete', role: 'pharmacist', name: 'Ravi Patel', at: '2026-11-22T11:30:00.000Z' },
      { action: 'approve', role: 'admin', name: 'Admin One', at: '2026-11-23T03:15:42.123Z' },
    ],
    verification: { code: 'K7Q2M-9XW4D', url: 'https://scanflow.example/verify', contentSha256: '' },
    ...overrides,
  };
  return { ...model, verification: { ...model.verification, contentSha256: contentFingerprint(model) } };
}

/** A grey gradient "scan" and a red blob heatmap with alpha, as the AI worker stores them. */
export async function sampleImages(size = 512): Promise<ReportImages> {
  const grey = Buffer.alloc(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const r = Math.hypot(x - size / 2, y - size / 2) / (size / 2);
      grey[y * size + x] = Math.max(0, Math.min(255, Math.round(200 - 150 * r + ((x * 7 + y * 3) % 17))));
    }
  }
  const heat = Buffer.alloc(224 * 224 * 4);
  for (let y = 0; y < 224; y++) {
    for (let x = 0; x < 224; x++) {
      const d = Math.hypot(x - 70, y - 80) / 40;
      const a = Math.max(0, 1 - d);
      heat.set([255, Math.round(200 * (1 - a)), 0, Math.round(180 * a)], (y * 224 + x) * 4);
    }
  }
  return {
    image: await sharp(grey, { raw: { width: size, height: size, channels: 1 } })
      .png()
      .toBuffer(),
    heatmap: await sharp(heat, { raw: { width: 224, height: 224, channels: 4 } })
      .png()
      .toBuffer(),
  };
}
