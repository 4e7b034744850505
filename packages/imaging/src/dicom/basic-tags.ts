import type { DicomDataSet } from './parse.ts';
import { Tags } from './tags.ts';
import { getCharset, getString } from './values.ts';

/** The identifying and descriptive attributes the platform keeps from each instance. */
export interface BasicDicomTags {
  patientId?: string;
  patientName?: string;
  patientBirthDate?: string;
  patientSex?: string;
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  sopInstanceUid?: string;
  sopClassUid?: string;
  modality?: string;
  bodyPartExamined?: string;
  viewPosition?: string;
  studyDate?: string;
  transferSyntaxUid?: string;
  /** Row and column spacing in mm as written (Pixel Spacing, else Imager Pixel Spacing): for measurements. */
  pixelSpacing?: string;
}

export function readBasicTags(meta: DicomDataSet, ds: DicomDataSet, transferSyntaxUid: string): BasicDicomTags {
  const cs = getCharset(ds);
  const out: BasicDicomTags = {};
  const put = (key: keyof BasicDicomTags, value: string | undefined): void => {
    if (value !== undefined) out[key] = value;
  };
  put('patientId', getString(ds, Tags.PatientID, cs));
  // Person Name (PS3.5 6.2.1): components separated by '^', groups by '='; kept as written.
  put('patientName', getString(ds, Tags.PatientName, cs));
  put('patientBirthDate', getString(ds, Tags.PatientBirthDate));
  put('patientSex', getString(ds, Tags.PatientSex));
  put('studyInstanceUid', getString(ds, Tags.StudyInstanceUID));
  put('seriesInstanceUid', getString(ds, Tags.SeriesInstanceUID));
  put('sopInstanceUid', getString(ds, Tags.SOPInstanceUID) ?? getString(meta, Tags.MediaStorageSOPInstanceUID));
  put('sopClassUid', getString(ds, Tags.SOPClassUID) ?? getString(meta, Tags.MediaStorageSOPClassUID));
  put('modality', getString(ds, Tags.Modality));
  put('bodyPartExamined', getString(ds, Tags.BodyPartExamined, cs));
  put('viewPosition', getString(ds, Tags.ViewPosition));
  put('studyDate', getString(ds, Tags.StudyDate));
  put('transferSyntaxUid', transferSyntaxUid);
  put('pixelSpacing', getString(ds, Tags.PixelSpacing) ?? getString(ds, Tags.ImagerPixelSpacing));
  return out;
}
