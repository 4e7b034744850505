/** SQL for patient records, in a scoped transaction. Personal fields are encrypted. */
import type { Queryable } from '../db/database.ts';
import type { FieldCipher } from '../storage/field-cipher.ts';

export interface PatientRef {
  id: string;
  userId: string | null;
}

export async function findPatientOfUser(tx: Queryable, userId: string): Promise<PatientRef | null> {
  const { rows } = await tx.query<{ id: string; user_id: string | null }>(
    'SELECT id, user_id FROM patients WHERE user_id = $1',
    [userId],
  );
  return rows[0] ? { id: rows[0].id, userId: rows[0].user_id } : null;
}

export async function findPatient(tx: Queryable, id: string): Promise<PatientRef | null> {
  const { rows } = await tx.query<{ id: string; user_id: string | null }>(
    'SELECT id, user_id FROM patients WHERE id = $1',
    [id],
  );
  return rows[0] ? { id: rows[0].id, userId: rows[0].user_id } : null;
}

/** Matches a DICOM Patient ID within the organisation, creating the patient record if new. */
export async function findOrCreatePatientByMrn(
  tx: Queryable,
  cipher: FieldCipher,
  orgId: string,
  patient: { mrn: string; name: string | null; birthDate: string | null; sex: string | null },
): Promise<PatientRef> {
  const lookup = cipher.lookup('mrn', patient.mrn);
  // Most instances belong to a patient already on record (a study has many): find first, and
  // write only for a new one; the upsert below also settles two senders creating the same patient.
  const found = await tx.query<{ id: string; user_id: string | null }>(
    'SELECT id, user_id FROM patients WHERE org_id = $1 AND mrn_lookup = $2',
    [orgId, lookup],
  );
  if (found.rows[0]) return { id: found.rows[0].id, userId: found.rows[0].user_id };
  const { rows } = await tx.query<{ id: string; user_id: string | null }>(
    `INSERT INTO patients (org_id, mrn_lookup, mrn_enc, name_enc, birth_date_enc, sex_enc)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (org_id, mrn_lookup) DO UPDATE SET mrn_lookup = EXCLUDED.mrn_lookup
     RETURNING id, user_id`,
    [
      orgId,
      lookup,
      cipher.encrypt(patient.mrn),
      patient.name ? cipher.encrypt(patient.name) : null,
      patient.birthDate ? cipher.encrypt(patient.birthDate) : null,
      patient.sex ? cipher.encrypt(patient.sex) : null,
    ],
  );
  return { id: rows[0]!.id, userId: rows[0]!.user_id };
}
