/**
 * Actions of the DICOM PS3.15 Basic Application Level Confidentiality Profile (annex E, table
 * E.1-1) for the attributes it names, as tag → action. Codes as in the table: D replace with a
 * dummy value, Z replace with zero length, X remove, U replace UID consistently. Where the table
 * allows a choice (X/Z, X/Z/D) the safer removal is taken, except for Type 1 and 2 attributes of
 * common IODs, which are emptied so the result stays a valid instance.
 *
 * Rules that cover whole classes rather than listed tags live in deidentify.ts: every private
 * attribute, curve (50xx) and overlay (60xx) group removed; every UID outside the DICOM root
 * remapped; every Person Name other than those below removed; every date and date-time removed or
 * shifted (Retain Longitudinal Temporal Information with Modified Dates option, E.3.6).
 */
export type Action = 'D' | 'Z' | 'X' | 'U';

const table: [string, Action][] = [
  // Identifying attributes of the patient (E.1-1, patient module and relatives)
  ['00100010', 'D'], // Patient's Name
  ['00100020', 'D'], // Patient ID
  ['00100021', 'X'], // Issuer of Patient ID
  ['00100030', 'Z'], // Patient's Birth Date
  ['00100032', 'X'], // Patient's Birth Time
  ['00100040', 'Z'], // Patient's Sex
  ['00100050', 'X'], // Patient's Insurance Plan Code Sequence
  ['00101000', 'X'], // Other Patient IDs
  ['00101001', 'X'], // Other Patient Names
  ['00101002', 'X'], // Other Patient IDs Sequence
  ['00101005', 'X'], // Patient's Birth Name
  ['00101010', 'X'], // Patient's Age
  ['00101020', 'X'], // Patient's Size
  ['00101030', 'X'], // Patient's Weight
  ['00101040', 'X'], // Patient's Address
  ['00101060', 'X'], // Patient's Mother's Birth Name
  ['00101080', 'X'], // Military Rank
  ['00101081', 'X'], // Branch of Service
  ['00101090', 'X'], // Medical Record Locator
  ['00101100', 'X'], // Referenced Patient Photo Sequence
  ['00102000', 'X'], // Medical Alerts
  ['00102110', 'X'], // Allergies
  ['00102150', 'X'], // Country of Residence
  ['00102152', 'X'], // Region of Residence
  ['00102154', 'X'], // Patient's Telephone Numbers
  ['00102155', 'X'], // Patient's Telecom Information
  ['00102160', 'X'], // Ethnic Group
  ['00102180', 'X'], // Occupation
  ['001021A0', 'X'], // Smoking Status
  ['001021B0', 'X'], // Additional Patient History
  ['001021C0', 'X'], // Pregnancy Status
  ['001021D0', 'X'], // Last Menstrual Date
  ['001021F0', 'X'], // Patient's Religious Preference
  ['00102203', 'X'], // Patient's Sex Neutered
  ['00104000', 'X'], // Patient Comments
  ['00380010', 'X'], // Admission ID
  ['00380014', 'X'], // Issuer of Admission ID Sequence
  ['00380060', 'X'], // Service Episode ID
  ['00380300', 'X'], // Current Patient Location
  ['00380400', 'X'], // Patient's Institution Residence
  ['00380500', 'X'], // Patient State
  // Study, visit and request
  ['00080050', 'Z'], // Accession Number
  ['00080080', 'X'], // Institution Name
  ['00080081', 'X'], // Institution Address
  ['00080082', 'X'], // Institution Code Sequence
  ['00080090', 'Z'], // Referring Physician's Name
  ['00080092', 'X'], // Referring Physician's Address
  ['00080094', 'X'], // Referring Physician's Telephone Numbers
  ['00080096', 'X'], // Referring Physician Identification Sequence
  ['00081010', 'X'], // Station Name
  ['00081030', 'X'], // Study Description
  ['0008103E', 'X'], // Series Description
  ['00081040', 'X'], // Institutional Department Name
  ['00081048', 'X'], // Physician(s) of Record
  ['00081049', 'X'], // Physician(s) of Record Identification Sequence
  ['00081050', 'X'], // Performing Physician's Name
  ['00081052', 'X'], // Performing Physician Identification Sequence
  ['00081060', 'X'], // Name of Physician(s) Reading Study
  ['00081062', 'X'], // Physician(s) Reading Study Identification Sequence
  ['00081070', 'X'], // Operators' Name
  ['00081072', 'X'], // Operator Identification Sequence
  ['00081080', 'X'], // Admitting Diagnoses Description
  ['00081084', 'X'], // Admitting Diagnoses Code Sequence
  ['00081110', 'X'], // Referenced Study Sequence
  ['00081111', 'X'], // Referenced Performed Procedure Step Sequence
  ['00081120', 'X'], // Referenced Patient Sequence
  ['00082111', 'X'], // Derivation Description
  ['00084000', 'X'], // Identifying Comments
  ['00200010', 'Z'], // Study ID
  ['00204000', 'X'], // Image Comments
  ['00321032', 'X'], // Requesting Physician
  ['00321060', 'X'], // Requested Procedure Description
  ['00321070', 'X'], // Requested Contrast Agent
  ['00324000', 'X'], // Study Comments
  ['00400006', 'X'], // Scheduled Performing Physician's Name
  ['00400253', 'X'], // Performed Procedure Step ID
  ['00400254', 'X'], // Performed Procedure Step Description
  ['00400275', 'X'], // Request Attributes Sequence
  ['00400555', 'X'], // Acquisition Context Sequence
  ['00401001', 'X'], // Requested Procedure ID
  ['00401400', 'X'], // Requested Procedure Comments
  ['00402400', 'X'], // Imaging Service Request Comments
  ['0040A078', 'X'], // Author Observer Sequence
  ['0040A730', 'X'], // Content Sequence
  ['00700084', 'Z'], // Content Creator's Name
  ['04000561', 'X'], // Original Attributes Sequence
  // Equipment
  ['00181000', 'X'], // Device Serial Number
  ['00181030', 'X'], // Protocol Name
  ['0018700A', 'X'], // Detector ID
  ['00189424', 'X'], // Acquisition Protocol Description
  // Dates and times that most IODs require (Type 2): emptied unless shifted
  ['00080020', 'Z'], // Study Date
  ['00080023', 'Z'], // Content Date
  ['00080030', 'Z'], // Study Time
  ['00080033', 'Z'], // Content Time
];

export const PROFILE: ReadonlyMap<string, Action> = new Map(table);

/** Attributes the profile names as dates or times that the modified-dates option shifts or keeps. */
export const KEPT_WHEN_SHIFTING: ReadonlySet<string> = new Set(['00080020', '00080023', '00080030', '00080033']);

/** UIDs that are never remapped: they name DICOM-defined things, not this patient's data. */
export const NON_INSTANCE_UIDS: ReadonlySet<string> = new Set([
  '00020002', // Media Storage SOP Class UID
  '00020010', // Transfer Syntax UID
  '00020012', // Implementation Class UID
  '00080016', // SOP Class UID
]);
