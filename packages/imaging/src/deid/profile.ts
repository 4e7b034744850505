/**
 * Actions of the DICOM PS3.15 Basic Application Level Confidentiality Profile (annex E, table
 * E.1-1) for the attributes it names, as tag → action. Codes as in the table: D replace with a
 * dummy value, Z replace with zero length, X remove, U replace UID consistently. Where the table
 * allows a choice (X/Z, X/Z/D) the safer removal is taken, except for Type 1 and 2 attributes of
 * common IODs, which are emptied so the result stays a valid instance.
 *
 * Rules that cover whole classes rather than listed tags live in deidentify.ts: every private
 * attribute, curve (50xx) and overlay (60xx) group removed; every UID outside the DICOM root
 * remapped; every Person Name other than those below removed; every date, time and date-time
 * removed or shifted (Retain Longitudinal Temporal Information with Modified Dates option, E.3.6);
 * and, beyond the table, every free-text (LT, ST, UT, UC), URL (UR), application entity (AE) and unknown (UN)
 * value removed, since the table cannot list every attribute that may carry a name in free text.
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
  // Scheduling, performing and ordering (E.1-1)
  ['00080055', 'X'], // Station AE Title
  ['00081041', 'X'], // Institutional Department Type Code Sequence
  ['00080051', 'X'], // Issuer of Accession Number Sequence
  ['0008009D', 'X'], // Consulting Physician Identification Sequence
  ['00080201', 'X'], // Timezone Offset From UTC
  ['00100024', 'X'], // Issuer of Patient ID Qualifiers Sequence
  ['00100101', 'X'], // Patient's Primary Language Code Sequence
  ['00100102', 'X'], // Patient's Primary Language Modifier Code Sequence
  ['00101050', 'X'], // Insurance Plan Identification
  ['00102297', 'X'], // Responsible Person
  ['00102299', 'X'], // Responsible Organization
  ['00120010', 'Z'], // Clinical Trial Sponsor Name
  ['00120020', 'Z'], // Clinical Trial Protocol ID
  ['00120021', 'Z'], // Clinical Trial Protocol Name
  ['00120030', 'Z'], // Clinical Trial Site ID
  ['00120031', 'Z'], // Clinical Trial Site Name
  ['00120040', 'Z'], // Clinical Trial Subject ID
  ['00120042', 'Z'], // Clinical Trial Subject Reading ID
  ['00120050', 'Z'], // Clinical Trial Time Point ID
  ['00120051', 'X'], // Clinical Trial Time Point Description
  ['00120060', 'Z'], // Clinical Trial Coordinating Center Name
  ['00120071', 'X'], // Clinical Trial Series ID
  ['00120072', 'X'], // Clinical Trial Series Description
  ['00120081', 'Z'], // Clinical Trial Protocol Ethics Committee Name
  ['00120082', 'Z'], // Clinical Trial Protocol Ethics Committee Approval Number
  ['00180010', 'Z'], // Contrast/Bolus Agent
  ['00181004', 'X'], // Plate ID
  ['00181005', 'X'], // Generator ID
  ['00181007', 'X'], // Cassette ID
  ['00181008', 'X'], // Gantry ID
  ['00181400', 'X'], // Acquisition Device Processing Description
  ['00184000', 'X'], // Acquisition Comments
  ['0018A003', 'X'], // Contribution Description
  ['00203401', 'X'], // Modifying Device ID
  ['00203404', 'X'], // Modifying Device Manufacturer
  ['00203406', 'X'], // Modified Image Description
  ['00209158', 'X'], // Frame Comments
  ['00284000', 'X'], // Image Presentation Comments
  ['00320012', 'X'], // Study ID Issuer
  ['00321020', 'X'], // Scheduled Study Location
  ['00321021', 'X'], // Scheduled Study Location AE Title
  ['00321030', 'X'], // Reason for Study
  ['00321033', 'X'], // Requesting Service
  ['00321034', 'X'], // Requesting Service Code Sequence
  ['00321066', 'X'], // Reason for Visit
  ['00321067', 'X'], // Reason for Visit Code Sequence
  ['00380004', 'X'], // Referenced Patient Alias Sequence
  ['00380011', 'X'], // Issuer of Admission ID
  ['0038001E', 'X'], // Scheduled Patient Institution Residence
  ['00380040', 'X'], // Discharge Diagnosis Description
  ['00380050', 'X'], // Special Needs
  ['00380061', 'X'], // Issuer of Service Episode ID
  ['00380062', 'X'], // Service Episode Description
  ['00384000', 'X'], // Visit Comments
  ['00400001', 'X'], // Scheduled Station AE Title
  ['00400007', 'X'], // Scheduled Procedure Step Description
  ['00400010', 'X'], // Scheduled Station Name
  ['00400011', 'X'], // Scheduled Procedure Step Location
  ['00400012', 'X'], // Pre-Medication
  ['0040000B', 'X'], // Scheduled Performing Physician Identification Sequence
  ['00400241', 'X'], // Performed Station AE Title
  ['00400242', 'X'], // Performed Station Name
  ['00400243', 'X'], // Performed Location
  ['00400280', 'X'], // Comments on the Performed Procedure Step
  ['00401002', 'X'], // Reason for the Requested Procedure
  ['00401004', 'X'], // Patient Transport Arrangements
  ['00401005', 'X'], // Requested Procedure Location
  ['00401010', 'X'], // Names of Intended Recipients of Results
  ['00401011', 'X'], // Intended Recipients of Results Identification Sequence
  ['00401101', 'X'], // Person Identification Code Sequence
  ['00401102', 'X'], // Person's Address
  ['00401103', 'X'], // Person's Telephone Numbers
  ['00402008', 'X'], // Order Entered By
  ['00402009', 'X'], // Order Enterer's Location
  ['00402010', 'X'], // Order Callback Phone Number
  ['00402016', 'Z'], // Placer Order Number / Imaging Service Request
  ['00402017', 'Z'], // Filler Order Number / Imaging Service Request
  ['00403001', 'X'], // Confidentiality Constraint on Patient Data Description
  ['00404009', 'X'], // Human Performer Code Sequence
  ['00404025', 'X'], // Scheduled Station Name Code Sequence
  ['00404027', 'X'], // Scheduled Station Geographic Location Code Sequence
  ['00404028', 'X'], // Performed Station Name Code Sequence
  ['00404030', 'X'], // Performed Station Geographic Location Code Sequence
  ['00404034', 'X'], // Scheduled Human Performers Sequence
  ['00404035', 'X'], // Actual Human Performers Sequence
  ['00404036', 'X'], // Human Performer's Organization
  ['00404037', 'X'], // Human Performer's Name
  ['0040A027', 'X'], // Verifying Organization
  ['0040A073', 'X'], // Verifying Observer Sequence
  ['0040A075', 'X'], // Verifying Observer Name
  ['0040A07A', 'X'], // Participant Sequence
  ['0040A07C', 'X'], // Custodial Organization Sequence
  ['0040A088', 'X'], // Verifying Observer Identification Code Sequence
  ['0040A123', 'X'], // Person Name
  ['0040A160', 'X'], // Text Value
  ['00700001', 'X'], // Graphic Annotation Sequence (may carry text)
  ['00700086', 'X'], // Content Creator's Identification Code Sequence
  ['00880140', 'U'], // Storage Media File-set UID
  ['00880200', 'X'], // Icon Image Sequence (a thumbnail may show burned-in text)
  ['04000100', 'X'], // Digital Signature UID
  ['04000402', 'X'], // Referenced Digital Signature Sequence
  ['04000403', 'X'], // Referenced SOP Instance MAC Sequence
  ['04000404', 'X'], // MAC
  ['04000500', 'X'], // Encrypted Attributes Sequence
  ['04000550', 'X'], // Modified Attributes Sequence
  ['20300020', 'X'], // Text String
  ['30080105', 'X'], // Source Serial Number
  ['300E0008', 'X'], // Reviewer Name
  ['40004000', 'X'], // Text Comments
  ['40080040', 'X'], // Results ID
  ['40080042', 'X'], // Results ID Issuer
  ['40080102', 'X'], // Interpretation Recorder
  ['4008010A', 'X'], // Interpretation Transcriber
  ['4008010B', 'X'], // Interpretation Text
  ['4008010C', 'X'], // Interpretation Author
  ['40080111', 'X'], // Interpretation Approver Sequence
  ['40080114', 'X'], // Physician Approving Interpretation
  ['40080115', 'X'], // Interpretation Diagnosis Description
  ['40080118', 'X'], // Results Distribution List Sequence
  ['40080119', 'X'], // Distribution Name
  ['4008011A', 'X'], // Distribution Address
  ['40080200', 'X'], // Interpretation ID
  ['40080202', 'X'], // Interpretation ID Issuer
  ['40080300', 'X'], // Impressions
  ['40084000', 'X'], // Results Comments
  ['4FFE0001', 'X'], // MAC Parameters Sequence
  ['FFFAFFFA', 'X'], // Digital Signatures Sequence
  ['FFFCFFFC', 'X'], // Data Set Trailing Padding
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
